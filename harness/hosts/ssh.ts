/**
 * Real remote hosts over OpenSSH (key auth, BatchMode). `--host b=ssh://user@addr[:port]`
 * puts scenario host `b` on that machine: the static probe is copied over
 * once per run (by content hash, reused when already there) and each actor
 * on `b` is a probe started through ssh. Hosts not given on the command
 * line are this machine, in the kit's current namespace.
 *
 * Clocks differ between machines, so a session reports one clock per
 * machine and the runner never compares timestamps across them.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { runCommand } from '../deps/process.js'
import { SockspecError } from '../errors.js'
import type { Scenario, VariantName } from '../scenario/types.js'
import type { HostSession } from './host.js'

export interface SshTarget {
  name: string
  user: string | undefined
  host: string
  port: number
  /** Addresses local actors use to reach it (from the URL, or ?inet=/?inet6= parameters). */
  inet: string | undefined
  inet6: string | undefined
}

export interface SshOptions {
  identity?: string
  options: string[]
}

/** Parse `NAME=ssh://[user@]host[:port][?inet6=ADDR&inet=ADDR]`. */
export function parseHostFlag(flag: string): SshTarget {
  const m = /^([a-z][a-z0-9]{0,7})=(.+)$/.exec(flag)
  if (!m) throw new SockspecError('E_USAGE', `--host expects NAME=ssh://user@host[:port], got '${flag}'`)
  let url: URL
  try {
    url = new URL(m[2]!)
  } catch {
    throw new SockspecError('E_USAGE', `--host ${m[1]}: not a URL: '${m[2]}'`)
  }
  if (url.protocol !== 'ssh:') throw new SockspecError('E_USAGE', `--host ${m[1]}: only ssh:// is supported, got '${url.protocol}'`)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const inetParam = url.searchParams.get('inet') ?? undefined
  const inet6Param = url.searchParams.get('inet6') ?? undefined
  return {
    name: m[1]!,
    user: url.username || undefined,
    host,
    port: url.port ? Number(url.port) : 22,
    inet: inetParam ?? (isIP(host) === 4 ? host : undefined),
    inet6: inet6Param ?? (isIP(host) === 6 ? host : undefined),
  }
}

export function sshArgv(target: SshTarget, opts: SshOptions): string[] {
  const argv = ['ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-p', String(target.port)]
  if (opts.identity) argv.push('-i', opts.identity)
  for (const o of opts.options) argv.push('-o', o)
  argv.push(target.user ? `${target.user}@${target.host}` : target.host)
  return argv
}

export interface RemoteInfo {
  probePath: string
  kernelRelease: string
  kernelVersion: string
  arch: string
  copied: boolean
}

/** Make sure the static probe is on the remote (same hash); learn its uname. Once per run and host. */
export async function prepareRemote(target: SshTarget, opts: SshOptions, staticProbe: string): Promise<RemoteInfo> {
  const binary = readFileSync(staticProbe)
  const hash = createHash('sha256').update(binary).digest('hex')
  const probePath = `/tmp/sockspec-probe-${hash.slice(0, 16)}`
  const base = sshArgv(target, opts)
  const check = await runCommand([...base, `sha256sum ${probePath} 2>/dev/null; uname -r; uname -v; uname -m`], { timeoutMs: 30_000 })
  if (check.exitCode === 255) throw new SockspecError('E_PROBE', `ssh to ${target.name} (${target.host}) failed: ${check.stderr.trim()}`)
  const lines = check.stdout.trim().split('\n')
  const present = lines[0]?.startsWith(hash) ?? false
  const [kernelRelease, kernelVersion, arch] = present ? lines.slice(1) : lines.slice(-3)
  let copied = false
  if (!present) {
    const r = await runCommand(
      [...base, `cat > ${probePath}.tmp && chmod 755 ${probePath}.tmp && mv ${probePath}.tmp ${probePath} && sha256sum ${probePath}`],
      { timeoutMs: 60_000, input: binary },
    )
    if (r.exitCode !== 0 || !r.stdout.startsWith(hash))
      throw new SockspecError('E_PROBE', `copying the probe to ${target.name} failed: ${r.stderr.trim() || r.stdout.trim()}`)
    copied = true
  }
  return { probePath, kernelRelease: kernelRelease ?? '?', kernelVersion: kernelVersion ?? '?', arch: arch ?? '?', copied }
}

export function scenarioUsesRemote(scenario: Scenario, remotes: ReadonlyMap<string, SshTarget>): boolean {
  return Object.keys(scenario.hosts ?? {}).some(h => remotes.has(h))
}

/** A session for a scenario with at least one remote host. */
export function openSsh(
  scenario: Scenario,
  variant: VariantName,
  remotes: ReadonlyMap<string, SshTarget>,
  prepared: ReadonlyMap<string, RemoteInfo>,
  opts: SshOptions,
  localProbe: string,
): HostSession | { skip: string } {
  const hostNames = Object.keys(scenario.hosts ?? {})
  for (const [name, spec] of Object.entries(scenario.hosts ?? {})) {
    if (spec.sysctl && Object.keys(spec.sysctl).length) {
      return { skip: `host '${name}' asks for sysctls; with --host ssh the kit does not change a real machine's settings` }
    }
  }
  for (const name of hostNames) {
    const target = remotes.get(name)
    if (target && variant === 'ipv6' && !target.inet6)
      return { skip: `host '${name}' has no IPv6 address (add ?inet6=ADDR to its --host URL)` }
    if (target && variant !== 'ipv6' && !target.inet)
      return { skip: `host '${name}' has no IPv4 address (add ?inet=ADDR to its --host URL)` }
  }
  const hostOf = (actor: string): string => scenario.actors?.[actor]?.host ?? hostNames[0] ?? 'local'
  return {
    probeArgv: actor => {
      const target = remotes.get(hostOf(actor))
      if (!target) return [localProbe]
      return [...sshArgv(target, opts), prepared.get(target.name)!.probePath]
    },
    defaultAddress: (actor, family) => {
      const target = remotes.get(hostOf(actor))
      if (!target) return family === 'inet6' ? '::' : '0.0.0.0'
      return (family === 'inet6' ? target.inet6 : target.inet) ?? ''
    },
    hostOf,
    clockOf: actor => (remotes.has(hostOf(actor)) ? `ssh:${hostOf(actor)}` : 'local'),
    close: async () => {},
  }
}
