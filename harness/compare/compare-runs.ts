/** Compare two loaded runs: align, diff, label. Pure but for `read`, which is called only for pairs whose signatures differ or whose answers the signature cannot hold. */
import { alignResults } from './align.js'
import type { Aligned } from './align.js'
import { answerSummary, facetChanges } from './answer-summary.js'
import type { AnswerSummary, FacetChange } from './answer-summary.js'
import { differingCheckSteps, differingSteps, kernelDependentSteps, rangeKernelOf } from './expected.js'
import { firstDifference } from './first-difference.js'
import { labelPair } from './label.js'
import { PAIR_LABELS } from './types.js'
import type { Comparison, Pair, PairLabel, RunTraces, TraceReader, TraceRows } from './types.js'
import type { AcrossExpectation, Step } from '../scenario/types.js'

export function emptyCounts(): Record<PairLabel, number> {
  return Object.fromEntries(PAIR_LABELS.map(l => [l, 0])) as Record<PairLabel, number>
}

export interface CompareOptions {
  /**
   * A result's scenario as stored (its steps and expectations): with it, the
   * pair is also compared by its answer summary (answer-summary.ts), and a
   * pair that differs only where the scenario expects these two kernels to
   * answer differently is labelled `expected`.
   */
  scenarioBody?: (resultId: number) => Record<string, unknown> | undefined
}

export interface Body {
  doc: Record<string, unknown>
  steps: Step[]
  across: AcrossExpectation[]
  /**
   * Steps bound to timers or captured segments: their time in timer units and
   * their SYN/FIN/RST counts are not in the signature, so equal signatures do
   * not mean equal answers and the traces are read anyway. Other scenarios'
   * traces are read only when their signatures differ (reading every trace
   * of 1,000 runs would triple compare --baseline's time).
   */
  wireOrTimer: boolean
}

/** Scenario bodies by content hash, per body reader: a baseline's scenarios are looked up once, not once per run. */
const bodyCaches = new WeakMap<object, Map<string, Body | null>>()

export function bodyOf(read: NonNullable<CompareOptions['scenarioBody']>, hash: string, resultId: number): Body | null {
  let cache = bodyCaches.get(read)
  if (!cache) bodyCaches.set(read, (cache = new Map()))
  let body = cache.get(hash)
  if (body === undefined) {
    const doc = read(resultId)
    body =
      doc && Array.isArray(doc['steps'])
        ? {
            doc,
            steps: doc['steps'] as Step[],
            across: Array.isArray(doc['across']) ? (doc['across'] as AcrossExpectation[]) : [],
            wireOrTimer: /"(timers_ms|packets|after_packet|before_packet)"/.test(JSON.stringify(doc['steps'])),
          }
        : null
    cache.set(hash, body)
  }
  return body
}

/** Summaries per trace read (the reader hands back the same rows for a baseline's result); the light ones apart. */
const summaryCache = new WeakMap<TraceRows, AnswerSummary>()
const lightCache = new WeakMap<TraceRows, AnswerSummary>()
function summaryOf(body: Body, trace: TraceRows, answers: boolean): AnswerSummary {
  const cache = answers ? summaryCache : lightCache
  let s = cache.get(trace)
  if (!s) cache.set(trace, (s = answerSummary(body.steps, trace.events, trace.checks, body.across, { answers })))
  return s
}

const stepOf = (key: string): string => key.slice(key.indexOf('\0') + 1)

interface Judged {
  /** Steps (`actor\0step`) whose normalised events or checks differ, less `across` steps whose group answered alike. */
  steps(): Set<string>
  facets: FacetChange[]
}

/**
 * Equal signatures: equal normalised events and checks, so only the time and
 * packet facets can differ and only those are summarised. The differing
 * steps are worked out only when asked (labels of pairs whose verdict
 * changed never ask).
 */
function judge(body: Body, ta: TraceRows, tb: TraceRows, signaturesDiffer: boolean): Judged {
  const sa = summaryOf(body, ta, signaturesDiffer)
  const sb = summaryOf(body, tb, signaturesDiffer)
  const facets = facetChanges(sa, sb)
  let steps: Set<string> | null = null
  return {
    facets,
    steps: () => {
      if (steps) return steps
      const events = signaturesDiffer ? differingSteps(ta.events, tb.events) : new Set<string>()
      // a step the summary compares on both sides is judged by its events as the atlas judges it (a count inside its
      // bound, a segment field the scenario does not assert is no difference); its checks still count (they hold what
      // the trace does not, a TCP_INFO optlen, and which kernel case was in force)
      const judged = (x: AnswerSummary): Set<string> =>
        new Set(x.facets.filter(f => f.kind === 'answer' && f.step !== null && f.compared !== null).map(f => f.step!))
      const [ja, jb] = [judged(sa), judged(sb)]
      const changedSteps = new Set(facets.map(f => f.step))
      for (const s of [...events]) if (ja.has(stepOf(s)) && jb.has(stepOf(s)) && !changedSteps.has(stepOf(s))) events.delete(s)
      steps = signaturesDiffer ? new Set([...events, ...differingCheckSteps(ta.checks, tb.checks)]) : new Set<string>()
      // which step of an across group answered is the kernel's pick; the group's facet says whether the answers changed
      const changedGroups = new Set(facets.filter(f => f.key.startsWith('across ')).map(f => f.key))
      for (const group of body.across) {
        if (!Array.isArray(group.steps) || changedGroups.has(`across ${group.steps.join('+')}`)) continue
        for (const s of [...steps]) if (group.steps.includes(stepOf(s))) steps.delete(s)
      }
      return steps
    },
  }
}

