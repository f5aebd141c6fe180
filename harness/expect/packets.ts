/**
 * Packet expectations: a step's syscall against the captured segments
 * ("the listener's EPOLLIN comes after the client's final ACK"), a
 * segment's TCP options ("the SYN offers MSS 1400") and the ICMP errors the
 * capture saw ("a port unreachable came back for the SYN"). Evaluated
 * when the scenario ends, once every segment is in. Pure.
 */
import type { ProbeEvent } from '../trace/event.js'
import type { PacketCount, PacketSpec } from '../scenario/types.js'
import type { Check } from '../trace/result.js'

export interface PacketContext {
  step: string
  actor: string
  claim: boolean
  /** Port a socket handle is bound to (from getsockname). */
  portOf(handle: string): number | undefined
  stepStart(stepId: string): number | undefined
  packets: readonly ProbeEvent[]
}

const FLAG_ORDER = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR']
const normFlags = (flags: readonly string[]): string =>
  [...flags]
    .map(f => f.toUpperCase())
    .sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b))
    .join('|')

const describeIcmp = (icmp: NonNullable<PacketSpec['icmp']>): string => (typeof icmp === 'string' ? icmp : icmp.one_of.join(' or '))

/** `opts {mss: <=1400, wscale: absent}`: the options a spec names, compactly. */
function describeOpts(opts: Record<string, unknown>): string {
  const value = (v: unknown): string =>
    v === false
      ? 'absent'
      : v === true
        ? 'present'
        : isOneOf(v)
          ? v.one_of.map(value).join('|')
          : typeof v === 'string'
            ? v
            : JSON.stringify(v)
  return `opts {${Object.entries(opts)
    .map(([k, v]) => `${k}: ${value(v)}`)
    .join(', ')}}`
}

export function describePacketSpec(spec: PacketSpec): string {
  const parts = [spec.icmp ? `ICMP ${describeIcmp(spec.icmp)}` : spec.flags ? normFlags(spec.flags.split('|')) : 'any segment']
  if (spec.opts) parts.push(describeOpts(spec.opts))
  // an ICMP error's from/to name the ends of the packet it quotes
  if (spec.icmp && (spec.from || spec.to))
    parts.push(`about a packet${spec.to ? ` from ${spec.to}` : ''}${spec.from ? ` to ${spec.from}` : ''}`)
  else {
    if (spec.from) parts.push(`from ${spec.from}`)
    if (spec.to) parts.push(`to ${spec.to}`)
  }
  if (spec.len !== undefined) parts.push(`len ${spec.len}`)
  if (spec.last) parts.push('(last)')
  else if (spec.nth && spec.nth > 1) parts.push(`(#${spec.nth})`)
  return parts.join(' ')
}

function lenMatches(want: number | string, len: number): boolean {
  if (typeof want === 'number') return len === want
  const m = /^(>=|<=|>|<)(\d+)$/.exec(want)
  if (!m) return false
  const n = Number(m[2])
  return m[1] === '>=' ? len >= n : m[1] === '<=' ? len <= n : m[1] === '>' ? len > n : len < n
}

const isOneOf = (v: unknown): v is { one_of: unknown[] } =>
  !!v && typeof v === 'object' && Array.isArray((v as { one_of?: unknown }).one_of) && Object.keys(v).length === 1

/**
 * One TCP option against its expectation: `false` absent, `true` present
 * (any value), a number or string equal, ">=7" a comparison, `{one_of}`
 * any of them. A list option (mptcp subtypes) matches a name it holds.
 */
export function optionMatches(want: unknown, have: unknown): boolean {
  if (isOneOf(want)) return want.one_of.some(w => optionMatches(w, have))
  if (want === false) return have === undefined
  if (have === undefined) return false
  if (want === true) return true
  if (Array.isArray(have)) return have.some(h => optionMatches(want, h)) || JSON.stringify(have) === JSON.stringify(want)
  if (typeof want === 'string' && typeof have === 'number') {
    const m = /^(>=|<=|>|<|!=)(\d+)$/.exec(want)
    if (m) {
      const n = Number(m[2])
      return m[1] === '>=' ? have >= n : m[1] === '<=' ? have <= n : m[1] === '>' ? have > n : m[1] === '<' ? have < n : have !== n
    }
  }
  return have === want
}

function icmpMatches(want: NonNullable<PacketSpec['icmp']>, have: unknown): boolean {
  if (typeof have !== 'string') return false
  // "dest-unreach" names the type, any code
  const one = (w: string): boolean => have === w || have.startsWith(`${w}/`)
  return typeof want === 'string' ? one(want) : want.one_of.some(one)
}

/**
 * Captured events matching a spec, in time order; undefined when a named
 * socket has no known port. A spec with `icmp` looks at ICMP errors only,
 * and its `from`/`to` name the ends of the packet the error quotes (`to: C`:
 * the error is about a packet C sent, so it goes back to C); any other spec
 * at TCP segments only.
 */
