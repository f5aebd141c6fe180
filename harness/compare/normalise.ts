/**
 * Trace normalisation: what is left of a recorded event once everything that
 * changes from run to run without the kernel behaving differently is taken
 * out. Two runs with identical behaviour give identical normalised traces.
 *
 * - Timestamps (t0/t1/t_ns/dur_ns) and per-process numbers (seq, pid) go:
 *   timing is compared only through the expectation checks (time windows).
 * - Sockets are already named by handles (L, C, S), never by fds; the fd
 *   numbers that socket/accept4/epoll_create1 return become "fd".
 * - Ports other than 0 (ephemeral ports the kernel picked) become P1, P2, ...
 *   in order of first appearance in the result, so "connect C to the port L
 *   got" still reads the same on both sides.
 * - Unix paths lose their per-run temp dir and abstract-name suffix.
 * - TCP_INFO keeps the connection state and the counters of what TCP did
 *   (retransmits, total_retrans, unacked, bytes ...): what tcp_get_info
 *   (net/ipv4/tcp.c) derives from state the handshake and the data decide.
 *   It drops what varies between runs on one kernel: rtt, rto and pacing
 *   (measured), the last_* ages (jiffies since a stamp that is 0 before the
 *   first segment, so garbage in SYN_SENT), window/MSS/buffer sizes (they
 *   follow tunables such as tcp_rmem, not readiness) and notsent_bytes:
 *   max(0, write_seq - snd_nxt), and a TCP_FASTOPEN_CONNECT socket whose SYN
 *   is deferred has write_seq = its random ISN but snd_nxt still 0, so the
 *   field holds half a random ISN or 0 (seen: 354574661 vs 0). The probe
 *   reports only fields within the optlen the kernel returned, zeroed first.
 *   Measured over three runs of four packs on one kernel: exactly the
 *   dropped timing fields, the last_* ages and notsent_bytes varied.
 * - A packet peer's segments keep every field but the kernel's TS value
 *   (its clock plus a random per-connection offset); tun_open's set-up time
 *   and packet_expect's count of passed-over retransmissions are timing.
 * - epoll/poll ready lists are sorted by handle (the kernel's ready-list order
 *   is not part of the contract, see epoll_wait(2)).
 */
import { FD_RETURNING } from '../ops/table.js'
import type { EventRow } from '../store/store.js'
import { canonicalJson } from '../trace/canonical-json.js'

export interface NormalisedEvent {
  /** Position of the event in the whole result (store idx). */
  idx: number
  actor: string
  /** Position of the event among its actor's events (0-based). */
  position: number
  op: string
  /** The normalised event: what is compared. */
  fields: Record<string, unknown>
  /** Canonical JSON of actor + fields: equal keys mean equal behaviour. */
  key: string
  /** One line for terminals. */
  text: string
}

// ino: share and pidfd_getfd report the socket's inode, a number the run picks (their `fd` is the descriptor number, like ret)
const DROPPED = new Set(['seq', 't0', 't1', 'pid', 'uname', 'ino'])
const TCP_INFO_KEPT = [
  'state',
  'ca_state',
  'retransmits',
  'probes',
  'backoff',
  'options',
  'unacked',
  'sacked',
  'lost',
  'retrans',
  'total_retrans',
  'bytes_acked',
  'bytes_received',
  'bytes_sent',
  'bytes_retrans',
]
/** Syscalls whose return value is a new file descriptor number (from the op table). */
export { FD_RETURNING }

interface ReadyEntry {
  h: string
  events: string[]
}

/** Ephemeral ports named P1, P2, ... in order of first appearance in one result. */
export class PortNames {
  private readonly names = new Map<number, string>()
  name(port: number): string | number {
    if (port === 0) return 0
    let n = this.names.get(port)
    if (!n) {
      n = `P${this.names.size + 1}`
      this.names.set(port, n)
    }
    return n
  }
}

function normalisePath(path: string): string {
  // mkdtemp(…/sockspec-XXXXXX) per scenario run; randomBytes(4) suffix on abstract names
  return path.replace(/^.*\/sockspec-[A-Za-z0-9]{6}\//, '$TMP/').replace(/^(@.*)-[0-9a-f]{8}$/, '$1-*')
}

function normaliseAddr(addr: unknown, ports: PortNames): unknown {
  if (!addr || typeof addr !== 'object') return addr
  const out: Record<string, unknown> = { ...(addr as Record<string, unknown>) }
  if (typeof out['port'] === 'number') out['port'] = ports.name(out['port'])
  if (typeof out['path'] === 'string') out['path'] = normalisePath(out['path'])
  return out
}

function normaliseReady(list: unknown): unknown {
  if (!Array.isArray(list)) return list
  return (list as ReadyEntry[]).map(r => ({ h: r.h, events: [...r.events].sort() })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0))
}

