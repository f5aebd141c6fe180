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
  /** the stored scenario version (scenarios.id) the result ran */
  scenario_id: number
}

/** One stored version of a scenario file; `body` is its JSON text. */
export interface ScenarioVersionRow {
  id: number
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

/**
 * Every result of every run, in no particular order. Rows come as arrays and
 * scenario names from the scenarios table once: better-sqlite3 building a
 * named object per row, and the join copying two names into each of 100,000
 * rows, were most of the report's load time on a large store.
 */
export function allResultRows(store: TraceStore): ReportResultRow[] {
  const names = new Map<number, { scenario: string; pack: string }>()
  for (const [id, scenario, pack] of store.db.prepare(`SELECT id, scenario, pack FROM scenarios`).raw().all() as Array<
    [number, string, string]
  >)
    names.set(id, { scenario, pack })
  const rows = store.db
    .prepare(`SELECT id, run_id, scenario_id, variant, attempt, verdict, claim, message FROM results`)
    .raw()
    .all() as Array<[number, number, number, string, number, string, string | null, string]>
  const out: ReportResultRow[] = []
  for (const [id, run_id, scenarioId, variant, attempt, verdict, claim, message] of rows) {
    const name = names.get(scenarioId)
    // a result always names a stored scenario (foreign key); a damaged store skips the row rather than invent one
    if (name)
      out.push({ id, run_id, scenario: name.scenario, pack: name.pack, variant, attempt, verdict, claim, message, scenario_id: scenarioId })
  }
  return out
}

/** Every stored scenario version, oldest first (so a map keyed by scenario keeps the newest); streamed. */
export function scenarioVersionRows(store: TraceStore): Iterable<ScenarioVersionRow> {
  return store.db.prepare(`SELECT id, scenario, pack, title, body FROM scenarios ORDER BY id`).iterate() as Iterable<ScenarioVersionRow>
}

/** A result's stderr and invalid-line columns by result id. */
export function resultExtrasReader(store: TraceStore): (resultId: number) => ResultExtrasRow | undefined {
  const st = store.db.prepare(`SELECT stderr, invalid FROM results WHERE id = ?`)
  return resultId => st.get(resultId) as ResultExtrasRow | undefined
}
