/**
 * The I/O edge of the diff pages: runs' results as compare loads them
 * (compare/load-run.ts: results with their signatures, no traces), and a
 * reader for the traces of the few pairs that differ.
 */
import { runLoader } from '../compare/load-run.js'
import type { RunTraces, TraceReader } from '../compare/types.js'
import { runByIdReader } from '../store/run-lookup.js'
import type { RunRow, TraceStore } from '../store/store.js'
import type { ReportRun } from './model.js'

export interface RunTraceSource {
  load(run: ReportRun): RunTraces
  read: TraceReader
  /** A result's stored scenario: compare's answer summary and `expected` label need its steps. */
  scenarioBody?: (resultId: number) => Record<string, unknown> | undefined
}

export function runTracesReader(store: TraceStore): RunTraceSource {
  const runRow = runByIdReader(store)
  const loader = runLoader(store)
  return { load: run => loader.load(runRow(run.id) as RunRow), read: loader.read, scenarioBody: id => store.scenarioBody(id) }
}
