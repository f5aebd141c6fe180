/**
 * Expectation matching: one step's resolved expectation against the events
 * the probe reported for it. Pure: all times and events are passed in.
 */
import type { ProbeEvent, ReadyEntry } from '../trace/event.js'
import type { ExpectFields, MaskExpectation, TimeWindow } from '../scenario/types.js'
import { describeMaskExpectation, formatMask, maskMatches } from './mask.js'
import type { MaskKind } from './mask.js'
import type { Check } from '../trace/result.js'

export interface MatchContext {
  step: string
  actor: string
  claim: boolean
  /** t0 (ns) of the first event of an earlier step, by step id; same host only. */
  stepStart(stepId: string): number | undefined
}

const DEFAULT_TOL = 0.05
const DEFAULT_SLACK_MS = 50

export function checkRet(expected: number | string, observed: number | undefined): boolean {
  if (observed === undefined) return false
  if (typeof expected === 'number') return observed === expected
  const m = /^(>=|<=|>|<|!=|==)(-?\d+)$/.exec(expected)
  if (!m) return false
  const n = Number(m[2])
  switch (m[1]) {
    case '>=':
      return observed >= n
    case '<=':
      return observed <= n
    case '>':
      return observed > n
    case '<':
      return observed < n
    case '!=':
      return observed !== n
    default:
      return observed === n
  }
}

export function checkErrno(expected: ExpectFields['errno'], observed: string | undefined): boolean {
  if (expected === null) return observed === undefined
  if (typeof expected === 'string') return observed === expected
  if (Array.isArray(expected)) return observed !== undefined && expected.includes(observed)
  if (expected && typeof expected === 'object') {
    const not = Array.isArray(expected.not) ? expected.not : [expected.not]
    return observed === undefined || !not.includes(observed)
  }
  return true
}

function describeErrno(expected: ExpectFields['errno']): string {
  if (expected === null) return 'none'
  if (typeof expected === 'string') return expected
  if (Array.isArray(expected)) return expected.join(' or ')
  if (expected && typeof expected === 'object') return `not ${[expected.not].flat().join(' or ')}`
  return ''
}

/**
 * What the timer wheel may add to one timer_list timer of `ms` (kernel/time/timer.c,
 * since 4.8): a timer is filed in the wheel level that covers its delta, rounded up
 * to that level's granularity, so it fires up to one granularity (plus the jiffy it
 * was armed in) late, never early. Level n >= 1 starts at 63 << 3(n-1) jiffies and
 * has a granularity of 8^n jiffies. HZ is a build option the kit cannot always read
 * (guests, remote hosts), so this is the worst case over the HZ values x86 kernels
 * offer: 90 ms for a 1 s timer (HZ=100), 216 ms for 2 s (HZ=300), 260 ms for 4 s (HZ=250).
 */
export function wheelAllowanceMs(ms: number): number {
  let worst = 0
  for (const hz of WHEEL_HZ) {
    const jiffies = Math.ceil((ms * hz) / 1000)
    let level = 0
    while (level < 8 && jiffies >= 63 << (3 * level)) level++
    worst = Math.max(worst, ((8 ** level + 1) * 1000) / hz)
  }
  return worst
}
const WHEEL_HZ = [100, 250, 300, 1000]

/**
 * Window [lo, hi] in ms for a time expectation. With `timers_ms` the nominal
 * duration defaults to their sum and the upper bound grows by each timer's
 * wheel allowance.
 */
export function timeWindow(t: TimeWindow): { lo: number; hi: number } {
  const ms = t.ms ?? t.timers_ms?.reduce((a, b) => a + b, 0)
  if (ms !== undefined) {
    const tol = t.tol ?? DEFAULT_TOL
    const wheel = (t.timers_ms ?? []).reduce((a, b) => a + wheelAllowanceMs(b), 0)
    return {
      lo: t.min_ms ?? ms * (1 - tol),
      hi: t.max_ms ?? ms * (1 + tol) + (t.slack_ms ?? DEFAULT_SLACK_MS) + wheel,
    }
  }
  return { lo: t.min_ms ?? 0, hi: t.max_ms ?? Number.POSITIVE_INFINITY }
}

function readyMap(entries: readonly ReadyEntry[] | undefined): Map<string, string[]> {
  return new Map((entries ?? []).map(e => [e.h, e.events]))
}

