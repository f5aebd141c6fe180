/** `sockspec runs`: the runs in a store, newest first, with verdict counts. */
import { stdoutClosed } from './stdout.js'
import { TraceStore, withStoreErrors } from '../store/store.js'

export function runsCommand(opts: { db: string }): number {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    return withStoreErrors(opts.db, () => list(store))
  } finally {
    store.close()
  }
}

function list(store: TraceStore): number {
  for (const run of store.runs()) {
    const counts = store.db.prepare(`SELECT verdict, count(*) AS n FROM results WHERE run_id = ? GROUP BY verdict`).all(run.id) as Array<{
      verdict: string
      n: number
    }>
    const summary = counts.map(c => `${c.n} ${c.verdict}`).join(', ') || 'no results'
    const reason = run.status === 'aborted' && run.reason ? `\t${run.reason}` : ''
    process.stdout.write(
      `${run.id}\t${run.uuid}\t${run.started_at}\t${run.host}\t${run.kernel_release}\t${run.status}\t${summary}${reason}\n`,
    )
    if (stdoutClosed()) break
  }
  return 0
}
