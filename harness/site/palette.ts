/**
 * Verdict colours from the Okabe-Ito palette (readable with any colour
 * vision) and a symbol for each, so a cell never depends on colour alone.
 */
import type { PairLabel } from '../compare/types.js'
import type { ClaimOutcome, Verdict } from '../trace/result.js'

export const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'error', 'skip']

export const VERDICT_SYMBOL: Record<Verdict, string> = { pass: '✓', fail: '✗', error: '!', skip: '–' }

/** Okabe-Ito: bluish green, vermillion, reddish purple; skip is neutral grey. */
export const VERDICT_COLOUR: Record<Verdict, string> = { pass: '#009E73', fail: '#D55E00', error: '#CC79A7', skip: '#D9D9D9' }

export const CLAIM_SYMBOL: Record<ClaimOutcome, string> = { holds: '✓', refuted: '✗' }

/** Okabe-Ito blue for a claim that holds, vermillion for a refuted one. */
export const CLAIM_COLOUR: Record<ClaimOutcome, string> = { holds: '#56B4E9', refuted: '#D55E00' }

/** Okabe-Ito yellow marks events that differ from the most common trace. */
export const DIFF_COLOUR = '#F0E442'

export function asVerdict(value: string): Verdict {
  return (VERDICTS as readonly string[]).includes(value) ? (value as Verdict) : 'error'
}

export type VerdictCounts = Record<Verdict, number>

export function emptyCounts(): VerdictCounts {
  return { pass: 0, fail: 0, error: 0, skip: 0 }
}

/** The labels of `sockspec compare`. */
export type DiffLabel = PairLabel

/** Order of the label counts on a diff page. */
export const DIFF_LABELS: readonly DiffLabel[] = ['same', 'expected', 'differs', 'regression', 'fixed', 'new', 'missing', 'error', 'skip']

/** A symbol per label, so a count never depends on colour alone. */
export const LABEL_SYMBOL: Record<DiffLabel, string> = {
  same: '=',
  expected: '≈',
  differs: '≠',
  regression: '✗',
  fixed: '✓',
  new: '+',
  missing: '∅',
  error: '!',
  skip: '–',
}

/** Okabe-Ito again: a regression is a failure (vermillion), a fix a pass (bluish green), differs the diff yellow. */
export const LABEL_COLOUR: Record<DiffLabel, string> = {
  same: '#EFEFEF',
  // a difference the scenario records per kernel: Okabe-Ito sky blue, lighter than `new`
  expected: '#A6D8F2',
  differs: DIFF_COLOUR,
  regression: VERDICT_COLOUR.fail,
  fixed: VERDICT_COLOUR.pass,
  new: '#56B4E9',
  missing: '#E69F00',
  error: VERDICT_COLOUR.error,
  skip: VERDICT_COLOUR.skip,
}
