/** What the report renders: plain data read from the trace store by load.ts. */
import type { CheckRow, EventRow } from '../store/store.js'
import type { VerdictCounts } from './palette.js'
import type { ClaimOutcome, InvalidLine, Verdict } from '../trace/result.js'
import type { ScenarioDoc } from '../scenario/types.js'

export interface ReportRun {
  id: number
  uuid: string
  host: string
  hostKind: string
  kernel: string
  /** uname -v: on Debian kernels it names the upstream version (`Debian 6.1.158-1`), which the release does not. */
  kernelVersion: string
  arch: string
  distro: string | null
  kitVersion: string
  kitCommit: string | null
  startedAt: string
  status: string
  counts: VerdictCounts
  /** The sysctls the run recorded (system-info.ts RELEVANT_SYSCTLS); absent in hand-built models. */
  sysctls?: Record<string, string>
}

export interface ReportResult {
  id: number
  runId: number
  scenario: string
  pack: string
  variant: string
  attempt: number
  verdict: Verdict
  claim: ClaimOutcome | null
  message: string
  /** The stored version of the scenario file this result ran (the store's scenarios.id); absent in hand-built models. */
  scenarioVersion?: number
}

/** The newest stored version of a scenario file. */
export interface ReportScenario {
  id: string
  pack: string
  title: string
  doc: ScenarioDoc & { steps: Array<ScenarioDoc['steps'][number] & { id?: string }> }
}

/** One result with its whole trace, for timelines and trace pages. */
export interface ResultTrace {
  result: ReportResult
  run: ReportRun
  events: EventRow[]
  checks: CheckRow[]
  stderr: Record<string, string>
  invalid: InvalidLine[]
}

export interface ReportData {
  generatedAt: string
  /** Newest first. */
  runs: ReportRun[]
  /** Every result, in no particular order. */
  results: ReportResult[]
  scenarios: Map<string, ReportScenario>
  /** Every stored version of every scenario, by ReportResult.scenarioVersion: what each result really ran. */
  scenarioVersions?: Map<number, ReportScenario>
}

/** Reads one result's trace on demand (the store is the I/O edge). */
export type TraceSource = (result: ReportResult) => ResultTrace

export function kernelKey(run: Pick<ReportRun, 'kernel' | 'arch'>): string {
  return `${run.kernel} ${run.arch}`
}