function describeAddr(addr: unknown): string {
  if (!addr || typeof addr !== 'object') return ''
  const a = addr as Record<string, unknown>
  if (typeof a['path'] === 'string') return ` ${a['path']}`
  if (a['addr'] !== undefined) return ` ${String(a['addr'])}:${String(a['port'] ?? '')}`
  return ''
}

function describe(actor: string, f: Record<string, unknown>): string {
  const parts = [`${actor} ${String(f['step'] ?? '')} ${String(f['op'])}`]
  if (f['h'] !== undefined) parts.push(` ${String(f['h'])}`)
  if (f['new'] !== undefined) parts.push(f['h'] !== undefined ? `>${String(f['new'])}` : ` ${String(f['new'])}`)
  if (f['opt'] !== undefined) parts.push(` ${String(f['opt'])}`)
  parts.push(describeAddr(f['addr']))
  if (f['error'] !== undefined) parts.push(` error: ${String(f['error'])}`)
  if (f['ret'] !== undefined) parts.push(` = ${String(f['ret'])}`)
  if (f['errno'] !== undefined) parts.push(` ${String(f['errno'])}`)
  const ready = (f['ready'] ?? f['revents']) as ReadyEntry[] | undefined
  if (Array.isArray(ready)) parts.push(ready.length ? ` ${ready.map(r => `${r.h}:${r.events.join('|')}`).join(' ')}` : ' (none)')
  const value = f['value_name'] ?? f['value']
  if (value && typeof value === 'object' && 'state' in value) parts.push(` ${String((value as Record<string, unknown>)['state'])}`)
  else if (value !== undefined) parts.push(` value=${canonicalJson(value)}`)
  if (f['data'] !== undefined) parts.push(` data=${JSON.stringify(f['data'])}`)
  return parts.join('')
}

/**
 * Normalise one result's events (given in store order). Captured segments
 * (actor `wire`) are left out: their count and order depend on timers and
 * scheduling (a delayed ACK, a retransmit racing a close) even on one
 * kernel; packet behaviour is compared through the packet expectations,
 * like timing.
 */
export function normaliseTrace(events: readonly EventRow[]): NormalisedEvent[] {
  const ports = new PortNames()
  const positions = new Map<string, number>()
  return [...events]
    .filter(e => e.actor !== 'wire')
    .sort((a, b) => a.idx - b.idx)
    .map(e => {
      const fields = normaliseFields(JSON.parse(e.details) as Record<string, unknown>, e.op, ports)
      const position = positions.get(e.actor) ?? 0
      positions.set(e.actor, position + 1)
      return {
        idx: e.idx,
        actor: e.actor,
        position,
        op: e.op,
        fields,
        key: eventKey(e.actor, fields),
        text: describe(e.actor, fields),
      }
    })
}

/** Canonical JSON of actor + normalised fields: the comparison key of one event. */
export function eventKey(actor: string, fields: Record<string, unknown>): string {
  return canonicalJson({ actor, ...fields })
}

/** One event's compared fields, from its raw probe object (as stored in details); `ports` numbers ports per result. */
export function normaliseFields(raw: Readonly<Record<string, unknown>>, op: string, ports: PortNames): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const k in raw) {
    const v = normaliseMember(k, raw[k], op, raw, ports)
    if (v !== undefined) fields[k] = v
  }
  fields['op'] ??= op
  return fields
}

/**
 * One member of an event as normaliseFields keeps it: its normalised value, or undefined when it is left out.
 * Each rule reads only its own member (and `raw.opt`), so the signature can take the members it does not
 * change as they stand in the probe's line (memberPlan says which).
 */
export function normaliseMember(k: string, v: unknown, op: string, raw: Readonly<Record<string, unknown>>, ports: PortNames): unknown {
  if (v === undefined || DROPPED.has(k)) return undefined
  switch (k) {
    case 'op':
      return op
    case 'ret':
      // how many counters a kernel has grows with its version (mib below)
      if (op === 'mib') return undefined
      // the pidfd a receiver opens on its way to pidfd_getfd is a descriptor number too
      if ((FD_RETURNING.has(op) || op === 'pidfd_open') && typeof v === 'number' && v >= 0) return 'fd'
      return v
    case 'fd':
      return (op === 'share' || op === 'pidfd_getfd') && typeof v === 'number' ? 'fd' : v
    case 'addr':
      return normaliseAddr(v, ports)
    case 'ready':
    case 'revents':
      return normaliseReady(v)
    case 'value':
      return normaliseValue(v, op, raw)
    case 'polls':
      // how many polls it took is timing
      return op === 'wait_blocked' ? undefined : v
    case 'ready_us':
      // how long the TUN path took to come up is timing
      return op === 'tun_open' ? undefined : v
    case 'skipped':
      // how many timer retransmissions a slow step let pass is timing
      return op === 'packet_expect' ? undefined : v
    default:
      return v
  }
}

