/**
 * Read runs' results from a store (the I/O edge of compare and of the
 * report's diff pages): per run, its results with their signatures and its
 * failed checks (store/run-results.ts); a result's events only when a
 * pair's signatures differ. Results stored without a current signature
 * (older stores) get theirs computed from their trace here, once per load.
 */
import { runResultReader } from '../store/run-results.js'
import type { CheckRow, RunRow, TraceStore } from '../store/store.js'
import { isCurrentSignature, signatureOfRows } from './signature.js'
import type { CheckSummary, RunSummary, RunTraces, TraceReader, TraceRows, Verdict } from './types.js'

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

export interface RunLoader {
  /** One run's results, without traces. */
  load(run: RunRow): RunTraces
  /** One result's trace. */
  read: TraceReader
}

export function runLoader(store: TraceStore): RunLoader {
  const rows = runResultReader(store)
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
    for (const c of rows.failedChecks(run.id)) {
      const { result_id, ...check } = c
      const list = failedOf.get(result_id)
      if (list) list.push(check)
      else failedOf.set(result_id, [check])
    }
    return {
      run: summariseRun(run),
      results: rows.results(run.id).map(r => {
        let signature = r.signature
        if (!isCurrentSignature(signature)) {
          const t = read(r.resultId)
          signature = signatureOfRows(t.events, t.checks as CheckRow[])
        }
        return { ...r, verdict: r.verdict as Verdict, signature, failedChecks: failedOf.get(r.resultId) ?? [] }
      }),
    }
  }
  return { load, read }
}

/** One run, loaded as above. */
export function loadRunTraces(store: TraceStore, run: RunRow): RunTraces {
  return runLoader(store).load(run)
}
