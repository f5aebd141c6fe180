/**
 * The packet peer: an actor placed on a host of kind `packet` owns a TUN
 * device in the namespace of the host it is attached to, and sends and
 * expects TCP segments (and ICMP errors) field by field, with sequence
 * numbers relative to each side's ISN as packetdrill writes them. The
 * probe only reads and writes packets; what a segment must look like is an
 * ordinary `value` expectation built from the step's `segment`, so
 * comparisons (`win: ">=1000"`) and `one_of` work as on any value.
 */
import { CommandError, line, targetAddress, token } from './format.js'
import type { OpDef, OpFamily } from './types.js'
import type { ExpectFields, Step } from '../scenario/types.js'

/** TCP flags in header bit order (the probe reports them in this order). */
export const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const

/** A segment as a step writes it (packet_send: what is sent; packet_expect: what must arrive). */
export interface SegmentSpec {
  flags?: string
  seq?: number | string
  ack?: number | string
  win?: number | string
  len?: number | string
  data?: string
  urg?: number
  /** packetdrill's spelling: "mss 1460", "sackOK", "TS val 100 ecr 0", "nop", "wscale 7" */
  options?: string[]
  /** packet_expect: SACK blocks the kernel reports, relative ("1001:2001 3001:4001") */
  sack?: string
}

/** "ACK|SYN" -> "SYN|ACK" (bit order, as the probe reports). */
export function canonicalFlags(flags: string): string {
  const given = flags.split('|').map(f => f.trim().toUpperCase())
  for (const f of given) if (!(TCP_FLAGS as readonly string[]).includes(f)) throw new CommandError(`unknown TCP flag '${f}'`)
  const set = TCP_FLAGS.filter(f => given.includes(f))
  return set.length ? set.join('|') : '0'
}

const OPTION = /^(mss|wscale|sackOK|TS|nop|eol)(?:\s+(\d+))?(?:\s*val\s+(\d+)\s+ecr\s+(\d+))?$/

/** One option in packetdrill's words, split into its kind and numbers. */
function parseOption(o: string): { kind: string; args: number[] } {
  const m = OPTION.exec(o.trim())
  if (!m) throw new CommandError(`TCP option ${JSON.stringify(o)}: expected mss N, wscale N, sackOK, TS [val N ecr N], nop or eol`)
  const args = [m[2], m[3], m[4]].filter((x): x is string => x !== undefined).map(Number)
  return { kind: m[1]!, args }
}

/** The probe's token for a list of options: mss:1460,sackOK,TS,nop,wscale:7. */
export function optionsToken(options: readonly string[]): string {
  return options.map(o => [parseOption(o).kind, ...parseOption(o).args].join(':')).join(',')
}

const num = (v: number | string | undefined, what: string): string => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new CommandError(`segment ${what}: an integer is needed to send`)
  return String(v)
}

/** The expectation a packet_expect step's `segment` stands for: the fields it names, on the event's value. */
export function segmentExpectation(seg: SegmentSpec | undefined): ExpectFields {
  const value: Record<string, unknown> = {}
  if (seg) {
    if (seg.flags !== undefined) value.flags = canonicalFlags(seg.flags)
    for (const k of ['seq', 'ack', 'win', 'len', 'sack'] as const) if (seg[k] !== undefined) value[k] = seg[k]
    if (seg.options !== undefined) {
      const parsed = seg.options.map(parseOption)
      value.options = parsed.length ? parsed.map(p => p.kind).join(',') : 'none'
      for (const p of parsed) {
        if ((p.kind === 'mss' || p.kind === 'wscale') && p.args[0] !== undefined) value[p.kind] = p.args[0]
      }
    }
  }
  return { ret: 1, ...(Object.keys(value).length ? { value } : {}) }
}

/** The tun device that carries a packet host's address (topology.ts makes it): pk<last octet of its IPv4 address>. */
export const packetDevice = (inet: string): string => `pk${inet.split('.').pop() ?? ''}`

const tunOpen: OpDef = {
  name: 'tun_open',
  doc: "Packet peer: attach to the TUN device of the actor's packet host and answer at its address and `port`; `sock` names it (`to: sock` connects there). With `to: L` the peer talks to socket L (it sends the SYN).",
  answers: 'tun_open',
  fields: { sock: 'required', port: 'required', to: 'optional' },
  creates: 'sock',
  returnsFd: true,
  reportsAddress: true,
  commands: [
    {
      name: 'tun_open',
      handler: 'op_tun_open',
      minArgs: 5,
      maxArgs: 7,
      usage: 'tun_open H <ifname> <inet|inet6> <peer address> <port> [<kernel address> <kernel port>]',
      doc: '`open("/dev/net/tun")` + `TUNSETIFF` (IFF_TUN\\|IFF_NO_PI) in the current namespace; `addr` = the peer\'s address and port; with the kernel\'s address and port the peer opens the connection (its ISN is read from the SYN-ACK)',
    },
  ],
  format: (step, ctx) => {
    const family = ctx.variant.family ?? 'inet'
    if (!ctx.defaultAddress) throw new CommandError('tun_open needs a packet host (hosts: { p: { packet: HOST } })')
    const inet = ctx.defaultAddress(step.actor, 'inet')
    ctx.families.set(token(step.sock, 'sock'), family)
    const kernel = step.to === undefined ? undefined : targetAddress({ ...step, do: 'connect' }, ctx, false)
    return line(
      ['tun_open', 'op'],
      [step.sock, 'sock'],
      [packetDevice(inet), 'device'],
      [family, 'family'],
      [ctx.defaultAddress(step.actor, family), 'address'],
      [step.port, 'port'],
      ...(kernel
        ? ([
            [kernel.addr, 'to address'],
            [kernel.port, 'to port'],
          ] as Array<[string | number | undefined, string]>)
        : []),
    )
  },
}

