/**
 * `sockspec compare`: align two runs (or every run against a baseline) by
 * (scenario, variant), label each pair, print text or JSON. Exit 1 when a
 * pair is a regression (pass -> fail), so CI can gate on it.
 */
import { compareRuns, hasRegression } from '../compare/compare-runs.js'
import { loadRunTraces, summariseRun } from '../compare/load-run.js'
import { compareDocument } from '../compare/render-json.js'
import { describeRun, renderComparisons } from '../compare/render-text.js'
import { selectRun } from '../compare/select-run.js'
import type { Comparison, RunTraces } from '../compare/types.js'
import { SockspecError } from '../errors.js'
import { TraceStore, withStoreErrors } from '../store/store.js'
import type { RunRow } from '../store/store.js'

export interface CompareOptions {
  db: string
  baseline?: string
  reporter: 'text' | 'json'
  all?: boolean
}

export function compareCommand(refs: string[], opts: CompareOptions): number {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    return withStoreErrors(opts.db, () => compare(store, refs, opts))
  } finally {
    store.close()
  }
}

function compare(store: TraceStore, refs: string[], opts: CompareOptions): number {
  const resolve = (ref: string): RunRow => {
    const { run, matched } = selectRun(store, ref)
    if (matched > 1)
      process.stderr.write(`sockspec: '${ref}' matches ${matched} runs; using the newest, ${describeRun(summariseRun(run))}\n`)
    return run
  }
  let pairs: Array<[RunRow, RunRow]>
  let baseline: RunRow | null = null
  if (opts.baseline !== undefined) {
    const base = resolve(opts.baseline)
    baseline = base
    const others = refs.length
      ? refs.map(resolve)
      : store
          .runs()
          .filter(r => r.id !== base.id)
          .reverse()
    pairs = others.filter(r => r.id !== base.id).map(r => [base, r])
    if (!pairs.length) process.stderr.write(`sockspec: no other run in ${opts.db} to compare with the baseline\n`)
  } else {
    if (refs.length !== 2) throw new SockspecError('E_USAGE', 'compare needs two runs (RUN_A RUN_B) or --baseline RUN')
    const [a, b] = refs.map(resolve) as [RunRow, RunRow]
    if (a.id === b.id) throw new SockspecError('E_USAGE', `both arguments name the same run (${a.uuid})`)
    pairs = [[a, b]]
  }
  const cache = new Map<number, RunTraces>()
  const traces = (run: RunRow) => {
    let t = cache.get(run.id)
    if (!t) {
      t = loadRunTraces(store, run)
      cache.set(run.id, t)
    }
    return t
  }
  const comparisons: Comparison[] = pairs.map(([a, b]) => compareRuns(traces(a), traces(b)))
  const baseSummary = baseline ? summariseRun(baseline) : null
  if (opts.reporter === 'json') process.stdout.write(`${JSON.stringify(compareDocument(comparisons, baseSummary), null, 2)}\n`)
  else process.stdout.write(renderComparisons(comparisons, baseSummary, { showSame: opts.all ?? false }))
  return hasRegression(comparisons) ? 1 : 0
}
