/** `sockspec export RUN > run.json`: one run as a self-contained bundle (schemas/run.schema.json). */
import { selectRun } from '../compare/select-run.js'
import { exportRunBundle } from '../store/export-bundle.js'
import { TraceStore } from '../store/store.js'

export function exportCommand(ref: string, opts: { db: string }): number {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    const { run } = selectRun(store, ref)
    process.stdout.write(`${JSON.stringify(exportRunBundle(store.db, run))}\n`)
    return 0
  } finally {
    store.close()
  }
}
