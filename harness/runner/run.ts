/**
 * A run: every (scenario, variant, attempt) on one host, in parallel, each
 * result stored as soon as it is known. Ctrl-C stops scheduling, kills live
 * probes and marks the run interrupted; what was recorded stays.
 */
import os from 'node:os'
import type { HostDriver } from '../hosts/host.js'
import type { SystemInfo } from '../hosts/system-info.js'
import type { ProbeProcess } from '../probe/process.js'
import { variantsOf } from '../scenario/expand.js'
import type { Scenario } from '../scenario/types.js'
import type { TraceStore } from '../store/store.js'
import { estimateScenarioMs, runPool } from './pool.js'
import type { PoolTask } from './pool.js'
import type { ScenarioResult } from './result.js'
import { runScenario } from './run-scenario.js'

/**
 * Scenarios mostly wait on kernel timers (SYN-ACK retransmits, SYN
 * timeouts, epoll timeouts), not on the CPU: four per core keeps the
 * timers overlapping (npm run bench shows the difference).
 */
export function defaultJobs(): number {
  return 4 * os.availableParallelism()
}

export interface RunPlanOptions {
  scenarios: Scenario[]
  host: HostDriver
  system: SystemInfo
  store: TraceStore
  runId: number
  jobs: number
  repeat: number
  /** sysctl lookup where the probes run (a vm guest); default: this machine */
  readSysctl?: (name: string) => string | undefined
  onStart?: (total: number) => void
  onResult?: (result: ScenarioResult, done: number, total: number) => void
}

export interface RunOutcome {
  results: ScenarioResult[]
  interrupted: boolean
}

export async function runPlan(opts: RunPlanOptions): Promise<RunOutcome> {
  const known = opts.store.lastDurations()
  const live = new Set<ProbeProcess>()
  let interrupted = false
  const tasks: Array<PoolTask<ScenarioResult>> = []
  for (const scenario of opts.scenarios) {
    for (const variant of variantsOf(scenario)) {
      for (let attempt = 1; attempt <= opts.repeat; attempt++) {
        tasks.push({
          estimateMs: known.get(scenario.id) ?? estimateScenarioMs(scenario.steps),
          run: () =>
            runScenario(scenario, variant, {
              host: opts.host,
              system: opts.system,
              readSysctl: opts.readSysctl,
              attempt,
              onProbe: p => {
                live.add(p)
                if (interrupted) p.kill()
              },
              shouldStop: () => interrupted,
            }),
        })
      }
    }
  }
  const onSignal = (): void => {
    interrupted = true
    for (const p of live) p.kill()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const results: ScenarioResult[] = []
  opts.onStart?.(tasks.length)
  try {
    await runPool(
      tasks,
      opts.jobs,
      result => {
        if (interrupted) return // killed mid-way: not a kernel answer, not recorded
        opts.store.recordResult(opts.runId, result)
        results.push(result)
        opts.onResult?.(result, results.length, tasks.length)
      },
      () => interrupted,
    )
  } finally {
    await opts.host.close?.()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  opts.store.finishRun(opts.runId, interrupted ? 'interrupted' : 'complete')
  return { results, interrupted }
}
