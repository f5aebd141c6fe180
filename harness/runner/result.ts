/** What one scenario variant produced: verdict, trace, checks. */
import type { Check } from '../expect/match.js'
import type { InvalidLine } from '../probe/process.js'
import type { ProbeEvent } from '../probe/event.js'
import type { Scenario } from '../scenario/types.js'

export type Verdict = 'pass' | 'fail' | 'error' | 'skip'
export type ClaimOutcome = 'holds' | 'refuted'

export interface TraceEvent {
  actor: string
  event: ProbeEvent
  /** the CLOCK_MONOTONIC the event was stamped on (default: this machine's); times compare only within one */
  clock?: string
}

export interface ScenarioResult {
  scenario: Scenario
  variant: string
  attempt: number
  verdict: Verdict
  claim: ClaimOutcome | undefined
  message: string
  durationMs: number
  /** Every event of every actor, ordered by t0 (one host, one clock). */
  events: TraceEvent[]
  invalid: InvalidLine[]
  checks: Check[]
  /** stderr of each probe, kept when something went wrong (or non-empty). */
  stderr: Record<string, string>
  /** Kernel release each actor's probe reported (hello). */
  kernels: Record<string, string>
}
