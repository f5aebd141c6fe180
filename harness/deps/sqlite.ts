/**
 * Adapter for better-sqlite3 12 (13 needs Node 22). Opens a store file with
 * the pragmas the kit relies on: WAL for concurrent readers, foreign keys,
 * a generous busy timeout so several writers (CI legs on one runner, an
 * import while a run writes) queue instead of failing.
 *
 * The busy timeout only helps a connection that asks for the write lock
 * first: a deferred transaction that read and then writes gets SQLITE_BUSY
 * at once (its snapshot may be stale), so every write goes through
 * `writeTransaction` (BEGIN IMMEDIATE). The few statements that cannot be in
 * one (the WAL switch) are retried on SQLITE_BUSY, bounded in time.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Database as DatabaseType } from 'better-sqlite3'

export type SqliteDatabase = DatabaseType

/** How long a writer waits for another one (a whole result of a long run is one short transaction). */
export const BUSY_TIMEOUT_MS = 30_000

export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined
}

export function isBusy(err: unknown): boolean {
  const code = sqliteCode(err)
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

/** Run `fn`, retrying on SQLITE_BUSY until `BUSY_TIMEOUT_MS` has passed (for statements outside a transaction). */
export function retryBusy<T>(fn: () => T, limitMs = BUSY_TIMEOUT_MS): T {
  const until = Date.now() + limitMs
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  for (let attempt = 0; ; attempt++) {
    try {
      return fn()
    } catch (err) {
      if (!isBusy(err) || Date.now() > until) throw err
      // synchronous like the rest of better-sqlite3; short, growing, bounded pauses
      Atomics.wait(sleeper, 0, 0, Math.min(200, 5 * 2 ** Math.min(attempt, 6)))
    }
  }
}

/** Run `fn` in a BEGIN IMMEDIATE transaction: it takes the write lock first, so the busy timeout applies. */
export function writeTransaction<T>(db: SqliteDatabase, fn: () => T): T {
  return retryBusy(() => db.transaction(fn).immediate())
}

export interface OpenedSqlite {
  db: SqliteDatabase
  /** Set when the file could only be read through a private copy (a read-only directory or mount). */
  copyDir?: string
}

function openPlain(path: string, opts: { readonly?: boolean; mustExist?: boolean }): SqliteDatabase {
  const db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.mustExist ?? false, timeout: BUSY_TIMEOUT_MS })
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    // the WAL switch needs a moment of exclusive access: another opener may hold it
    if (!opts.readonly) retryBusy(() => db.pragma('journal_mode = WAL'))
    // WAL with synchronous NORMAL: a commit is not fsynced, the WAL is at checkpoints. A killed or crashed
    // process loses nothing committed; only a power loss or kernel crash can lose the last commits (never
    // corrupt the file). A run's commits are many and short, and their fsyncs were most of its write time.
    if (!opts.readonly) db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    // a read-only WAL store needs its -shm: fail here, not at the first query
    if (opts.readonly) db.pragma('user_version', { simple: true })
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * Open a store file. Read-only opens of a file whose directory or mount is
 * read-only (WAL cannot create its -shm there) read a private copy of the
 * file and its WAL instead: SQLite here has no URI filenames, so no
 * `immutable=1`.
 */
export function openSqliteFile(path: string, opts: { readonly?: boolean; mustExist?: boolean; copy?: boolean } = {}): OpenedSqlite {
  try {
    if (opts.copy) throw Object.assign(new Error('copy asked for'), { code: 'SQLITE_READONLY' })
    return { db: openPlain(path, opts) }
  } catch (err) {
    const code = sqliteCode(err) ?? ''
    if (!opts.readonly || !(code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) || !existsSync(path)) throw err
    const dir = mkdtempSync(join(tmpdir(), 'sockspec-ro-'))
    try {
      copyFileSync(path, join(dir, 'store.db'))
      if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, join(dir, 'store.db-wal'))
      // the copy keeps the original's mode (often 0444): it must be writable to recover or migrate
      for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o600)
      // read-write on the copy, so SQLite can recover its WAL; the original is never written
      return { db: openPlain(join(dir, 'store.db'), { mustExist: true }), copyDir: dir }
    } catch (copyErr) {
      rmSync(dir, { recursive: true, force: true })
      throw copyErr
    }
  }
}

/** Open a store file (see openSqliteFile); the private copy of a read-only store is removed on close. */
export function openSqlite(path: string, opts: { readonly?: boolean; mustExist?: boolean } = {}): SqliteDatabase {
  const { db, copyDir } = openSqliteFile(path, opts)
  if (copyDir) {
    const close = db.close.bind(db)
    db.close = () => {
      const r = close()
      rmSync(copyDir, { recursive: true, force: true })
      return r
    }
  }
  return db
}
