/**
 * One run's results with their traces, as compare needs them, read with
 * three bulk queries per run instead of two per result (what
 * compare/load-run.ts does): diff pages read a few hundred runs. The I/O
 * edge of the diff pages; the rows are the same as load-run.ts gives.
 */
import { summariseRun } from '../compare/load-run.js'
import type { RecordedResult, RunTraces } from '../compare/types.js'
import type { CheckRow, EventRow, RunRow, TraceStore } from '../store/store.js'
import type { ReportRun } from './model.js'

type Grouped<T> = T & { result_id: number }

/** Rows keep their result_id: copying thousands of rows per run without it costs more than it is worth. */
function groupByResult<T>(rows: Array<Grouped<T>>): Map<number, T[]> {
  const out = new Map<number, T[]>()
  for (const row of rows) {
    const list = out.get(row.result_id)
    if (list) list.push(row)
    else out.set(row.result_id, [row])
  }
  return out
}

export function runTracesReader(store: TraceStore): (run: ReportRun) => RunTraces {
  const db = store.db
  const runRow = db.prepare(`SELECT * FROM runs WHERE id = ?`)
  const results = db.prepare(
    `SELECT r.id AS resultId, s.scenario, s.hash, s.title, r.variant, r.attempt, r.verdict, r.claim, r.message
     FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.run_id = ? ORDER BY s.scenario, r.variant, r.attempt`,
  )
  const events = db.prepare(
    `SELECT e.result_id, e.idx, e.actor, e.seq, e.step, e.t_ns, e.dur_ns, e.op, e.sockets, e.ret, e.errno, e.mask, e.details
     FROM events e JOIN results r ON r.id = e.result_id WHERE r.run_id = ? ORDER BY e.result_id, e.idx`,
  )
  const checks = db.prepare(
    `SELECT c.result_id, c.idx, c.step, c.actor, c.field, c.expected, c.observed, c.verdict, c.claim
     FROM checks c JOIN results r ON r.id = c.result_id WHERE r.run_id = ? ORDER BY c.result_id, c.idx`,
  )
  return run => {
    const eventsOf = groupByResult(events.all(run.id) as Array<Grouped<EventRow>>)
    const checksOf = groupByResult(checks.all(run.id) as Array<Grouped<CheckRow>>)
    const rows = results.all(run.id) as Array<Omit<RecordedResult, 'events' | 'checks'>>
    return {
      run: summariseRun(runRow.get(run.id) as RunRow),
      results: rows.map(r => ({ ...r, events: eventsOf.get(r.resultId) ?? [], checks: checksOf.get(r.resultId) ?? [] })),
    }
  }
}
