/**
 * Adapter for better-sqlite3 12 (13 needs Node 22). Opens a store file with
 * the pragmas the kit relies on: WAL for concurrent readers, foreign keys,
 * a busy timeout for merges while a run writes.
 */
import Database from 'better-sqlite3'
import type { Database as DatabaseType } from 'better-sqlite3'

export type SqliteDatabase = DatabaseType

export function openSqlite(path: string, opts: { readonly?: boolean; mustExist?: boolean } = {}): SqliteDatabase {
  const db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.mustExist ?? false })
  if (!opts.readonly) db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  return db
}