/** Two results of one scenario answered alike: no differing step (across groups as one), no changed facet. */
export function sameAnswer(body: Body, x: TraceRows, y: TraceRows): boolean {
  const j = judge(body, x, y, true)
  return !j.facets.length && !j.steps().size
}

/** Every difference is at a step whose per-kernel expectation resolves differently on the two kernels. */
function explained(judged: Judged, expectedSteps: ReadonlySet<string>): boolean {
  const steps = judged.steps()
  if (!expectedSteps.size || (!steps.size && !judged.facets.length)) return false
  const ids = new Set([...expectedSteps].map(stepOf))
  for (const s of steps) if (!expectedSteps.has(s)) return false
  for (const f of judged.facets) {
    // segments go with the steps, as in the atlas: the SYN schedule of 6.5 changes how many SYNs a timer-bound wait
    // sees, which its per-kernel time cases describe
    if (f.kind === 'packets') continue
    else if (f.key.startsWith('across ')) {
      if (
        !f.key
          .slice(7)
          .split('+')
          .every(id => ids.has(id))
      )
        return false
    } else if (f.step === null || !ids.has(f.step)) return false
  }
  return true
}

export function compareRuns(a: RunTraces, b: RunTraces, read: TraceReader, opts: CompareOptions = {}): Comparison {
  const counts = emptyCounts()
  const kernelA = rangeKernelOf(a.run)
  const kernelB = rangeKernelOf(b.run)
  const pairs: Pair[] = alignResults(a.results, b.results).map((al: Aligned): Pair => {
    // a skipped or errored side has no meaningful trace to diff
    const comparable = !!al.a && !!al.b && al.a.side.verdict !== 'skip' && al.b.side.verdict !== 'skip'
    const answered = comparable && al.a!.side.verdict !== 'error' && al.b!.side.verdict !== 'error'
    // equal signatures: equal normalised traces and checks, nothing to load
    const signaturesDiffer = comparable && al.a!.result.signature !== al.b!.result.signature
    const body = answered && opts.scenarioBody ? bodyOf(opts.scenarioBody, al.b!.side.hash, al.b!.result.resultId) : null
    const readA = (): TraceRows => read(al.a!.result.resultId)
    const readB = (): TraceRows => read(al.b!.result.resultId)
    const difference = signaturesDiffer ? firstDifference(readA(), readB()) : null
    let judged: Judged | null = null
    // the answer summary needs one scenario on both sides (its step ids name the facets)
    if (body && al.a!.side.hash === al.b!.side.hash && (signaturesDiffer || body.wireOrTimer))
      judged = judge(body, readA(), readB(), signaturesDiffer)
    const sameVerdict = answered && al.a!.side.verdict === al.b!.side.verdict
    // the differing steps decide only between same and differs; a changed verdict is labelled by the verdicts
    const differs = judged ? judged.facets.length > 0 || (sameVerdict ? judged.steps().size > 0 : difference !== null) : difference !== null
    let label = labelPair(al.a?.side ?? null, al.b?.side ?? null, differs)
    // same verdict, different answers: expected when the scenario (one file on both sides) says these kernels answer differently there
    if (label === 'differs' && judged && body && kernelA !== kernelB && explained(judged, kernelDependentSteps(body.doc, kernelA, kernelB)))
      label = 'expected'
    counts[label]++
    return {
      scenario: al.scenario,
      variant: al.variant,
      title: al.title,
      label,
      a: al.a?.side ?? null,
      b: al.b?.side ?? null,
      scenarioChanged: !!(al.a && al.b && al.a.side.hash !== al.b.side.hash),
      firstDifference: label === 'same' ? null : difference,
      facets: judged?.facets ?? [],
      rerun: null,
    }
  })
  return { a: a.run, b: b.run, pairs, counts }
}

export function hasRegression(comparisons: readonly Comparison[]): boolean {
  return comparisons.some(c => c.counts.regression > 0)
}
