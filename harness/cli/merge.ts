/** `sockspec merge A.db B.db ... --into all.db`: combine the stores of CI legs. */
import { mergeStores } from '../store/merge.js'

export function mergeCommand(sources: string[], opts: { into: string }): number {
  for (const { source, runs } of mergeStores(opts.into, sources)) {
    const added = runs.filter(r => r.runAdded).length
    const results = runs.reduce((n, r) => n + r.resultsAdded, 0)
    const events = runs.reduce((n, r) => n + r.eventsAdded, 0)
    const kept = runs.reduce((n, r) => n + r.resultsKept, 0)
    process.stdout.write(
      `${source}: ${runs.length} run(s), ${added} new; ${results} result(s) and ${events} event(s) added` +
        `${kept ? `, ${kept} result(s) already in ${opts.into}` : ''}\n`,
    )
  }
  return 0
}
