/**
 * Which pairs of runs get a diff page. Each run is compared with the
 * previous run (chronologically) that ran a different kernel release, of
 * any host kind (a qemu guest against the host's kernel is the comparison a
 * kernel matrix is for), or, when there is none, with the previous run of
 * its own host kind; with a baseline, every run is also compared with the
 * baseline.
 * Newest first and capped, so a store of thousands of runs stays fast.
 * Pure: runs in, pairs out.
 */
import type { ReportRun } from './model.js'

export interface DiffPair {
  /** The older side (the previous run or the baseline). */
  a: ReportRun
  b: ReportRun
  reason: 'previous' | 'baseline'
}

/** The run `run` is diffed against by default, from runs newest first; undefined when nothing fits. */
export function previousRun(runsNewestFirst: readonly ReportRun[], at: number): ReportRun | undefined {
  const run = runsNewestFirst[at]!
  let sameKind: ReportRun | undefined
  for (let i = at + 1; i < runsNewestFirst.length; i++) {
    const other = runsNewestFirst[i]!
    if (other.kernel !== run.kernel) return other
    if (other.hostKind === run.hostKind) sameKind ??= other
  }
  return sameKind
}

export function diffPairs(runsNewestFirst: readonly ReportRun[], baselineId: number | null, cap: number): DiffPair[] {
  const pairs: DiffPair[] = []
  const seen = new Set<string>()
  const add = (a: ReportRun, b: ReportRun, reason: DiffPair['reason']): void => {
    const key = `${a.id}:${b.id}`
    if (a.id === b.id || seen.has(key) || pairs.length >= cap) return
    seen.add(key)
    pairs.push({ a, b, reason })
  }
  const baseline = baselineId === null ? undefined : runsNewestFirst.find(r => r.id === baselineId)
  for (let i = 0; i < runsNewestFirst.length && pairs.length < cap; i++) {
    const run = runsNewestFirst[i]!
    if (baseline) add(baseline, run, 'baseline')
    const prev = previousRun(runsNewestFirst, i)
    if (prev) add(prev, run, 'previous')
  }
  return pairs
}

/**
 * Short ids for page names: the first 8 characters of each uuid, longer for
 * runs whose first 8 characters collide (uuids are unique as a whole).
 */
export function runSlugs(runs: readonly ReportRun[]): Map<number, string> {
  const safe = (uuid: string): string => uuid.toLowerCase().replace(/[^a-z0-9-]/g, '_')
  const byPrefix = new Map<string, ReportRun[]>()
  for (const r of runs) {
    const p = safe(r.uuid).slice(0, 8)
    const list = byPrefix.get(p) ?? []
    list.push(r)
    byPrefix.set(p, list)
  }
  const slugs = new Map<number, string>()
  for (const [prefix, list] of byPrefix) for (const r of list) slugs.set(r.id, list.length === 1 ? prefix : `${safe(r.uuid)}-${r.id}`)
  return slugs
}
