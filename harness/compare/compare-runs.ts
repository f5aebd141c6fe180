/** Compare two loaded runs: align, diff, label. Pure but for `read`, which is called only for pairs whose signatures differ. */
import { alignResults } from './align.js'
import { kernelDependentSteps, onlyExpectedDifferences, rangeKernelOf } from './expected.js'
import { firstDifference } from './first-difference.js'
import { labelPair } from './label.js'
import { PAIR_LABELS } from './types.js'
import type { Comparison, Pair, PairLabel, RunTraces, TraceReader } from './types.js'

export function emptyCounts(): Record<PairLabel, number> {
  return Object.fromEntries(PAIR_LABELS.map(l => [l, 0])) as Record<PairLabel, number>
}

export interface CompareOptions {
  /**
   * A result's scenario as stored (its steps and expectations): with it, a
   * pair that differs only where the scenario expects these two kernels to
   * answer differently is labelled `expected`.
   */
  scenarioBody?: (resultId: number) => Record<string, unknown> | undefined
}

export function compareRuns(a: RunTraces, b: RunTraces, read: TraceReader, opts: CompareOptions = {}): Comparison {
  const counts = emptyCounts()
  const kernelA = rangeKernelOf(a.run)
  const kernelB = rangeKernelOf(b.run)
  const pairs: Pair[] = alignResults(a.results, b.results).map(al => {
    // a skipped or errored side has no meaningful trace to diff
    const comparable = al.a && al.b && al.a.side.verdict !== 'skip' && al.b.side.verdict !== 'skip'
    // equal signatures: equal normalised traces and checks, nothing to load
    const differs = comparable && al.a!.result.signature !== al.b!.result.signature
    const difference = differs ? firstDifference(read(al.a!.result.resultId), read(al.b!.result.resultId)) : null
    let label = labelPair(al.a?.side ?? null, al.b?.side ?? null, difference !== null)
    // same verdict, different trace: expected when the scenario (one file on both sides) says these kernels answer differently there
    if (label === 'differs' && opts.scenarioBody && al.a!.side.hash === al.b!.side.hash && kernelA !== kernelB) {
      const steps = kernelDependentSteps(opts.scenarioBody(al.b!.result.resultId), kernelA, kernelB)
      if (onlyExpectedDifferences(steps, read(al.a!.result.resultId), read(al.b!.result.resultId))) label = 'expected'
    }
    counts[label]++
    return {
      scenario: al.scenario,
      variant: al.variant,
      title: al.title,
      label,
      a: al.a?.side ?? null,
      b: al.b?.side ?? null,
      scenarioChanged: !!(al.a && al.b && al.a.side.hash !== al.b.side.hash),
      firstDifference: label === 'same' ? null : difference,
    }
  })
  return { a: a.run, b: b.run, pairs, counts }
}

export function hasRegression(comparisons: readonly Comparison[]): boolean {
  return comparisons.some(c => c.counts.regression > 0)
}
