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
export const DIFF_LABELS: readonly DiffLabel[] = [
  'same',
  'expected',
  'differs',
  'flaky',
  'regression',
  'fixed',
  'new',
  'missing',
  'error',
  'skip',
]

/** A symbol per label, so a count never depends on colour alone. */
export const LABEL_SYMBOL: Record<DiffLabel, string> = {
  same: '=',
  expected: '≈',
  differs: '≠',
  flaky: '~',
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
  // not reproduced on re-running: Okabe-Ito reddish purple, apart from both the regression and the diff colours
  flaky: '#CC79A7',
  regression: VERDICT_COLOUR.fail,
  fixed: VERDICT_COLOUR.pass,
  new: '#56B4E9',
  missing: '#E69F00',
  error: VERDICT_COLOUR.error,
  skip: VERDICT_COLOUR.skip,
}

/** The page's own colours (text, grounds, rules, timeline strokes), one set per colour scheme. */
export interface UiColours {
  bg: string
  bgAlt: string
  bgPack: string
  bgEmpty: string
  ink: string
  inkSoft: string
  muted: string
  rule: string
  link: string
  lane: string
  wire: string
  axis: string
  evStroke: string
  errText: string
  maskText: string
  packet: string
  markPass: string
  noteFail: string
}

export const LIGHT_UI: UiColours = {
  bg: '#ffffff',
  bgAlt: '#f6f6f4',
  bgPack: '#ececea',
  bgEmpty: '#fafafa',
  ink: '#1a1a1a',
  inkSoft: '#333333',
  muted: '#666666',
  rule: '#d0d0d0',
  link: '#0060a0',
  lane: '#fafaf8',
  wire: '#f1f4f8',
  axis: '#c8c8c8',
  evStroke: '#b5b5b5',
  errText: '#8b3a00',
  maskText: '#0050a0',
  packet: '#0072B2',
  markPass: '#007a5a',
  noteFail: '#9a3b00',
}

/**
 * prefers-color-scheme: dark. Verdict, claim and label colours stay (their
 * badges carry black text, readable on every one of them); text, links and
 * the timeline's strokes get lighter tones of the same hues: Okabe-Ito sky
 * blue for packets, orange for errors.
 */
export const DARK_UI: UiColours = {
  bg: '#16181b',
  bgAlt: '#202327',
  bgPack: '#2b2e33',
  bgEmpty: '#1c1e21',
  ink: '#e8e8e8',
  inkSoft: '#d0d0d0',
  muted: '#a3a8ae',
  rule: '#3c4047',
  link: '#7cc4ff',
  lane: '#1d2024',
  wire: '#1a2230',
  axis: '#4a4f56',
  evStroke: '#6a7078',
  errText: '#ffab70',
  maskText: '#8fcbff',
  packet: '#56B4E9',
  markPass: '#3fd4a8',
  noteFail: '#ffab70',
}
