/**
 * Differences a scenario already expects. A step whose expectation has
 * per-kernel cases (`kernels: [{range, ...}]`) that resolve differently on
 * the two runs' kernels is allowed to answer differently: a pair whose
 * traces differ only at such steps is labelled `expected`, not `differs`.
 * Ranges are resolved as the run resolved them (the upstream x.y.z a
 * distribution kernel names in its version string, else the release).
 */
import { resolveExpectation } from '../scenario/expand.js'
import { rangeRelease } from '../scenario/kernel-range.js'
import type { Expectation } from '../scenario/types.js'
import type { CheckRow, EventRow } from '../store/store.js'
import { canonicalJson } from '../trace/canonical-json.js'
import { normaliseTrace } from './normalise.js'
import type { RunSummary } from './types.js'

/** The kernel a run's ranges were resolved against. */
export function rangeKernelOf(run: Pick<RunSummary, 'kernelRelease' | 'kernelVersion'>): string {
  return rangeRelease(run.kernelRelease, run.kernelVersion)
}

interface BodyStep {
  id?: unknown
  actor?: unknown
  expect?: unknown
}

/** `actor\0step` of every step whose expectation resolves differently on kernels `a` and `b`. */
export function kernelDependentSteps(body: Record<string, unknown> | undefined, a: string, b: string): Set<string> {
  const steps = new Set<string>()
  const list = Array.isArray(body?.['steps']) ? (body['steps'] as BodyStep[]) : []
  for (const step of list) {
    if (typeof step.id !== 'string' || typeof step.actor !== 'string' || !step.expect || typeof step.expect !== 'object') continue
    const exp = step.expect as Expectation
    if (!exp.kernels?.length) continue
    // a range that does not parse never matched in the run either: treat the step as kernel-independent
    try {
      if (canonicalJson(resolveExpectation(exp, a)) !== canonicalJson(resolveExpectation(exp, b))) steps.add(`${step.actor}\0${step.id}`)
    } catch {
      continue
    }
  }
  return steps
}

/** The keys whose lists of texts differ between two sides (a key on one side only differs too). */
function differingKeys<T>(a: Iterable<T>, b: Iterable<T>, entry: (x: T) => [key: string, text: string]): Set<string> {
  const group = (items: Iterable<T>): Map<string, string[]> => {
    const map = new Map<string, string[]>()
    for (const x of items) {
      const [key, text] = entry(x)
      const list = map.get(key)
      if (list) list.push(text)
      else map.set(key, [text])
    }
    return map
  }
  const ma = group(a)
  const mb = group(b)
  const out = new Set<string>()
  for (const key of new Set([...ma.keys(), ...mb.keys()])) {
    if ((ma.get(key) ?? []).join('\n') !== (mb.get(key) ?? []).join('\n')) out.add(key)
  }
  return out
}

/** `actor\0step` of every step whose normalised events differ between two traces (a step on one side only differs too). */
export function differingSteps(a: readonly EventRow[], b: readonly EventRow[]): Set<string> {
  return differingKeys(normaliseTrace(a), normaliseTrace(b), e => [
    `${e.actor}\0${typeof e.fields['step'] === 'string' ? e.fields['step'] : ''}`,
    e.key,
  ])
}

/**
 * `actor\0step` of every step whose checks differ in what was expected or
 * how it was judged (the observed text is left out: two times inside one
 * window are the same answer).
 */
export function differingCheckSteps(a: readonly CheckRow[], b: readonly CheckRow[]): Set<string> {
  return differingKeys(a, b, c => [`${c.actor}\0${c.step}`, canonicalJson([c.field, c.expected, c.verdict, c.claim])])
}

/** True when the traces differ and every differing step (events or checks) is one the scenario expects to differ between these kernels. */
export function onlyExpectedDifferences(
  expectedSteps: ReadonlySet<string>,
  a: { events: readonly EventRow[]; checks: readonly CheckRow[] },
  b: { events: readonly EventRow[]; checks: readonly CheckRow[] },
): boolean {
  if (!expectedSteps.size) return false
  const differing = new Set([...differingSteps(a.events, b.events), ...differingCheckSteps(a.checks, b.checks)])
  if (!differing.size) return false
  for (const s of differing) if (!expectedSteps.has(s)) return false
  return true
}
