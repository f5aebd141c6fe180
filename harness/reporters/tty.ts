/** Human output: a progress line on a TTY, failures in full, a summary. */
import type { Reporter } from './reporter.js'
import { resultName, tally } from './reporter.js'
import { terminalLines, terminalText } from './terminal-text.js'

export function ttyReporter(out: NodeJS.WriteStream = process.stdout): Reporter {
  const isTty = Boolean(out.isTTY) && !process.env['CI']
  const color = (code: number, s: string): string => (isTty ? `\x1b[${code}m${s}\x1b[0m` : s)
  const mark = { pass: color(32, 'pass'), fail: color(31, 'FAIL'), error: color(35, 'ERROR'), skip: color(33, 'skip') }
  let counts = { pass: 0, fail: 0, error: 0, skip: 0 }
  const clearLine = (): void => {
    if (isTty) out.write('\r\x1b[K')
  }
  return {
    start(run, total) {
      out.write(
        `sockspec run ${terminalText(`${run.uuid.slice(0, 8)} on ${run.host} (${run.host_kind}), kernel ${run.kernel_release} ${run.arch}`)}: ${total} results to collect\n`,
      )
    },
    result(r, done, total) {
      counts[r.verdict]++
      const name = terminalText(resultName(r))
      const message = terminalText(r.message)
      clearLine()
      if (r.verdict === 'fail' || r.verdict === 'error') {
        out.write(`${mark[r.verdict]} ${name}: ${message}\n`)
        for (const [actor, text] of Object.entries(r.stderr))
          if (text.trim())
            out.write(`  stderr of ${terminalText(actor)}: ${terminalLines(text.trim()).split('\n').slice(-5).join('\n    ')}\n`)
      } else if (!isTty || r.claim) {
        const claim = r.claim ? ` (claim ${terminalText(String(r.scenario.claim?.id))}: ${terminalText(r.claim)})` : ''
        if (!isTty) out.write(`${mark[r.verdict]} ${name}${r.verdict === 'skip' ? `: ${message}` : ''}${claim}\n`)
        else out.write(`${mark[r.verdict]} ${name}${claim}\n`)
      }
      if (isTty) out.write(`[${done}/${total}] ${counts.pass} pass, ${counts.fail} fail, ${counts.error} error, ${counts.skip} skip`)
    },
    end(run, results, interrupted) {
      clearLine()
      const t = tally(results)
      counts = { pass: 0, fail: 0, error: 0, skip: 0 }
      const claims = t.holds + t.refuted ? `; claims: ${t.holds} hold, ${t.refuted} refuted` : ''
      out.write(
        `${interrupted ? 'INTERRUPTED: ' : ''}${t.pass} pass, ${t.fail} fail, ${t.error} error, ${t.skip} skip${claims} (run ${terminalText(run.uuid)})\n`,
      )
    },
  }
}
