/**
 * One status line on stderr, rewritten in place while a run goes: what it is
 * doing ("booting 6.1 (3 s)"), the counts so far and an estimate of the time
 * left. Only on a TTY (never in a pipe, a file or a CI log) and only once the
 * run has lasted a second, so short runs print nothing extra. Anything else
 * written to the terminal meanwhile goes through `write`, which takes the
 * line away first and puts it back after.
 */
import type { Verdict } from '../trace/result.js'
import { textWidth, terminalColumns } from './terminal-width.js'

/** A run shorter than this never shows the line. */
export const SHOW_AFTER_MS = 1000
const REDRAW_MS = 500

export interface PlannedTask {
  scenario: string
  variant: string
  estimateMs: number
}

/**
 * Wall time of the plan: the estimates packed longest first onto `jobs`
 * workers, as runner/pool.ts runs them.
 */
export function plannedWallMs(estimatesMs: readonly number[], jobs: number): number {
  const workers = new Array<number>(Math.max(1, Math.min(jobs, estimatesMs.length || 1))).fill(0)
  for (const ms of [...estimatesMs].sort((a, b) => b - a)) {
    let least = 0
    for (let w = 1; w < workers.length; w++) if (workers[w]! < workers[least]!) least = w
    workers[least]! += ms
  }
  return workers.reduce((a, b) => Math.max(a, b), 0)
}

/**
 * Time left: the plan's wall time, stretched by how much slower (or faster)
 * than estimated the finished work went once a tenth of it is done.
 */
export function remainingMs(planned: number, elapsed: number, doneWork: number, totalWork: number): number {
  const fraction = totalWork > 0 ? doneWork / totalWork : 0
  const pace = fraction >= 0.1 && planned > 0 ? elapsed / (planned * fraction) : 1
  return Math.max(0, planned * pace - elapsed)
}

export function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000)
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
}

type Stream = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number }

export class ProgressLine {
  readonly enabled: boolean
  private shown = false
  private timer: NodeJS.Timeout | undefined
  private readonly runStart: number
  private phaseStart = 0
  private phaseLabel = ''
  private plan: { label: string; total: number; planned: number; totalWork: number; estimates: Map<string, number> } | undefined
  private done = 0
  private doneWork = 0
  private counts: Record<Verdict, number> = { pass: 0, fail: 0, error: 0, skip: 0 }

  constructor(
    private readonly stream: Stream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
    private readonly now: () => number = () => performance.now(),
  ) {
    // a CI log keeps every \r: no line there, even when the runner fakes a terminal
    this.enabled = Boolean(stream.isTTY) && !env['CI'] && env['TERM'] !== 'dumb'
    this.runStart = now()
  }

  /** A phase without counts: `booting 6.1`, shown with its seconds. */
  phase(label: string): void {
    this.phaseLabel = label
    this.phaseStart = this.now()
    this.plan = undefined
    this.redraw()
  }

  /** Scenarios start: their estimates give the time left. */
  start(label: string, tasks: readonly PlannedTask[], jobs: number): void {
    const estimates = new Map(tasks.map(t => [`${t.scenario}\0${t.variant}`, t.estimateMs]))
    const work = tasks.map(t => t.estimateMs)
    this.plan = {
      label,
      total: tasks.length,
      planned: plannedWallMs(work, jobs),
      totalWork: work.reduce((a, b) => a + b, 0),
      estimates,
    }
    this.phaseStart = this.now()
    this.done = this.doneWork = 0
    this.counts = { pass: 0, fail: 0, error: 0, skip: 0 }
    this.redraw()
  }

  /** One result counted; shown at the next redraw (the `write` of its reporter line, or the clock). */
  result(scenario: string, variant: string, verdict: Verdict): void {
    this.done++
    this.counts[verdict]++
    this.doneWork += this.plan?.estimates.get(`${scenario}\0${variant}`) ?? 0
  }

  /** The line as it reads now (without the escape codes). */
  text(): string {
    const elapsed = this.now() - this.phaseStart
    if (!this.plan) return `${this.phaseLabel} (${formatSeconds(elapsed)})`
    const p = this.plan
    const c = this.counts
    const left = remainingMs(p.planned, elapsed, this.doneWork, p.totalWork)
    const eta = this.done < p.total ? `, about ${formatSeconds(left)} left` : ''
    return `${p.label ? `${p.label}: ` : ''}[${this.done}/${p.total}] ${c.pass} pass, ${c.fail} fail, ${c.error} error, ${c.skip} skip, ${formatSeconds(elapsed)}${eta}`
  }

  /** Other output: the line is taken away while it is written, and comes back after. */
  write<T>(fn: () => T): T {
    this.clear()
    try {
      return fn()
    } finally {
      this.redraw()
    }
  }

  /** Takes the line away for good (the run ended). */
  stop(): void {
    this.clear()
    this.plan = undefined
    this.phaseLabel = ''
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private clear(): void {
    if (!this.shown) return
    this.stream.write('\r\x1b[K')
    this.shown = false
  }

  private redraw(): void {
    if (!this.enabled || (!this.plan && !this.phaseLabel)) return
    // the clock keeps the seconds moving while nothing finishes (a guest booting, a long wait)
    this.timer ??= setInterval(() => this.redraw(), REDRAW_MS).unref()
    if (this.now() - this.runStart < SHOW_AFTER_MS) return
    // one column short of the width: a line that fills it would wrap and could not be rewritten
    const room = terminalColumns(this.stream) - 1
    let line = this.text()
    if (textWidth(line) > room) line = [...line].slice(0, Math.max(0, room - 1)).join('') + '…'
    this.stream.write(`\r\x1b[K${line}`)
    this.shown = true
  }
}
