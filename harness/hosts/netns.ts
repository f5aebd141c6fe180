/**
 * The netns host: every scenario host is a network namespace of its own,
 * joined through a bridge, built before the scenario and removed after it
 * (also after a crash or Ctrl-C; `sockspec cleanup` removes leftovers of a
 * killed run). Root only. The machine's own namespace is never touched.
 */
import { randomBytes } from 'node:crypto'
import { connect, createServer } from 'node:net'
import type { Server } from 'node:net'
import { runCommand } from '../deps/process.js'
import type { CommandResult } from '../deps/process.js'
import { SockspecError } from '../errors.js'
import type { Scenario } from '../scenario/types.js'
import type { SharedCapture } from '../probe/capture.js'
import type { HostSession } from './host.js'
import {
  NS_PREFIX,
  deleteBatch,
  hostnetCommand,
  hostsRoutingViaGateway,
  ipBatchArgv,
  namespaceHosts,
  nftScript,
  planTopology,
  routeBatches,
  routeSysctls,
  sysctlBatch,
  sysctlPath,
  topologyBatches,
} from './topology.js'
import type { IpBatch, TopologyPlan } from './topology.js'

let counter = 0

/**
 * Liveness beacon: while a kit process owns namespaces it listens on the
 * abstract unix socket `@sockspec-run-<token>`, and the token is part of every
 * namespace name (`sockspec-<pid>.<token>-<n>-<host>`). The kernel drops the
 * socket when the process dies, however it dies, so `sockspec cleanup` can
 * tell a live run from a leftover by connecting to it; this holds across pid
 * namespaces (a container sharing the network namespace), where the pid in
 * the name means nothing. The pid stays in the name for people.
 */
const runToken = randomBytes(4).toString('hex')
let beacon: Promise<Server> | undefined
let beaconListening = false
const beaconPath = (token: string): string => `\0sockspec-run-${token}`

/** Every run holds the beacon (not only netns runs): the store marks a run whose beacon is gone as aborted. */
export function ensureBeacon(): Promise<Server> {
  beacon ??= new Promise<Server>((resolve, reject) => {
    const server = createServer(sock => sock.destroy())
    server.once('error', reject)
    server.listen({ path: beaconPath(runToken) }, () => {
      server.unref()
      beaconListening = true
      resolve(server)
    })
  })
  return beacon
}

/** This process's beacon token, once its beacon listens (a run recorded with it can be judged alive or dead). */
export function liveBeaconToken(): string | undefined {
  return beaconListening ? runToken : undefined
}