function sendTokens(seg: SegmentSpec): Array<[string, string]> {
  const t: Array<[string, string]> = []
  if (seg.flags !== undefined) t.push([`flags:${canonicalFlags(seg.flags)}`, 'flags'])
  if (seg.seq !== undefined) t.push([`seq:${num(seg.seq, 'seq')}`, 'seq'])
  if (seg.ack !== undefined) t.push([`ack:${num(seg.ack, 'ack')}`, 'ack'])
  if (seg.win !== undefined) t.push([`win:${num(seg.win, 'win')}`, 'win'])
  if (seg.urg !== undefined) t.push([`urg:${num(seg.urg, 'urg')}`, 'urg'])
  if (seg.len !== undefined) t.push([`len:${num(seg.len, 'len')}`, 'len'])
  if (seg.data !== undefined) t.push([`data:${seg.data}`, 'data'])
  if (seg.options?.length) t.push([`opts:${optionsToken(seg.options)}`, 'options'])
  return t
}

const packetSend: OpDef = {
  name: 'packet_send',
  doc: 'Packet peer: send one TCP segment to the kernel (`segment`: flags, seq and ack relative as in packetdrill, win, options, len or data).',
  answers: 'packet_send',
  fields: { sock: 'required', segment: 'required' },
  commands: [
    {
      name: 'packet_send',
      handler: 'op_packet_send',
      minArgs: 1,
      maxArgs: 9,
      usage: 'packet_send H [flags:F] [seq:N] [ack:N] [win:N] [urg:N] [len:N] [data:TEXT] [opts:mss:1460,sackOK,TS,nop,wscale:7]',
      doc: '`write()` of one crafted IPv4/IPv6 TCP segment to the tun (checksums computed); ret = bytes written; an op `packet` event on the wire lane',
    },
  ],
  format: step => line(['packet_send', 'op'], [step.sock, 'sock'], ...sendTokens((step.segment ?? {}) as SegmentSpec)),
}

const packetExpect: OpDef = {
  name: 'packet_expect',
  doc: 'Packet peer: the next segment the kernel sends to the peer, within `within_ms`; `segment` names the fields it must have (flags, seq, ack, win, len, options, sack).',
  answers: 'packet_expect',
  fields: { sock: 'required', segment: 'optional', within_ms: 'required', skip_retransmits: 'optional' },
  waits: 'within_ms',
  impliedExpect: step => segmentExpectation(step.segment as SegmentSpec | undefined),
  commands: [
    {
      name: 'packet_expect',
      handler: 'op_packet_expect',
      minArgs: 2,
      maxArgs: 3,
      usage: 'packet_expect H <within_ms> [skip-retransmits]',
      doc: '`poll()`+`read()` on the tun until a TCP segment of the connection arrives; ret 1 and `value` = `{flags, seq, ack, win, len, options, mss, wscale, ts_val, ts_ecr, sack}` (relative numbers), or -1 ETIMEDOUT; with `skip-retransmits` a repeat of one of the last 8 segments read (SYN, FIN or data) or a window/keepalive probe is passed over (`skipped`: how many); an op `packet` event on the wire lane',
    },
  ],
  format: step =>
    step.skip_retransmits
      ? line(['packet_expect', 'op'], [step.sock, 'sock'], [step.within_ms, 'within_ms'], ['skip-retransmits', 'skip_retransmits'])
      : line(['packet_expect', 'op'], [step.sock, 'sock'], [step.within_ms, 'within_ms']),
}

const icmpSend: OpDef = {
  name: 'icmp_send',
  doc: "Packet peer: an ICMP/ICMPv6 error from the peer's address quoting the last segment the kernel sent (`icmp`: port, host, net, proto, admin, frag with `mtu`, beyond-scope, policy, reject-route, ttl, param, quench); an `icmp` event on the wire lane, matched like a captured one.",
  answers: 'icmp_send',
  fields: { sock: 'required', icmp: 'required', mtu: 'optional' },
  commands: [
    {
      name: 'icmp_send',
      handler: 'op_icmp_send',
      minArgs: 2,
      maxArgs: 3,
      usage: 'icmp_send H <port|host|net|proto|admin|frag|beyond-scope|policy|reject-route|ttl|param|quench> [mtu]',
      doc: "`write()` of an ICMP error (destination unreachable, packet too big, time exceeded, parameter problem, source quench) to the tun, quoting the kernel's last segment; `icmp` names it as the capture does; an op `icmp` event in the capture's shape on the wire lane",
    },
  ],
  format: (step: Step) =>
    step.mtu === undefined
      ? line(['icmp_send', 'op'], [step.sock, 'sock'], [step.icmp, 'icmp'])
      : line(['icmp_send', 'op'], [step.sock, 'sock'], [step.icmp, 'icmp'], [step.mtu, 'mtu']),
}

export const family: OpFamily = { ops: [tunOpen, packetSend, packetExpect, icmpSend] }

/** The ops only an actor on a packet host may use. */
export const PEER_OPS: ReadonlySet<string> = new Set(family.ops.map(d => d.name))
