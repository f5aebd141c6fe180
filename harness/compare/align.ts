/**
 * Alignment of two runs by (scenario, variant). Repeated attempts (--repeat)
 * are aggregated per side: the verdict is the worst over attempts
 * (error > fail > pass > skip) and the trace compared is the first attempt
 * that has that verdict, so one failing attempt out of five is seen, and
 * the side says it is flaky.
 */
import type { PairSide, RecordedResult, Verdict } from './types.js'

const SEVERITY: Record<Verdict, number> = { skip: 0, pass: 1, fail: 2, error: 3 }

export interface AlignedSide {
  side: PairSide
  result: RecordedResult
}

export interface Aligned {
  scenario: string
  variant: string
  title: string
  a: AlignedSide | null
  b: AlignedSide | null
}

export function pairKey(scenario: string, variant: string): string {
  return `${scenario}\u0000${variant}`
}

export function aggregateAttempts(attempts: readonly RecordedResult[]): AlignedSide {
  const sorted = [...attempts].sort((x, y) => x.attempt - y.attempt)
  const first = sorted[0]
  if (!first) throw new Error('aggregateAttempts: no attempt')
  let chosen = first
  const verdicts: Partial<Record<Verdict, number>> = {}
  for (const r of sorted) {
    verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1
    if (SEVERITY[r.verdict] > SEVERITY[chosen.verdict]) chosen = r
  }
  const side: PairSide = {
    resultId: chosen.resultId,
    attempt: chosen.attempt,
    verdict: chosen.verdict,
    attempts: sorted.length,
    verdicts,
    flaky: Object.keys(verdicts).length > 1,
    claim: chosen.claim,
    hash: chosen.hash,
    message: chosen.message,
    failedChecks: chosen.failedChecks,
  }
  return { side, result: chosen }
}

function groupByPair(results: readonly RecordedResult[]): Map<string, RecordedResult[]> {
  const groups = new Map<string, RecordedResult[]>()
  for (const r of results) {
    const key = pairKey(r.scenario, r.variant)
    const list = groups.get(key)
    if (list) list.push(r)
    else groups.set(key, [r])
  }
  return groups
}

/** Every (scenario, variant) of either run, sorted by scenario then variant. */
export function alignResults(a: readonly RecordedResult[], b: readonly RecordedResult[]): Aligned[] {
  const ga = groupByPair(a)
  const gb = groupByPair(b)
  const keys = [...new Set([...ga.keys(), ...gb.keys()])].sort()
  return keys.map(key => {
    const ra = ga.get(key)
    const rb = gb.get(key)
    const any = (ra ?? rb)![0]!
    return {
      scenario: any.scenario,
      variant: any.variant,
      title: (rb ?? ra)![0]!.title,
      a: ra ? aggregateAttempts(ra) : null,
      b: rb ? aggregateAttempts(rb) : null,
    }
  })
}
