/**
 * The trace store: one SQLite file (WAL, STRICT tables). Every result is
 * written in one transaction with all its events and checks, so an
 * interrupted run loses nothing already recorded.
 */
import { randomUUID } from 'node:crypto'
import { openSqlite } from '../deps/sqlite.js'
import type { SqliteDatabase } from '../deps/sqlite.js'
import { SockspecError } from '../errors.js'
import { formatMask } from '../expect/mask.js'
import type { ProbeEvent } from '../probe/event.js'
import type { ScenarioResult } from '../runner/result.js'
import type { Scenario } from '../scenario/types.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'

export interface RunInfo {
  uuid?: string
  host: string
  hostKind: string
  kernelRelease: string
  kernelVersion: string
  arch: string
  distro: string | undefined
  kitVersion: string
  kitCommit: string | undefined
  sysctls: Record<string, string>
  argv: string[]
  startedAt?: string
  /** Machines besides this one (ssh hosts, VMs): name -> facts. */
  hosts?: Record<string, { kind: string; address?: string; kernelRelease: string; kernelVersion: string; arch: string }>
}

export interface RunRow {
  id: number
  uuid: string
  host: string
  host_kind: string
  kernel_release: string
  kernel_version: string
  arch: string
  distro: string | null
  kit_version: string
  kit_commit: string | null
  sysctls: string
  argv: string
  started_at: string
  finished_at: string | null
  status: string
  hosts: string
}

export interface ResultRow {
  id: number
  run_id: number
  scenario: string
  pack: string
  title: string
  variant: string
  attempt: number
  verdict: string
  claim: string | null
  duration_ms: number
  message: string
  stderr: string
  invalid: string
}

export interface EventRow {
  idx: number
  actor: string
  seq: number
  step: string | null
  t_ns: number
  dur_ns: number | null
  op: string
  sockets: string | null
  ret: number | null
  errno: string | null
  mask: string | null
  details: string
}

export interface CheckRow {
  idx: number
  step: string
  actor: string
  field: string
  expected: string
  observed: string
  verdict: string
  claim: number
}

/** Bring a database to the current schema version. Refuses newer or foreign files. */
export function migrate(db: SqliteDatabase, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > SCHEMA_VERSION) {
    throw new SockspecError(
      'E_STORE',
      `${file}: store schema version ${version} is newer than this kit understands (${SCHEMA_VERSION}); upgrade sockspec`,
    )
  }
  if (version === 0) {
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number }
    if (tables.n > 0) throw new SockspecError('E_STORE', `${file}: not a sockspec trace store (it has tables but no schema version)`)
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}

function socketsOf(e: ProbeEvent): string | null {
  if (e.h && e.new) return `${e.h}>${e.new}`
  return e.h ?? e.new ?? null
}

function maskOf(e: ProbeEvent): string | null {
  const list = e.ready ?? e.revents
  if (!list) return null
  return list.length ? list.map(r => `${r.h}:${formatMask(r.events)}`).join(' ') : '-'
}

export class TraceStore {
  readonly db: SqliteDatabase
  readonly file: string

  private constructor(db: SqliteDatabase, file: string) {
    this.db = db
    this.file = file
  }

  static open(file: string, opts: { readonly?: boolean; mustExist?: boolean } = {}): TraceStore {
    let db: SqliteDatabase
    try {
      db = openSqlite(file, opts)
    } catch (err) {
      throw new SockspecError('E_STORE', `cannot open trace store ${file}: ${(err as Error).message}`)
    }
    try {
      if (opts.readonly) {
        const v = db.pragma('user_version', { simple: true }) as number
        if (v !== SCHEMA_VERSION) throw new SockspecError('E_STORE', `${file}: store schema version ${v}, expected ${SCHEMA_VERSION}`)
      } else migrate(db, file)
    } catch (err) {
      db.close()
      if (err instanceof SockspecError) throw err
      throw new SockspecError('E_STORE', `${file}: ${(err as Error).message}`)
    }
    return new TraceStore(db, file)
  }

  close(): void {
    this.db.close()
  }

