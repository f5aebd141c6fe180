/**
 * Run tasks with bounded concurrency, longest expected first (LPT order), so
 * scenarios that mostly wait on kernel timers overlap instead of queueing.
 */
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

/** A scenario's expected duration when no earlier run recorded one: its waits added up. */
export function estimateScenarioMs(steps: ReadonlyArray<{ do: string; timeout_ms?: number; ms?: number; limit_ms?: number }>): number {
  let ms = 0
  for (const s of steps) {
    if (s.limit_ms !== undefined) ms += s.limit_ms / 2
    else if (s.do === 'sleep') ms += s.ms ?? 0
    else if ((s.do === 'epoll_wait' || s.do === 'poll') && (s.timeout_ms ?? 0) > 0) ms += s.timeout_ms! / 2
  }
  return ms + 20
}
