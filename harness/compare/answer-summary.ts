/**
 * What a kernel answered in one result, reduced to what a reader compares
 * across kernels: per answered step the return value and errno (fds as
 * `fd`, as compare normalises them), the masks of waits, values the
 * scenario checks, TCP_INFO fields it reads, the time of timer-bound steps
 * in timer units, and the captured segments per direction. Pure: the
 * scenario's steps, a trace's events and checks in, facets out. The atlas
 * renders these; compare labels pairs with them.
 *
 * Steps the scenario judges together (`across: [{steps: [a, b], count: 1}]`:
 * exactly one of two waiters is woken, the kernel picks which) are compared
 * as one facet: their answers as a sorted list, handles left out of the
 * masks, so which of them answered is not a difference, how many did is.
 */
import { normaliseFields, PortNames } from './normalise.js'
import { isOp, primaryOp } from '../ops/table.js'
import type { AcrossExpectation, Expectation, Step } from '../scenario/types.js'
import type { CheckRow, EventRow } from '../store/store.js'

export type FacetKind = 'answer' | 'time' | 'tcp_info' | 'packets'

export interface AnswerFacet {
  /** Stable name across kernels: step id and kind (`connect`, `s10 time`, `packets`). */
  key: string
  kind: FacetKind
  step: string | null
  /** What a reader sees. */
  text: string
  /**
   * What is compared between kernels; null when this result cannot say (no
   * capture, no time measured): unknown never counts as a difference.
   */
  compared: string | null
  /** Shown beside the text but not compared (measured ms, data segments). */
  detail?: string
}

export interface AnswerSummary {
  facets: AnswerFacet[]
}

type StepLike = Pick<Step, 'actor' | 'do' | 'opt' | 'expect' | 'claim' | 'note'> & { id?: string }

/** `EPOLLIN` -> `IN`, `POLLOUT` -> `OUT`: a cell holds several masks. */
function shortFlag(f: string): string {
  return f.replace(/^(EPOLL|POLL)/, '')
}

interface ReadyEntry {
  h: string
  events: string[]
}

function maskText(list: unknown): string | null {
  if (!Array.isArray(list)) return null
  const entries = list as ReadyEntry[]
  if (!entries.length) return '(none ready)'
  return entries.map(r => `${r?.h}:${Array.isArray(r?.events) ? r.events.map(f => shortFlag(String(f))).join('|') : '?'}`).join(' ')
}

/** The same without handle names, sorted: what an `across` group compares. */
function anonymousMaskText(list: unknown): string | null {
  if (!Array.isArray(list)) return null
  const entries = list as ReadyEntry[]
  if (!entries.length) return '(none ready)'
  return entries
    .map(r => (Array.isArray(r?.events) ? r.events.map(f => shortFlag(String(f))).join('|') : '?'))
    .sort()
    .join(' ')
}

/** An event's probe object; a damaged store's text reads as an empty one rather than failing the whole report. */
function details(e: EventRow): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(e.details)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function scalar(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function expectations(step: StepLike): Expectation[] {
  return [step.expect, step.claim].filter((e): e is Expectation => e !== undefined)
}

/** Every expectation of a step, its per-kernel cases included. */
function allFields(step: StepLike): Array<Omit<Expectation, 'kernels'>> {
  return expectations(step).flatMap(e => [e, ...(e.kernels ?? [])])
}

/** TCP_INFO fields the scenario reads: those its expectations name, else state and total_retrans. */
function tcpInfoFields(step: StepLike): string[] {
  const named = new Set<string>()
  for (const f of allFields(step)) if (f.value && typeof f.value === 'object') for (const k of Object.keys(f.value)) named.add(k)
  return named.size ? [...named] : ['state', 'total_retrans']
}

/** The smallest timer a step's time expectations name: the unit its time is counted in, the same on every kernel. */
function timerUnitMs(step: StepLike): number | null {
  let unit: number | null = null
  for (const f of allFields(step)) for (const ms of f.time?.timers_ms ?? []) if (ms > 0 && (unit === null || ms < unit)) unit = ms
  return unit
}

function observedMs(checks: readonly CheckRow[], step: string): number | null {
  const c = checks.find(c => c.step === step && c.field === 'time')
  const m = c ? /(-?\d+(?:\.\d+)?) ms/.exec(c.observed) : null
  return m ? Number(m[1]) : null
}

function unitText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

/** The step's answering event (the op table's `answers`, the last one), else a refusal, else none. */
function answerEvent(step: StepLike, events: readonly EventRow[]): EventRow | undefined {
  const op = isOp(step.do) ? primaryOp(step) : step.do
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.op === op) return events[i]
  return events.find(e => details(e)['error'] !== undefined)
}

