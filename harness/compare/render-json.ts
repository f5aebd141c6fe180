/** The machine-readable comparison document (schemas/compare.schema.json). Pure. */
import { emptyCounts } from './compare-runs.js'
import { PAIR_LABELS } from './types.js'
import type { Comparison, PairLabel, RunSummary } from './types.js'

export const COMPARE_FORMAT = 'sockspec-compare'
export const COMPARE_VERSION = 1

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
