/**
 * The trace store: one SQLite file (WAL, STRICT tables). A result is written
 * whole (its row, its events as one `traces` row, its checks) or not at all.
 * A run queues its results (queueResult) and they are committed in short
 * batches: at once when nothing was committed for a commit window, else when
 * the window ends or the batch is full, and always before the run is marked
 * finished or aborted and at process exit. A kill -9 loses at most one
 * window, and the next open marks that run aborted (liveness.ts). Once a
 * store has written a few MB, WAL checkpoints run in a worker thread
 * (checkpointer.ts), so commits do not wait for the disk.
 */
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { openSqliteFile, sqliteCode, writeTransaction } from '../deps/sqlite.js'
import type { SqliteDatabase } from '../deps/sqlite.js'
import type { Statement } from 'better-sqlite3'
import { liveBeaconToken } from '../hosts/netns.js'
import { SockspecError } from '../errors.js'
import { formatMask } from '../expect/mask.js'
import type { ProbeEvent } from '../trace/event.js'
import { rawLineOf } from '../trace/raw-line.js'
import type { ScenarioResult } from '../trace/result.js'
import type { Scenario } from '../scenario/types.js'
import { listeningBeacons, thisLiveness } from './liveness.js'
import { Checkpointer } from './checkpointer.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'
import { SignatureBuilder } from '../compare/signature.js'

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
      /** the upstream x.y.z kernel ranges were resolved against, when the version string names one */
      kernelUpstream?: string
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

/** One stored event as `traces` rows written under schema 4 hold it (migrations.ts); import-bundle still writes these. */
type EventTuple = [
  idx: number,
  actor: string,
  seq: number,
  step: string | null,
  t_ns: number,
  dur_ns: number | null,
  op: string,
  sockets: string | null,
  ret: number | null,
  errno: string | null,
  mask: string | null,
  details: unknown,
]

/** One stored check as the `traces` row holds it. */
type CheckTuple = [
  idx: number,
  step: string,
  actor: string,
  field: string,
  expected: string,
  observed: string,
  verdict: string,
  claim: number,
]

/** A result's events as the text of its `traces` row; `details` is the raw event object (not a string in a string). */
export function encodeEvents(rows: ReadonlyArray<Omit<EventRow, 'details'> & { details: unknown }>): string {
  return JSON.stringify(
    rows.map((e): EventTuple => [e.idx, e.actor, e.seq, e.step, e.t_ns, e.dur_ns, e.op, e.sockets, e.ret, e.errno, e.mask, e.details]),
  )
}

/**
 * A result's events as schema-5 text ([actor, event] entries, [actor, event, clock] for each further clock),
 * when reading that text back gives exactly these rows: idx their position, every derived column (t_ns,
 * dur_ns, sockets, mask, ...) what the event yields. Otherwise undefined, and encodeEvents writes the rows
 * as they are. A bundle carries no clock names: events whose t0 - t_ns agree share a clock.
 */
export function encodeEntries(rows: ReadonlyArray<Omit<EventRow, 'details'> & { details: unknown }>): string | undefined {
  const clocks = new Map<number, string>()
  const entries: EventEntry[] = []
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    const e = r.details as ProbeEvent | null
    if (r.idx !== i || !e || typeof e !== 'object' || typeof e.t0 !== 'number') return undefined
    const origin = e.t0 - r.t_ns
    let clock = clocks.get(origin)
    if (clock === undefined) {
      clock = clocks.size ? `clock-${clocks.size}` : 'local'
      clocks.set(origin, clock)
    }
    entries.push(clock === 'local' ? [r.actor, e] : [r.actor, e, clock])
  }
  let back: EventRow[]
  try {
    back = rowsOfEntries(entries)
  } catch {
    return undefined
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    const b = back[i]!
    if (
      b.actor !== r.actor ||
      b.seq !== r.seq ||
      b.step !== r.step ||
      b.t_ns !== r.t_ns ||
      b.dur_ns !== r.dur_ns ||
      b.op !== r.op ||
      b.sockets !== r.sockets ||
      b.ret !== r.ret ||
      b.errno !== r.errno ||
      b.mask !== r.mask
    )
      return undefined
  }
  return JSON.stringify(entries)
}

