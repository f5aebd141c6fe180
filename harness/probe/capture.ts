/**
 * Packet capture for one scenario run. Without a run-wide capture a
 * `sockspec-probe capture IFNAME` process runs from before the first step
 * to after the last. A machine's own `lo` is shared by every scenario of a
 * run, so it has one capture for the whole run (SharedCapture): a scenario
 * takes the segments of its window, from when it joined to a `sync`
 * answered after its last step; the scenarios' namespaces share one too,
 * each adding its interfaces for its window. A vm guest runs both kinds in
 * probes on two ports of its own. Either way segments
 * (and ICMP errors, filed under the ports of the packet they quote)
 * become trace events of the actor `wire`, and only those touching the
 * scenario's own ports are kept.
 */
import { ADDRESS_EVENTS } from '../ops/table.js'
import { ProbeProcess } from './process.js'
import type { InvalidLine } from '../trace/result.js'
import type { ProbeEvent, SockAddr } from '../trace/event.js'
import { extendEvent } from '../trace/raw-line.js'

export interface CaptureSpec {
  /** Scenario host the interface belongs to ("local" on loopback). */
  host: string
  argv: string[]
  /** A run-wide capture to join instead of starting one (argv is then unused). */
  shared?: SharedCapture
  /** With `shared`: the interfaces this scenario adds to it for its window (its namespaces') */
  add?: CaptureAdd
  /**
   * One process for several namespaces (interfaces given as NS:IFNAME): the
   * scenario host of each namespace. A segment then gets its namespace's host
   * and the bare interface name.
   */
  hostOfNs?: Record<string, string>
}

export interface RunningCapture {
  host: string
  process: ProbeProcess
  /** set when this is a window of a shared capture */
  lease?: Lease
  hostOfNs?: Record<string, string>
  /** what the capture wrote to stderr and the invalid lines it printed (of this window, if shared) */
  stderr: string
  invalid: InvalidLine[]
}

interface SharedState {
  process: ProbeProcess
  started: Promise<boolean>
  holders: Set<Lease>
  /** events[0] is the base-th event the capture wrote (older ones were dropped) */
  base: number
}

interface Lease {
  owner: SharedCapture
  state: SharedState
  /** index (counted from the capture's first event) of the first event read after joining */
  from: number
  sinceNs: number
  invalidFrom: number
  stderrFrom: number
  /** the namespaces this window added to the capture (`add`): its events are theirs, and `drop` ends it */
  namespaces?: Set<string>
}

/** What a window adds to a run-wide capture of namespaces: NS:IFNAME interfaces, and the scenario host of each namespace. */
export interface CaptureAdd {
  interfaces: string[]
  hostOfNs: Record<string, string>
}

/** The namespace of an `if` field (`NS:IFNAME`), or undefined for a bare interface. */
const nsOfIf = (at: unknown): string | undefined => {
  const s = String(at ?? '')
  const colon = s.lastIndexOf(':')
  return colon > 0 ? s.slice(0, colon) : undefined
}

/** Interfaces per `add` line (the capture takes at most 32 words after the command). */
const ADD_CHUNK = 16

let syncCounter = 0

/**
 * One capture process shared by the scenarios running at once: a single
 * reader for all of them, so packets parsed grow with the traffic, not with
 * traffic x --jobs, and one process per run instead of one per result.
 * Started when the first scenario joins; stopped when the last one leaves
 * and nobody joins within `lingerMs`, or on close().
 *
 * Two kinds of window: on a shared interface set (the machine's `lo`) a
 * window is the time from join to a `sync` after the last step; a window
 * that brings interfaces of its own (a scenario's namespaces, started as
 * `capture --empty`) adds them on join and drops them on leave, and its
 * events are exactly those of its namespaces.
 */
export interface SharedCaptureOptions {
  /**
   * argv starts an ordinary probe (a vm guest's port): the probe command
   * that turns it into this capture (`capture lo`, `capture --empty`).
   */
  command?: string[]
  /**
   * The capture's CLOCK_MONOTONIC is not this machine's (a guest's): a window
   * on the shared interfaces starts at a `sync` answered when joining, not at
   * a time, so what it reads is exactly what came after the answer.
   */
  foreignClock?: boolean
  /**
   * After a capture that did not start was given up: make its argv fit to
   * start again (a guest port whose probe still runs takes no second
   * connection that would say hello: its probe is killed and respawned).
   */
  abandon?: () => Promise<void>
}

export class SharedCapture {
  private current: SharedState | undefined
  private idle: NodeJS.Timeout | undefined
  /** the last capture being ended: a guest port takes one connection, so the next waits for it */
  private stopping: Promise<void> = Promise.resolve()

  constructor(
    readonly argv: readonly string[],
    readonly host: string,
    private readonly lingerMs = 300,
    private readonly opts: SharedCaptureOptions = {},
  ) {}