interface Segment {
  flags: string[]
  src: string
  dst: string
  len: number
}

const CONTROL = ['SYN', 'SYN|ACK', 'FIN', 'RST'] as const

function segmentClass(flags: readonly string[]): (typeof CONTROL)[number] | null {
  const has = (f: string): boolean => flags.includes(f)
  if (has('RST')) return 'RST'
  if (has('SYN')) return has('ACK') ? 'SYN|ACK' : 'SYN'
  if (has('FIN')) return 'FIN'
  return null
}

/**
 * Captured segments per direction until the last step ended: towards the
 * endpoints the SYNs went to (→) and back (←). Only SYN, SYN|ACK, FIN and
 * RST are compared: how many pure ACKs and data segments appear depends on
 * delayed-ACK timers even on one kernel. ICMP errors are counted by type
 * (whichever way they went: one kernel answering with an RST where another
 * sends port unreachable is the difference that matters).
 */
function packetFacet(events: readonly EventRow[]): AnswerFacet | null {
  const segments: Segment[] = []
  const icmp = new Map<string, number>()
  // the probes close what is left when the steps are done: that teardown races the end of the capture
  let stepsEnd = 0
  for (const e of events) if (e.actor !== 'wire') stepsEnd = Math.max(stepsEnd, e.t_ns + (e.dur_ns ?? 0))
  for (const e of events) {
    if (e.actor !== 'wire' || e.t_ns > stepsEnd) continue
    if (e.op === 'icmp') {
      const name = String(details(e)['icmp'] ?? '?')
      icmp.set(name, (icmp.get(name) ?? 0) + 1)
    }
    if (e.op !== 'packet') continue
    const d = details(e) as { src?: string; sport?: number; dst?: string; dport?: number; tcp_flags?: string[]; len?: number }
    segments.push({
      flags: Array.isArray(d.tcp_flags) ? d.tcp_flags : [],
      src: `${d.src}:${d.sport}`,
      dst: `${d.dst}:${d.dport}`,
      len: d.len ?? 0,
    })
  }
  if (!segments.length && !icmp.size) return null
  const icmpText = [...icmp].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, n]) => `${n} ${name}`)
  const icmpPart = icmp.size
    ? { text: ` · ICMP ${icmpText.join(', ')}`, compared: ` ICMP ${icmpText.join(',')}` }
    : { text: '', compared: '' }
  if (!segments.length)
    return {
      key: 'packets',
      kind: 'packets',
      step: null,
      text: icmpPart.text.slice(3),
      compared: icmpPart.compared.slice(1),
      detail: 'no segments during the steps',
    }
  const servers = new Set(segments.filter(s => segmentClass(s.flags) === 'SYN').map(s => s.dst))
  if (!servers.size) servers.add(segments[0]!.dst)
  const dirs = { '→': segments.filter(s => servers.has(s.dst)), '←': segments.filter(s => servers.has(s.src) && !servers.has(s.dst)) }
  const side = (arrow: '→' | '←'): { text: string; compared: string; total: number } => {
    const list = dirs[arrow]
    const counts = CONTROL.map(c => [c, list.filter(s => segmentClass(s.flags) === c).length] as const).filter(([, n]) => n > 0)
    const control = counts.map(([c, n]) => `${n} ${c}`).join(', ')
    return { text: `${arrow} ${control || 'no SYN/FIN/RST'}`, compared: `${arrow}${control}`, total: list.length }
  }
  const out = side('→')
  const back = side('←')
  return {
    key: 'packets',
    kind: 'packets',
    step: null,
    text: `${out.text} · ${back.text}${icmpPart.text}`,
    compared: `${out.compared} ${back.compared}${icmpPart.compared}`,
    detail: `${out.total} → / ${back.total} ← segments in all during the steps`,
  }
}

