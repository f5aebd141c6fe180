/** Read one run of a store as a run bundle. */
import type { SqliteDatabase } from '../deps/sqlite.js'
import { BUNDLE_FORMAT, BUNDLE_VERSION } from './run-bundle.js'
import type { BundleCheck, BundleEvent, BundleResult, BundleRun, BundleScenario, RunBundle } from './run-bundle.js'
import type { CheckRow, EventRow, RunRow } from './store.js'
import { decodeChecks, decodeEvents } from './store.js'

interface ScenarioRow {
  scenario: string
  hash: string
  pack: string
  title: string
  sources: string
  claim: number | null
  body: string
}

interface ResultJoinRow {
  id: number
  scenario: string
  hash: string
  variant: string
  attempt: number
  verdict: BundleResult['verdict']
  claim: BundleResult['claim']
  duration_ms: number
  message: string
  stderr: string
  kernels: string
  invalid: string
}

const parse = <T>(text: string): T => JSON.parse(text) as T

export function bundleRun(run: RunRow): BundleRun {
  return {
    uuid: run.uuid,
    host: run.host,
    host_kind: run.host_kind,
    kernel_release: run.kernel_release,
    kernel_version: run.kernel_version,
    arch: run.arch,
    distro: run.distro,
    kit_version: run.kit_version,
    kit_commit: run.kit_commit,
    sysctls: parse(run.sysctls),
    argv: parse(run.argv),
    started_at: run.started_at,
    finished_at: run.finished_at,
    status: run.status as BundleRun['status'],
    hosts: parse(run.hosts),
    ...(run.reason !== null && run.reason !== undefined ? { reason: run.reason } : {}),
  }
}

export function exportRunBundle(db: SqliteDatabase, run: RunRow): RunBundle {
  const scenarios = (
    db
      .prepare(
        `SELECT s.scenario, s.hash, s.pack, s.title, s.sources, s.claim, s.body FROM scenarios s
         WHERE s.id IN (SELECT scenario_id FROM results WHERE run_id = ?) ORDER BY s.scenario, s.hash`,
      )
      .all(run.id) as ScenarioRow[]
  ).map((s): BundleScenario => ({ ...s, sources: parse(s.sources), body: parse(s.body) }))
  const rows = db
    .prepare(
      `SELECT r.id, s.scenario, s.hash, r.variant, r.attempt, r.verdict, r.claim, r.duration_ms, r.message, r.stderr, r.kernels, r.invalid
       FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.run_id = ? ORDER BY s.scenario, r.variant, r.attempt, s.hash`,
    )
    .all(run.id) as ResultJoinRow[]
  const traceOf = db.prepare(`SELECT checks, events FROM traces WHERE result_id = ?`)
  const read = (id: number): { events: EventRow[]; checks: CheckRow[] } => {
    const row = traceOf.get(id) as { checks: string; events: string } | undefined
    return row ? { events: decodeEvents(row.events), checks: decodeChecks(row.checks) } : { events: [], checks: [] }
  }
  const results = rows.map(({ id, stderr, kernels, invalid, ...r }): BundleResult => {
    const trace = read(id)
    return {
      ...r,
      stderr: parse(stderr),
      kernels: parse(kernels),
      invalid: parse(invalid),
      events: trace.events.map((e): BundleEvent => ({ ...e, details: parse(e.details) })),
      checks: trace.checks.map((c): BundleCheck => ({ ...c, verdict: c.verdict as BundleCheck['verdict'] })),
    }
  })
  return { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, run: bundleRun(run), scenarios, results }
}
