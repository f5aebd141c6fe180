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
  for (const k in raw) if (!DROPPED.has(k) && raw[k] !== undefined) fields[k] = raw[k]
  fields['op'] = op
  if (FD_RETURNING.has(op) && typeof fields['ret'] === 'number' && fields['ret'] >= 0) fields['ret'] = 'fd'
  if ((op === 'share' || op === 'pidfd_getfd') && typeof fields['fd'] === 'number') fields['fd'] = 'fd'
  // the pidfd a receiver opens on its way to pidfd_getfd is a descriptor number too
  if (op === 'pidfd_open' && typeof fields['ret'] === 'number' && fields['ret'] >= 0) fields['ret'] = 'fd'
  if (fields['addr'] !== undefined) fields['addr'] = normaliseAddr(fields['addr'], ports)
  if (fields['ready'] !== undefined) fields['ready'] = normaliseReady(fields['ready'])
  if (fields['revents'] !== undefined) fields['revents'] = normaliseReady(fields['revents'])
  if (fields['opt'] === 'TCP_INFO' && fields['value'] && typeof fields['value'] === 'object') {
    const info = fields['value'] as Record<string, unknown>
    fields['value'] = Object.fromEntries(TCP_INFO_KEPT.filter(k => k in info).map(k => [k, info[k]]))
  }
  if (op === 'wait_blocked') {
    // how many polls it took is timing, and the wait channel names a kernel function that moves between versions
    delete fields['polls']
    const seen = fields['value']
    if (seen && typeof seen === 'object') fields['value'] = { syscall: (seen as Record<string, unknown>)['syscall'] }
  }
  // A packet peer: the kernel's TS value is its clock plus a random per-connection
  // offset (tcp_ts_offset), how long the TUN path took to come up and how many
  // timer retransmissions a slow step let pass are timing, not behaviour.
  if (op === 'tun_open') delete fields['ready_us']
  if (op === 'packet_expect') {
    delete fields['skipped']
    if (fields['value'] && typeof fields['value'] === 'object') {
      const seg = { ...(fields['value'] as Record<string, unknown>) }
      delete seg['ts_val']
      fields['value'] = seg
    }
  }
  if (op === 'mib') {
    // How many counters a kernel has grows with its version, and IP/ND traffic
    // counts follow neighbour-cache timing: only the transport and ICMP error
    // counters say what the kernel did with the scenario's packets.
    delete fields['ret']
    const deltas = fields['value']
    if (deltas && typeof deltas === 'object')
      fields['value'] = Object.fromEntries(Object.entries(deltas as Record<string, unknown>).filter(([k]) => MIB_KEPT.test(k)))
  }
  return fields
}

/** MIB counters compared across runs: TCP, UDP, MPTCP, and ICMP errors by type. */
const MIB_KEPT = /^(Tcp|TcpExt|Udp|Udp6|UdpLite|MPTcpExt)[A-Z]|^Icmp6?(In|Out)(DestUnreachs|TimeExcds|ParmProbs|PktTooBigs|Errors)$/
