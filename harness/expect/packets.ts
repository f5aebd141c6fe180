/**
 * Packet expectations: a step's syscall against the captured segments
 * ("the listener's EPOLLIN comes after the client's final ACK"). Evaluated
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

export function describePacketSpec(spec: PacketSpec): string {
  const parts = [spec.flags ? normFlags(spec.flags.split('|')) : 'any segment']
  if (spec.from) parts.push(`from ${spec.from}`)
  if (spec.to) parts.push(`to ${spec.to}`)
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

/** Segments matching a spec, in time order; undefined when a named socket has no known port. */
export function matchingPackets(spec: PacketSpec, ctx: PacketContext): ProbeEvent[] | undefined {
  const from = spec.from !== undefined ? ctx.portOf(spec.from) : undefined
  const to = spec.to !== undefined ? ctx.portOf(spec.to) : undefined
  if ((spec.from !== undefined && from === undefined) || (spec.to !== undefined && to === undefined)) return undefined
  const flags = spec.flags ? normFlags(spec.flags.split('|')) : undefined
  return ctx.packets.filter(p => {
    if (flags !== undefined && normFlags((p['tcp_flags'] as string[] | undefined) ?? []) !== flags) return false
    if (from !== undefined && Number(p['sport']) !== from) return false
    if (to !== undefined && Number(p['dport']) !== to) return false
    if (spec.len !== undefined && !lenMatches(spec.len, Number(p['len'] ?? 0))) return false
    return true
  })
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
      const n = list.filter(p => p.t0 >= start && p.t0 <= end).length
      const want = spec.count ?? '>=1'
      checks.push({ ...base, field: 'packets', expected, observed: String(n), ok: lenMatches(want, n) })
    }
  }
  return checks
}