function checkMasks(
  field: 'ready' | 'revents' | 'registered',
  expected: Record<string, MaskExpectation>,
  observed: readonly ReadyEntry[] | undefined,
  kind: MaskKind,
  base: Omit<Check, 'field' | 'expected' | 'observed' | 'ok'>,
): Check[] {
  const have = readyMap(observed)
  const checks: Check[] = []
  const names = Object.keys(expected)
  for (const name of names) {
    const exp = expected[name]!
    const obs = have.get(name)
    const expText = describeMaskExpectation(exp, kind)
    // poll reports every polled fd; a revents of 0 equals "not ready".
    const obsFlags = obs ?? []
    const ok = field !== 'revents' && obs === undefined ? false : maskMatches(obsFlags, exp, kind)
    checks.push({
      ...base,
      field: `${field}.${name}`,
      expected: expText,
      observed: obs === undefined ? (field === 'revents' ? '0' : `not ${field}`) : formatMask(obsFlags),
      ok,
    })
  }
  if (field !== 'revents') {
    const extra = [...have.keys()].filter(h => !(h in expected))
    if (extra.length || names.length === 0) {
      checks.push({
        ...base,
        field,
        expected: names.length ? `only ${names.join(', ')}` : field === 'ready' ? 'no events' : 'no registrations',
        observed: observed?.length ? observed.map(e => `${e.h}:${formatMask(e.events)}`).join(' ') : 'no events',
        ok: extra.length === 0,
      })
    }
  }
  return checks
}

/** select: each listed handle left in exactly the sets named; every other handle in none. */
function checkSets(
  expected: Record<string, string[]>,
  observed: ReadonlyArray<{ h: string; sets: string[] }> | undefined,
  base: Omit<Check, 'field' | 'expected' | 'observed' | 'ok'>,
): Check[] {
  const have = new Map((observed ?? []).map(e => [e.h, e.sets]))
  const text = (s: readonly string[]): string => (s.length ? [...s].sort().join(',') : 'none')
  const checks: Check[] = Object.entries(expected).map(([h, sets]) => {
    const obs = have.get(h) ?? []
    return { ...base, field: `sets.${h}`, expected: text(sets), observed: text(obs), ok: text(obs) === text(sets) }
  })
  const extra = [...have.entries()].filter(([h, s]) => !(h in expected) && s.length)
  if (extra.length)
    checks.push({
      ...base,
      field: 'sets',
      expected: `only ${Object.keys(expected).join(', ') || 'none'}`,
      observed: extra.map(([h, s]) => `${h}:${text(s)}`).join(' '),
      ok: false,
    })
  return checks
}

/**
 * One field of a structured value: equal; a comparison (">=1", "<3") against a
 * number; or `{one_of: [...]}` (a state that is FIN_WAIT1 or FIN_WAIT2
 * depending on a delayed ACK). `absentIsZero`: mib deltas leave unchanged
 * counters out, so a missing counter is 0.
 */
/** A comparison against a number: ">=1", "<3", "!=0". */
const COMPARISON = /^(>=|<=|>|<|!=|==)-?\d+$/

function fieldMatches(expected: unknown, observed: unknown, absentIsZero: boolean): boolean {
  const o = observed === undefined && absentIsZero ? 0 : observed
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    const rec = expected as Record<string, unknown>
    if (Array.isArray(rec.one_of) && Object.keys(rec).length === 1) return rec.one_of.some(x => fieldMatches(x, o, absentIsZero))
    return matchesPartial(rec, o, false)
  }
  if (typeof expected === 'string' && typeof o === 'number' && COMPARISON.test(expected)) return checkRet(expected, o)
  return o === expected
}

function matchesPartial(expected: Record<string, unknown>, observed: unknown, absentIsZero: boolean): boolean {
  if (!observed || typeof observed !== 'object') return false
  const obs = observed as Record<string, unknown>
  return Object.entries(expected).every(([k, v]) => fieldMatches(v, obs[k], absentIsZero))
}

/** The observed value; for structured options only the fields the expectation names. */
function describeValue(event: ProbeEvent, expected: unknown): string {
  if (event.value_name !== undefined) return event.value_name
  if (event.value === undefined) return 'none'
  if (typeof event.value !== 'object') return String(event.value)
  if (expected && typeof expected === 'object') {
    const obs = event.value as Record<string, unknown>
    return JSON.stringify(Object.fromEntries(Object.keys(expected).map(k => [k, obs[k] ?? (event.op === 'mib' ? 0 : null)])))
  }
  return JSON.stringify(event.value)
}

/** A set of names (msg_flags) against "A|B" (exact; "0" none) or {exact, includes, excludes}. */
export function nameSetMatches(observed: readonly string[], exp: MaskExpectation): boolean {
  const have = new Set(observed)
  const split = (t: string): string[] => (t === '0' || t === '' ? [] : t.split('|').map(f => f.trim()))
  const exact = typeof exp === 'string' ? split(exp) : exp.exact
  if (exact && (exact.length !== have.size || !exact.every(f => have.has(f)))) return false
  if (typeof exp !== 'string') {
    if (exp.includes && !exp.includes.every(f => have.has(f))) return false
    if (exp.excludes && exp.excludes.some(f => have.has(f))) return false
  }
  return true
}

function describeNameSet(exp: MaskExpectation): string {
  if (typeof exp === 'string') return exp
  const parts: string[] = []
  if (exp.exact) parts.push(exp.exact.length ? exp.exact.join('|') : '0')
  if (exp.includes) parts.push(`includes ${exp.includes.join('|')}`)
  if (exp.excludes) parts.push(`excludes ${exp.excludes.join('|')}`)
  return parts.join(', ')
}

type CmsgExpectation = Record<string, string | number>

