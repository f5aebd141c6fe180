/**
 * The report's bulk reads: every result (without traces) and every stored
 * scenario version in one query each, and a per-result reader for the
 * columns only a trace page needs, so a large store is never loaded whole.
 */
import type { TraceStore } from './store.js'

/** A result as the report's index and matrix need it. */
export interface ReportResultRow {
  id: number
  run_id: number
  scenario: string
  pack: string
  variant: string
  attempt: number
  verdict: string
  claim: string | null
  message: string
}

/** One stored version of a scenario file; `body` is its JSON text. */
export interface ScenarioVersionRow {
  scenario: string
  pack: string
  title: string
  body: string
}

/** A result's JSON text columns that trace pages show. */
export interface ResultExtrasRow {
  stderr: string
  invalid: string
}

/** Every result of every run, in no particular order. */
export function allResultRows(store: TraceStore): ReportResultRow[] {
  return store.db
    .prepare(
      `SELECT r.id, r.run_id, s.scenario, s.pack, r.variant, r.attempt, r.verdict, r.claim, r.message
       FROM results r JOIN scenarios s ON s.id = r.scenario_id`,
    )
    .all() as ReportResultRow[]
}

/** Every stored scenario version, oldest first (so a map keyed by scenario keeps the newest); streamed. */
export function scenarioVersionRows(store: TraceStore): Iterable<ScenarioVersionRow> {
  return store.db.prepare(`SELECT scenario, pack, title, body FROM scenarios ORDER BY id`).iterate() as Iterable<ScenarioVersionRow>
}

/** A result's stderr and invalid-line columns by result id. */
export function resultExtrasReader(store: TraceStore): (resultId: number) => ResultExtrasRow | undefined {
  const st = store.db.prepare(`SELECT stderr, invalid FROM results WHERE id = ?`)
  return resultId => st.get(resultId) as ResultExtrasRow | undefined
}
