/**
 * Human output: failures in full, skips with their reason, claims, a summary.
 * The live counts are not written here but by the status line on stderr
 * (progress.ts), so they never end up in a pipe or a file.
 */
import { colourEnabled, painter } from './colour.js'
import type { Reporter } from './reporter.js'
import { resultName, tally } from './reporter.js'
import { terminalLines, terminalText } from './terminal-text.js'

export function ttyReporter(out: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): Reporter {
  // on a terminal a pass is only counted (the status line); in a log every result has its line
  const isTty = Boolean(out.isTTY) && !env['CI']
  const paint = painter(colourEnabled(out, env))
  const mark = { pass: paint(32, 'pass'), fail: paint(31, 'FAIL'), error: paint(35, 'ERROR'), skip: paint(33, 'skip') }
  return {
    start(run, total) {
      out.write(
        `sockspec run ${terminalText(`${run.uuid.slice(0, 8)} on ${run.host} (${run.host_kind}), kernel ${run.kernel_release} ${run.arch}`)}: ${total} results to collect\n`,
      )
    },
    result(r) {
      const name = terminalText(resultName(r))
      const message = terminalText(r.message)
      if (r.verdict === 'fail' || r.verdict === 'error') {
        out.write(`${mark[r.verdict]} ${name}: ${message}\n`)
        for (const [actor, text] of Object.entries(r.stderr))
          if (text.trim())
            out.write(`  stderr of ${terminalText(actor)}: ${terminalLines(text.trim()).split('\n').slice(-5).join('\n    ')}\n`)
        return
      }
      const claim = r.claim ? ` (claim ${terminalText(String(r.scenario.claim?.id))}: ${terminalText(r.claim)})` : ''
      // a skip always says why: the missing root, IPv6, sysctl or kernel is what the reader has to act on
      if (r.verdict === 'skip') out.write(`${mark.skip} ${name}: ${message}${claim}\n`)
      else if (!isTty || r.claim) out.write(`${mark.pass} ${name}${claim}\n`)
    },
    end(run, results, interrupted) {
      const t = tally(results)
      const claims = t.holds + t.refuted ? `; claims: ${t.holds} hold, ${t.refuted} refuted` : ''
      const counts = `${t.pass} pass, ${t.fail} fail, ${t.error} error, ${t.skip} skip`
      out.write(
        `${interrupted ? 'INTERRUPTED: ' : ''}${t.fail + t.error ? paint(31, counts) : counts}${claims} (run ${terminalText(run.uuid)})\n`,
      )
    },
  }
}