/** Control messages in order: as many as expected, each with the fields its expectation names. */
export function cmsgsMatch(expected: readonly CmsgExpectation[], observed: readonly unknown[] | undefined): boolean {
  if (!observed || observed.length !== expected.length) return false
  return expected.every((exp, i) => {
    const obs = observed[i]
    if (!obs || typeof obs !== 'object') return false
    return Object.entries(exp).every(([k, v]) => (obs as Record<string, unknown>)[k] === v)
  })
}

const describeCmsgs = (exp: readonly CmsgExpectation[]): string => (exp.length ? JSON.stringify(exp) : 'no control messages')

/** The observed control messages, reduced to the fields the expectation names (all fields past its end). */
function describeObservedCmsgs(observed: readonly unknown[], exp: readonly CmsgExpectation[]): string {
  if (!observed.length) return 'no control messages'
  return JSON.stringify(
    observed.map((o, i) => {
      const keys = exp[i] ? Object.keys(exp[i]!) : undefined
      if (!keys || !o || typeof o !== 'object') return o
      return Object.fromEntries(keys.map(k => [k, (o as Record<string, unknown>)[k] ?? null]))
    }),
  )
}

/**
 * Check one step. `event` is the step's primary event (undefined if the probe
 * never answered: every check then fails with observed "no event").
 */
export function matchStep(exp: ExpectFields, event: ProbeEvent | undefined, ctx: MatchContext): Check[] {
  const base = { step: ctx.step, actor: ctx.actor, claim: ctx.claim }
  const checks: Check[] = []
  const push = (field: string, expected: string, observed: string, ok: boolean): void => {
    checks.push({ ...base, field, expected, observed, ok })
  }
  if (!event) {
    push('event', 'a syscall result', 'no event', false)
    return checks
  }
  if (event.error !== undefined) {
    push('event', 'a syscall result', `probe error: ${event.error}`, false)
    return checks
  }
  if (exp.ret !== undefined) push('ret', String(exp.ret), String(event.ret ?? 'none'), checkRet(exp.ret, event.ret))
  if (exp.errno !== undefined) push('errno', describeErrno(exp.errno), event.errno ?? 'none', checkErrno(exp.errno, event.errno))
  if (exp.ready !== undefined) checks.push(...checkMasks('ready', exp.ready, event.ready, 'EPOLL', base))
  if (exp.revents !== undefined) checks.push(...checkMasks('revents', exp.revents, event.revents, 'POLL', base))
  if (exp.registered !== undefined) checks.push(...checkMasks('registered', exp.registered, event.registered, 'EPOLL', base))
  if (exp.sets !== undefined) checks.push(...checkSets(exp.sets, event.sets, base))
  if (exp.value !== undefined) {
    const v = exp.value
    const one = (x: unknown): boolean => {
      if (typeof x === 'number') return event.value === x
      // a bound on a number (SIOCOUTQ ">=131072"), as a structured field may have
      if (typeof x === 'string' && typeof event.value === 'number' && COMPARISON.test(x)) return checkRet(x, event.value)
      if (typeof x === 'string') return (event.value_name ?? String(event.value)) === x
      if (x && typeof x === 'object') return matchesPartial(x as Record<string, unknown>, event.value, event.op === 'mib')
      return false
    }
    const alternatives = (v as { one_of?: unknown }).one_of
    const ok = Array.isArray(alternatives) && Object.keys(v).length === 1 ? alternatives.some(one) : one(v)
    push('value', typeof v === 'object' ? JSON.stringify(v) : String(v), describeValue(event, v), ok)
  }
  if (exp.data !== undefined)
    push('data', JSON.stringify(exp.data), event.data === undefined ? 'none' : JSON.stringify(event.data), event.data === exp.data)
  if (exp.msg_flags !== undefined) {
    const obs = event.msg_flags
    push(
      'msg_flags',
      describeNameSet(exp.msg_flags),
      obs === undefined ? 'none' : obs.length ? obs.join('|') : '0',
      obs !== undefined && nameSetMatches(obs, exp.msg_flags),
    )
  }
  if (exp.cmsg !== undefined) {
    const obs = Array.isArray(event.cmsg) ? (event.cmsg as unknown[]) : undefined
    push('cmsg', describeCmsgs(exp.cmsg), obs === undefined ? 'none' : describeObservedCmsgs(obs, exp.cmsg), cmsgsMatch(exp.cmsg, obs))
  }
  if (exp.time !== undefined) {
    const start = exp.time.since !== undefined ? ctx.stepStart(exp.time.since) : event.t0
    const { lo, hi } = timeWindow(exp.time)
    const expected = `${lo.toFixed(0)}..${Number.isFinite(hi) ? hi.toFixed(0) : 'inf'} ms`
    if (start === undefined || event.t1 === undefined) push('time', expected, 'unknown', false)
    else {
      const ms = (event.t1 - start) / 1e6
      push('time', expected, `${ms.toFixed(1)} ms`, ms >= lo && ms <= hi)
    }
  }
  return checks
}
