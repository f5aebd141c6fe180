/**
 * The report's I/O edge on the store side: a few bulk queries for runs,
 * results and scenarios, and a per-result reader for traces, so a large
 * store is never loaded whole.
 */
import type { TraceStore } from '../store/store.js'
import type { ReportData, ReportResult, ReportRun, ReportScenario, ResultTrace, TraceSource } from './model.js'
import { asVerdict, emptyCounts } from './palette.js'
import type { ClaimOutcome, InvalidLine } from '../trace/result.js'

interface RunRecord {
  id: number
  uuid: string
  host: string
  host_kind: string
  kernel_release: string
  arch: string
  distro: string | null
  kit_version: string
  kit_commit: string | null
  started_at: string
  status: string
}

interface ResultRecord {
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

export function loadReportData(store: TraceStore, now = new Date()): ReportData {
  const db = store.db
  const runs: ReportRun[] = (db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, id DESC`).all() as RunRecord[]).map(r => ({
    id: r.id,
    uuid: r.uuid,
    host: r.host,
    hostKind: r.host_kind,
    kernel: r.kernel_release,
    arch: r.arch,
    distro: r.distro,
    kitVersion: r.kit_version,
    kitCommit: r.kit_commit,
    startedAt: r.started_at,
    status: r.status,
    counts: emptyCounts(),
  }))
  const runById = new Map(runs.map(r => [r.id, r]))
  const results: ReportResult[] = (
    db
      .prepare(
        `SELECT r.id, r.run_id, s.scenario, s.pack, r.variant, r.attempt, r.verdict, r.claim, r.message
         FROM results r JOIN scenarios s ON s.id = r.scenario_id`,
      )
      .all() as ResultRecord[]
  ).map(r => ({
    id: r.id,
    runId: r.run_id,
    scenario: r.scenario,
    pack: r.pack,
    variant: r.variant,
    attempt: r.attempt,
    verdict: asVerdict(r.verdict),
    claim: r.claim === 'holds' || r.claim === 'refuted' ? (r.claim as ClaimOutcome) : null,
    message: r.message,
  }))
  for (const r of results) {
    const run = runById.get(r.runId)
    if (run) run.counts[r.verdict]++
  }
  const scenarios = new Map<string, ReportScenario>()
  // newest version last, so it wins
  for (const s of db.prepare(`SELECT scenario, pack, title, body FROM scenarios ORDER BY id`).iterate() as Iterable<{
    scenario: string
    pack: string
    title: string
    body: string
  }>) {
    scenarios.set(s.scenario, { id: s.scenario, pack: s.pack, title: s.title, doc: JSON.parse(s.body) as ReportScenario['doc'] })
  }
  return { generatedAt: now.toISOString(), runs, results, scenarios }
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
  const extra = store.db.prepare(`SELECT stderr, invalid FROM results WHERE id = ?`)
  return (result: ReportResult): ResultTrace => {
    const row = extra.get(result.id) as { stderr: string; invalid: string } | undefined
    return {
      result,
      run: runById.get(result.runId)!,
      ...store.trace(result.id),
      stderr: parseJson<Record<string, string>>(row?.stderr ?? '{}', {}),
      invalid: parseJson<InvalidLine[]>(row?.invalid ?? '[]', []),
    }
  }
}
