/**
 * The first place two results diverge. Events are compared per actor lane
 * (each actor is one probe, its events are strictly ordered), because the
 * interleaving of concurrent actors in the merged trace is timing, not
 * behaviour. Of the lanes that diverge, the one diverging earliest in
 * trace order wins. When the traces are equal, the expectation checks are
 * compared by verdict: that is how timing differences show (a time window
 * met on one side only).
 */
import type { CheckRow, EventRow } from '../store/store.js'
import { canonicalJson } from '../trace/canonical-json.js'
import { normaliseTrace } from './normalise.js'
import type { NormalisedEvent } from './normalise.js'
import { checkSignature } from './signature.js'
import type { DiffItem, FirstDifference } from './types.js'

function lanes(events: readonly NormalisedEvent[]): Map<string, NormalisedEvent[]> {
  const byActor = new Map<string, NormalisedEvent[]>()
  for (const e of events) {
    const lane = byActor.get(e.actor)
    if (lane) lane.push(e)
    else byActor.set(e.actor, [e])
  }
  return byActor
}

/** Dotted paths (value.total_retrans, ready.0.events) where two normalised events differ, with both values. */
export function changedPaths(a: unknown, b: unknown, path = ''): Array<{ path: string; a: unknown; b: unknown }> {
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object'
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    return keys.flatMap(k => changedPaths(a[k], b[k], path ? `${path}.${k}` : k))
  }
  return canonicalJson(a) === canonicalJson(b) ? [] : [{ path, a, b }]
}

function eventItem(e: NormalisedEvent | undefined): DiffItem | null {
  return e ? { text: e.text, event: { actor: e.actor, ...e.fields } } : null
}

/** Normalised lanes per trace read: a baseline's trace is compared with many runs' (the reader hands back the same rows). */
const laneCache = new WeakMap<readonly EventRow[], Map<string, NormalisedEvent[]>>()
function lanesOf(events: readonly EventRow[]): Map<string, NormalisedEvent[]> {
  let l = laneCache.get(events)
  if (!l) {
    l = lanes(normaliseTrace(events))
    laneCache.set(events, l)
  }
  return l
}

export function firstEventDifference(aEvents: readonly EventRow[], bEvents: readonly EventRow[]): FirstDifference | null {
  const la = lanesOf(aEvents)
  const lb = lanesOf(bEvents)
  let best: { order: number; diff: FirstDifference } | null = null
  for (const actor of new Set([...la.keys(), ...lb.keys()])) {
    const ea = la.get(actor) ?? []
    const eb = lb.get(actor) ?? []
    for (let i = 0; i < Math.max(ea.length, eb.length); i++) {
      const x = ea[i]
      const y = eb[i]
      if (x && y && x.key === y.key) continue
      const order = x?.idx ?? y?.idx ?? Number.MAX_SAFE_INTEGER
      const changed = x && y ? changedPaths(x.fields, y.fields).map(c => c.path) : []
      if (!best || order < best.order)
        best = { order, diff: { kind: 'event', actor, position: i, a: eventItem(x), b: eventItem(y), changed } }
      break
    }
  }
  return best?.diff ?? null
}

function checkItem(c: CheckRow | undefined): DiffItem | null {
  if (!c) return null
  return {
    text: `${c.actor} ${c.step} ${c.field}: expected ${c.expected}, observed ${c.observed} (${c.verdict})`,
    check: { step: c.step, actor: c.actor, field: c.field, expected: c.expected, observed: c.observed, verdict: c.verdict },
  }
}

export function firstCheckDifference(aChecks: readonly CheckRow[], bChecks: readonly CheckRow[]): FirstDifference | null {
  const ca = [...aChecks].sort((x, y) => x.idx - y.idx)
  const cb = [...bChecks].sort((x, y) => x.idx - y.idx)
  for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
    const x = ca[i]
    const y = cb[i]
    if (x && y && checkSignature(x) === checkSignature(y)) continue
    const changed = x && y ? (['step', 'actor', 'field', 'expected', 'verdict'] as const).filter(k => x[k] !== y[k]) : []
    return { kind: 'check', actor: x?.actor ?? y?.actor ?? null, position: i, a: checkItem(x), b: checkItem(y), changed }
  }
  return null
}

export function firstDifference(
  a: { events: readonly EventRow[]; checks: readonly CheckRow[] },
  b: { events: readonly EventRow[]; checks: readonly CheckRow[] },
): FirstDifference | null {
  return firstEventDifference(a.events, b.events) ?? firstCheckDifference(a.checks, b.checks)
}
