/**
 * KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst), laid out
 * as kselftest and KUnit print it: one subtest per pack, each indented four
 * spaces with its own version line, `# Subtest:` line and plan, then the
 * pack's own result line; a skipped result carries `# SKIP reason`; failed
 * checks are diagnostic lines before their result; kselftest's closing line
 * `# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N` ends the output.
 * Written when the run ends: results finish in any order, packs are grouped.
 */
import type { Reporter } from './reporter.js'
import { byPack, nameInPack, outcomeOfResult, outcomeRun, totals } from './outcome.js'
import type { Outcome, OutcomeRun } from './outcome.js'
import { terminalText } from './terminal-text.js'

/** A test name: one line, and no `#` (KTAP parsers end the name at the first one; kunit_parser takes `[^#]*`). */
export function ktapName(text: string): string {
  return terminalText(text).replace(/#/g, '%23')
}

/** A directive reason or diagnostic: one line, escaped for the terminal. */
const diag = (text: string): string => terminalText(text)

function resultLine(ok: boolean, n: number, name: string, skipReason?: string): string {
  return `${ok ? 'ok' : 'not ok'} ${n} ${ktapName(name)}${skipReason !== undefined ? ` # SKIP ${diag(skipReason)}`.trimEnd() : ''}`
}

function diagnostics(o: Outcome): string[] {
  if (o.verdict === 'pass' || o.verdict === 'skip') return o.claim ? [`# claim ${o.claim}`] : []
  const lines = [`# ${o.verdict}: ${diag(o.message)}`.trimEnd()]
  for (const c of o.checks)
    if (c.verdict !== 'pass') lines.push(`# ${diag(`${c.step} ${c.actor} ${c.field}: expected ${c.expected}, got ${c.observed}`)}`)
  for (const [actor, text] of Object.entries(o.stderr))
    for (const l of text.split('\n').filter(Boolean).slice(0, 20)) lines.push(`# ${diag(`${actor}: ${l}`)}`)
  return lines
}

export function ktapDocument(run: OutcomeRun, outcomes: readonly Outcome[], interrupted = false): string {
  const packs = byPack(outcomes)
  const out = [
    'KTAP version 1',
    `# sockspec run ${diag(run.uuid)} kernel ${diag(run.kernel_release)} ${diag(run.arch)} host ${diag(run.host)}`,
    `1..${packs.length}`,
  ]
  packs.forEach(([pack, list], i) => {
    const sub = ['KTAP version 1', `# Subtest: ${ktapName(pack)}`, `1..${list.length}`]
    list.forEach((o, j) => {
      sub.push(...diagnostics(o))
      sub.push(
        resultLine(
          o.verdict === 'pass' || o.verdict === 'skip',
          j + 1,
          nameInPack(o),
          o.verdict === 'skip' ? o.message || 'skipped' : undefined,
        ),
      )
    })
    const t = totals(list)
    sub.push(`# ${ktapName(pack)}: pass:${t.pass} fail:${t.fail} skip:${t.skip} error:${t.error} total:${list.length}`)
    out.push(...sub.map(l => `    ${l}`))
    const allSkipped = t.skip === list.length
    out.push(resultLine(t.fail === 0 && t.error === 0, i + 1, pack, allSkipped ? 'every result skipped' : undefined))
  })
  const t = totals(outcomes)
  if (interrupted) out.push('# interrupted: the results above are those recorded before the run stopped')
  out.push(`# Totals: pass:${t.pass} fail:${t.fail} xfail:0 xpass:0 skip:${t.skip} error:${t.error}`)
  return out.join('\n') + '\n'
}

export function ktapReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    start() {},
    result() {},
    end(run, results, interrupted) {
      out.write(ktapDocument(outcomeRun(run), results.map(outcomeOfResult), interrupted))
    },
  }
}