  /** Hello, and for an ordinary probe its capture command and the capture's hello. */
  private async start(process: ProbeProcess, timeoutMs: number): Promise<boolean> {
    if (!(await process.waitHello(timeoutMs))) return false
    if (!this.opts.command) return true
    process.expectAnotherHello()
    process.send('capture', this.opts.command.join(' '))
    return process.waitHello(timeoutMs)
  }

  /** Join: the window starts now. A capture that cannot start is reported and retried by the next scenario. */
  async join(timeoutMs: number, add?: CaptureAdd): Promise<{ capture?: RunningCapture; problem?: string }> {
    if (this.idle) clearTimeout(this.idle)
    this.idle = undefined
    if (!this.current || this.current.process.exit) {
      await this.stopping
    }
    if (!this.current || this.current.process.exit) {
      const process = new ProbeProcess(this.argv, `wire@${this.host}`)
      this.current = { process, started: this.start(process, timeoutMs), holders: new Set(), base: 0 }
    }
    const cur = this.current
    if (!(await cur.started)) {
      if (this.current === cur) {
        this.current = undefined
        if (this.opts.abandon) this.stopping = this.opts.abandon()
      }
      cur.process.kill()
      const err = cur.process.events.find(e => e.op === 'capture' && e.error)
      return { problem: `packet capture on ${this.host} did not start${err ? `: ${err.error}` : ''}` }
    }
    const lease: Lease = {
      owner: this,
      state: cur,
      from: cur.base + cur.process.events.length,
      sinceNs: this.opts.foreignClock ? -Infinity : Number(process.hrtime.bigint()),
      invalidFrom: cur.process.invalid.length,
      stderrFrom: cur.process.stderr.length,
      ...(add ? { namespaces: new Set(Object.keys(add.hostOfNs)) } : {}),
    }
    cur.holders.add(lease)
    const capture: RunningCapture = { host: this.host, process: cur.process, lease, hostOfNs: add?.hostOfNs, stderr: '', invalid: [] }
    if (this.opts.foreignClock && !add) {
      // everything the capture wrote before answering was on the wire before this window
      const token = `sync.${++syncCounter}`
      cur.process.send(token, 'sync')
      const outcome = await cur.process.waitStep(token, timeoutMs)
      if (outcome.status !== 'done') {
        await this.leave(capture, timeoutMs)
        return { problem: `packet capture on ${this.host} did not start (no answer to sync: ${outcome.status})` }
      }
      lease.from = cur.base + cur.process.events.length
    }
    if (add) {
      for (let i = 0; i < add.interfaces.length; i += ADD_CHUNK) {
        const token = `add.${++syncCounter}`
        cur.process.send(token, `add ${add.interfaces.slice(i, i + ADD_CHUNK).join(' ')}`)
        const outcome = await cur.process.waitStep(token, timeoutMs)
        const err = outcome.events.find(e => e.error !== undefined)
        if (outcome.status !== 'done' || err) {
          // what was added is taken out again; the window ends empty
          await this.leave(capture, timeoutMs)
          return {
            problem: `packet capture on ${this.host} did not start${err ? `: ${String(err.if ?? '')} ${err.error}` : ` (${outcome.status})`}`,
          }
        }
      }
    }
    return { capture }
  }

  /** End a window: sync, then this window's events; the capture stops when idle. */
  async leave(c: RunningCapture, timeoutMs = 2000): Promise<ProbeEvent[]> {
    const lease = c.lease!
    const cur = lease.state
    const ns = lease.namespaces
    const token = `${ns ? 'drop' : 'sync'}.${++syncCounter}`
    // drop: report what the window's interfaces still hold, then close them (before their namespaces go)
    c.process.send(token, ns ? `drop ${[...ns].join(' ')}` : 'sync')
    const outcome = await c.process.waitStep(token, timeoutMs)
    const events = cur.process.events
    const since = events.slice(Math.max(0, lease.from - cur.base))
    const mine = ns ? since.filter(e => e.step === undefined && ns.has(nsOfIf(e.if) ?? '')) : since.filter(e => e.t0 >= lease.sinceNs)
    c.invalid = cur.process.invalid.slice(lease.invalidFrom)
    c.stderr = cur.process.stderr.slice(lease.stderrFrom)
    if (outcome.status !== 'done') c.stderr += `packet capture on ${this.host}: no answer to sync (${outcome.status})\n`
    cur.holders.delete(lease)
    // forget events no window still needs (they are read in arrival order)
    const keepFrom = Math.min(cur.base + events.length, ...[...cur.holders].map(h => h.from))
    if (keepFrom > cur.base) {
      events.splice(0, keepFrom - cur.base)
      cur.base = keepFrom
    }
    if (!cur.holders.size && this.current === cur) {
      this.idle = setTimeout(() => void this.stopIfIdle(), this.lingerMs)
      this.idle.unref()
    }
    return mine
  }

