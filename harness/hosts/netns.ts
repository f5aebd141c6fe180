/**
 * The netns host: every scenario host is a network namespace of its own,
 * joined through a bridge, built before the scenario and removed after it
 * (also after a crash or Ctrl-C; `sockspec cleanup` removes leftovers of a
 * killed run). Root only. The machine's own namespace is never touched.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import type { Server } from 'node:net'
import { runCommand } from '../deps/process.js'
import type { CommandResult } from '../deps/process.js'
import { SockspecError } from '../errors.js'
import type { Scenario } from '../scenario/types.js'
import type { SharedCapture } from '../probe/capture.js'
import { ProbeProcess } from '../probe/process.js'
import { probeBinary as kitProbe } from '../paths.js'
import type { ProbeEvent } from '../trace/event.js'
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

/** How a host helper process is started and kept. */
export interface HostHelperStart {
  /** argv of `sockspec-probe hosts`, or (viaCommand) of a probe that becomes the helper with its `hosts` command */
  argv: readonly string[]
  /** the probe is started as a plain probe (a vm guest's leased port): `hosts` turns it into the helper */
  viaCommand?: boolean
  /** stop after this long without work; undefined: keep it until close() */
  lingerMs?: number
  /** limit on each hello (a guest under emulation answers slower) */
  helloMs?: number
  /** limit on one command, counted from when it was sent */
  commandMs?: number
  /** where the probe comes from (a guest's port pool holds the port's live probe between sessions); default: a new process */
  spawn?: (argv: readonly string[]) => ProbeProcess
}

/**
 * A host helper (`sockspec-probe hosts`): one process applies every path
 * gate (libnftables inside the namespace, what `ip netns exec NS nft -f -`
 * did with two execs per gate), runs every ip batch of the kit's shapes
 * over rtnetlink and deletes every namespace (what `ip netns del` does) of
 * the scenarios it serves. This machine's run has one (started on first use,
 * stopped after 5 s without work, or by close() at the end of the run); a vm
 * guest has one of its own, a probe on a port leased for the guest's life.
 * Without libnftables its gates run nft(8) as its child. Where it cannot do
 * a thing (no nft at all, a line it does not know, it did not start) the
 * caller falls back to `ip` and `nft`.
 */
export class HostHelper {
  private proc: ProbeProcess | undefined
  private started: Promise<boolean> | undefined
  private busy = 0
  private idle: NodeJS.Timeout | undefined
  private token = 0
  /** neither libnftables nor nft for the helper: gates go through the caller's nft */
  private nftMissing = false
  private readonly start: HostHelperStart
  /** commands it answered (done), and those it could not (then the caller ran ip or nft) */
  readonly stats = { done: 0, notDone: 0 }

  constructor(start: string | HostHelperStart, lingerMs = 5000) {
    this.start = typeof start === 'string' ? { argv: [start, 'hosts'], lingerMs } : start
  }

  /** Start the process and wait for the helper's hello (a probe's first, then the one after `hosts`). */
  private async launch(proc: ProbeProcess): Promise<boolean> {
    const helloMs = this.start.helloMs ?? 5000
    if (!(await proc.waitHello(helloMs))) return false
    if (!this.start.viaCommand) return true
    proc.expectAnotherHello()
    proc.send('hosts', 'hosts')
    return proc.waitHello(helloMs)
  }

  /** Run one command; its events, or undefined when the helper is not there. */
  private async run(command: string, timeoutMs = 10_000): Promise<ProbeEvent[] | undefined> {
    this.busy++
    if (this.idle) clearTimeout(this.idle)
    this.idle = undefined
    try {
      if (!this.proc || this.proc.exit) {
        this.proc = this.start.spawn ? this.start.spawn(this.start.argv) : new ProbeProcess(this.start.argv, 'hosts')
        this.started = this.launch(this.proc)
      }
      const proc = this.proc
      if (!(await this.started)) {
        if (this.proc === proc) this.proc = undefined
        proc.kill()
        this.stats.notDone++
        return undefined
      }
      const step = `h${++this.token}`
      proc.send(step, command)
      const outcome = await proc.waitStep(step, this.start.commandMs ?? timeoutMs)
      // the helper keeps no events between commands
      proc.events = []
      this.stats[outcome.status === 'done' ? 'done' : 'notDone']++
      return outcome.status === 'done' ? outcome.events : undefined
    } finally {
      if (--this.busy === 0 && this.proc && this.start.lingerMs !== undefined) {
        this.idle = setTimeout(() => void this.close(), this.start.lingerMs)
        this.idle.unref()
      }
    }
  }

  /** Apply an nft script inside namespace ns; undefined: not done here (no libnftables, no helper). */
  async nft(ns: string, script: string): Promise<{ ok: boolean; message: string } | undefined> {
    if (this.nftMissing) return undefined
    // the script's bytes follow the line (the blank line after them is skipped)
    const events = await this.run(`nft ${ns} ${Buffer.byteLength(script)}\n${script}`)
    const e = events?.find(x => x.op === 'nft')
    if (!e) return undefined
    if (e.ret !== 0 && e.errno === 'ENOSYS') {
      this.nftMissing = true
      return undefined
    }
    return { ok: e.ret === 0, message: e.ret === 0 ? '' : String(e.error ?? e.errno ?? 'failed') }
  }

