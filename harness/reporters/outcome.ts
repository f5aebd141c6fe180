/**
 * One neutral shape for the machine outputs (KTAP, JUnit, JSON, KCIDB): a
 * result as a finished run reports it and as a store or bundle holds it, so
 * `run --reporter X` and `export --format X` print the same document.
 * Field names are the store's and the bundle's (snake_case).
 */
import type { BundleResult, BundleRun, BundleScenario, RunBundle } from '../store/run-bundle.js'
import type { CheckRow, EventRow, RunRow } from '../store/store.js'
import type { ClaimOutcome, ScenarioResult, Verdict } from '../trace/result.js'

/** The run facts the outputs print: the store's own run columns. */
export type OutcomeRun = Pick<
  RunRow,
  | 'uuid'
  | 'host'
  | 'host_kind'
  | 'kernel_release'
  | 'kernel_version'
  | 'arch'
  | 'distro'
  | 'kit_version'
  | 'kit_commit'
  | 'started_at'
  | 'finished_at'
>

export interface Outcome {
  /** `pack/name` */
  scenario: string
  pack: string
  title: string
  /** the scenario file, when the result came from a live run (a store keeps the body, not the path) */
  file?: string
  variant: string
  attempt: number
  verdict: Verdict
  claim: ClaimOutcome | null
  message: string
  duration_ms: number
  events: EventRow[]
  checks: CheckRow[]
  stderr: Record<string, string>
}

export function outcomeRun(run: RunRow | BundleRun): OutcomeRun {
  const { uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, started_at, finished_at } = run
  return { uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, started_at, finished_at }
}

/** A live result's events as the store would keep them (times from the first event of each clock). */
export function eventRowsOf(result: ScenarioResult): EventRow[] {
  const origins = new Map<string, number>()
  for (const { clock = 'local', event } of result.events) {
    const o = origins.get(clock)
    if (o === undefined || event.t0 < o) origins.set(clock, event.t0)
  }
  return result.events.map(({ actor, event: e, clock = 'local' }, idx) => ({
    idx,
    actor,
    seq: e.seq,
    step: e.step ?? null,
    t_ns: e.t0 - (origins.get(clock) ?? 0),
    dur_ns: e.t1 !== undefined ? e.t1 - e.t0 : null,
    op: e.op,
    sockets: e.h ?? e.new ?? null,
    ret: e.ret ?? null,
    errno: e.errno ?? null,
    mask: null,
    details: JSON.stringify(e),
  }))
}

export function outcomeOfResult(r: ScenarioResult): Outcome {
  return {
    scenario: r.scenario.id,
    pack: r.scenario.pack,
    title: r.scenario.title,
    file: r.scenario.file,
    variant: r.variant,
    attempt: r.attempt,
    verdict: r.verdict,
    claim: r.claim ?? null,
    message: r.message,
    duration_ms: r.durationMs,
    events: eventRowsOf(r),
    checks: r.checks.map((c, idx) => ({ ...c, idx, verdict: c.ok ? 'pass' : 'fail', claim: c.claim ? 1 : 0 })),
    stderr: r.stderr,
  }
}

export function outcomeOfBundleResult(r: BundleResult, scenario: BundleScenario | undefined): Outcome {
  return {
    scenario: r.scenario,
    pack: scenario?.pack ?? r.scenario.split('/')[0] ?? '',
    title: scenario?.title ?? '',
    variant: r.variant,
    attempt: r.attempt,
    verdict: r.verdict,
    claim: r.claim,
    message: r.message,
    duration_ms: r.duration_ms,
    events: r.events.map(e => ({ ...e, details: JSON.stringify(e.details) })),
    checks: r.checks,
    stderr: r.stderr,
  }
}

export function outcomesOfBundle(bundle: RunBundle): Outcome[] {
  const scenarios = new Map(bundle.scenarios.map(s => [`${s.scenario}\0${s.hash}`, s]))
  return bundle.results.map(r => outcomeOfBundleResult(r, scenarios.get(`${r.scenario}\0${r.hash}`)))
}

/** kselftest's counters (pass, fail, xfail, xpass, skip, error); sockspec has no expected failures. */
export function totals(outcomes: readonly Outcome[]): Record<Verdict, number> {
  const t: Record<Verdict, number> = { pass: 0, fail: 0, error: 0, skip: 0 }
  for (const o of outcomes) t[o.verdict]++
  return t
}

/** The store's order of results: scenario, variant, attempt. */
export function resultOrder(a: Outcome, b: Outcome): number {
  return a.scenario < b.scenario
    ? -1
    : a.scenario > b.scenario
      ? 1
      : a.variant < b.variant
        ? -1
        : a.variant > b.variant
          ? 1
          : a.attempt - b.attempt
}

/** Packs in name order, each with its results in scenario, variant, attempt order. */
export function byPack(outcomes: readonly Outcome[]): Array<[string, Outcome[]]> {
  const packs = new Map<string, Outcome[]>()
  for (const o of outcomes) {
    const list = packs.get(o.pack) ?? []
    list.push(o)
    packs.set(o.pack, list)
  }
  return [...packs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, list]) => [p, list.sort(resultOrder)])
}

/** Name of a result inside its pack: `einprogress ipv4`, `#2` for a repeat. */
export function nameInPack(o: Outcome): string {
  const base = o.scenario.startsWith(`${o.pack}/`) ? o.scenario.slice(o.pack.length + 1) : o.scenario
  return `${base} ${o.variant}${o.attempt > 1 ? ` #${o.attempt}` : ''}`
}
