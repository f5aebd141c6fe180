/**
 * The report's I/O edge on the store side: the bulk reads of runs, results
 * and scenarios (store/report-rows.ts) turned into the report's model, and
 * a per-result reader for traces, so a large store is never loaded whole.
 */
import { allResultRows, resultExtrasReader, scenarioVersionRows } from '../store/report-rows.js'
import type { TraceStore } from '../store/store.js'
import type { ReportData, ReportResult, ReportRun, ReportScenario, ResultTrace, TraceSource } from './model.js'
import { asVerdict, emptyCounts } from './palette.js'
import type { ClaimOutcome, InvalidLine } from '../trace/result.js'

export function loadReportData(store: TraceStore, now = new Date()): ReportData {
  const runs: ReportRun[] = store.runs().map(r => ({
    id: r.id,
    uuid: r.uuid,
    host: r.host,
    hostKind: r.host_kind,
    kernel: r.kernel_release,
    kernelVersion: r.kernel_version,
    arch: r.arch,
    distro: r.distro,
    kitVersion: r.kit_version,
    kitCommit: r.kit_commit,
    startedAt: r.started_at,
    status: r.status,
    counts: emptyCounts(),
    sysctls: parseJson<Record<string, string>>(r.sysctls, {}),
  }))
  const runById = new Map(runs.map(r => [r.id, r]))
  const results: ReportResult[] = allResultRows(store).map(r => ({
    id: r.id,
    runId: r.run_id,
    scenario: r.scenario,
    pack: r.pack,
    variant: r.variant,
    attempt: r.attempt,
    verdict: asVerdict(r.verdict),
    claim: r.claim === 'holds' || r.claim === 'refuted' ? (r.claim as ClaimOutcome) : null,
    message: r.message,
    scenarioVersion: r.scenario_id,
  }))
  for (const r of results) {
    const run = runById.get(r.runId)
    if (run) run.counts[r.verdict]++
  }
  const scenarios = new Map<string, ReportScenario>()
  const scenarioVersions = new Map<number, ReportScenario>()
  // newest version last, so it wins
  for (const s of scenarioVersionRows(store)) {
    const version: ReportScenario = { id: s.scenario, pack: s.pack, title: s.title, doc: JSON.parse(s.body) as ReportScenario['doc'] }
    scenarios.set(s.scenario, version)
    scenarioVersions.set(s.id, version)
  }
  return { generatedAt: now.toISOString(), runs, results, scenarios, scenarioVersions }
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T
  } catch {
    return fallback
  }
}

export function traceSource(store: TraceStore, data: ReportData): TraceSource {
  const runById = new Map(data.runs.map(r => [r.id, r]))
  const extra = resultExtrasReader(store)
  return (result: ReportResult): ResultTrace => {
    const row = extra(result.id)
    return {
      result,
      run: runById.get(result.runId)!,
      ...store.trace(result.id),
      stderr: parseJson<Record<string, string>>(row?.stderr ?? '{}', {}),
      invalid: parseJson<InvalidLine[]>(row?.invalid ?? '[]', []),
    }
  }
}