  /**
   * Run an ip batch's lines over rtnetlink in the helper, shaped as ip's
   * answer (stderr names the failed line); undefined when the helper cannot
   * (a line it does not know, no helper): then ip runs the batch.
   */
  async batch(batch: IpBatch): Promise<CommandResult | undefined> {
    const text = (batch.helperLines ?? batch.lines).join('\n') + '\n'
    const events = await this.run(`ip ${batch.ns ?? '-'} ${Buffer.byteLength(text)}\n${text}`)
    const e = events?.find(x => x.op === 'ip')
    if (!e || (e.ret !== 0 && e.errno === 'EOPNOTSUPP')) return undefined
    const error = String(e.error ?? e.errno ?? '')
    // a sysctl's failure as the shell writer reports it: its marker line, then why
    const stderr =
      e.ret === 0
        ? ''
        : /^line \d+: sysctl-failed /.test(error)
          ? error.replace(/^line \d+: (sysctl-failed [^\s:]+): /, '$1\n')
          : `host helper: ${error}`
    return { exitCode: e.ret === 0 ? 0 : 1, stdout: '', stderr, failed: e.ret !== 0 }
  }

  /**
   * Delete namespaces (a missing one is no failure). Returns the names it
   * could not delete (all of them when the helper is not there): the caller
   * gives those to ip.
   */
  async del(names: readonly string[]): Promise<string[]> {
    const failed: string[] = []
    for (let i = 0; i < names.length; i += 32) {
      const chunk = names.slice(i, i + 32)
      const events = await this.run(`del ${chunk.join(' ')}`)
      if (!events) failed.push(...chunk)
      else
        for (const ns of chunk) {
          const e = events.find(x => x.op === 'netns_del' && x.netns === ns)
          if (!e || (e.ret !== 0 && e.errno !== 'ENOENT')) failed.push(ns)
        }
    }
    return failed
  }

  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle)
    this.idle = undefined
    const proc = this.proc
    this.proc = undefined
    if (proc && this.busy === 0) await proc.stop()
    else if (proc) this.proc = proc
  }
}

const helpers = new Map<string, HostHelper>()

/** The host helper of this process for a probe binary. */
export function hostHelper(binary: string): HostHelper {
  let h = helpers.get(binary)
  if (!h) helpers.set(binary, (h = new HostHelper(binary)))
  return h
}

/** Stop every host helper now (end of a run). */
export async function closeHostHelpers(): Promise<void> {
  await Promise.all([...helpers.values()].map(h => h.close()))
}

/** Run one ip batch, through the host helper when there is one that knows its lines; stops at a failed line (or, with `force`, only reports it). */
async function runBatch(exec: NetnsExec, batch: IpBatch, force = false, helper?: HostHelper): Promise<CommandResult> {
  const done = force ? undefined : await helper?.batch(batch)
  if (done) return done
  return exec(ipBatchArgv(batch, force), { input: batch.lines.join('\n') + '\n', timeoutMs: 10_000 })
}

/** Pids of processes in namespace `ns` (/run/netns/NS), read from /proc: the same namespace is the same nsfs inode. */
export function pidsInNamespace(ns: string): number[] {
  let target: { dev: number; ino: number }
  try {
    target = statSync(`/run/netns/${ns}`)
  } catch {
    return []
  }
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const st = statSync(`/proc/${name}/ns/net`)
      if (st.ino === target.ino && st.dev === target.dev) pids.push(Number(name))
    } catch {
      // exited meanwhile, or a kernel thread without one
    }
  }
  return pids
}

/**
 * Delete namespaces: through the host helper when given (no process per
 * call), else one `ip -force -batch` (a vm guest's, or no helper here).
 * With `killFirst`, first kill what still runs in each (a killed run's
 * leftovers; on this machine only): a session's own teardown skips that,
 * because its probes have all exited or gone home by then.
 */
