/**
 * The trace store: one SQLite file (WAL, STRICT tables). Every result is
 * written in one transaction with all its events and checks, so an
 * interrupted run loses nothing already recorded.
 */
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { openSqliteFile, sqliteCode, writeTransaction } from '../deps/sqlite.js'
import type { SqliteDatabase } from '../deps/sqlite.js'
import { liveBeaconToken } from '../hosts/netns.js'
import { SockspecError } from '../errors.js'
import { formatMask } from '../expect/mask.js'
import type { ProbeEvent } from '../probe/event.js'
import type { ScenarioResult } from '../runner/result.js'
import type { Scenario } from '../scenario/types.js'
import { listeningBeacons, thisLiveness } from './liveness.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'

/**
 * A failure of the store as one line naming the file (exit 2): SQLite errors
 * (locked, malformed, missing table, full disk) and damaged JSON columns.
 * Anything else is a kit bug and stays what it is.
 */
export function storeError(file: string, err: unknown): unknown {
  if (err instanceof SockspecError) return err
  const code = sqliteCode(err)
  const message = (err as Error | undefined)?.message ?? String(err)
  if (code === 'SQLITE_FULL') return new SockspecError('E_STORE', `${file}: disk full, the trace store cannot grow (${message})`)
  if (code) return new SockspecError('E_STORE', `${file}: trace store failure: ${message} (${code})`)
  if (err instanceof SyntaxError)
    return new SockspecError('E_STORE', `${file}: damaged trace store: a JSON column does not parse (${message})`)
  return err
}

/** Run a command's body on a store; store failures become one line naming the file. */
export function withStoreErrors<T>(file: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw storeError(file, err)
  }
}

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
  hosts?: Record<
    string,
    {
      kind: string
      address?: string
      kernelRelease: string
      kernelVersion: string
      arch: string
      /** a vm guest's kernel package: name, Debian version, sha256 of the .deb holding vmlinuz, every .deb it came from */
      package?: string
      packageVersion?: string
      sha256?: string
      debs?: Array<{ package: string; version: string; sha256: string }>
    }
  >
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
  /** why an aborted run ended (schema 3) */
  reason: string | null
  beacon: string | null
  boot_id: string | null
  net_ns: string | null
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

function checkVersion(db: SqliteDatabase, file: string): number {
  const version = db.pragma('user_version', { simple: true }) as number
  if (!Number.isInteger(version) || version < 0)
    throw new SockspecError('E_STORE', `${file}: not a sockspec trace store (schema version ${String(version)})`)
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
  return version
}

/**
 * Bring a database to the current schema version. Refuses newer or foreign
 * files. Several processes may open a new store at once (CI legs): the
 * version is read again under the write lock, so only one migrates.
 */
export function migrate(db: SqliteDatabase, file: string): void {
  if (checkVersion(db, file) === SCHEMA_VERSION) return
  // a table rebuild must not cascade deletes; the pragma is a no-op inside a transaction
  db.pragma('foreign_keys = OFF')
  try {
    writeTransaction(db, () => {
      for (let v = checkVersion(db, file); v < SCHEMA_VERSION; v++) {
        db.exec(MIGRATIONS[v]!)
        db.pragma(`user_version = ${v + 1}`)
      }
      const broken = db.pragma('foreign_key_check') as unknown[]
      if (broken.length)
        throw new SockspecError('E_STORE', `${file}: migration left ${broken.length} dangling reference(s); store unchanged`)
    })
  } finally {
    db.pragma('foreign_keys = ON')
  }
}

/** Runs still `running` that were written in this boot and network namespace by a process that is gone. */
export function deadRuns(db: SqliteDatabase): number[] {
  const here = thisLiveness()
  if (!here) return []
  const running = db
    .prepare(`SELECT id, beacon FROM runs WHERE status = 'running' AND beacon IS NOT NULL AND boot_id = ? AND net_ns = ?`)
    .all(here.bootId, here.netNs) as Array<{ id: number; beacon: string }>
  if (!running.length) return []
  const alive = listeningBeacons()
  return running.filter(r => !alive.has(r.beacon)).map(r => r.id)
}

/**
 * Mark the runs of this boot and network namespace whose writer is gone
 * (killed, crashed) as aborted; returns their ids. Runs of other machines,
 * boots or namespaces are never touched.
 */