  beginRun(info: RunInfo): { id: number; uuid: string } {
    const uuid = info.uuid ?? randomUUID()
    const r = this.db
      .prepare(
        `INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, status, hosts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
      )
      .run(
        uuid,
        info.host,
        info.hostKind,
        info.kernelRelease,
        info.kernelVersion,
        info.arch,
        info.distro ?? null,
        info.kitVersion,
        info.kitCommit ?? null,
        JSON.stringify(info.sysctls),
        JSON.stringify(info.argv),
        info.startedAt ?? new Date().toISOString(),
        JSON.stringify(info.hosts ?? {}),
      )
    return { id: Number(r.lastInsertRowid), uuid }
  }

  finishRun(runId: number, status: 'complete' | 'interrupted'): void {
    this.db.prepare(`UPDATE runs SET finished_at = ?, status = ? WHERE id = ?`).run(new Date().toISOString(), status, runId)
  }

  /** Scenario row for this content (same id and hash: same row). */
  scenarioId(s: Scenario): number {
    const row = this.db.prepare(`SELECT id FROM scenarios WHERE scenario = ? AND hash = ?`).get(s.id, s.hash) as { id: number } | undefined
    if (row) return row.id
    const { file: _f, stepPositions: _p, hash: _h, pack: _k, ...body } = s
    const r = this.db
      .prepare(`INSERT INTO scenarios (scenario, hash, pack, title, sources, claim, body) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(s.id, s.hash, s.pack, s.title, JSON.stringify(s.sources ?? []), s.claim?.id ?? null, JSON.stringify(body))
    return Number(r.lastInsertRowid)
  }

  /** Write one result with its events and checks, atomically. */
  recordResult(runId: number, result: ScenarioResult): number {
    return this.db.transaction(() => {
      const scenarioId = this.scenarioId(result.scenario)
      const r = this.db
        .prepare(
          `INSERT INTO results (run_id, scenario_id, variant, attempt, verdict, claim, duration_ms, message, stderr, kernels, invalid)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          runId,
          scenarioId,
          result.variant,
          result.attempt,
          result.verdict,
          result.claim ?? null,
          result.durationMs,
          result.message,
          JSON.stringify(result.stderr),
          JSON.stringify(result.kernels),
          JSON.stringify(result.invalid),
        )
      const resultId = Number(r.lastInsertRowid)
      // t_ns counts from the first event of the same clock (machines do not share one)
      const origins = new Map<string, number>()
      for (const { clock = 'local', event } of result.events) origins.set(clock, Math.min(origins.get(clock) ?? event.t0, event.t0))
      const insertEvent = this.db.prepare(
        `INSERT INTO events (result_id, idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      result.events.forEach(({ actor, event: e, clock = 'local' }, idx) => {
        const origin = origins.get(clock) ?? 0
        insertEvent.run(
          resultId,
          idx,
          actor,
          e.seq,
          e.step ?? null,
          e.t0 - origin,
          e.t1 !== undefined ? e.t1 - e.t0 : null,
          e.op,
          socketsOf(e),
          e.ret ?? null,
          e.errno ?? null,
          maskOf(e),
          JSON.stringify(e),
        )
      })
      const insertCheck = this.db.prepare(
        `INSERT INTO checks (result_id, idx, step, actor, field, expected, observed, verdict, claim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      result.checks.forEach((c, idx) => {
        insertCheck.run(resultId, idx, c.step, c.actor, c.field, c.expected, c.observed, c.ok ? 'pass' : 'fail', c.claim ? 1 : 0)
      })
      return resultId
    })()
  }

  runs(): RunRow[] {
    return this.db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, id DESC`).all() as RunRow[]
  }

  run(ref: string): RunRow | undefined {
    if (ref === 'latest' || ref === 'last')
      return this.db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT 1`).get() as RunRow | undefined
    // A short number is a run id, never a uuid prefix (compare 1 2 must not
    // pick a uuid starting with 2); a long one may be an all-digit uuid prefix.
    if (/^\d+$/.test(ref)) {
      const byId = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(Number(ref)) as RunRow | undefined
      if (byId || ref.length < 6) return byId
    }
    const rows = this.db.prepare(`SELECT * FROM runs WHERE uuid LIKE ? ORDER BY id`).all(`${ref}%`) as RunRow[]
    if (rows.length > 1) throw new SockspecError('E_USAGE', `run '${ref}' is ambiguous (${rows.length} runs match)`)
    return rows[0]
  }

  results(runId: number): ResultRow[] {
    return this.db
      .prepare(
        `SELECT r.id, r.run_id, s.scenario, s.pack, s.title, r.variant, r.attempt, r.verdict, r.claim, r.duration_ms, r.message, r.stderr, r.invalid
         FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.run_id = ? ORDER BY s.scenario, r.variant, r.attempt`,
      )
      .all(runId) as ResultRow[]
  }

  events(resultId: number): EventRow[] {
    return this.db
      .prepare(
        `SELECT idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask, details FROM events WHERE result_id = ? ORDER BY idx`,
      )
      .all(resultId) as EventRow[]
  }

  checks(resultId: number): CheckRow[] {
    return this.db
      .prepare(`SELECT idx, step, actor, field, expected, observed, verdict, claim FROM checks WHERE result_id = ? ORDER BY idx`)
      .all(resultId) as CheckRow[]
  }

  scenarioBody(resultId: number): Record<string, unknown> | undefined {
    const row = this.db.prepare(`SELECT s.body FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.id = ?`).get(resultId) as
      { body: string } | undefined
    return row ? (JSON.parse(row.body) as Record<string, unknown>) : undefined
  }

  /** Duration of the latest recorded result per scenario id: for scheduling longest first. */
  lastDurations(): Map<string, number> {
    const rows = this.db
      .prepare(
        `SELECT s.scenario AS scenario, max(r.duration_ms) AS ms FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.verdict != 'skip' GROUP BY s.scenario`,
      )
      .all() as Array<{ scenario: string; ms: number }>
    return new Map(rows.map(r => [r.scenario, r.ms]))
  }
}