  private async stopIfIdle(): Promise<void> {
    const cur = this.current
    if (!cur || cur.holders.size) return
    this.current = undefined
    await (this.stopping = cur.process.endCapture())
  }

  /** Stop now (end of a run). Windows still open get what was read so far. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle)
    this.idle = undefined
    const cur = this.current
    this.current = undefined
    if (cur) await (this.stopping = cur.process.endCapture())
    await this.stopping
  }
}

export async function startCaptures(
  specs: readonly CaptureSpec[],
  timeoutMs = 5000,
): Promise<{ running: RunningCapture[]; problems: string[] }> {
  const running: RunningCapture[] = []
  const problems: string[] = []
  await Promise.all(
    specs.map(async spec => {
      if (spec.shared) {
        const joined = await spec.shared.join(timeoutMs, spec.add)
        if (joined.capture) running.push(joined.capture)
        if (joined.problem) problems.push(joined.problem)
        return
      }
      const process = new ProbeProcess(spec.argv, `wire@${spec.host}`)
      const c: RunningCapture = {
        host: spec.host,
        process,
        hostOfNs: spec.hostOfNs,
        get stderr() {
          return process.stderr
        },
        get invalid() {
          return process.invalid
        },
      }
      running.push(c)
      if (!(await c.process.waitHello(timeoutMs))) {
        const err = c.process.events.find(e => e.op === 'capture' && e.error)
        problems.push(`packet capture on ${c.host} did not start${err ? `: ${err.error}` : ''}`)
      }
    }),
  )
  return { running, problems }
}

/** A scenario's ports per transport: TCP and UDP number their ports apart, so one number can be two sockets of two scenarios at once. */
export interface ScenarioPorts {
  tcp: Set<number>
  udp: Set<number>
}

/**
 * Ports that belong to this scenario: every address its sockets bound,
 * connected to or accepted, filed under UDP for the handles `udpHandles`
 * names (its datagram sockets) and under TCP otherwise.
 */
export function scenarioPorts(events: readonly ProbeEvent[], udpHandles: ReadonlySet<string> = new Set()): ScenarioPorts {
  const ports: ScenarioPorts = { tcp: new Set(), udp: new Set() }
  for (const e of events) {
    if (!ADDRESS_EVENTS.has(e.op)) continue
    const a: SockAddr | undefined = e.addr
    if (a && (a.family === 'inet' || a.family === 'inet6') && a.port)
      ports[typeof e['h'] === 'string' && udpHandles.has(e['h']) ? 'udp' : 'tcp'].add(a.port)
  }
  return ports
}

/** Stop the captures (EOF; a shared one: the end of this window) and keep the segments of this scenario. */
export async function stopCaptures(running: readonly RunningCapture[], scenario: ScenarioPorts): Promise<ProbeEvent[]> {
  return scenarioPackets(running, await endCaptures(running), scenario)
}

/** What each capture saw until now (a shared one: in this scenario's window), ending it. */
export function endCaptures(running: readonly RunningCapture[]): Promise<ProbeEvent[][]> {
  return Promise.all(
    running.map(async c => {
      if (c.lease) return c.lease.owner.leave(c)
      await c.process.endCapture()
      return c.process.events
    }),
  )
}

/** Pure: of what the captures saw, the segments and ICMP errors on the scenario's own ports, with their host, in time order. */
export function scenarioPackets(running: readonly RunningCapture[], seen: readonly ProbeEvent[][], scenario: ScenarioPorts): ProbeEvent[] {
  const packets: ProbeEvent[] = []
  running.forEach((c, i) => {
    for (const e of seen[i] ?? []) {
      if (e.op !== 'packet' && e.op !== 'icmp') continue
      // an ICMP error belongs to the connection of the packet it quotes (of its transport); a captured segment is TCP
      const ports = e.op === 'icmp' && e['orig_proto'] === 'udp' ? scenario.udp : scenario.tcp
      const sport = Number(e.op === 'icmp' ? e['orig_sport'] : e['sport'])
      const dport = Number(e.op === 'icmp' ? e['orig_dport'] : e['dport'])
      // a listener's port is always known; a connection's other port is found through it
      if (!ports.has(sport) && !ports.has(dport)) continue
      const at = String(e['if'] ?? '')
      const colon = at.lastIndexOf(':')
      const ns = c.hostOfNs && colon > 0 ? c.hostOfNs[at.slice(0, colon)] : undefined
      packets.push(ns === undefined ? extendEvent(e, { host: c.host }) : { ...e, host: ns, if: at.slice(colon + 1) })
    }
  })
  return packets.sort((x, y) => x.t0 - y.t0)
}
