/**
 * Expectations across steps (and so across actors): "exactly one of these
 * waiters was woken", "at least two of these accepts succeeded". Each entry
 * names the steps, the expectation each step's answer is tested against
 * (`of`: the same fields as a step's `expect`), and how many of them must
 * meet it (`count`: an integer or a comparison such as ">=1"). Judged once
 * every step has run, from the steps' answers: a claim no single step can
 * carry without naming in advance which waiter the kernel picks.
 */
import type { ProbeEvent } from '../trace/event.js'
import type { AcrossExpectation } from '../scenario/types.js'
import { checkRet, matchStep } from './match.js'
import type { Check } from '../trace/result.js'

/** One check per entry; `answerOf` gives a step's answering event (undefined: it never answered). */
export function matchAcross(entries: readonly AcrossExpectation[], answerOf: (step: string) => ProbeEvent | undefined): Check[] {
  return entries.map((entry, i) => {
    const met: string[] = []
    const missed: string[] = []
    for (const id of entry.steps) {
      const event = answerOf(id)
      const ok =
        event !== undefined &&
        matchStep(entry.of, event, { step: id, actor: '', claim: false, stepStart: () => undefined }).every(c => c.ok)
      ;(ok ? met : missed).push(id)
    }
    const count = entry.count ?? 1
    return {
      step: `across[${i}]`,
      actor: 'across',
      field: `count of ${JSON.stringify(entry.of)}`,
      expected: `${typeof count === 'number' ? count : count} of ${entry.steps.join(', ')}`,
      observed: `${met.length}${met.length ? ` (${met.join(', ')})` : ''}`,
      ok: checkRet(count, met.length),
      claim: false,
    }
  })
}
