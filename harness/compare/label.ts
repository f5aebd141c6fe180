/**
 * The label of an aligned pair, as KernelCI and wpt.fyi users read them:
 * a change of verdict between pass and fail is a regression or a fix; a
 * changed trace with the same verdict "differs"; an error on either side is
 * "error" (the kit broke, the kernel's answer is unknown), never a regression.
 */
import type { PairLabel, PairSide } from './types.js'

export function labelPair(a: PairSide | null, b: PairSide | null, tracesDiffer: boolean): PairLabel {
  if (!a && !b) throw new Error('labelPair: both sides empty')
  if (!a) return 'new'
  if (!b) return 'missing'
  if (a.verdict === 'error' || b.verdict === 'error') return 'error'
  if (a.verdict === 'skip' || b.verdict === 'skip') return a.verdict === b.verdict ? 'same' : 'skip'
  if (a.verdict === 'pass' && b.verdict === 'fail') return 'regression'
  if (a.verdict === 'fail' && b.verdict === 'pass') return 'fixed'
  return tracesDiffer ? 'differs' : 'same'
}
