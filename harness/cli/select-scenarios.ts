/**
 * Which scenarios a run takes: `--filter` and `--exclude` globs (picomatch:
 * `*` within a name, `**`, braces `{a,b}`, classes, `!` to negate), and the
 * (scenario, variant) pairs that failed in a store's last run
 * (`--rerun-failed`). Pure but for the store read.
 */
import { globMatcher } from '../deps/picomatch.js'
import { SockspecError } from '../errors.js'
import type { Scenario, VariantName } from '../scenario/types.js'
import type { TraceStore } from '../store/store.js'

/** A plain word (no glob character) is matched as a substring of the id, as before globs. */
const GLOB_CHARS = /[*?[\]{}()!+@]/

/**
 * One pattern as a test on a scenario. A glob matches the id
 * (`tcp-connect/einprogress`), the pack alone (`tcp-*`) or the name inside
 * the pack (`*-ack*`); a leading `!` inverts the whole test.
 */
export function scenarioMatcher(pattern: string): { negated: boolean; test: (s: Pick<Scenario, 'id' | 'pack'>) => boolean } {
  // `!(a|b)` is an extglob, not a negation of the pattern
  const negated = pattern.startsWith('!') && !pattern.startsWith('!(')
  const glob = negated ? pattern.slice(1) : pattern
  if (!glob) throw new SockspecError('E_USAGE', `empty pattern '${pattern}'`)
  if (!GLOB_CHARS.test(glob)) return { negated, test: s => s.id.includes(glob) }
  const match = globMatcher(glob, { dot: true })
  return {
    negated,
    test: s => match(s.id) || match(s.pack) || (s.id.startsWith(`${s.pack}/`) && match(s.id.slice(s.pack.length + 1))),
  }
}

/**
 * Kept: matching any positive `--filter` (all when there is none) and no
 * negated filter nor `--exclude`.
 */
export function filterScenarios<S extends Pick<Scenario, 'id' | 'pack'>>(
  scenarios: S[],
  filters: string[] = [],
  excludes: string[] = [],
): S[] {
  const matchers = filters.map(scenarioMatcher)
  const wanted = matchers.filter(m => !m.negated)
  const unwanted = [...matchers.filter(m => m.negated), ...excludes.map(p => ({ ...scenarioMatcher(p), negated: true }))]
  return scenarios.filter(s => (!wanted.length || wanted.some(m => m.test(s))) && !unwanted.some(m => m.test(s)))
}

export interface FailedPairs {
  runUuid: string
  /** scenario id -> the variants that failed or errored */
  pairs: Map<string, Set<VariantName>>
}

/** The (scenario, variant) pairs whose result in the store's last run was `fail` or `error` (any attempt). */
export function failedInLastRun(store: TraceStore, file: string): FailedPairs {
  const run = store.run('latest')
  if (!run) throw new SockspecError('E_NOT_FOUND', `no run in ${file} to take failures from`)
  const pairs = new Map<string, Set<VariantName>>()
  for (const r of store.results(run.id)) {
    if (r.verdict !== 'fail' && r.verdict !== 'error') continue
    const variants = pairs.get(r.scenario) ?? new Set<VariantName>()
    variants.add(r.variant as VariantName)
    pairs.set(r.scenario, variants)
  }
  return { runUuid: run.uuid, pairs }
}

/** The loaded scenarios narrowed to the failed pairs; `missing` are failed scenarios not among them. */
export function onlyFailed(scenarios: Scenario[], failed: FailedPairs): { scenarios: Scenario[]; missing: string[] } {
  const loaded = new Set(scenarios.map(s => s.id))
  const kept = scenarios.flatMap(s => {
    const variants = failed.pairs.get(s.id)
    return variants ? [{ ...s, variants: [...variants].sort() }] : []
  })
  return { scenarios: kept, missing: [...failed.pairs.keys()].filter(id => !loaded.has(id)).sort() }
}
