/**
 * Flaky or regression: a pair that went pass -> fail, or differs, has side
 * b's scenario (as the store holds it) run again N times on b's kernel, in a
 * child `sockspec run` into a temp store. Only when every re-run answers as
 * b did (same verdict, same answer: compare-runs.ts sameAnswer) does the
 * label stand; otherwise the pair is `flaky`. Here: runs on the kernel this
 * process runs on (same uname -r and -v), one child per pair; runs made in a
 * guest are booted again in rerun-guest.ts; runs from other machines or with
 * ssh hosts are left as they are and said so.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot } from '../paths.js'
import { TraceStore } from '../store/store.js'
import type { RunRow } from '../store/store.js'
import { bodyOf, sameAnswer } from './compare-runs.js'
import type { Comparison, Pair, PairLabel, RerunOutcome, TraceReader, Verdict } from './types.js'

export const RERUN_LABELS: ReadonlySet<PairLabel> = new Set(['regression', 'differs'])

/** b's run is on the kernel this process runs on. */
export function onThisKernel(c: Pick<Comparison, 'b'>): boolean {
  return c.b.kernelRelease === os.release() && c.b.kernelVersion === os.version()
}

/** The ssh hosts a run used (its `hosts` facts): re-running without those machines would answer another question. */
export function sshHostsOf(run: Pick<RunRow, 'hosts'>): string[] {
  return Object.entries(hostFacts(run))
    .filter(([, f]) => f['kind'] === 'ssh')
    .map(([name, f]) => (typeof f['address'] === 'string' ? `${name} (${f['address']})` : name))
}

export function hostFacts(run: Pick<RunRow, 'hosts'>): Record<string, Record<string, unknown>> {
  try {
    const v = JSON.parse(run.hosts) as unknown
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Record<string, unknown>>) : {}
  } catch {
    return {}
  }
}

export interface RerunContext {
  times: number
  read: TraceReader
  scenarioBody: (resultId: number) => Record<string, unknown> | undefined
  /** Per re-run child: bounded, so a hanging scenario cannot hold compare forever. */
  timeoutMs?: number
}

/** A child `sockspec run` into `db`; its exit status (null: killed at the limit), stderr. */
export function runChild(args: string[], db: string, timeoutMs: number): { status: number | null; signal: string | null; stderr: string } {
  const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
  const r = spawnSync(process.execPath, [bin, 'run', ...args, '--db', db, '--reporter', 'tap'], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  })
  return { status: r.status, signal: r.signal, stderr: r.stderr ?? '' }
}

/** A re-run result: its id in the child's store and its verdict. */
export interface RerunResult {
  id: number
  verdict: Verdict
}

/** The child store's results of one (scenario, variant), in attempt order. */
export function rerunResults(store: TraceStore, scenario: string, variant: string): RerunResult[] {
  return store.db
    .prepare(
      `SELECT r.id, r.verdict FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE s.scenario = ? AND r.variant = ? ORDER BY r.attempt`,
    )
    .all(scenario, variant) as RerunResult[]
}

/**
 * How the re-runs answered, against both sides: as b (b's verdict and b's
 * answer) or as a. Null when b's scenario is not in the store.
 */
export function judgeReruns(p: Pair, results: readonly RerunResult[], rerunStore: TraceStore, ctx: RerunContext): RerunOutcome | null {
  if (!p.a || !p.b) return null
  const body = bodyOf(ctx.scenarioBody, p.b.hash, p.b.resultId)
  if (!body) return null
  const taken = results.slice(0, ctx.times)
  const ta = ctx.read(p.a.resultId)
  const tb = ctx.read(p.b.resultId)
  let asA = 0
  let asB = 0
  let answered = 0
  for (const res of taken) {
    if (!answeredRerun(res.verdict, p.b.verdict)) continue
    answered++
    const tr = rerunStore.trace(res.id)
    if (res.verdict === p.b.verdict && sameAnswer(body, tb, tr)) asB++
    else if (res.verdict === p.a.verdict && sameAnswer(body, ta, tr)) asA++
  }
  return { runs: taken.length, answered, asA, asB, verdicts: taken.map(x => x.verdict) }
}

/**
 * A re-run that the kernel answered: pass or fail, or the verdict b itself
 * recorded. One that ended in a kit error (a guest too slow, a probe that
 * did not start) or a skip says nothing of the kernel either way.
 */
const answeredRerun = (verdict: Verdict, bVerdict: Verdict): boolean => verdict === 'pass' || verdict === 'fail' || verdict === bVerdict

/**
 * Record the outcome on the pair; one not reproduced by every answered
 * re-run becomes flaky. When no re-run answered, the pair stands as
 * recorded: a kit error must not turn a regression into a flaky pair the
 * gate lets through.
 */
export function applyRerun(c: Comparison, p: Pair, outcome: RerunOutcome): void {
  p.rerun = outcome
  const answered = outcome.answered ?? outcome.runs
  if (answered > 0 && outcome.asB < answered) {
    c.counts[p.label]--
    p.label = 'flaky'
    c.counts.flaky++
  }
}

/** Re-run b's side of one pair; null when its scenario is not in the store. */
export function rerunPair(p: Pair, ctx: RerunContext): RerunOutcome | null {
  if (!p.a || !p.b) return null
  const doc = ctx.scenarioBody(p.b.resultId)
  if (!doc || !bodyOf(ctx.scenarioBody, p.b.hash, p.b.resultId)) return null
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-rerun-'))
  try {
    // the id comes from the body; the file's place only has to be a pack directory
    const [pack = 'rerun', name = 'scenario'] = p.scenario.split('/')
    mkdirSync(join(dir, pack), { recursive: true })
    const file = join(dir, pack, `${name}.json`)
    writeFileSync(file, JSON.stringify(doc))
    const db = join(dir, 'rerun.db')
    const r = runChild([file, '--variant', p.variant, '--repeat', String(ctx.times)], db, ctx.timeoutMs ?? 120_000)
    if (r.status !== 0 && r.status !== 1)
      throw new Error(`re-running ${p.scenario} [${p.variant}] failed (${r.status ?? r.signal}): ${r.stderr.slice(-400)}`)
    const store = TraceStore.open(db, { readonly: true, mustExist: true })
    try {
      return judgeReruns(p, rerunResults(store, p.scenario, p.variant), store, ctx)
    } finally {
      store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Re-run the regressions and differences of one comparison; a pair not reproduced every time becomes flaky. Returns the pairs re-run. */
export function rerunComparison(c: Comparison, ctx: RerunContext): number {
  let n = 0
  for (const p of c.pairs) {
    if (!RERUN_LABELS.has(p.label)) continue
    const outcome = rerunPair(p, ctx)
    if (!outcome) continue
    n++
    applyRerun(c, p, outcome)
  }
  return n
}
