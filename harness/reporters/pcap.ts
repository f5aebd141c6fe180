/**
 * A result's captured TCP segments and ICMP errors as a pcap file
 * (nanosecond variant, magic a1b23c4d; LINKTYPE_RAW, 101: each record starts
 * at the IP header). The capture records per segment its addresses, ports,
 * flags, sequence and ack numbers, raw window, payload length and decoded
 * options, not its bytes, so each segment is rebuilt from those: an IPv4 or
 * IPv6 header and a TCP header with the options it can rebuild (MSS,
 * SACK-permitted, timestamps, window scale, SACK blocks, Fast Open; not
 * MPTCP, MD5, AO or unknown kinds, whose contents are not recorded), correct
 * checksums, and a zero payload of the recorded length. An ICMP/ICMPv6 error
 * (a packet peer's icmp_send, or one captured) is rebuilt from its type,
 * code, MTU and the quoted packet's addresses, ports and sequence number:
 * the quote is that packet's IP header and first 8 transport bytes, which is
 * all RFC 792 requires and all the capture records.
 * Times are the run's start plus the event's offset in its trace (the probe
 * stamps CLOCK_MONOTONIC; the spacing between segments is exact).
 * Hand-written: the format is a 24-byte file header and a 16-byte header per
 * record, and npm's pcap packages are a libpcap binding or a reader.
 */
import { isIP } from 'node:net'
import type { EventRow } from '../store/store.js'
import type { ProbeEvent } from '../trace/event.js'

export const LINKTYPE_RAW = 101
const MAGIC_NS = 0xa1b23c4d
const SNAPLEN = 65535
const TCP_FLAG_BITS: Record<string, number> = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 }

/** Ones' complement sum of 16-bit big-endian words (RFC 1071), not yet folded. */
function sum16(buf: Buffer, start = 0, end = buf.length): number {
  let s = 0
  for (let i = start; i + 1 < end; i += 2) s += buf.readUInt16BE(i)
  if ((end - start) % 2) s += buf[end - 1]! << 8
  return s
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000)
  return ~s & 0xffff
}

function ipv4Bytes(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number))
}