function normaliseValue(v: unknown, op: string, raw: Readonly<Record<string, unknown>>): unknown {
  if (!v || typeof v !== 'object') return v
  let value = v as Record<string, unknown>
  if (raw['opt'] === 'TCP_INFO') value = Object.fromEntries(TCP_INFO_KEPT.filter(k => k in value).map(k => [k, value[k]]))
  // the wait channel names a kernel function that moves between versions
  if (op === 'wait_blocked') value = { syscall: value['syscall'] }
  if (op === 'packet_expect') {
    // A packet peer: the kernel's TS value is its clock plus a random per-connection offset (tcp_ts_offset)
    const seg = { ...value }
    delete seg['ts_val']
    value = seg
  }
  if (op === 'mib') {
    // How many counters a kernel has grows with its version, and IP/ND traffic
    // counts follow neighbour-cache timing: only the transport and ICMP error
    // counters say what the kernel did with the scenario's packets.
    value = Object.fromEntries(Object.entries(value).filter(([k]) => MIB_KEPT.test(k)))
  }
  return value
}

/**
 * What normaliseMember does to one member, for code that serialises members without calling it:
 * - 'drop': leaves it out;
 * - 'fd': 'fd' when the value is a number >= 0, else the value (the return of an fd-returning op);
 * - 'fd-any': 'fd' when the value is a number, else the value;
 * - 'ready': normaliseReady(value), a function of the value alone;
 * - 'addr': normaliseAddr(value, ports): the port renamed when a number, the path cleaned when a string;
 * - 'tcp-info': the TCP_INFO_KEPT members of an object value, in that order, else the value;
 * - 'member': anything else normaliseMember does.
 * Members without a rule are kept exactly as they are.
 */
export type MemberRule = 'drop' | 'fd' | 'fd-any' | 'ready' | 'addr' | 'tcp-info' | 'member'

const plans = new Map<string, ReadonlyMap<string, MemberRule>>()

/**
 * The rule of each member of `op`'s events that normaliseMember drops or may change. `value` changes
 * also whenever `opt` is TCP_INFO: its rule is 'tcp-info' then, unless the plan names one. One plan per
 * op, made once.
 */
export function memberPlan(op: string): ReadonlyMap<string, MemberRule> {
  let plan = plans.get(op)
  if (plan) return plan
  const p = new Map<string, MemberRule>()
  for (const k of DROPPED) p.set(k, 'drop')
  p.set('addr', 'addr')
  p.set('ready', 'ready')
  p.set('revents', 'ready')
  if (op === 'mib') p.set('ret', 'drop')
  else if (FD_RETURNING.has(op) || op === 'pidfd_open') p.set('ret', 'fd')
  if (op === 'share' || op === 'pidfd_getfd') p.set('fd', 'fd-any')
  if (op === 'wait_blocked' || op === 'packet_expect' || op === 'mib') p.set('value', 'member')
  if (op === 'wait_blocked') p.set('polls', 'drop')
  if (op === 'tun_open') p.set('ready_us', 'drop')
  if (op === 'packet_expect') p.set('skipped', 'drop')
  plan = p
  if (plans.size < 4096) plans.set(op, plan)
  return plan
}

/** The JSON text of a TCP_INFO value as normaliseMember keeps it (rule 'tcp-info'), built without the object. */
export function tcpInfoJson(value: unknown): string {
  if (!value || typeof value !== 'object') return JSON.stringify(value)
  const info = value as Record<string, unknown>
  let out = '{'
  for (const k of TCP_INFO_KEPT) if (k in info) out += `${out.length > 1 ? ',' : ''}"${k}":${JSON.stringify(info[k])}`
  return `${out}}`
}

/** normaliseReady, exported for the signature's cache of ready lists. */
export { normaliseReady }

/** MIB counters compared across runs: TCP, UDP, MPTCP, and ICMP errors by type. */
const MIB_KEPT = /^(Tcp|TcpExt|Udp|Udp6|UdpLite|MPTcpExt)[A-Z]|^Icmp6?(In|Out)(DestUnreachs|TimeExcds|ParmProbs|PktTooBigs|Errors)$/
