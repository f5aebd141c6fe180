/** The data compare works on and produces. Pure types, no I/O. */
import type { CheckRow, EventRow } from '../store/store.js'
import type { FacetChange } from './answer-summary.js'

export type { FacetChange }

export type Verdict = 'pass' | 'fail' | 'error' | 'skip'

/**
 * Labels of an aligned (scenario, variant) pair, most severe first (the order
 * of the text output). `error` is kept apart from `fail`: an error means the
 * kit broke (probe crash, step past its time limit, bad event), so pass ->
 * error says nothing about the kernel and is not a regression. `skip` means a
 * requirement (root, IPv6, a sysctl) was missing on one side only.
 * `expected`: the traces differ only at steps whose per-kernel expectations
 * resolve differently on the two kernels (a change the scenario records).
 * `flaky`: a regression or difference that re-running b's scenario on b's
 * kernel did not reproduce every time: not the kernel's answer, not exit 1.
 */
export const PAIR_LABELS = ['regression', 'error', 'flaky', 'fixed', 'differs', 'expected', 'new', 'missing', 'skip', 'same'] as const
export type PairLabel = (typeof PAIR_LABELS)[number]

export interface RunSummary {
  id: number
  uuid: string
  host: string
  kernelRelease: string
  kernelVersion: string
  arch: string
  distro: string | null
  startedAt: string
  status: string
}

/** One stored result as compare needs it: its trace is read only when its signature differs from the other side's. */
export interface RecordedResult {
  resultId: number
  scenario: string
  /** Content hash of the scenario file the result was produced from. */
  hash: string
  title: string
  variant: string
  attempt: number
  verdict: Verdict
  claim: string | null
  message: string
  /** Normalised signature (signature.ts): equal signatures, no first difference. */
  signature: string
  /** Its failed checks, in order. */
  failedChecks: CheckSummary[]
}

/** A result's events and checks, in store order. */
export interface TraceRows {
  events: EventRow[]
  checks: CheckRow[]
}

/** Reads one result's trace (the store is the I/O edge); called only for pairs whose signatures differ. */
export type TraceReader = (resultId: number) => TraceRows

export interface RunTraces {
  run: RunSummary
  results: RecordedResult[]
}

export interface CheckSummary {
  step: string
  actor: string
  field: string
  expected: string
  observed: string
}

/** One side of a pair: the attempts of one (scenario, variant) in one run. */
export interface PairSide {
  /** Result compared: the first attempt with the aggregated verdict. */
  resultId: number
  attempt: number
  /** Aggregated verdict: the worst over attempts (error > fail > pass > skip). */
  verdict: Verdict
  attempts: number
  /** Verdict counts over attempts. */
  verdicts: Partial<Record<Verdict, number>>
  /** Attempts disagree. */
  flaky: boolean
  claim: string | null
  hash: string
  message: string
  failedChecks: CheckSummary[]
}

export interface DiffItem {
  text: string
  /** Normalised event (kind event). */
  event?: Record<string, unknown>
  /** The check (kind check). */
  check?: CheckSummary & { verdict: string }
}

export interface FirstDifference {
  /** event: the normalised traces differ; check: same trace, different check verdicts. */
  kind: 'event' | 'check'
  actor: string | null
  /** Position in the actor's events (event) or in the check list (check). */
  position: number
  /** null: that side has nothing at this position (its trace ended). */
  a: DiffItem | null
  b: DiffItem | null
  /** What differs when both sides have an item: dotted paths into the normalised event (`value.total_retrans`), or check columns. */
  changed: string[]
}

export interface Pair {
  scenario: string
  variant: string
  title: string
  label: PairLabel
  a: PairSide | null
  b: PairSide | null
  /** Both sides ran the scenario, but from different file contents. */
  scenarioChanged: boolean
  firstDifference: FirstDifference | null
  /** Facets of the answer summary that differ (answers, masks, TCP_INFO, time in timer units, segments per direction). */
  facets: FacetChange[]
  /** b's scenario re-run on b's kernel (compare --rerun), when it was. */
  rerun: RerunOutcome | null
}

/** What re-running one pair's side b said. */
export interface RerunOutcome {
  runs: number
  /** Re-runs the kernel answered (pass, fail, or b's own verdict); kit errors and skips are not counted against b. */
  answered?: number
  /** Re-runs that answered as b did (same verdict, same facets as b). */
  asB: number
  /** Re-runs that answered as a did (same verdict, same facets as a). */
  asA: number
  /** Each re-run's verdict, in order. */
  verdicts: Verdict[]
}

export interface Comparison {
  a: RunSummary
  b: RunSummary
  pairs: Pair[]
  counts: Record<PairLabel, number>
}