/** A timer-bound step's time in whole units of its smallest timer. */
function timeFacet(step: StepLike, id: string, checks: readonly CheckRow[]): AnswerFacet | null {
  const unit = timerUnitMs(step)
  if (unit === null) return null
  const ms = observedMs(checks, id)
  const units = ms === null ? null : Math.round(ms / unit)
  return {
    key: `${id} time`,
    kind: 'time',
    step: id,
    text: ms === null ? `${id} time: not measured` : `${id} time: ≈${units} × ${unitText(unit)}`,
    // timers fire late, never early (kernel/time/timer.c): whole units absorb the lateness, a changed schedule does not
    compared: units === null ? null : String(units),
    detail: ms === null ? undefined : `${ms} ms`,
  }
}

/** The answer summary of one result; steps are the scenario's, events and checks the result's. */
export function answerSummary(
  steps: readonly StepLike[],
  events: readonly EventRow[],
  checks: readonly CheckRow[],
  across: readonly Pick<AcrossExpectation, 'steps'>[] = [],
  /** answers: false: only the time and packet facets (what a result's signature does not hold), without reading the steps' events. */
  opts: { answers?: boolean } = {},
): AnswerSummary {
  const facets: AnswerFacet[] = []
  const ports = new PortNames()
  // one group per distinct step list of the across expectations (several expectations often name the same steps)
  const groups = [
    ...new Map(across.filter(x => Array.isArray(x.steps) && x.steps.length > 1).map(x => [x.steps.join('+'), x.steps])).values(),
  ]
  const grouped = new Set(groups.flat())
  /** Per grouped step, its answer with handles left out. */
  const anonymous = new Map<string, string>()
  steps.forEach((step, i) => {
    const id = step.id ?? `s${i + 1}`
    if (opts.answers === false) {
      const time = timeFacet(step, id, checks)
      if (time) facets.push(time)
      return
    }
    const mine = events.filter(e => e.step === id && e.actor === step.actor)
    const ev = answerEvent(step, mine)
    const fields = ev ? normaliseFields(details(ev), ev.op, ports) : null
    const checked = expectations(step).length > 0
    const mask = fields ? (maskText(fields['ready']) ?? maskText(fields['revents'])) : null
    // answered steps: those the scenario checks, and every wait (its mask is the behaviour)
    if (!checked && mask === null) return
    const label = `${id === step.do ? id : `${id} ${step.do}`}${step.opt ? ` ${step.opt}` : ''}`
    if (!fields) {
      facets.push({ key: id, kind: 'answer', step: id, text: `${label}: no answer`, compared: grouped.has(id) ? null : 'no answer' })
      return
    }
    const isTcpInfo = fields['opt'] === 'TCP_INFO'
    const parts: string[] = []
    if (fields['error'] !== undefined) parts.push(`refused: ${scalar(fields['error'])}`)
    if (fields['ret'] !== undefined) parts.push(scalar(fields['ret']))
    if (fields['errno'] !== undefined) parts.push(scalar(fields['errno']))
    if (mask !== null) parts.push(mask)
    const wants = (k: 'value' | 'data' | 'msg_flags'): boolean => allFields(step).some(f => f[k] !== undefined)
    if (!isTcpInfo && fields['value'] !== undefined && wants('value'))
      parts.push(`value=${scalar(fields['value_name'] ?? fields['value'])}`)
    if (fields['data'] !== undefined && wants('data')) {
      const data = scalar(fields['data'])
      parts.push(`data=${data.length > 24 ? `${data.slice(0, 23)}…` : data}`)
    }
    if (Array.isArray(fields['msg_flags']) && wants('msg_flags'))
      parts.push(`msg_flags=${(fields['msg_flags'] as string[]).join('|') || '0'}`)
    const answer = parts.join(' ')
    if (grouped.has(id)) {
      // shown per step, compared per group (below)
      const anonMask = anonymousMaskText(fields['ready']) ?? anonymousMaskText(fields['revents'])
      anonymous.set(id, [...parts.filter(p => p !== mask), ...(anonMask !== null ? [anonMask] : [])].join(' '))
      facets.push({
        key: id,
        kind: 'answer',
        step: id,
        text: `${label}: ${answer}`,
        compared: null,
        detail: 'compared with its across group',
      })
    } else facets.push({ key: id, kind: 'answer', step: id, text: `${label}: ${answer}`, compared: answer })

    if (isTcpInfo && fields['value'] && typeof fields['value'] === 'object') {
      const info = fields['value'] as Record<string, unknown>
      const shown = tcpInfoFields(step)
        .filter(k => k in info)
        .map(k => (k === 'state' ? scalar(info[k]) : `${k}=${scalar(info[k])}`))
        .join(' ')
      facets.push({ key: `${id} tcp_info`, kind: 'tcp_info', step: id, text: `${id} TCP_INFO: ${shown}`, compared: shown })
    }

    const time = timeFacet(step, id, checks)
    if (time) facets.push(time)
  })
  for (const group of opts.answers === false ? [] : groups) {
    const answers = group.map(id => anonymous.get(id) ?? 'no answer').sort()
    const compared = answers.join(' | ')
    facets.push({ key: `across ${group.join('+')}`, kind: 'answer', step: null, text: `across ${group.join(', ')}: ${compared}`, compared })
  }
  const packets = packetFacet(events)
  if (packets) facets.push(packets)
  return { facets }
}

