/** Terminal/CI output of a run. One module per format; all take the same calls. */
import type { ScenarioResult } from '../trace/result.js'
import type { RunRow } from '../store/store.js'

export interface Reporter {
  start(run: RunRow, total: number): void
  result(result: ScenarioResult, done: number, total: number): void
  end(run: RunRow, results: ScenarioResult[], interrupted: boolean): void
}

export interface Tally {
  pass: number
  fail: number
  error: number
  skip: number
  holds: number
  refuted: number
}

export function tally(results: readonly ScenarioResult[]): Tally {
  const t: Tally = { pass: 0, fail: 0, error: 0, skip: 0, holds: 0, refuted: 0 }
  for (const r of results) {
    t[r.verdict]++
    if (r.claim) t[r.claim]++
  }
  return t
}

export function resultName(r: ScenarioResult): string {
  return `${r.scenario.id} [${r.variant}]${r.attempt > 1 ? ` #${r.attempt}` : ''}`
}