export function matchingPackets(spec: PacketSpec, ctx: PacketContext): ProbeEvent[] | undefined {
  const from = spec.from !== undefined ? ctx.portOf(spec.from) : undefined
  const to = spec.to !== undefined ? ctx.portOf(spec.to) : undefined
  if ((spec.from !== undefined && from === undefined) || (spec.to !== undefined && to === undefined)) return undefined
  if (spec.icmp !== undefined) {
    const icmp = spec.icmp
    return ctx.packets.filter(p => {
      if (p.op !== 'icmp' || !icmpMatches(icmp, p['icmp'])) return false
      if (to !== undefined && Number(p['orig_sport']) !== to) return false
      if (from !== undefined && Number(p['orig_dport']) !== from) return false
      return true
    })
  }
  const flags = spec.flags ? normFlags(spec.flags.split('|')) : undefined
  const opts = spec.opts ? Object.entries(spec.opts) : undefined
  return ctx.packets.filter(p => {
    if (p.op === 'icmp') return false
    if (flags !== undefined && normFlags((p['tcp_flags'] as string[] | undefined) ?? []) !== flags) return false
    if (opts) {
      const have = (p['opts'] ?? {}) as Record<string, unknown>
      if (!opts.every(([k, v]) => optionMatches(v, have[k]))) return false
    }
    if (from !== undefined && Number(p['sport']) !== from) return false
    if (to !== undefined && Number(p['dport']) !== to) return false
    if (spec.len !== undefined && !lenMatches(spec.len, Number(p['len'] ?? 0))) return false
    return true
  })
}

/** Options as the timeline labels them: `mss=1460 sackOK ts wscale=7`. */
export function optsLabel(opts: unknown): string {
  if (!opts || typeof opts !== 'object') return ''
  const parts: string[] = []
  for (const [k, v] of Object.entries(opts as Record<string, unknown>)) {
    if (k === 'tsval' || k === 'tsecr') continue
    if (v === true) parts.push(k)
    else if (k === 'sack' && Array.isArray(v)) parts.push(`sack×${v.length}`)
    // a cookie is 4 to 16 bytes of noise: its start is enough to tell two apart
    else if ((k === 'tfo' || k === 'tfo_exp') && typeof v === 'string')
      parts.push(v ? `${k}=${v.length > 8 ? `${v.slice(0, 8)}…` : v}` : `${k}=req`)
    else if (Array.isArray(v)) parts.push(`${k}=${v.join(',')}`)
    else parts.push(`${k}=${String(v)}`)
  }
  return parts.join(' ')
}

function pick(spec: PacketSpec, list: readonly ProbeEvent[]): ProbeEvent | undefined {
  return spec.last ? list[list.length - 1] : list[(spec.nth ?? 1) - 1]
}

const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`

export function matchPackets(
  exp: { after_packet?: PacketSpec; before_packet?: PacketSpec; packets?: PacketCount },
  event: ProbeEvent | undefined,
  ctx: PacketContext,
): Check[] {
  const checks: Check[] = []
  const base = { step: ctx.step, actor: ctx.actor, claim: ctx.claim }
  const end = event?.t1 ?? event?.t0
  for (const [field, spec] of [
    ['after_packet', exp.after_packet],
    ['before_packet', exp.before_packet],
  ] as const) {
    if (!spec) continue
    const expected = `${field === 'after_packet' ? 'returns after' : 'returns before'} ${describePacketSpec(spec)}`
    const list = matchingPackets(spec, ctx)
    if (end === undefined || list === undefined) {
      checks.push({
        ...base,
        field,
        expected,
        observed: end === undefined ? 'no event' : 'socket port unknown (add a getsockname step)',
        ok: false,
      })
      continue
    }
    const packet = pick(spec, list)
    if (!packet) {
      // never sent: nothing came before it, so "before" holds and "after" does not
      checks.push({ ...base, field, expected, observed: 'no such segment captured', ok: field === 'before_packet' })
      continue
    }
    const delta = end - packet.t0
    checks.push({
      ...base,
      field,
      expected,
      observed: `returned ${ms(Math.abs(delta))} ${delta >= 0 ? 'after' : 'before'} it`,
      ok: field === 'after_packet' ? delta > 0 : delta < 0,
    })
  }
  if (exp.packets) {
    const spec = exp.packets
    const expected = `${spec.count ?? 'some'} × ${describePacketSpec(spec.match)}${spec.since ? ` since ${spec.since}` : ''}`
    const list = matchingPackets(spec.match, ctx)
    const start = spec.since !== undefined ? ctx.stepStart(spec.since) : Number.NEGATIVE_INFINITY
    if (list === undefined || end === undefined || start === undefined) {
      checks.push({ ...base, field: 'packets', expected, observed: 'unknown', ok: false })
    } else {
      const inWindow = (p: ProbeEvent): boolean => p.t0 >= start && p.t0 <= end
      const n = list.filter(inWindow).length
      const want = spec.count ?? '>=1'
      const ok = lenMatches(want, n)
      let observed = String(n)
      if (!ok && spec.match.opts) {
        // what the segments otherwise matching carried decides why: show it
        const seen = (matchingPackets({ ...spec.match, opts: undefined }, ctx) ?? []).filter(inWindow).slice(0, 3)
        if (seen.length) observed += `; options seen: ${seen.map(p => optsLabel(p['opts']) || 'none').join(' / ')}`
      }
      checks.push({ ...base, field: 'packets', expected, observed, ok })
    }
  }
  return checks
}
