/** `sockspec export RUN > run.json`: one run as a self-contained bundle (schemas/run.schema.json). */
import { selectRun } from '../compare/select-run.js'
import { exportRunBundle } from '../store/export-bundle.js'
import { validExport } from '../store/merge.js'
import { TraceStore, withStoreErrors } from '../store/store.js'

export function exportCommand(ref: string, opts: { db: string }): number {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    // a damaged store must not yield a bundle that other stores would take in: checked before any byte is written
    const text = withStoreErrors(opts.db, () => {
      const { run } = selectRun(store, ref)
      return JSON.stringify(validExport(opts.db, exportRunBundle(store.db, run)))
    })
    process.stdout.write(`${text}\n`)
    return 0
  } finally {
    store.close()
  }
}
