/** The machine-readable comparison document (schemas/compare.schema.json). Pure. */
import { emptyCounts } from './compare-runs.js'
import { PAIR_LABELS } from './types.js'
import type { Comparison, PairLabel, RunSummary } from './types.js'

export const COMPARE_FORMAT = 'sockspec-compare'
// 2: pairs carry the changed facets and re-run outcomes; the flaky label
export const COMPARE_VERSION = 2

export interface CompareDocument {
  format: typeof COMPARE_FORMAT
  version: typeof COMPARE_VERSION
  baseline: RunSummary | null
  comparisons: Comparison[]
  totals: Record<PairLabel, number>
  regression: boolean
}

export function compareDocument(comparisons: Comparison[], baseline: RunSummary | null): CompareDocument {
  const totals = emptyCounts()
  for (const c of comparisons) for (const l of PAIR_LABELS) totals[l] += c.counts[l]
  return { format: COMPARE_FORMAT, version: COMPARE_VERSION, baseline, comparisons, totals, regression: totals.regression > 0 }
}

/**
 * The same document as `JSON.stringify(compareDocument(...), null, 2)`,
 * written one comparison at a time, so compare --baseline over many runs
 * never holds every pair. Returns the totals.
 */
export function streamCompareDocument(
  comparisons: Iterable<Comparison>,
  baseline: RunSummary | null,
  write: (text: string) => void,
): Record<PairLabel, number> {
  const indent = (json: string, by: string): string => json.replace(/\n/g, `\n${by}`)
  write(`{\n  "format": ${JSON.stringify(COMPARE_FORMAT)},\n  "version": ${COMPARE_VERSION},\n`)
  write(`  "baseline": ${indent(JSON.stringify(baseline, null, 2), '  ')},\n  "comparisons": [`)
  const totals = emptyCounts()
  let n = 0
  for (const c of comparisons) {
    write(`${n++ ? ',' : ''}\n    ${indent(JSON.stringify(c, null, 2), '    ')}`)
    for (const l of PAIR_LABELS) totals[l] += c.counts[l]
  }
  write(n ? '\n  ],\n' : '],\n')
  write(`  "totals": ${indent(JSON.stringify(totals, null, 2), '  ')},\n  "regression": ${totals.regression > 0}\n}\n`)
  return totals
}
