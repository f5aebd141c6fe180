/** One JSON document on stdout when the run ends: the run and every result. */
import type { ScenarioResult } from '../trace/result.js'
import type { RunRow } from '../store/store.js'
import type { Reporter } from './reporter.js'
import { tally } from './reporter.js'

export function runDocument(run: RunRow, results: readonly ScenarioResult[], interrupted: boolean): unknown {
  return {
    run: {
      id: run.uuid,
      host: run.host,
      hostKind: run.host_kind,
      kernel: run.kernel_release,
      kernelVersion: run.kernel_version,
      arch: run.arch,
      distro: run.distro,
      kitVersion: run.kit_version,
      kitCommit: run.kit_commit,
      startedAt: run.started_at,
      interrupted,
      totals: tally(results),
    },
    results: results.map(r => ({
      scenario: r.scenario.id,
      pack: r.scenario.pack,
      title: r.scenario.title,
      variant: r.variant,
      attempt: r.attempt,
      verdict: r.verdict,
      claim: r.claim ?? null,
      message: r.message,
      durationMs: Math.round(r.durationMs * 1000) / 1000,
      events: r.events.length,
      failedChecks: r.checks
        .filter(c => !c.ok)
        .map(c => ({ step: c.step, actor: c.actor, field: c.field, expected: c.expected, observed: c.observed, claim: c.claim })),
    })),
  }
}

export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    start() {},
    result() {},
    end(run, results, interrupted) {
      out.write(JSON.stringify(runDocument(run, results, interrupted), null, 2) + '\n')
    },
  }
}