export function reapDeadRuns(db: SqliteDatabase): number[] {
  const dead = deadRuns(db)
  if (!dead.length) return []
  const mark = db.prepare(
    `UPDATE runs SET status = 'aborted', finished_at = ?, reason = coalesce(reason, ?) WHERE id = ? AND status = 'running'`,
  )
  const now = new Date().toISOString()
  writeTransaction(db, () => {
    for (const id of dead) mark.run(now, 'the run process died (killed, crashed or its stdout closed) before it finished', id)
  })
  return dead
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

const STORE_TABLES = ['runs', 'scenarios', 'results', 'events', 'checks']

export class TraceStore {
  readonly db: SqliteDatabase
  readonly file: string

  static open(file: string, opts: { readonly?: boolean; mustExist?: boolean; copy?: boolean } = {}): TraceStore {
    let db: SqliteDatabase
    let copyDir: string | undefined
    try {
      ;({ db, copyDir } = openSqliteFile(file, opts))
    } catch (err) {
      const code = sqliteCode(err)
      throw new SockspecError('E_STORE', `cannot open trace store ${file}: ${(err as Error).message}${code ? ` (${code})` : ''}`)
    }
    const store = new TraceStore(db, file, copyDir)
    try {
      if (opts.readonly && !copyDir) {
        const v = checkVersion(db, file)
        if (v < SCHEMA_VERSION) {
          // an older store: bring it up to date when the file can be written, else refuse
          store.withWriter(w => migrate(w, file))
          if ((db.pragma('user_version', { simple: true }) as number) !== SCHEMA_VERSION) {
            // cannot be written (read-only media): read a migrated private copy
            store.close()
            return TraceStore.open(file, { ...opts, copy: true })
          }
        }
        if (deadRuns(db).length) store.withWriter(w => void store.aborted.push(...reapDeadRuns(w)))
      } else {
        migrate(db, file)
        store.aborted.push(...reapDeadRuns(db))
      }
      const tables = new Set(
        (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map(r => r.name),
      )
      const missing = STORE_TABLES.filter(t => !tables.has(t))
      if (missing.length) throw new SockspecError('E_STORE', `${file}: damaged trace store: table(s) ${missing.join(', ')} missing`)
    } catch (err) {
      store.close()
      throw storeError(file, err)
    }
    return store
  }

  private constructor(db: SqliteDatabase, file: string, copyDir?: string) {
    this.db = db
    this.file = file
    this.copyDir = copyDir
  }

  private readonly copyDir: string | undefined
  /** Runs this open found dead and marked aborted. */
  readonly aborted: number[] = []

  /** A short-lived write connection next to a read-only one; skipped quietly when the file cannot be written. */
  private withWriter(fn: (w: SqliteDatabase) => void): void {
    let w: SqliteDatabase | undefined
    try {
      w = openSqliteFile(this.file, { mustExist: true }).db
    } catch {
      return
    }
    try {
      fn(w)
    } catch (err) {
      const code = sqliteCode(err) ?? ''
      if (!code.startsWith('SQLITE_READONLY') && !code.startsWith('SQLITE_CANTOPEN') && code !== 'SQLITE_PERM') throw err
    } finally {
      w.close()
    }
  }

  close(): void {
    if (this.db.open) this.db.close()
    if (this.copyDir) rmSync(this.copyDir, { recursive: true, force: true })
  }

  /**
   * Record a new run as `running`. When this process holds its beacon
   * (hosts/netns.ts ensureBeacon), the run carries the token, the boot id and
   * the network namespace, so a later open can tell when its writer died.
   */
  beginRun(info: RunInfo): { id: number; uuid: string } {
    const uuid = info.uuid ?? randomUUID()
    const beacon = liveBeaconToken()
    const here = beacon ? thisLiveness() : null
    const insert = this.db.prepare(
      `INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, status, hosts, beacon, boot_id, net_ns)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
    )
    const r = writeTransaction(this.db, () =>
      insert.run(
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
        here ? beacon : null,
        here?.bootId ?? null,
        here?.netNs ?? null,
      ),
    )
    return { id: Number(r.lastInsertRowid), uuid }
  }

  finishRun(runId: number, status: 'complete' | 'interrupted'): void {
    const update = this.db.prepare(`UPDATE runs SET finished_at = ?, status = ? WHERE id = ?`)
    writeTransaction(this.db, () => update.run(new Date().toISOString(), status, runId))
  }

  /** The run ended by a failure (internal error, full disk, closed stdout): what was recorded stays. */
  abortRun(runId: number, reason: string): void {
    const update = this.db.prepare(`UPDATE runs SET finished_at = ?, status = 'aborted', reason = ? WHERE id = ? AND status = 'running'`)
    writeTransaction(this.db, () => update.run(new Date().toISOString(), reason.slice(0, 2000), runId))
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
    return writeTransaction(this.db, () => {
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
    })
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
