/**
 * A result's captured TCP segments as a pcap file (nanosecond variant, magic
 * a1b23c4d; LINKTYPE_RAW, 101: each record starts at the IP header). The
 * capture records per segment its addresses, ports, flags, sequence and ack
 * numbers, raw window, payload length and decoded options, not its bytes, so
 * each segment is rebuilt from those: an IPv4 or IPv6 header and a TCP
 * header with the options it can rebuild (MSS, SACK-permitted, timestamps,
 * window scale, SACK blocks, Fast Open; not MPTCP, MD5, AO or unknown
 * kinds, whose contents are not recorded), correct checksums, and a zero
 * payload of the recorded length.
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

/** The captured segments of a trace (op `packet`), in trace order; events missing a field are left out. */
export function segmentsOf(events: readonly EventRow[]): Segment[] {
  const out: Segment[] = []
  for (const row of events) {
    if (row.op !== 'packet') continue
    const e = JSON.parse(row.details) as ProbeEvent
    const family = e.family ?? (isIP(e.src ?? '') === 6 ? 'inet6' : 'inet')
    if (!e.src || !e.dst || isIP(e.src) === 0 || isIP(e.dst) === 0) continue
    out.push({
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
  const v6 = s.family === 'inet6'
  const ipLen = v6 ? 40 : 20
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
  const src = v6 ? ipv6Bytes(s.src) : ipv4Bytes(s.src)
  const dst = v6 ? ipv6Bytes(s.dst) : ipv4Bytes(s.dst)
  // pseudo-header: addresses, protocol 6, TCP length (RFC 793 / RFC 8200 8.1)
  const pseudo = sum16(src) + sum16(dst) + 6 + (tcp.length & 0xffff) + Math.floor(tcp.length / 0x10000)
  tcp.writeUInt16BE(fold(pseudo + sum16(tcp)), 16)
  const ip = Buffer.alloc(ipLen)
  if (v6) {
    ip.writeUInt32BE(0x60000000, 0)
    ip.writeUInt16BE(tcp.length, 4)
    ip[6] = 6
    ip[7] = 64
    src.copy(ip, 8)
    dst.copy(ip, 24)
  } else {
    ip[0] = 0x45
    ip.writeUInt16BE(ipLen + tcp.length, 2)
    ip.writeUInt16BE(0x4000, 6) // DF, as Linux sends TCP
    ip[8] = 64
    ip[9] = 6
    src.copy(ip, 12)
    dst.copy(ip, 16)
    ip.writeUInt16BE(fold(sum16(ip)), 10)
  }
  return Buffer.concat([ip, tcp])
}

/** The pcap file: header, then one record per segment at `startMs` (epoch) plus its offset. */
export function pcapFile(segments: readonly Segment[], startMs: number): Buffer {
  const header = Buffer.alloc(24)
  header.writeUInt32LE(MAGIC_NS, 0)
  header.writeUInt16LE(2, 4)
  header.writeUInt16LE(4, 6)
  header.writeUInt32LE(SNAPLEN, 16)
  header.writeUInt32LE(LINKTYPE_RAW, 20)
  const parts: Buffer[] = [header]
  const startNs = BigInt(Math.round(startMs)) * 1_000_000n
  for (const s of segments) {
    const packet = segmentPacket(s)
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