/** true if a kit process holding `token`'s beacon is alive (a timeout counts as alive). */
export function beaconAlive(token: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise(resolve => {
    const sock = connect({ path: beaconPath(token) })
    const timer = setTimeout(() => {
      sock.destroy()
      resolve(true)
    }, timeoutMs)
    sock.once('connect', () => {
      clearTimeout(timer)
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
  })
}

/** Where namespaces are made: this machine, or a vm guest (through its control port). */
export type NetnsExec = (argv: readonly string[], opts?: { input?: string; timeoutMs?: number }) => Promise<CommandResult>

const localExec: NetnsExec = runCommand

/** Run one ip batch; a failed line throws (or, with `force`, is only reported in the result). */
async function runBatch(exec: NetnsExec, batch: IpBatch, force = false): Promise<CommandResult> {
  return exec(ipBatchArgv(batch, force), { input: batch.lines.join('\n') + '\n', timeoutMs: 10_000 })
}

/**
 * Delete namespaces in one batch. With `killFirst`, first kill what still
 * runs in each (a killed run's leftovers); a session's own teardown skips
 * that, because its probes and captures have all exited by then (they are
 * our children and were waited for).
 */
async function deleteNamespaces(exec: NetnsExec, names: readonly string[], killFirst = false): Promise<void> {
  if (!names.length) return
  if (killFirst) {
    await Promise.all(
      names.map(async ns => {
        const pids = (await exec(['ip', 'netns', 'pids', ns], { timeoutMs: 5000 })).stdout.split(/\s+/).filter(p => /^\d+$/.test(p))
        // the shell's builtin kill: there may be no kill(1) binary
        if (pids.length) await exec(['sh', '-c', 'kill -9 "$@" 2>/dev/null; true', 'sh', ...pids], { timeoutMs: 5000 })
      }),
    )
  }
  await runBatch(exec, deleteBatch(names), true)
}

/**
 * Namespaces of local sessions that close within a short window go in one
 * `ip -batch` (a run tears down many results at about the same time); each
 * close still resolves only once its namespaces are gone.
 */
const DELETE_WINDOW_MS = 100
const DELETE_MAX = 32
interface DeleteBatch {
  names: string[]
  done: Promise<void>
  flush(): void
}
let openDeletes: DeleteBatch | undefined

function deleteLocalSoon(names: readonly string[]): Promise<void> {
  if (!openDeletes) {
    let start!: () => void
    const started = new Promise<void>(resolve => (start = resolve))
    const timer = setTimeout(() => batch.flush(), DELETE_WINDOW_MS)
    const batch: DeleteBatch = {
      names: [],
      done: started.then(() => deleteNamespaces(localExec, batch.names)),
      flush: () => {
        clearTimeout(timer)
        if (openDeletes === batch) openDeletes = undefined
        start()
      },
    }
    openDeletes = batch
  }
  const batch = openDeletes
  batch.names.push(...names)
  if (batch.names.length >= DELETE_MAX) batch.flush()
  return batch.done
}

/** A session on simulated hosts: it always has path gates. */
export interface NetnsSession extends HostSession {
  plan: TopologyPlan
  setPathGates: NonNullable<HostSession['setPathGates']>
}

/** Hosts in declaration order; actors placed on them (default: first host). */
export function hostOfActor(scenario: Scenario, actor: string): string {
  const names = Object.keys(scenario.hosts ?? {})
  return scenario.actors?.[actor]?.host ?? names[0] ?? 'local'
}

/** A scenario's hosts built as namespaces, wherever `exec` runs; the caller decides how probes get in. */
export interface Topology {
  plan: TopologyPlan
  /** the namespace plan of the host an actor is placed on */
  hostPlan(actor: string): TopologyPlan['hosts'][number]
  setPathGates: NetnsSession['setPathGates']
  /** delete every namespace (idempotent) */
  destroy(): Promise<void>
}

/**
 * Build the namespaces, bridge, veths, addresses and sysctls of a scenario's
 * hosts, in 1 + one per host `ip -batch` calls (topologyBatches; the
 * sysctls close the first batch, once every link exists, as they followed
 * link creation before). A sysctl a namespace cannot take turns into a skip;
 * anything else that fails removes what was made and throws. Sysctls are
 * net.* keys only, written from inside the host's namespace (`netns exec`),
 * so they die with it; any other key is refused before anything is made (a
 * vm guest builds its hosts through this same function).
 */
export async function buildTopology(
  scenario: Scenario,
  exec: NetnsExec,
  tag: string,
  /** hosts whose links and addresses a probe sets up from inside (`hostnet`): they get no batch of their own */
  configuredByProbe: ReadonlySet<string> = new Set(),
): Promise<Topology | { skip: string }> {
  const routes = Object.fromEntries(Object.entries(scenario.hosts ?? {}).map(([n, h]) => [n, h.routes]))
  const forRoutes = routeSysctls(routes)
  const hostSysctls = Object.fromEntries(Object.entries(scenario.hosts ?? {}).map(([n, h]) => [n, { ...forRoutes[n], ...h.sysctl }]))
  const packets = Object.fromEntries(
    Object.entries(scenario.hosts ?? {}).flatMap(([n, h]) => (h.packet !== undefined ? [[n, h.packet]] : [])),
  )
  const plan = planTopology(Object.keys(scenario.hosts ?? {}), hostSysctls, tag, packets)
  const created = [plan.hub, ...namespaceHosts(plan).map(h => h.ns)]
  const sysctls = sysctlBatch(plan)
  const viaGateway = hostsRoutingViaGateway(routes)
  const phases = topologyBatches(plan, new Set([...configuredByProbe].filter(h => !viaGateway.has(h))))
  if (sysctls) phases[0]![0]!.lines.push(...sysctls.batch.lines)
  // the routes pass, once every host is up (a route through a gateway needs its eth0 and addresses)
  const routePhase = routeBatches(plan, routes)
  if (routePhase.length) phases.push(routePhase)
  try {
    for (const phase of phases) {
      const results = await Promise.all(phase.map(async b => ({ b, r: await runBatch(exec, b) })))
      const bad = results.find(x => x.r.exitCode !== 0)
      const path = bad && sysctls ? /sysctl-failed (\S+)/.exec(bad.r.stderr)?.[1] : undefined
      if (sysctls && bad && path) {
        await deleteNamespaces(exec, created)
        const key = sysctls.hostOfLine.flatMap(h => Object.keys(h.sysctl)).find(k => sysctlPath(k) === path)
        const why = bad.r.stderr.replace(/^sysctl-failed .*$/m, '').trim()
        return { skip: `sysctl ${key ?? path} cannot be set in a network namespace here: ${why}` }
      }
      if (bad) throw new SockspecError('E_PROBE', `${ipBatchArgv(bad.b).join(' ')}: ${bad.r.stderr.trim() || `exit ${bad.r.exitCode}`}`)
    }
  } catch (err) {
    await deleteNamespaces(exec, created)
    throw err
  }
  const byHost = new Map(plan.hosts.map(h => [h.name, h]))
  let destroyed: Promise<void> | undefined
  return {
    plan,
    hostPlan: actor => byHost.get(hostOfActor(scenario, actor)) ?? plan.hosts[0]!,
    setPathGates: async (host, gates) => {
      const h = byHost.get(host)
      if (!h) return { ok: false, message: `no host '${host}'` }
      // one nft -f per change set: the script replaces the kit's whole table atomically
      const r = await exec(['ip', 'netns', 'exec', h.ns, 'nft', '-f', '-'], { input: nftScript(gates), timeoutMs: 10_000 })
      return { ok: r.exitCode === 0, message: r.exitCode === 0 ? '' : r.stderr.trim() }
    },
    destroy: () => (destroyed ??= deleteNamespaces(exec, created)),
  }
}

const chunks = <T>(xs: readonly T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n))

/**
 * `wire`: the run's capture of namespaces (`capture --empty`), which each
 * scenario's interfaces join for its window; without it each scenario starts
 * a capture process of its own.
 */
export async function openNetns(scenario: Scenario, probeBinary: string, wire?: SharedCapture): Promise<NetnsSession | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'needs root to create network namespaces' }
  await ensureBeacon()
  // the first actor on each host configures it from inside (one probe command instead of one ip process per host)
  const configurer = new Map<string, string>()
  // except a host routing through a gateway: its batch brings eth0 up before the route (routes pass)
  const viaGateway = hostsRoutingViaGateway(Object.fromEntries(Object.entries(scenario.hosts ?? {}).map(([n, h]) => [n, h.routes])))
  // and packet hosts (a TUN device in another host's namespace, which its batch sets up with the TUN routes)
  const packetHosts = Object.entries(scenario.hosts ?? {}).flatMap(([n, h]) => (h.packet !== undefined ? [n, h.packet] : []))
  for (const s of scenario.steps) {
    const host = hostOfActor(scenario, s.actor)
    if (!configurer.has(host) && !viaGateway.has(host) && !packetHosts.includes(host)) configurer.set(host, s.actor)
  }
  const byProbe = new Set(configurer.keys())
  const topo = await buildTopology(scenario, localExec, `${process.pid}.${runToken}-${(++counter).toString(36)}`, byProbe)
  if ('skip' in topo) return topo
  const { plan, hostPlan } = topo
  let closed: Promise<void> | undefined
  return {
    plan,
    // the probe joins its host's namespace itself (setns), one exec instead of two
    probeArgv: () => [probeBinary],
    probeSetup: actor => {
      const h = hostPlan(actor)
      return configurer.get(h.name) === actor ? [`netns ${h.ns}`, hostnetCommand(h)] : [`netns ${h.ns}`]
    },
    defaultAddress: (actor, family) => (family === 'inet6' ? hostPlan(actor).inet6 : hostPlan(actor).inet),
    hostOf: actor => hostOfActor(scenario, actor),
    captureSpecs: () =>
      wire
        ? [
            {
              host: namespaceHosts(plan)
                .map(h => h.name)
                .join(','),
              argv: [...wire.argv],
              shared: wire,
              add: {
                interfaces: namespaceHosts(plan).flatMap(h => [`${h.ns}:eth0`, `${h.ns}:lo`]),
                hostOfNs: Object.fromEntries(namespaceHosts(plan).map(h => [h.ns, h.name])),
              },
            },
          ]
        : // one capture process for up to 8 hosts (16 interfaces): it opens each host's sockets inside that host's namespace
          chunks(namespaceHosts(plan), 8).map(hosts => ({
            host: hosts.map(h => h.name).join(','),
            argv: [probeBinary, 'capture', ...hosts.flatMap(h => [`${h.ns}:eth0`, `${h.ns}:lo`])],
            hostOfNs: Object.fromEntries(hosts.map(h => [h.ns, h.name])),
          })),
    setPathGates: topo.setPathGates,
    close: () => (closed ??= deleteLocalSoon([plan.hub, ...namespaceHosts(plan).map(h => h.ns)])),
  }
}