function ipv6Bytes(addr: string): Buffer {
  let text = addr
  const out = Buffer.alloc(16)
  // an embedded IPv4 tail (::ffff:127.0.0.1) is two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const b = ipv4Bytes(v4[1]!)
    text = text.slice(0, -v4[1]!.length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const h = head ? head.split(':') : []
  const t = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

export interface Segment {
  kind: 'tcp'
  t_ns: number
  family: 'inet' | 'inet6'
  src: string
  dst: string
  sport: number
  dport: number
  flags: string[]
  seq: number
  ack: number
  win: number
  len: number
  /** decoded TCP options, as the capture stored them */
  opts?: Record<string, unknown>
}

/** An ICMP or ICMPv6 error on the wire and the packet it quotes. */
export interface IcmpMessage {
  kind: 'icmp'
  t_ns: number
  family: 'inet' | 'inet6'
  src: string
  dst: string
  type: number
  code: number
  /** frag-needed / packet-too-big: the next-hop MTU */
  mtu?: number
  quoted: { proto: 'tcp' | 'udp'; src: string; dst: string; sport: number; dport: number; seq: number }
}

export type WirePacket = Segment | IcmpMessage

const isAddr = (a: unknown): a is string => typeof a === 'string' && isIP(a) !== 0

/** The ICMP error of an `icmp` event; undefined when a field it is rebuilt from is missing. */
function icmpOf(t_ns: number, e: ProbeEvent, family: 'inet' | 'inet6'): IcmpMessage | undefined {
  const type = e['icmp_type']
  const code = e['icmp_code']
  const [osrc, odst] = [e['orig_src'], e['orig_dst']]
  if (typeof type !== 'number' || typeof code !== 'number' || !isAddr(osrc) || !isAddr(odst)) return undefined
  return {
    kind: 'icmp',
    t_ns,
    family,
    src: e.src!,
    dst: e.dst!,
    type,
    code,
    ...(typeof e['mtu'] === 'number' ? { mtu: e['mtu'] } : {}),
    quoted: {
      proto: e['orig_proto'] === 'udp' ? 'udp' : 'tcp',
      src: osrc,
      dst: odst,
      sport: Number(e['orig_sport'] ?? 0),
      dport: Number(e['orig_dport'] ?? 0),
      seq: Number(e['orig_tcp_seq'] ?? 0),
    },
  }
}

/** The wire events of a trace (op `packet`, and `icmp` errors), in trace order; events missing a field are left out. */
export function segmentsOf(events: readonly EventRow[]): WirePacket[] {
  const out: WirePacket[] = []
  for (const row of events) {
    if (row.op !== 'packet' && row.op !== 'icmp') continue
    const e = JSON.parse(row.details) as ProbeEvent
    const family = e.family ?? (isIP(e.src ?? '') === 6 ? 'inet6' : 'inet')
    if (!isAddr(e.src) || !isAddr(e.dst)) continue
    if (row.op === 'icmp') {
      const m = icmpOf(row.t_ns, e, family)
      if (m) out.push(m)
      continue
    }
    out.push({
      kind: 'tcp',
      t_ns: row.t_ns,
      family,
      src: e.src,
      dst: e.dst,
      sport: e.sport ?? 0,
      dport: e.dport ?? 0,
      flags: e.tcp_flags ?? [],
      seq: e.tcp_seq ?? 0,
      ack: e.tcp_ack ?? 0,
      win: e.win ?? 0,
      len: Math.max(0, e.len ?? 0),
      ...(e['opts'] && typeof e['opts'] === 'object' ? { opts: e['opts'] as Record<string, unknown> } : {}),
    })
  }
  return out
}

const u32 = (n: unknown): number[] => {
  const v = Number(n) >>> 0
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
}

/**
 * The option bytes of a segment, laid out as Linux writes them
 * (tcp_options_write: MSS, SACK-permitted folded into the timestamp's NOPs,
 * NOP + window scale, SACK blocks, Fast Open), padded to 4 bytes, at most 40.
 */
export function optionBytes(opts: Record<string, unknown> | undefined): Buffer {
  if (!opts) return Buffer.alloc(0)
  const out: number[] = []
  const add = (bytes: number[]): void => {
    if (out.length + bytes.length <= 40) out.push(...bytes)
  }
  if (typeof opts['mss'] === 'number') add([2, 4, (opts['mss'] >> 8) & 0xff, opts['mss'] & 0xff])
  if (opts['ts'] === true) add([...(opts['sackOK'] === true ? [4, 2] : [1, 1]), 8, 10, ...u32(opts['tsval']), ...u32(opts['tsecr'])])
  else if (opts['sackOK'] === true) add([1, 1, 4, 2])
  if (typeof opts['wscale'] === 'number') add([1, 3, 3, opts['wscale'] & 0xff])
  if (Array.isArray(opts['sack']) && opts['sack'].length) {
    const blocks = (opts['sack'] as unknown[][]).slice(0, 4)
    add([1, 1, 5, 2 + 8 * blocks.length, ...blocks.flatMap(b => [...u32(b[0]), ...u32(b[1])])])
  }
  for (const [key, head] of [
    ['tfo', [34]],
    ['tfo_exp', [254, 0xf9, 0x89]],
  ] as const) {
    const cookie = opts[key]
    if (typeof cookie !== 'string' || !/^([0-9a-f]{2})*$/.test(cookie)) continue
    const bytes = [...Buffer.from(cookie, 'hex')]
    const opt = [head[0], head.length + 1 + bytes.length, ...head.slice(1), ...bytes]
    add([...opt, ...Array<number>((4 - (opt.length % 4)) % 4).fill(1)])
  }
  while (out.length % 4) out.push(0)
  return Buffer.from(out)
}

/** One segment as the bytes on the wire from the IP header on (payload zeros, cut to the snap length). */
export function segmentPacket(s: Segment): Buffer {
  const ipLen = s.family === 'inet6' ? 40 : 20
  // a GSO super-segment may be longer than an IP length field holds: its payload is cut
  const options = optionBytes(s.opts)
  const thLen = 20 + options.length
  const payload = Math.min(s.len, SNAPLEN - ipLen - thLen)
  const tcp = Buffer.alloc(thLen + payload)
  tcp.writeUInt16BE(s.sport & 0xffff, 0)
  tcp.writeUInt16BE(s.dport & 0xffff, 2)
  tcp.writeUInt32BE(s.seq >>> 0, 4)
  tcp.writeUInt32BE(s.ack >>> 0, 8)
  tcp[12] = (thLen / 4) << 4
  options.copy(tcp, 20)
  tcp[13] = s.flags.reduce((b, f) => b | (TCP_FLAG_BITS[f] ?? 0), 0)
  tcp.writeUInt16BE(s.win & 0xffff, 14)
  tcp.writeUInt16BE(fold(pseudoSum(s, 6, tcp.length) + sum16(tcp)), 16)
  return Buffer.concat([ipHeader(s, 6, tcp.length, true), tcp])
}

/** Addresses of either family as bytes. */
const addrBytes = (family: 'inet' | 'inet6', addr: string): Buffer => (family === 'inet6' ? ipv6Bytes(addr) : ipv4Bytes(addr))

/** The pseudo-header's sum: addresses, protocol, upper-layer length (RFC 793 / RFC 8200 8.1). */
function pseudoSum(p: { family: 'inet' | 'inet6'; src: string; dst: string }, proto: number, length: number): number {
  return sum16(addrBytes(p.family, p.src)) + sum16(addrBytes(p.family, p.dst)) + proto + (length & 0xffff) + Math.floor(length / 0x10000)
}

/** An IPv4 header (with its checksum) or an IPv6 header for `length` bytes of protocol `proto` after it. */
function ipHeader(p: { family: 'inet' | 'inet6'; src: string; dst: string }, proto: number, length: number, df: boolean): Buffer {
  const v6 = p.family === 'inet6'
  const ip = Buffer.alloc(v6 ? 40 : 20)
  if (v6) {
    ip.writeUInt32BE(0x60000000, 0)
    ip.writeUInt16BE(length & 0xffff, 4)
    ip[6] = proto
    ip[7] = 64
    ipv6Bytes(p.src).copy(ip, 8)
    ipv6Bytes(p.dst).copy(ip, 24)
  } else {
    ip[0] = 0x45
    ip.writeUInt16BE((20 + length) & 0xffff, 2)
    if (df) ip.writeUInt16BE(0x4000, 6) // DF, as Linux sends TCP
    ip[8] = 64
    ip[9] = proto
    ipv4Bytes(p.src).copy(ip, 12)
    ipv4Bytes(p.dst).copy(ip, 16)
    ip.writeUInt16BE(fold(sum16(ip)), 10)
  }
  return ip
}

/**
 * An ICMP error as the bytes from its IP header on: type, code, checksum,
 * the MTU where the message has one (RFC 1191 in the low half of the IPv4
 * word, RFC 4443 the whole IPv6 word), then the quote. The quoted header's
 * length field says a minimal TCP (20) or UDP (8) packet: the original's
 * length is not recorded.
 */
export function icmpPacket(m: IcmpMessage): Buffer {
  const v6 = m.family === 'inet6'
  const q = m.quoted
  const l4 = Buffer.alloc(8)
  l4.writeUInt16BE(q.sport & 0xffff, 0)
  l4.writeUInt16BE(q.dport & 0xffff, 2)
  if (q.proto === 'tcp') l4.writeUInt32BE(q.seq >>> 0, 4)
  else l4.writeUInt16BE(8, 4)
  const proto = q.proto === 'tcp' ? 6 : 17
  const inner = Buffer.concat([ipHeader({ family: m.family, src: q.src, dst: q.dst }, proto, proto === 6 ? 20 : 8, true), l4])
  const icmp = Buffer.alloc(8 + inner.length)
  icmp[0] = m.type & 0xff
  icmp[1] = m.code & 0xff
  if (m.mtu !== undefined) {
    if (v6) icmp.writeUInt32BE(m.mtu >>> 0, 4)
    else icmp.writeUInt16BE(m.mtu & 0xffff, 6)
  }
  inner.copy(icmp, 8)
  // ICMPv6 sums a pseudo-header (RFC 4443 2.3), ICMP only the message
  const proto6 = 58
  icmp.writeUInt16BE(fold((v6 ? pseudoSum(m, proto6, icmp.length) : 0) + sum16(icmp)), 2)
  return Buffer.concat([ipHeader(m, v6 ? proto6 : 1, icmp.length, false), icmp])
}

/** The pcap file: header, then one record per packet at `startMs` (epoch) plus its offset. */
export function pcapFile(segments: readonly WirePacket[], startMs: number): Buffer {
  const header = Buffer.alloc(24)
  header.writeUInt32LE(MAGIC_NS, 0)
  header.writeUInt16LE(2, 4)
  header.writeUInt16LE(4, 6)
  header.writeUInt32LE(SNAPLEN, 16)
  header.writeUInt32LE(LINKTYPE_RAW, 20)
  const parts: Buffer[] = [header]
  const startNs = BigInt(Math.round(startMs)) * 1_000_000n
  for (const s of segments) {
    const packet = s.kind === 'icmp' ? icmpPacket(s) : segmentPacket(s)
    const t = startNs + BigInt(Math.round(s.t_ns))
    const rec = Buffer.alloc(16)
    rec.writeUInt32LE(Number(t / 1_000_000_000n), 0)
    rec.writeUInt32LE(Number(t % 1_000_000_000n), 4)
    rec.writeUInt32LE(packet.length, 8)
    rec.writeUInt32LE(packet.length, 12)
    parts.push(rec, packet)
  }
  return Buffer.concat(parts)
}
