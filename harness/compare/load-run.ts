/** Read one run's results with their traces from a store (the I/O edge of compare). */
import type { RunRow, TraceStore } from '../store/store.js'
import type { RecordedResult, RunSummary, RunTraces } from './types.js'

export function summariseRun(run: RunRow): RunSummary {
  return {
    id: run.id,
    uuid: run.uuid,
    host: run.host,
    kernelRelease: run.kernel_release,
    kernelVersion: run.kernel_version,
    arch: run.arch,
    distro: run.distro,
    startedAt: run.started_at,
    status: run.status,
  }
}

/** A result row as selected below: RecordedResult without its trace, keyed by the row id. */
type ResultWithHash = Omit<RecordedResult, 'resultId' | 'events' | 'checks'> & { id: number }

export function loadRunTraces(store: TraceStore, run: RunRow): RunTraces {
  const rows = store.db
    .prepare(
      `SELECT r.id, s.scenario, s.hash, s.title, r.variant, r.attempt, r.verdict, r.claim, r.message
       FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.run_id = ? ORDER BY s.scenario, r.variant, r.attempt`,
    )
    .all(run.id) as ResultWithHash[]
  const results: RecordedResult[] = rows.map(r => ({
    resultId: r.id,
    scenario: r.scenario,
    hash: r.hash,
    title: r.title,
    variant: r.variant,
    attempt: r.attempt,
    verdict: r.verdict,
    claim: r.claim,
    message: r.message,
    events: store.events(r.id),
    checks: store.checks(r.id),
  }))
  return { run: summariseRun(run), results }
}
