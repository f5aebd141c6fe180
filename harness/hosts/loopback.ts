/**
 * The loopback host: every actor is a probe on this machine.
 *
 * As root, actors share the current network namespace. Without root, a
 * scenario that uses gates cannot attach its socket filters: since Linux
 * 6.x SO_ATTACH_FILTER on a TCP socket needs CAP_NET_ADMIN in the socket's
 * network namespace. Such a scenario then runs in a private user + network
 * namespace of its own (unshare -Urn; loopback only, nothing leaves it), where
 * the user holds that capability; if unprivileged user namespaces are
 * disabled it is skipped with the reason.
 *
 * A scenario that declares `hosts` runs on simulated hosts instead: one
 * network namespace per host (hosts/netns.ts, root only).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { SockspecError } from '../errors.js'
import { spawnLongLived } from '../deps/process.js'
import { kitRoot, probeBinary } from '../paths.js'
import { SharedCapture } from '../probe/capture.js'
import type { Scenario } from '../scenario/types.js'
import type { HostDriver, HostSession } from './host.js'
import { closeHostHelpers, openNetns } from './netns.js'
import { openSsh, scenarioUsesRemote } from './ssh.js'
import type { RemoteInfo, SshOptions, SshTarget } from './ssh.js'

export function scenarioUsesGates(scenario: Scenario): boolean {
  return scenario.steps.some(s => s.do === 'gate')
}

/** A private user+net namespace kept alive by a holder process; probes join it with nsenter. */
async function privateNamespace(binary: string): Promise<HostSession | { skip: string }> {
  const holder = spawnLongLived(['unshare', '-Urn', 'sh', '-c', 'ip link set lo up && echo ready && exec sleep 86400'])
  const ready = await new Promise<boolean>(resolve => {
    const timer = setTimeout(() => resolve(false), 5000)
    const lines = createInterface({ input: holder.stdout })
    lines.once('line', l => {
      clearTimeout(timer)
      resolve(l === 'ready')
    })
    void holder.exited.then(() => resolve(false))
  })
  if (!ready || holder.pid === undefined) {
    holder.kill()
    let why = ''
    holder.stderr.setEncoding('utf8')
    for await (const chunk of holder.stderr) why += String(chunk)
    return {
      skip: `gates need CAP_NET_ADMIN; without root they need an unprivileged user namespace, which failed here${why ? `: ${why.trim().split('\n')[0]}` : ''}`,
    }
  }
  const pid = String(holder.pid)
  return {
    probeArgv: () => ['nsenter', '--preserve-credentials', '-U', '-n', '-t', pid, binary],
    // the namespace's own root holds CAP_NET_RAW there
    captureSpecs: () => [{ host: 'local', argv: ['nsenter', '--preserve-credentials', '-U', '-n', '-t', pid, binary, 'capture', 'lo'] }],
    close: async () => {
      holder.kill()
      await holder.exited
    },
  }
}

export interface RemoteHosts {
  targets: ReadonlyMap<string, SshTarget>
  prepared: ReadonlyMap<string, RemoteInfo>
  options: SshOptions
}

export function loopbackHost(binary = probeBinary, uid = process.getuid?.() ?? 0, remotes?: RemoteHosts): HostDriver {
  if (!existsSync(binary)) {
    // the absolute directory: an installed package has no `npm run build` (no tsc) and the reader's cwd is anywhere
    throw new SockspecError('E_PROBE', `probe binary not found: ${binary} (build it with 'make -C ${join(kitRoot, 'harness', 'native')}')`)
  }
  // one capture of lo for the whole run: every loopback scenario's segments cross it
  const wire = uid === 0 ? new SharedCapture([binary, 'capture', 'lo'], 'local') : undefined
  // one capture for the run's namespaces too: each netns scenario adds its interfaces for its window
  const nsWire = uid === 0 ? new SharedCapture([binary, 'capture', '--empty'], 'netns') : undefined
  const shared: HostSession = {
    probeArgv: () => [binary],
    ...(wire ? { captureSpecs: () => [{ host: 'local', argv: [...wire.argv], shared: wire }] } : {}),
    close: async () => {},
  }
  return {
    kind: remotes?.targets.size ? 'ssh' : 'loopback',
    close: async () => {
      await Promise.all([wire?.close(), nsWire?.close(), closeHostHelpers()])
    },
    open: async (scenario, variant) => {
      if (remotes && scenarioUsesRemote(scenario, remotes.targets))
        return openSsh(scenario, variant, remotes.targets, remotes.prepared, remotes.options, binary)
      if (scenario.hosts) return openNetns(scenario, binary, nsWire)
      return uid !== 0 && scenarioUsesGates(scenario) ? privateNamespace(binary) : shared
    },
  }
}
