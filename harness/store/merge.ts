/**
 * Merge trace stores (one per CI leg) into one. Each run of each source is
 * carried over as a run bundle, so merge and import share one idempotent
 * write path: merging the same store twice changes nothing, and local ids
 * (runs, scenarios, results) are remapped. Sources are opened read-only and
 * never modified: a store of an older schema version is snapshotted
 * (VACUUM INTO) to a temp file and the snapshot migrated; a newer or unknown
 * version is refused rather than guessed at.
 */
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqlite } from '../deps/sqlite.js'
import type { SqliteDatabase } from '../deps/sqlite.js'
import { SockspecError } from '../errors.js'
import { exportRunBundle } from './export-bundle.js'
import { checkRunBundle, importRunBundle } from './import-bundle.js'
import type { ImportStats } from './import-bundle.js'
import { SCHEMA_VERSION } from './migrations.js'
import { migrate, storeError, TraceStore } from './store.js'
import type { RunRow } from './store.js'

export interface MergeStats {
  source: string
  runs: ImportStats[]
}

export interface SourceStore {
  file: string
  db: SqliteDatabase
  close(): void
}

/** Open a store to read from; older schema versions are read through a migrated snapshot, others refused (exit 2). */
export function openSourceStore(file: string): SourceStore {
  if (!existsSync(file)) throw new SockspecError('E_NOT_FOUND', `${file}: no such trace store`)
  let db: SqliteDatabase
  try {
    db = openSqlite(file, { readonly: true, mustExist: true })
  } catch (err) {
    throw new SockspecError('E_STORE', `cannot open trace store ${file}: ${(err as Error).message}`)
  }
  try {
    const version = db.pragma('user_version', { simple: true }) as number
    if (version === SCHEMA_VERSION) return { file, db, close: () => db.close() }
    const hasRuns = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'runs'`).get() as { n: number }
    if (version === 0 && !hasRuns.n)
      throw new SockspecError('E_STORE', `${file}: not a sockspec trace store (no schema version, no runs table)`)
    if (version < 1 || version > SCHEMA_VERSION) {
      throw new SockspecError(
        'E_STORE',
        `${file}: unknown store schema version ${version}; this sockspec reads versions 1 to ${SCHEMA_VERSION}. Merge it with the sockspec version that wrote it`,
      )
    }
    const tmp = mkdtempSync(join(tmpdir(), 'sockspec-merge-'))
    const snapshot = join(tmp, 'source.db')
    db.exec(`VACUUM INTO '${snapshot.replace(/'/g, "''")}'`)
    db.close()
    const migrated = openSqlite(snapshot)
    try {
      migrate(migrated, file)
    } catch (err) {
      migrated.close()
      rmSync(tmp, { recursive: true, force: true })
      throw err
    }
    return {
      file,
      db: migrated,
      close: () => {
        migrated.close()
        rmSync(tmp, { recursive: true, force: true })
      },
    }
  } catch (err) {
    if (db.open) db.close()
    if (err instanceof SockspecError) throw err
    throw new SockspecError('E_STORE', `${file}: ${(err as Error).message}`)
  }
}

function readSource<T>(file: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw storeError(file, err)
  }
}

/** A run read from a damaged store must not reach another store (or stdout) unchecked. */
export function validExport(file: string, bundle: unknown): ReturnType<typeof checkRunBundle> {
  try {
    return checkRunBundle(bundle, `${file}: run ${(bundle as { run?: { uuid?: string } }).run?.uuid ?? '?'}`)
  } catch (err) {
    if (!(err instanceof SockspecError)) throw err
    throw new SockspecError('E_STORE', `damaged trace store: ${err.message.replace(/\n\s*/g, '; ')}`)
  }
}

/**
 * Merge every run of every source into the store `into` (created if
 * missing). All sources are opened and version-checked before the target is
 * even opened, so a refused store leaves the target as it was. Each run is
 * written in its own transaction.
 */
export function mergeStores(into: string, sourceFiles: readonly string[]): MergeStats[] {
  for (const file of sourceFiles) {
    if (existsSync(file) && existsSync(into) && realpathSync(file) === realpathSync(into)) {
      throw new SockspecError('E_USAGE', `${file}: cannot merge a store into itself`)
    }
  }
  const sources: SourceStore[] = []
  try {
    for (const file of sourceFiles) sources.push(openSourceStore(file))
    const target = TraceStore.open(into)
    try {
      return sources.map(({ file, db }) => {
        const runs = readSource(file, () => db.prepare(`SELECT * FROM runs ORDER BY started_at, id`).all() as RunRow[])
        return {
          source: file,
          runs: runs.map(run => {
            const bundle = readSource(file, () => validExport(file, exportRunBundle(db, run)))
            try {
              return importRunBundle(target.db, bundle)
            } catch (err) {
              throw storeError(into, err)
            }
          }),
        }
      })
    } finally {
      target.close()
    }
  } finally {
    for (const s of sources) s.close()
  }
}
