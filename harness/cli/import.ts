/** `sockspec import run.json [--db]`: add a run bundle to a store; idempotent like merge. */
import { readFileSync } from 'node:fs'
import { SockspecError } from '../errors.js'
import { importRunBundle, parseRunBundle } from '../store/import-bundle.js'
import { storeError, TraceStore } from '../store/store.js'

export function importCommand(files: string[], opts: { db: string }): number {
  // parse and validate every bundle before writing any
  const bundles = files.map(file => {
    let text: string
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8')
    } catch (err) {
      throw new SockspecError('E_NOT_FOUND', `cannot read ${file}: ${(err as Error).message}`)
    }
    return { file, bundle: parseRunBundle(text, file === '-' ? '<stdin>' : file) }
  })
  const store = TraceStore.open(opts.db)
  try {
    for (const { file, bundle } of bundles) {
      let s: ReturnType<typeof importRunBundle>
      try {
        s = importRunBundle(store.db, bundle)
      } catch (err) {
        const e = storeError(opts.db, err)
        if (e instanceof SockspecError) throw new SockspecError(e.code, `${e.message} (importing ${file})`)
        throw e
      }
      process.stdout.write(
        `${file}: run ${s.uuid} ${s.runAdded ? 'added' : 'already present'}; ${s.resultsAdded} result(s), ${s.eventsAdded} event(s) added` +
          `${s.resultsKept ? `, ${s.resultsKept} result(s) kept` : ''}\n`,
      )
    }
    return 0
  } finally {
    store.close()
  }
}
