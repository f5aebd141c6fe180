/**
 * WAL checkpoints off the writing thread. SQLite checkpoints inside the commit that grows the WAL past
 * `wal_autocheckpoint` pages: that commit copies the WAL into the database file and waits for its fsyncs
 * (synchronous NORMAL syncs at checkpoints only), about 25 ms per 4 MB on this kit's CI disk, a third of
 * the wall time of a burst of results. Once a store has written CHECKPOINT_BYTES, a worker thread with
 * its own connection runs a PASSIVE checkpoint after every further CHECKPOINT_BYTES: the writer does not
 * wait for the disk, and a PASSIVE checkpoint never blocks a writer or a reader. The writer's own
 * checkpoint moves out to WAL_LIMIT_PAGES: while results keep coming the worker's checkpoints never
 * reach the WAL's end, and SQLite starts the WAL over only after a checkpoint that did, so the writer's
 * checkpoint bounds the WAL and finds most of it copied already. What is durable is unchanged: a
 * checkpoint moves committed pages, it commits nothing, and one cut short by a crash is redone.
 *
 * The worker is code evaluated from a string: it needs no file of its own next to this one (tests run
 * the TypeScript sources, the package the compiled ones). close() waits for the worker's connection to
 * close, so the writer's own close is the last one, as without the worker (SQLite checkpoints what is
 * left and removes the WAL then).
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { SqliteDatabase } from '../deps/sqlite.js'
import { BUSY_TIMEOUT_MS } from '../deps/sqlite.js'

/** About SQLite's default auto-checkpoint (1000 pages of 4 KiB). */
export const CHECKPOINT_BYTES = 4 << 20

/** The writer's own auto-checkpoint while the worker runs: the WAL stays below about 64 MB. */
const WAL_LIMIT_PAGES = 16384

/** Longest close() waits for the worker's last checkpoint and its connection to close. */
const CLOSE_WAIT_MS = 30_000

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.sqlite)
const done = new Int32Array(workerData.done)
let db
try {
  db = new Database(workerData.file, { fileMustExist: true, timeout: workerData.busyMs })
} catch {
  // the writer sees the exit and checkpoints itself again
  process.exit(1)
}
parentPort.on('message', m => {
  if (m === 'checkpoint') {
    // busy (another checkpoint) or a full disk: the next one catches up
    try { db.pragma('wal_checkpoint(PASSIVE)') } catch {}
    return
  }
  try { db.close() } catch {}
  Atomics.store(done, 0, 1)
  Atomics.notify(done, 0)
  parentPort.close()
})
`

export class Checkpointer {
  private worker: Worker | undefined
  private done: Int32Array | undefined
  private written = 0
  /** Checkpoints asked of the worker (for tests and the bench). */
  asked = 0

  constructor(
    private readonly db: SqliteDatabase,
    private readonly file: string,
  ) {}

  /** `bytes` were committed: start the worker or ask it for a checkpoint once enough were. */
  committed(bytes: number): void {
    this.written += bytes
    if (this.written < CHECKPOINT_BYTES) return
    this.written = 0
    if (!this.worker && !this.start()) return
    this.asked++
    this.worker!.postMessage('checkpoint')
  }

  private start(): boolean {
    if (this.done) return false
    this.done = new Int32Array(new SharedArrayBuffer(4))
    try {
      const sqlite = createRequire(import.meta.url).resolve('better-sqlite3')
      this.worker = new Worker(WORKER, {
        eval: true,
        workerData: { file: this.file, sqlite, busyMs: BUSY_TIMEOUT_MS, done: this.done.buffer },
      })
    } catch {
      // no worker: SQLite keeps checkpointing in the commits, as it did
      return false
    }
    this.worker.unref()
    // a worker that dies leaves the checkpoints to SQLite again
    this.worker.on('error', () => this.stopped())
    this.worker.on('exit', () => this.stopped())
    this.db.pragma(`wal_autocheckpoint = ${WAL_LIMIT_PAGES}`)
    return true
  }

  private stopped(): void {
    if (!this.worker) return
    this.worker = undefined
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000')
  }

  /** Close the worker's connection and wait for it (bounded), so the writer's close comes last. */
  close(): void {
    const worker = this.worker
    if (!worker || !this.done) return
    this.worker = undefined
    worker.postMessage('close')
    Atomics.wait(this.done, 0, 0, CLOSE_WAIT_MS)
  }
}