/** Namespaces a kit process created: the pid that created them and, since the beacon, its token. */
export async function kitNamespaces(): Promise<Array<{ name: string; pid: number; token?: string }>> {
  const r = await runCommand(['ip', 'netns', 'list'], { timeoutMs: 5000 })
  return r.stdout
    .split('\n')
    .map(l => l.trim().split(/\s+/)[0] ?? '')
    .filter(n => n.startsWith(NS_PREFIX))
    .map(name => {
      const m = /^sockspec-(\d+)(?:\.([0-9a-f]+))?-/.exec(name)
      return { name, pid: Number(m?.[1] ?? 0), token: m?.[2] }
    })
}

function pidAlive(pid: number): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Remove namespaces left by kit runs that are gone (or all of them with force).
 * A name with a token is judged by its beacon only; one without (made by hand
 * or by an older kit) by its pid.
 */
export async function cleanupNamespaces(force = false): Promise<string[]> {
  const all = await kitNamespaces()
  const tokens = [...new Set(all.flatMap(n => (n.token ? [n.token] : [])))]
  const liveTokens = new Set((await Promise.all(tokens.map(async t => ((await beaconAlive(t)) ? t : '')))).filter(Boolean))
  const leftovers = all.filter(n => force || !(n.token ? liveTokens.has(n.token) : pidAlive(n.pid))).map(n => n.name)
  await deleteNamespaces(localExec, leftovers, true)
  return leftovers
}
