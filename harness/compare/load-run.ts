/**
 * Read runs' results from a store (the I/O edge of compare and of the
 * report's diff pages): per run, one query for its results with their
 * signatures and one for its failed checks; a result's events only when a
 * pair's signatures differ. Results stored without a current signature
 * (older stores) get theirs computed from their trace here, once per load.
 */
import type { CheckRow, RunRow, TraceStore } from '../store/store.js'
import { isCurrentSignature, signatureOfRows } from './signature.js'
import type { CheckSummary, RecordedResult, RunSummary, RunTraces, TraceReader, TraceRows } from './types.js'

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

type ResultRow = Omit<RecordedResult, 'signature' | 'failedChecks'> & { signature: string | null }

export interface RunLoader {
  /** One run's results, without traces. */
  load(run: RunRow): RunTraces
  /** One result's trace. */
  read: TraceReader
}

export function runLoader(store: TraceStore): RunLoader {
  const db = store.db
  const results = db.prepare(
    `SELECT r.id AS resultId, s.scenario, s.hash, s.title, r.variant, r.attempt, r.verdict, r.claim, r.message, r.signature
     FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.run_id = ? ORDER BY s.scenario, r.variant, r.attempt`,
  )
  const failed = db.prepare(
    `SELECT c.result_id, c.step, c.actor, c.field, c.expected, c.observed
     FROM results r JOIN checks c ON c.result_id = r.id
     WHERE r.run_id = ? AND r.failed_checks > 0 AND c.verdict = 'fail' ORDER BY c.result_id, c.idx`,
  )
  // the last few hundred traces read stay: a baseline's differing results are read again for every run
  const recent = new Map<number, TraceRows>()
  const read: TraceReader = (resultId: number): TraceRows => {
    let t = recent.get(resultId)
    if (t) recent.delete(resultId)
    else {
      t = store.trace(resultId)
      if (recent.size >= 256) recent.delete(recent.keys().next().value!)
    }
    recent.set(resultId, t)
    return t
  }
  const load = (run: RunRow): RunTraces => {
    const failedOf = new Map<number, CheckSummary[]>()
    for (const c of failed.all(run.id) as Array<CheckSummary & { result_id: number }>) {
      const { result_id, ...check } = c
      const list = failedOf.get(result_id)
      if (list) list.push(check)
      else failedOf.set(result_id, [check])
    }
    const rows = results.all(run.id) as ResultRow[]
    return {
      run: summariseRun(run),
      results: rows.map(r => {
        let signature = r.signature
        if (!isCurrentSignature(signature)) {
          const t = read(r.resultId)
          signature = signatureOfRows(t.events, t.checks as CheckRow[])
        }
        return { ...r, signature, failedChecks: failedOf.get(r.resultId) ?? [] }
      }),
    }
  }
  return { load, read }
}

/** One run, loaded as above. */
export function loadRunTraces(store: TraceStore, run: RunRow): RunTraces {
  return runLoader(store).load(run)
}