async function deleteNamespaces(exec: NetnsExec, names: readonly string[], killFirst = false, helper?: HostHelper): Promise<void> {
  if (!names.length) return
  if (killFirst)
    for (const ns of names)
      for (const pid of pidsInNamespace(ns)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone already
        }
      }
  const left = helper ? await helper.del(names) : names
  if (left.length) await runBatch(exec, deleteBatch(left), true)
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
  /** this machine's host helper: path gates and deletion without a process each */
  helper?: HostHelper,
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
  if (sysctls) {
    const first = phases[0]![0]!
    first.helperLines = [...first.lines, ...sysctls.helperLines]
    first.lines.push(...sysctls.batch.lines)
  }
  // the routes pass, once every host is up (a route through a gateway needs its eth0 and addresses)
  const routePhase = routeBatches(plan, routes)
  if (routePhase.length) phases.push(routePhase)
  try {
    for (const phase of phases) {
      const results = await Promise.all(phase.map(async b => ({ b, r: await runBatch(exec, b, false, helper) })))
      const bad = results.find(x => x.r.exitCode !== 0)
      const path = bad && sysctls ? /sysctl-failed ([^\s:]+)/.exec(bad.r.stderr)?.[1] : undefined
      if (sysctls && bad && path) {
        await deleteNamespaces(exec, created, false, helper)
        const key = sysctls.hostOfLine.flatMap(h => Object.keys(h.sysctl)).find(k => sysctlPath(k) === path)
        const why = bad.r.stderr.replace(/^sysctl-failed .*$/m, '').trim()
        return { skip: `sysctl ${key ?? path} cannot be set in a network namespace here: ${why}` }
      }
      if (bad) throw new SockspecError('E_PROBE', `${ipBatchArgv(bad.b).join(' ')}: ${bad.r.stderr.trim() || `exit ${bad.r.exitCode}`}`)
    }
  } catch (err) {
    await deleteNamespaces(exec, created, false, helper)
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
      // one script per change set: it replaces the kit's whole table atomically
      const script = nftScript(gates)
      const done = await helper?.nft(h.ns, script)
      if (done) return done
      const r = await exec(['ip', 'netns', 'exec', h.ns, 'nft', '-f', '-'], { input: script, timeoutMs: 10_000 })
      return { ok: r.exitCode === 0, message: r.exitCode === 0 ? '' : r.stderr.trim() }
    },
    destroy: () => (destroyed ??= deleteNamespaces(exec, created, false, helper)),
  }
}

const chunks = <T>(xs: readonly T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n))

/**
 * The actor whose probe configures each host from inside (`hostnet`: one
 * probe command instead of an ip batch per host): the first actor placed
 * on it. Not a host routing through a gateway (its batch brings eth0 up
 * before the route, in the routes pass), nor one with a packet host (a TUN
 * device in its namespace, which its batch sets up with the TUN routes).
 */
export function hostConfigurers(scenario: Scenario): Map<string, string> {
  const configurer = new Map<string, string>()
  const viaGateway = hostsRoutingViaGateway(Object.fromEntries(Object.entries(scenario.hosts ?? {}).map(([n, h]) => [n, h.routes])))
  const packetHosts = Object.entries(scenario.hosts ?? {}).flatMap(([n, h]) => (h.packet !== undefined ? [n, h.packet] : []))
  for (const s of scenario.steps) {
    const host = hostOfActor(scenario, s.actor)
    if (!configurer.has(host) && !viaGateway.has(host) && !packetHosts.includes(host)) configurer.set(host, s.actor)
  }
  return configurer
}

/** An actor's probe setup: join its host's namespace, and configure the host when it is the host's configurer. */
export function probeSetupOf(configurer: ReadonlyMap<string, string>, h: TopologyPlan['hosts'][number], actor: string): string[] {
  return configurer.get(h.name) === actor ? [`netns ${h.ns}`, hostnetCommand(h)] : [`netns ${h.ns}`]
}

/**
 * `wire`: the run's capture of namespaces (`capture --empty`), which each
 * scenario's interfaces join for its window; without it each scenario starts
 * a capture process of its own.
 */
export async function openNetns(scenario: Scenario, probeBinary: string, wire?: SharedCapture): Promise<NetnsSession | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'needs root to create network namespaces' }
  await ensureBeacon()
  const configurer = hostConfigurers(scenario)
  const topo = await buildTopology(
    scenario,
    localExec,
    `${process.pid}.${runToken}-${(++counter).toString(36)}`,
    new Set(configurer.keys()),
    hostHelper(probeBinary),
  )
  if ('skip' in topo) return topo
  const { plan, hostPlan } = topo
  let closed: Promise<void> | undefined
  return {
    plan,
    // the probe joins its host's namespace itself (setns), one exec instead of two
    probeArgv: () => [probeBinary],
    probeSetup: actor => probeSetupOf(configurer, hostPlan(actor), actor),
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
    close: () => (closed ??= topo.destroy()),
  }
}

/** Namespaces a kit process created: the pid that created them and, since the beacon, its token. Read from /run/netns, as `ip netns list` does. */
export function kitNamespaces(): Array<{ name: string; pid: number; token?: string }> {
  let names: string[]
  try {
    names = readdirSync('/run/netns')
  } catch {
    return [] // no namespace was ever named here
  }
  return names
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
export async function cleanupNamespaces(force = false, probeBinary: string = kitProbe): Promise<string[]> {
  const all = kitNamespaces()
  const tokens = [...new Set(all.flatMap(n => (n.token ? [n.token] : [])))]
  const liveTokens = new Set((await Promise.all(tokens.map(async t => ((await beaconAlive(t)) ? t : '')))).filter(Boolean))
  const leftovers = all.filter(n => force || !(n.token ? liveTokens.has(n.token) : pidAlive(n.pid))).map(n => n.name)
  const helper = leftovers.length && existsSync(probeBinary) ? hostHelper(probeBinary) : undefined
  try {
    await deleteNamespaces(localExec, leftovers, true, helper)
  } finally {
    await helper?.close()
  }
  return leftovers
}
