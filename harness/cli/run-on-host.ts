/**
 * One run on one host, as both `sockspec run` paths do it (this machine, and
 * each guest kernel): record the run, report it as it goes, run the plan,
 * and turn the outcome into the command's exit code. Ctrl-C and a closed
 * stdout are handled by runPlan; this only reads what it says.
 */
import type { HostDriver } from '../hosts/host.js'
import type { SystemInfo } from '../hosts/system-info.js'
import type { ProgressLine } from '../reporters/progress.js'
import type { Reporter } from '../reporters/reporter.js'
import { runPlan } from '../runner/run.js'
import type { RunOutcome, RunPlanOptions } from '../runner/run.js'
import { runInfoFor } from '../runner/run-info.js'
import type { Scenario } from '../scenario/types.js'
import type { RunInfo, TraceStore } from '../store/store.js'

export interface HostRunOptions {
  store: TraceStore
  host: HostDriver
  system: SystemInfo
  scenarios: Scenario[]
  /** made once the run is recorded */
  reporter: () => Reporter
  jobs: number | undefined
  repeat: number
  /** the run's other machines (--host), for its run row */
  hosts?: RunInfo['hosts']
  /** sysctl lookup where the probes run (a vm guest); default: this machine */
  readSysctl?: (name: string) => string | undefined
  /** whether an `error` result is run once more (a guest that died and was booted again) */
  retry?: RunPlanOptions['retry']
  /** the status line on stderr (a TTY only), and the label of this run in it */
  progress?: ProgressLine
  progressLabel?: string
}

export interface HostRun extends RunOutcome {
  /** 130 interrupted, 1 a failure or error, else 0 (a closed stdout keeps the code of what was recorded) */
  code: number
}

export async function runOnHost(o: HostRunOptions): Promise<HostRun> {
  const { id: runId } = o.store.beginRun(runInfoFor(o.system, o.host.kind, o.hosts))
  const run = o.store.run(String(runId))!
  const reporter = o.reporter()
  let outcome: RunOutcome
  try {
    outcome = await runPlan({
      scenarios: o.scenarios,
      host: o.host,
      system: o.system,
      readSysctl: o.readSysctl,
      store: o.store,
      runId,
      jobs: o.jobs,
      repeat: o.repeat,
      retry: o.retry,
      onStart: total => (o.progress ? o.progress.write(() => reporter.start(run, total)) : reporter.start(run, total)),
      onPlan: (tasks, jobs) => o.progress?.start(o.progressLabel ?? '', tasks, jobs),
      onResult: (r, done, total) => {
        if (!o.progress) return reporter.result(r, done, total)
        o.progress.result(r.scenario.id, r.variant, r.verdict)
        o.progress.write(() => reporter.result(r, done, total))
      },
    })
  } finally {
    o.progress?.stop()
  }
  reporter.end(run, outcome.results, outcome.interrupted)
  const bad = outcome.results.some(r => r.verdict === 'fail' || r.verdict === 'error')
  return { ...outcome, code: outcome.interrupted ? 130 : bad ? 1 : 0 }
}
