/**
 * Which events of a trace differ from the most common trace of the same
 * scenario. Traces are normalised first: per actor, the sequence of
 * op / handle / errno-or-return / epoll mask. Timestamps, ports and fd
 * numbers are left out (fds are named by handles already; the numbers a
 * socket() returns depend on the probe's other open files).
 */
import { FD_RETURNING } from '../compare/normalise.js'
import type { EventRow } from '../store/store.js'

export function normaliseEvent(e: EventRow): string {
  let answer: string
  if (e.errno) answer = e.errno
  else if (e.ret === null) answer = 'noret'
  else if (FD_RETURNING.has(e.op) && e.ret >= 0) answer = 'fd'
  else answer = String(e.ret)
  return `${e.actor} ${e.op} ${e.sockets ?? ''} ${answer} ${e.mask ?? ''}`
}

export function traceSignature(events: readonly EventRow[]): string {
  return events.map(normaliseEvent).join('\n')
}

/**
 * The largest table the exact alignment fills (cells of n x m, 4 bytes each):
 * beyond it the middle left after the common prefix and suffix counts as
 * differing, so a page of two long, very different lanes costs milliseconds,
 * not gigabytes.
 */
export const MAX_ALIGN_CELLS = 4_000_000

/**
 * Indices (into `a`) of the elements that belong to a longest common
 * subsequence with `b`. The common prefix and suffix are matched first (two
 * traces of one scenario mostly agree); only the middle is aligned exactly.
 */
export function commonIndices(a: readonly string[], b: readonly string[]): Set<number> {
  const kept = new Set<number>()
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) kept.add(start++)
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) (kept.add(--endA), endB--)
  if ((endA - start) * (endB - start) > MAX_ALIGN_CELLS) return kept
  for (const i of middleCommon(a.slice(start, endA), b.slice(start, endB))) kept.add(start + i)
  return kept
}

function middleCommon(a: readonly string[], b: readonly string[]): Set<number> {
  const n = a.length
  const m = b.length
  const table: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] = a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!)
    }
  }
  const kept = new Set<number>()
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      kept.add(i)
      i++
      j++
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) i++
    else j++
  }
  return kept
}

function byActor(events: readonly EventRow[]): Map<string, Array<{ idx: number; key: string }>> {
  const lanes = new Map<string, Array<{ idx: number; key: string }>>()
  events.forEach((e, idx) => {
    const lane = lanes.get(e.actor) ?? []
    lane.push({ idx, key: normaliseEvent(e) })
    lanes.set(e.actor, lane)
  })
  return lanes
}

/** Positions (into `events`) of the events with no counterpart in `reference`, matched per actor. */
export function differingEvents(events: readonly EventRow[], reference: readonly EventRow[]): Set<number> {
  const differing = new Set<number>()
  const refLanes = byActor(reference)
  for (const [actor, lane] of byActor(events)) {
    const kept = commonIndices(
      lane.map(x => x.key),
      (refLanes.get(actor) ?? []).map(x => x.key),
    )
    lane.forEach((x, i) => {
      if (!kept.has(i)) differing.add(x.idx)
    })
  }
  return differing
}

/**
 * The reference among several traces: the most common signature (ties go to
 * the earliest in the list, i.e. the newest run). Returns its position.
 */
export function referenceTrace(traces: ReadonlyArray<readonly EventRow[]>): number {
  const counts = new Map<string, { n: number; first: number }>()
  traces.forEach((t, i) => {
    const sig = traceSignature(t)
    const c = counts.get(sig)
    if (c) c.n++
    else counts.set(sig, { n: 1, first: i })
  })
  let best = { n: 0, first: 0 }
  for (const c of counts.values()) if (c.n > best.n || (c.n === best.n && c.first < best.first)) best = c
  return best.first
}
