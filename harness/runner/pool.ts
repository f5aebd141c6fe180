/**
 * Run tasks with bounded concurrency, longest expected first (LPT order), so
 * scenarios that mostly wait on kernel timers overlap instead of queueing.
 */
import { waitMs } from '../ops/table.js'
import type { Step } from '../scenario/types.js'

export interface PoolTask<T> {
  estimateMs: number
  run(): Promise<T>
}

/**
 * `startGapMs` spaces task starts: a task's set-up (host, probes) is the
 * CPU-heavy part, so many starting in the same instant would queue on the
 * main thread and stretch the timer windows of the tasks already running.
 */
export async function runPool<T>(
  tasks: ReadonlyArray<PoolTask<T>>,
  jobs: number,
  onDone: (result: T) => void,
  shouldStop: () => boolean = () => false,
  startGapMs = 0,
): Promise<void> {
  const queue = [...tasks].sort((a, b) => b.estimateMs - a.estimateMs)
  let nextStart = 0
  const worker = async (): Promise<void> => {
    for (;;) {
      if (shouldStop()) return
      const task = queue.shift()
      if (!task) return
      const wait = nextStart - performance.now()
      nextStart = Math.max(nextStart, performance.now()) + startGapMs
      if (wait > 0) await new Promise(r => setTimeout(r, wait))
      if (shouldStop()) return
      onDone(await task.run())
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tasks.length)) }, worker))
}

/** Set-up and teardown of one scenario on simulated hosts (ip batches, a probe joining each namespace), measured at about 140 ms for two hosts on a loaded 2-core box. */
export const NETNS_SETUP_MS = 100
export const NETNS_HOST_MS = 25

/** A scenario's expected duration when no earlier run recorded one: its waits added up (a step's own limit counts half), plus the set-up of its simulated hosts. */
export function estimateScenarioMs(steps: ReadonlyArray<Pick<Step, 'do' | 'limit_ms'>>, hosts = 0): number {
  let ms = 0
  for (const s of steps) ms += s.limit_ms !== undefined ? s.limit_ms / 2 : (waitMs(s) ?? 0)
  return ms + 20 + (hosts ? NETNS_SETUP_MS + NETNS_HOST_MS * hosts : 0)
}

/**
 * --jobs from the estimates: enough workers that the suite's waits, packed
 * longest first, fit beside its longest task (the wall goal is 1.2 x the
 * longest + 2 s), with 25 % slack for estimates that run long. At least one
 * per core; at most 16 per core, past which starting tasks costs more CPU
 * than the waits they overlap.
 */
export function sizeJobs(estimatesMs: readonly number[], cores: number): number {
  if (!estimatesMs.length) return 1
  const longest = estimatesMs.reduce((a, b) => Math.max(a, b), 1)
  const total = estimatesMs.reduce((a, b) => a + b, 0)
  const wanted = Math.ceil((1.25 * total) / longest)
  return Math.min(estimatesMs.length, Math.max(cores, Math.min(16 * cores, wanted)))
}
