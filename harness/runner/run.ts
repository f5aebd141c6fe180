/**
 * A run: every (scenario, variant, attempt) on one host, in parallel, each
 * result stored as soon as it is known. Ctrl-C stops scheduling, kills live
 * probes and marks the run interrupted; what was recorded stays.
 */
import os from 'node:os'
import { onStdoutClosed, stdoutClosed } from '../cli/stdout.js'
import type { HostDriver } from '../hosts/host.js'
import type { SystemInfo } from '../hosts/system-info.js'
import { ProbePool } from '../probe/pool.js'
import type { PoolCounts } from '../probe/pool.js'
import type { ProbeProcess } from '../probe/process.js'
import { variantsOf } from '../scenario/expand.js'
import type { Scenario } from '../scenario/types.js'
import { SockspecError } from '../errors.js'
import { storeError } from '../store/store.js'
import type { TraceStore } from '../store/store.js'
import { estimateScenarioMs, runPool, sizeJobs } from './pool.js'
import type { PoolTask } from './pool.js'
import type { ScenarioResult } from '../trace/result.js'
import { runScenario } from './run-scenario.js'

/**
 * Scenarios mostly wait on kernel timers (SYN-ACK retransmits, SYN
 * timeouts, epoll timeouts), not on the CPU. Without estimates: four per
 * core; runPlan sizes the default from the suite's estimates (sizeJobs).
 */
export function defaultJobs(estimatesMs?: readonly number[]): number {
  const cores = os.availableParallelism()
  return estimatesMs ? sizeJobs(estimatesMs, cores) : 4 * cores
}

/**
 * Gap between task starts (runPool): the starts are spread over 40 % of the
 * longest estimate (2 to 20 ms apart), so a wide pool never sets up dozens of
 * scenarios in one instant, and the short ones at the end of the queue do not
 * all run their step round trips at once.
 */
export function startGapMs(estimatesMs: readonly number[]): number {
  if (!estimatesMs.length) return 0
  return Math.min(20, Math.max(2, (0.4 * Math.max(...estimatesMs)) / estimatesMs.length))
}

export interface RunPlanOptions {
  scenarios: Scenario[]
  host: HostDriver
  system: SystemInfo
  store: TraceStore
  runId: number
  /** absent: sized from the suite's estimated waits (defaultJobs) */
  jobs?: number
  repeat: number
  /** sysctl lookup where the probes run (a vm guest); default: this machine */
  readSysctl?: (name: string) => string | undefined
  onStart?: (total: number) => void
  /** each task's estimate and the jobs, before the first starts (a progress line's time left) */
  onPlan?: (tasks: Array<{ scenario: string; variant: string; estimateMs: number }>, jobs: number) => void
  onResult?: (result: ScenarioResult, done: number, total: number) => void
  /**
   * Asked about each `error` before it is recorded (and may amend its message);
   * true runs the variant once more, at most once (a vm guest that died and was
   * booted again). `mayRetry` false: the retry was spent, the answer is ignored.
   */
  retry?: (result: ScenarioResult, mayRetry: boolean) => Promise<boolean>
}

export interface RunOutcome {
  results: ScenarioResult[]
  interrupted: boolean
  /** stdout was closed under the run (`sockspec run | head`): it stopped early and is marked aborted */
  stdoutClosed?: boolean
  /** the --jobs the run used */
  jobs: number
  /** probes started, reused and stopped unfit by the run's probe pool */
  probes: PoolCounts
}

export async function runPlan(opts: RunPlanOptions): Promise<RunOutcome> {
  const known = opts.store.lastDurations()
  const live = new Set<ProbeProcess>()
  // probes reused across results: about as many spawned as actors run at once
  const probePool = new ProbePool()
  let interrupted = false
  let pipeClosed = false
  // tasks still running: after a failure they are stopped and awaited, so their namespaces go
  const inflight = new Set<Promise<ScenarioResult>>()
  const track = (p: Promise<ScenarioResult>): Promise<ScenarioResult> => {
    inflight.add(p)
    void p.then(
      () => inflight.delete(p),
      () => inflight.delete(p),
    )
    return p
  }
  const tasks: Array<PoolTask<ScenarioResult> & { scenario: string; variant: string }> = []
  for (const scenario of opts.scenarios) {
    for (const variant of variantsOf(scenario)) {
      for (let attempt = 1; attempt <= opts.repeat; attempt++) {
        tasks.push({
          scenario: scenario.id,
          variant: variant.name,
          estimateMs: known.get(scenario.id) ?? estimateScenarioMs(scenario.steps, Object.keys(scenario.hosts ?? {}).length),
          run: async () => {
            const once = (): Promise<ScenarioResult> =>
              track(
                runScenario(scenario, variant, {
                  host: opts.host,
                  system: opts.system,
                  readSysctl: opts.readSysctl,
                  attempt,
                  probePool,
                  onProbe: p => {
                    live.add(p)
                    if (interrupted) p.kill()
                  },
                  shouldStop: () => interrupted,
                }),
              )
            let r = await once()
            for (let left = 1; r.verdict === 'error' && !interrupted && opts.retry && (await opts.retry(r, left > 0)) && left > 0; left--)
              r = await once()
            return r
          },
        })
      }
    }
  }
  const onSignal = (): void => {
    interrupted = true
    for (const p of live) p.kill()
    for (const p of probePool.idleProbes()) p.kill()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const offPipe = onStdoutClosed(() => {
    pipeClosed = true
    onSignal()
  })
  if (stdoutClosed()) pipeClosed = interrupted = true
  const results: ScenarioResult[] = []
  const jobs = opts.jobs ?? defaultJobs(tasks.map(t => t.estimateMs))
  try {
    opts.onStart?.(tasks.length)
    opts.onPlan?.(
      tasks.map(t => ({ scenario: t.scenario, variant: t.variant, estimateMs: t.estimateMs })),
      jobs,
    )
    await runPool(
      tasks,
      jobs,
      result => {
        if (interrupted) return // killed mid-way: not a kernel answer, not recorded
        opts.store.queueResult(opts.runId, result)
        results.push(result)
        opts.onResult?.(result, results.length, tasks.length)
      },
      () => interrupted,
      startGapMs(tasks.map(t => t.estimateMs)),
    )
  } catch (err) {
    // an internal error or a store that cannot take the result (disk full): stop, clean up, mark
    onSignal()
    await Promise.allSettled([...inflight])
    const failure = storeError(opts.store.file, err)
    try {
      const message = failure instanceof Error ? failure.message : String(failure)
      opts.store.abortRun(opts.runId, failure instanceof SockspecError ? message : `internal error: ${message}`)
    } catch {
      // the store cannot take even that (disk full): the next open marks it, its beacon is gone by then
    }
    throw failure
  } finally {
    await probePool.close()
    await opts.host.close?.()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    offPipe()
  }
  if (pipeClosed) opts.store.abortRun(opts.runId, 'stdout was closed (broken pipe); the run stopped early')
  else opts.store.finishRun(opts.runId, interrupted ? 'interrupted' : 'complete')
  return { results, interrupted: interrupted && !pipeClosed, stdoutClosed: pipeClosed, jobs, probes: { ...probePool.counts } }
}
