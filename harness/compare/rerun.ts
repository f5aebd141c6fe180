/**
 * Flaky or regression: a pair that went pass -> fail, or differs, has side
 * b's scenario (as the store holds it) run again N times on b's kernel, in a
 * child `sockspec run` into a temp store. Only when every re-run answers as
 * b did (same verdict, same answer: compare-runs.ts sameAnswer) does the
 * label stand; otherwise the pair is `flaky`. b's kernel must be the one
 * this process runs on (same uname -r and -v): runs from guests or other
 * machines are left as they are and said so.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot } from '../paths.js'
import { TraceStore } from '../store/store.js'
import { bodyOf, sameAnswer } from './compare-runs.js'
import type { Comparison, Pair, PairLabel, RerunOutcome, TraceReader, Verdict } from './types.js'

export const RERUN_LABELS: ReadonlySet<PairLabel> = new Set(['regression', 'differs'])

/** b's run is on the kernel this process runs on. */
export function onThisKernel(c: Pick<Comparison, 'b'>): boolean {
  return c.b.kernelRelease === os.release() && c.b.kernelVersion === os.version()
}

export interface RerunContext {
  times: number
  read: TraceReader
  scenarioBody: (resultId: number) => Record<string, unknown> | undefined
  /** Per re-run child: bounded, so a hanging scenario cannot hold compare forever. */
  timeoutMs?: number
}

/** Re-run b's side of one pair; null when its scenario is not in the store. */
export function rerunPair(p: Pair, ctx: RerunContext): RerunOutcome | null {
  if (!p.a || !p.b) return null
  const doc = ctx.scenarioBody(p.b.resultId)
  const body = bodyOf(ctx.scenarioBody, p.b.hash, p.b.resultId)
  if (!doc || !body) return null
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-rerun-'))
  try {
    // the id comes from the body; the file's place only has to be a pack directory
    const [pack = 'rerun', name = 'scenario'] = p.scenario.split('/')
    mkdirSync(join(dir, pack), { recursive: true })
    const file = join(dir, pack, `${name}.json`)
    writeFileSync(file, JSON.stringify(doc))
    const db = join(dir, 'rerun.db')
    const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
    const r = spawnSync(
      process.execPath,
      [bin, 'run', file, '--db', db, '--variant', p.variant, '--repeat', String(ctx.times), '--reporter', 'tap'],
      { encoding: 'utf8', timeout: ctx.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
    )
    if (r.status !== 0 && r.status !== 1)
      throw new Error(`re-running ${p.scenario} [${p.variant}] failed (${r.status ?? r.signal}): ${r.stderr.slice(-400)}`)
    const store = TraceStore.open(db, { readonly: true, mustExist: true })
    try {
      const results = (
        store.db.prepare(`SELECT id, verdict FROM results WHERE variant = ? ORDER BY attempt`).all(p.variant) as Array<{
          id: number
          verdict: Verdict
        }>
      ).slice(0, ctx.times)
      const ta = ctx.read(p.a.resultId)
      const tb = ctx.read(p.b.resultId)
      let asA = 0
      let asB = 0
      for (const res of results) {
        const tr = store.trace(res.id)
        if (res.verdict === p.b.verdict && sameAnswer(body, tb, tr)) asB++
        else if (res.verdict === p.a.verdict && sameAnswer(body, ta, tr)) asA++
      }
      return { runs: results.length, asA, asB, verdicts: results.map(x => x.verdict) }
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
    p.rerun = outcome
    if (outcome.runs === 0 || outcome.asB < outcome.runs) {
      c.counts[p.label]--
      p.label = 'flaky'
      c.counts.flaky++
    }
  }
  return n
}
