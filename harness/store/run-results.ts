/**
 * A run's results as compare reads them: one query for its results with
 * their signatures (no traces), one for its failed checks. Both statements
 * are prepared once per reader: compare --baseline calls them for every run.
 */
import type { TraceStore } from './store.js'

/** One result of a run, without its trace; `signature` is null or stale in older stores. */
export interface RunResultRow {
  resultId: number
  scenario: string
  hash: string
  title: string
  variant: string
  attempt: number
  verdict: string
  claim: string | null
  message: string
  signature: string | null
}

/** A failed check of a result of a run, in the result's check order. */
export interface FailedCheckRow {
  result_id: number
  step: string
  actor: string
  field: string
  expected: string
  observed: string
}

export interface RunResultReader {
  /** Ordered by scenario, variant, attempt. */
  results(runId: number): RunResultRow[]
  /** Ordered by result id, then check index. */
  failedChecks(runId: number): FailedCheckRow[]
}

export function runResultReader(store: TraceStore): RunResultReader {
  const results = store.db.prepare(
    `SELECT r.id AS resultId, s.scenario, s.hash, s.title, r.variant, r.attempt, r.verdict, r.claim, r.message, r.signature
     FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.run_id = ? ORDER BY s.scenario, r.variant, r.attempt`,
  )
  // failed_checks lets results without a failed check skip the traces row
  const failed = store.db.prepare(
    `SELECT c.result_id, c.step, c.actor, c.field, c.expected, c.observed
     FROM results r JOIN checks c ON c.result_id = r.id
     WHERE r.run_id = ? AND r.failed_checks > 0 AND c.verdict = 'fail' ORDER BY c.result_id, c.idx`,
  )
  return {
    results: runId => results.all(runId) as RunResultRow[],
    failedChecks: runId => failed.all(runId) as FailedCheckRow[],
  }
}
