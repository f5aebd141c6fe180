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

export async function runPool<T>(
  tasks: ReadonlyArray<PoolTask<T>>,
  jobs: number,
  onDone: (result: T) => void,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  const queue = [...tasks].sort((a, b) => b.estimateMs - a.estimateMs)
  const worker = async (): Promise<void> => {
    for (;;) {
      if (shouldStop()) return
      const task = queue.shift()
      if (!task) return
      onDone(await task.run())
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tasks.length)) }, worker))
}

/** A scenario's expected duration when no earlier run recorded one: its waits added up (a step's own limit counts half). */
export function estimateScenarioMs(steps: ReadonlyArray<Pick<Step, 'do' | 'limit_ms'>>): number {
  let ms = 0
  for (const s of steps) ms += s.limit_ms !== undefined ? s.limit_ms / 2 : (waitMs(s) ?? 0)
  return ms + 20
}
