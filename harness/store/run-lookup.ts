/**
 * Per-run reads that callers repeat for many runs (the report's diff pages,
 * `sockspec runs`): each statement prepared once per reader.
 */
import type { RunRow, TraceStore } from './store.js'

export interface VerdictCountRow {
  verdict: string
  n: number
}

/** A run's row by id. */
export function runByIdReader(store: TraceStore): (runId: number) => RunRow | undefined {
  const st = store.db.prepare(`SELECT * FROM runs WHERE id = ?`)
  return runId => st.get(runId) as RunRow | undefined
}

/** How many results of a run have each verdict (verdicts without results are absent). */
export function verdictCountsReader(store: TraceStore): (runId: number) => VerdictCountRow[] {
  const st = store.db.prepare(`SELECT verdict, count(*) AS n FROM results WHERE run_id = ? GROUP BY verdict`)
  return runId => st.all(runId) as VerdictCountRow[]
}
