/** `sockspec runs`: the runs in a store, newest first, with verdict counts. */
import { terminalText } from '../reporters/terminal-text.js'
import { verdictCountsReader } from '../store/run-lookup.js'
import { TraceStore, withStoreErrors } from '../store/store.js'
import { stdoutClosed } from './stdout.js'

export function runsCommand(opts: { db: string }): number {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    return withStoreErrors(opts.db, () => list(store))
  } finally {
    store.close()
  }
}

function list(store: TraceStore): number {
  const verdictCounts = verdictCountsReader(store)
  for (const run of store.runs()) {
    const counts = verdictCounts(run.id)
    const summary = counts.map(c => `${c.n} ${c.verdict}`).join(', ') || 'no results'
    // a store may come from an imported bundle: no field may carry a tab, newline or escape sequence
    const fields = [run.id, run.uuid, run.started_at, run.host, run.kernel_release, run.status, summary]
    if (run.status === 'aborted' && run.reason) fields.push(run.reason)
    process.stdout.write(`${fields.map(f => terminalText(String(f))).join('\t')}\n`)
    if (stdoutClosed()) break
  }
  return 0
}
