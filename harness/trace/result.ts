/**
 * The trace model, the ground floor every other folder imports: what one
 * scenario variant produced (verdict, trace, checks). It imports only the
 * scenario's own types.
 */
import type { Scenario } from '../scenario/types.js'
import type { ProbeEvent } from './event.js'

export type Verdict = 'pass' | 'fail' | 'error' | 'skip'
export type ClaimOutcome = 'holds' | 'refuted'

/** One expectation checked against what the kernel answered. */
export interface Check {
  step: string
  actor: string
  field: string
  expected: string
  observed: string
  ok: boolean
  /** true for a claim check (refutes a claim instead of failing the run) */
  claim: boolean
}

/** A probe output line that was not a valid event. */
export interface InvalidLine {
  actor: string
  raw: string
  problem: string
}

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