/** A facet whose compared answer differs between two summaries, as each side reads it (null: that side has none). */
export interface FacetChange {
  key: string
  kind: FacetKind
  step: string | null
  a: string | null
  b: string | null
}

/** changedFacets with both sides' texts. */
export function facetChanges(a: AnswerSummary, b: AnswerSummary): FacetChange[] {
  const fa = new Map(a.facets.map(f => [f.key, f]))
  const fb = new Map(b.facets.map(f => [f.key, f]))
  return changedFacets(a, b).map(key => {
    const x = fa.get(key)
    const y = fb.get(key)
    const shown = (f: AnswerFacet | undefined): string | null => (f ? `${f.text}${f.detail ? ` (${f.detail})` : ''}` : null)
    return { key, kind: (x ?? y)!.kind, step: (x ?? y)!.step, a: shown(x), b: shown(y) }
  })
}

/**
 * Facets a result has whenever its step answered: missing on one side is a
 * difference. A capture or a time measured on one side only says nothing
 * about the kernel.
 */
const ANSWERED_ALWAYS: ReadonlySet<FacetKind> = new Set(['answer', 'tcp_info'])

/** Facet keys whose compared answers differ between two summaries (unknown on either side is no difference). */
export function changedFacets(a: AnswerSummary, b: AnswerSummary): string[] {
  const bByKey = new Map(b.facets.map(f => [f.key, f]))
  const aKeys = new Set(a.facets.map(f => f.key))
  const changed: string[] = []
  for (const fa of a.facets) {
    const fb = bByKey.get(fa.key)
    if (!fb) {
      if (fa.compared !== null && ANSWERED_ALWAYS.has(fa.kind)) changed.push(fa.key)
      continue
    }
    if (fa.compared !== null && fb.compared !== null && fa.compared !== fb.compared) changed.push(fa.key)
  }
  for (const fb of b.facets) if (!aKeys.has(fb.key) && fb.compared !== null && ANSWERED_ALWAYS.has(fb.kind)) changed.push(fb.key)
  return changed
}