export function encodeChecks(rows: readonly CheckRow[]): string {
  return JSON.stringify(rows.map((c): CheckTuple => [c.idx, c.step, c.actor, c.field, c.expected, c.observed, c.verdict, c.claim]))
}

/** The tuples of a traces column; anything else is a damaged store (a SyntaxError, as storeError reports it). */
function tuples<T>(text: string, what: string): T[] {
  const value = JSON.parse(text) as unknown
  if (!Array.isArray(value) || !value.every(Array.isArray)) throw new SyntaxError(`the ${what} of a result are not a JSON array of arrays`)
  return value as T[]
}

const byIdx = <T extends { idx: number }>(rows: T[]): T[] => {
  for (let i = 1; i < rows.length; i++) if (rows[i]!.idx < rows[i - 1]!.idx) return rows.sort((a, b) => a.idx - b.idx)
  return rows
}

/** An event as schema-5 rows hold it: [actor, probe event] or [actor, probe event, clock]. */
type EventEntry = [actor: string, event: ProbeEvent, clock?: string]

function isEventEntry(entry: unknown[]): entry is EventEntry {
  const e = entry[1] as Partial<ProbeEvent> | null | undefined
  return (
    typeof entry[0] === 'string' &&
    !!e &&
    typeof e === 'object' &&
    !Array.isArray(e) &&
    typeof e.op === 'string' &&
    typeof e.t0 === 'number' &&
    (entry[2] === undefined || typeof entry[2] === 'string')
  )
}

/** The rows of schema-5 entries, derived as the schema-4 writer derived them; t_ns counts from the first event of its clock. */
function rowsOfEntries(entries: unknown[][]): EventRow[] {
  const origins = new Map<string, number>()
  for (const entry of entries) {
    if (!isEventEntry(entry)) throw new SyntaxError('an event of a result is not [actor, event object, clock?]')
    const clock = entry[2] ?? 'local'
    const o = origins.get(clock)
    if (o === undefined || entry[1].t0 < o) origins.set(clock, entry[1].t0)
  }
  return (entries as EventEntry[]).map(([actor, e, clock = 'local'], idx): EventRow => ({
    idx,
    actor,
    seq: e.seq,
    step: e.step ?? null,
    t_ns: e.t0 - origins.get(clock)!,
    dur_ns: e.t1 !== undefined ? e.t1 - e.t0 : null,
    op: e.op,
    sockets: socketsOf(e),
    ret: e.ret ?? null,
    errno: e.errno ?? null,
    mask: maskOf(e),
    details: JSON.stringify(e),
  }))
}

/**
 * The rows of a `traces` events text, ordered by idx, `details` as JSON text
 * like the schema-3 column. A row holds schema-4 tuples (first element idx,
 * an integer) or schema-5 entries (first element the actor).
 */
export function decodeEvents(text: string): EventRow[] {
  const entries = tuples<unknown[]>(text, 'events')
  if (entries.length && typeof entries[0]![0] === 'string') return rowsOfEntries(entries)
  return byIdx(
    (entries as EventTuple[]).map(([idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask, details]): EventRow => ({
      idx,
      actor,
      seq,
      step,
      t_ns,
      dur_ns,
      op,
      sockets,
      ret,
      errno,
      mask,
      details: typeof details === 'string' ? details : JSON.stringify(details),
    })),
  )
}

