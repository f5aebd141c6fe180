/**
 * One JSON document when the run ends: the run and every result, under
 * schemas/results.schema.json (format `sockspec-results`, version 1), in the
 * run bundle's snake_case names (`sockspec export`), so a consumer reads one
 * naming whichever of the two it gets.
 */
import type { Reporter } from './reporter.js'
import { outcomeOfResult, outcomeRun, resultOrder, totals } from './outcome.js'
import type { Outcome, OutcomeRun } from './outcome.js'

export const RESULTS_FORMAT = 'sockspec-results'
export const RESULTS_VERSION = 1

export function runDocument(run: OutcomeRun, outcomes: readonly Outcome[], interrupted: boolean): unknown {
  const claims = { holds: 0, refuted: 0 }
  for (const o of outcomes) if (o.claim) claims[o.claim]++
  return {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    run: { ...run, interrupted, totals: { ...totals(outcomes), ...claims } },
    // in the store's order (scenario, variant, attempt), not the order results finished in
    results: [...outcomes].sort(resultOrder).map(o => ({
      scenario: o.scenario,
      pack: o.pack,
      title: o.title,
      variant: o.variant,
      attempt: o.attempt,
      verdict: o.verdict,
      claim: o.claim,
      message: o.message,
      duration_ms: Math.round(o.duration_ms * 1000) / 1000,
      events: o.events.length,
      failed_checks: o.checks
        .filter(c => c.verdict !== 'pass')
        .map(c => ({ step: c.step, actor: c.actor, field: c.field, expected: c.expected, observed: c.observed, claim: c.claim === 1 })),
    })),
  }
}

export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    start() {},
    result() {},
    end(run, results, interrupted) {
      out.write(JSON.stringify(runDocument(outcomeRun(run), results.map(outcomeOfResult), interrupted), null, 2) + '\n')
    },
  }
}
