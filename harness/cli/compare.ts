/**
 * `sockspec compare`: align two runs (or every run against a baseline) by
 * (scenario, variant), label each pair, print text or JSON. Exit 1 when a
 * pair is a regression (pass -> fail), so CI can gate on it. With --rerun,
 * regressions and differences are re-run first on b's kernel: this
 * machine's, or a guest's build booted again (once per compare for all its
 * pairs); those not reproduced every time are flaky, not regressions. Runs
 * with ssh hosts or from other machines are not re-run, and that is said.
 */
import os from 'node:os'
import { compareRuns, emptyCounts } from '../compare/compare-runs.js'
import { runLoader, summariseRun } from '../compare/load-run.js'
import { streamCompareDocument } from '../compare/render-json.js'
import { addCounts, describeRun, renderBaselineHeader, renderComparison, renderTotals } from '../compare/render-text.js'
import { RERUN_LABELS, onThisKernel, rerunComparison, sshHostsOf } from '../compare/rerun.js'
import { guestBuildOf, rerunInGuests } from '../compare/rerun-guest.js'
import type { GuestComparison } from '../compare/rerun-guest.js'
import { selectRun } from '../compare/select-run.js'
import type { Comparison, PairLabel, RunTraces } from '../compare/types.js'
import { SockspecError } from '../errors.js'
import { TraceStore, withStoreErrors } from '../store/store.js'
import type { RunRow } from '../store/store.js'

export interface CompareOptions {
  db: string
  baseline?: string
  reporter: 'text' | 'json'
  all?: boolean
  /** Re-run b's regressions and differences this many times on b's kernel (true: 3); see compare/rerun.ts and rerun-guest.ts. */
  rerun?: boolean | string | number
}

export const DEFAULT_RERUNS = 3

function rerunTimes(v: CompareOptions['rerun']): number {
  if (v === undefined || v === false) return 0
  if (v === true) return DEFAULT_RERUNS
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new SockspecError('E_USAGE', `--rerun takes a count from 1 to 100, not '${String(v)}'`)
  return n
}

export async function compareCommand(refs: string[], opts: CompareOptions): Promise<number> {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    // store failures become one line naming the file, also those after an await
    return await compare(store, refs, opts).catch((err: unknown) =>
      withStoreErrors(opts.db, () => {
        throw err
      }),
    )
  } finally {
    store.close()
  }
}

async function compare(store: TraceStore, refs: string[], opts: CompareOptions): Promise<number> {
  const reruns = rerunTimes(opts.rerun)
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
  // runs' results without traces, a few cached (the baseline is on every pair); traces only of pairs that differ
  const loader = runLoader(store)
  const cache = new Map<number, RunTraces>()
  const traces = (run: RunRow): RunTraces => {
    let t = cache.get(run.id)
    if (t) cache.delete(run.id)
    else {
      t = loader.load(run)
      if (cache.size >= 4) cache.delete(cache.keys().next().value!)
    }
    cache.set(run.id, t)
    return t
  }
  // one body reader for every comparison: compareRuns caches the bodies it read per reader
  const scenarioBody = (id: number): Record<string, unknown> | undefined => store.scenarioBody(id)
  const compared = function* (): Generator<Comparison> {
    for (const [a, b] of pairs) yield compareRuns(traces(a), traces(b), loader.read, { scenarioBody })
  }
  const log = (line: string): void => void process.stderr.write(`sockspec: ${line}\n`)
  let comparisons: Iterable<Comparison> = compared()
  if (reruns) {
    // all comparisons first: a guest is booted once for the pairs of every run made on its build
    const list = [...comparisons]
    const guests: GuestComparison[] = []
    list.forEach((c, i) => {
      if (!c.pairs.some(p => RERUN_LABELS.has(p.label))) return
      const b = pairs[i]![1]
      const name = describeRun(c.b)
      const ssh = sshHostsOf(b)
      const build = ssh.length ? undefined : guestBuildOf(b)
      if (ssh.length)
        log(`not re-run: ${name} used ssh hosts (${ssh.join(', ')}), which a re-run here would not have; its differences stand as recorded`)
      else if (build) guests.push({ comparison: c, build, name })
      else if (build === null)
        log(`not re-run: ${name} was made in a guest that did not record its kernel package; its differences stand as recorded`)
      else if (onThisKernel(c)) rerunComparison(c, { times: reruns, read: loader.read, scenarioBody })
      else log(`not re-run: ${name} is not on this machine's kernel (${os.release()}) nor in a guest; its differences stand as recorded`)
    })
    if (guests.length) {
      await rerunInGuests(guests, { times: reruns, read: loader.read, scenarioBody, log })
    }
    comparisons = list
  }
  const baseSummary = baseline ? summariseRun(baseline) : null
  const write = (text: string): void => void process.stdout.write(text)
  // written one comparison at a time: memory stays that of one pair of runs (--rerun holds every comparison first: pairs, not traces)
  let totals: Record<PairLabel, number>
  if (opts.reporter === 'json') totals = streamCompareDocument(comparisons, baseSummary, write)
  else {
    totals = emptyCounts()
    let first = true
    const part = (text: string): void => {
      write(first ? text : `\n${text}`)
      first = false
    }
    if (baseSummary) part(renderBaselineHeader(baseSummary, pairs.length))
    for (const c of comparisons) {
      part(renderComparison(c, { showSame: opts.all ?? false }))
      addCounts(totals, c.counts)
    }
    part(renderTotals(totals))
  }
  return totals.regression > 0 ? 1 : 0
}