/** The rows of a `traces` checks text, ordered by idx. */
export function decodeChecks(text: string): CheckRow[] {
  return byIdx(
    tuples<CheckTuple>(text, 'checks').map(([idx, step, actor, field, expected, observed, verdict, claim]): CheckRow => ({
      idx,
      step,
      actor,
      field,
      expected,
      observed,
      verdict,
      claim,
    })),
  )
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

/** formatMask sorts with a regex per flag; a run sees few distinct masks, so each is formatted once (bounded). */
const masks = new Map<string, string>()
function maskText(flags: readonly string[]): string {
  const key = flags.join('|')
  let text = masks.get(key)
  if (text === undefined) {
    text = formatMask(flags)
    if (masks.size < 4096) masks.set(key, text)
  }
  return text
}

function maskOf(e: ProbeEvent): string | null {
  const list = e.ready ?? e.revents
  if (!list) return null
  return list.length ? list.map(r => `${r.h}:${maskText(r.events)}`).join(' ') : '-'
}

/** One array element's JSON, as JSON.stringify writes it inside an array (undefined as null). */
const jsonItem = (v: unknown): string => JSON.stringify(v) ?? 'null'

/** Tables and views (events and checks are views over traces since schema 4). */
const STORE_TABLES = ['runs', 'scenarios', 'results', 'traces', 'events', 'checks']

/** Stores with queued results, flushed when the process exits (an exit without finishRun must not drop them). */
const queued = new Set<TraceStore>()
let exitHook = false
function flushAllAtExit(): void {
  for (const store of queued) {
    try {
      store.flush()
    } catch {
      // exiting: the run is marked aborted by the next open
    }
  }
}

interface Statements {
  findScenario: Statement
  insertScenario: Statement
  insertResult: Statement
  insertTrace: Statement
}

export class TraceStore {
  /** Results per commit at most: a transaction stays a few milliseconds, other writers wait little. */
  static readonly BATCH_RESULTS = 64
  /** Longest a queued result waits for its commit (what a kill -9 can lose). */
  static readonly COMMIT_WINDOW_MS = 200

  readonly db: SqliteDatabase
  readonly file: string
  private pending: Array<{ runId: number; result: ScenarioResult }> = []
  private timer: NodeJS.Timeout | undefined
  private lastCommit = 0
  /** A commit from the timer failed: thrown at the next queueResult / flush, so the run stops and is marked. */
  private failure: unknown
  private statements: Statements | undefined
  private readonly scenarioIds = new Map<string, number>()
  private scenarioObjects = new WeakMap<Scenario, number>()
  /** Checkpoints of what this connection writes (checkpointer.ts); made at the first result written. */
  private checkpointer: Checkpointer | undefined
  /** Bytes of the results written since the last commit, for the checkpointer. */
  private bytes = 0

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
        (db.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'view')`).all() as Array<{ name: string }>).map(r => r.name),
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
    try {
      if (this.db.open) this.flush()
    } finally {
      queued.delete(this)
      if (this.timer) clearTimeout(this.timer)
      this.checkpointer?.close()
      if (this.db.open) this.db.close()
    }
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
    try {
      this.flush()
    } catch (err) {
      // what was queued could not be written: the run did not complete
      const failure = storeError(this.file, err)
      try {
        this.abortRun(runId, `the last results could not be written: ${(failure as Error).message}`)
      } catch {
        // the next open marks it: its beacon is gone by then
      }
      throw failure
    }
    const update = this.db.prepare(`UPDATE runs SET finished_at = ?, status = ? WHERE id = ?`)
    writeTransaction(this.db, () => update.run(new Date().toISOString(), status, runId))
  }

  /** The run ended by a failure (internal error, full disk, closed stdout): what was recorded stays. */
  abortRun(runId: number, reason: string): void {
    try {
      this.flush()
    } catch {
      // keep what was written; the reason below says why the run ended
    }
    const update = this.db.prepare(`UPDATE runs SET finished_at = ?, status = 'aborted', reason = ? WHERE id = ? AND status = 'running'`)
    writeTransaction(this.db, () => update.run(new Date().toISOString(), reason.slice(0, 2000), runId))
  }

  private prepared(): Statements {
    this.statements ??= {
      findScenario: this.db.prepare(`SELECT id FROM scenarios WHERE scenario = ? AND hash = ?`),
      insertScenario: this.db.prepare(
        `INSERT INTO scenarios (scenario, hash, pack, title, sources, claim, body) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertResult: this.db.prepare(
        `INSERT INTO results (run_id, scenario_id, variant, attempt, verdict, claim, duration_ms, message, stderr, kernels, invalid, signature, failed_checks)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertTrace: this.db.prepare(`INSERT INTO traces (result_id, checks, events) VALUES (?, ?, ?)`),
    }
    return this.statements
  }

  /** Scenario row for this content (same id and hash: same row). Call inside a write transaction. */
  scenarioId(s: Scenario): number {
    // a run hands the same scenario object with each of its results: known by identity without building a key
    const seen = this.scenarioObjects.get(s)
    if (seen !== undefined) return seen
    const key = `${s.id}\u0000${s.hash}`
    const known = this.scenarioIds.get(key)
    if (known !== undefined) {
      this.scenarioObjects.set(s, known)
      return known
    }
    const st = this.prepared()
    const row = st.findScenario.get(s.id, s.hash) as { id: number } | undefined
    let id = row?.id
    if (id === undefined) {
      const { file: _f, stepPositions: _p, hash: _h, pack: _k, ...body } = s
      id = Number(
        st.insertScenario.run(
          s.id,
          s.hash,
          s.pack,
          s.title,
          JSON.stringify(s.sources ?? []),
          typeof s.claim?.id === 'number' ? s.claim.id : null,
          JSON.stringify(body),
        ).lastInsertRowid,
      )
    }
    // rows are never deleted, so the id stays valid for this connection; a rolled-back insert is forgotten in flush
    this.scenarioIds.set(key, id)
    this.scenarioObjects.set(s, id)
    return id
  }

  /** Write one result with its events and checks, in its own transaction (after anything queued). */
  recordResult(runId: number, result: ScenarioResult): number {
    this.flush()
    const id = writeTransaction(this.db, () => this.writeResult(runId, result))
    this.committed()
    return id
  }

  /** A write transaction of results committed: count its bytes towards the next checkpoint. */
  private committed(): void {
    this.checkpointer ??= new Checkpointer(this.db, this.file)
    this.checkpointer.committed(this.bytes)
    this.bytes = 0
  }

  /**
   * Queue a result of a running run: committed within COMMIT_WINDOW_MS (at
   * once when the last commit is older than that), or when BATCH_RESULTS are
   * queued, and always by flush, finishRun, abortRun, close and process exit.
   */
  queueResult(runId: number, result: ScenarioResult): void {
    this.throwFailure()
    this.pending.push({ runId, result })
    queued.add(this)
    if (!exitHook) {
      exitHook = true
      process.on('exit', flushAllAtExit)
    }
    const since = Date.now() - this.lastCommit
    if (this.pending.length >= TraceStore.BATCH_RESULTS || since >= TraceStore.COMMIT_WINDOW_MS) this.flush()
    else
      this.timer ??= setTimeout(() => {
        this.timer = undefined
        try {
          this.flush()
        } catch (err) {
          this.failure ??= err
        }
      }, TraceStore.COMMIT_WINDOW_MS - since).unref()
  }

  private throwFailure(): void {
    if (this.failure === undefined) return
    const err = this.failure
    this.failure = undefined
    throw err
  }

  /** Commit every queued result now: one short transaction; when it fails, as many as fit one by one, then the error. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    const batch = this.pending
    if (batch.length) {
      this.pending = []
      queued.delete(this)
      this.bytes = 0
      try {
        writeTransaction(this.db, () => {
          for (const { runId, result } of batch) this.writeResult(runId, result)
        })
        this.committed()
      } catch (err) {
        this.bytes = 0
        this.forgetScenarios()
        // a full disk may still take the first few: keep what fits, in order
        for (const { runId, result } of batch) {
          try {
            writeTransaction(this.db, () => this.writeResult(runId, result))
          } catch {
            this.forgetScenarios()
            break
          }
        }
        this.lastCommit = Date.now()
        throw err
      }
      this.lastCommit = Date.now()
    }
    this.throwFailure()
  }

  /** After a rollback: scenario rows inserted in it are gone. */
  private forgetScenarios(): void {
    this.scenarioIds.clear()
    this.scenarioObjects = new WeakMap()
  }

  private writeResult(runId: number, result: ScenarioResult): number {
    const st = this.prepared()
    const scenarioId = this.scenarioId(result.scenario)
    // Each event as [actor, its probe line] ([actor, line, clock] off this machine's clock; migrations.ts, 5):
    // the line written as the probe wrote it (trace/raw-line.ts), nothing derived, nothing encoded again.
    // The signature is fed in the same pass. This runs for every event a run records.
    const sig = new SignatureBuilder()
    let events = '['
    for (let idx = 0; idx < result.events.length; idx++) {
      const { actor, event: e, clock } = result.events[idx]!
      const head = this.quotedActor(actor)
      const line = rawLineOf(e)
      const details = line ?? JSON.stringify(e)
      if (idx) events += ','
      events += clock === undefined || clock === 'local' ? `${head}${details}]` : `${head}${details},${JSON.stringify(clock)}]`
      sig.probeEvent(actor, e, line)
    }
    events += ']'
    // the checks' text (encodeChecks' tuples) and their signatures share each field's JSON, encoded once
    let checksText = '['
    let failed = 0
    for (let idx = 0; idx < result.checks.length; idx++) {
      const c = result.checks[idx]!
      const verdict = c.ok ? '"pass"' : '"fail"'
      if (!c.ok) failed++
      const head = `${jsonItem(c.step)},${jsonItem(c.actor)},${jsonItem(c.field)},${jsonItem(c.expected)}`
      checksText += `${idx ? ',' : ''}[${idx},${head},${jsonItem(c.observed)},${verdict},${c.claim ? 1 : 0}]`
      sig.checkJson(`[${head},${verdict}]`)
    }
    checksText += ']'
    const resultId = Number(
      st.insertResult.run(
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
        sig.digest(),
        failed,
      ).lastInsertRowid,
    )
    st.insertTrace.run(resultId, checksText, events)
    // the row's text and about a row's worth of b-tree and results columns
    this.bytes += events.length + checksText.length + 256
    return resultId
  }

  private readonly actorHeads = new Map<string, string>()
  /** `["actor",`: a run has a handful of actors, each quoted once. */
  private quotedActor(actor: string): string {
    let head = this.actorHeads.get(actor)
    if (head === undefined) {
      head = `[${JSON.stringify(actor)},`
      if (this.actorHeads.size < 1024) this.actorHeads.set(actor, head)
    }
    return head
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
    const row = this.db.prepare(`SELECT events FROM traces WHERE result_id = ?`).get(resultId) as { events: string } | undefined
    return row ? decodeEvents(row.events) : []
  }

  /** A result's events and checks, one read. */
  trace(resultId: number): { events: EventRow[]; checks: CheckRow[] } {
    const row = this.db.prepare(`SELECT checks, events FROM traces WHERE result_id = ?`).get(resultId) as
      { checks: string; events: string } | undefined
    return row ? { events: decodeEvents(row.events), checks: decodeChecks(row.checks) } : { events: [], checks: [] }
  }

  checks(resultId: number): CheckRow[] {
    const row = this.db.prepare(`SELECT checks FROM traces WHERE result_id = ?`).get(resultId) as { checks: string } | undefined
    return row ? decodeChecks(row.checks) : []
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
