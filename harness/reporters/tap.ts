/** TAP 14 output, one test point per result, diagnostics as YAML blocks. */
import { stringifyYaml } from '../deps/yaml.js'
import type { Reporter } from './reporter.js'
import { resultName } from './reporter.js'
import { terminalLines, terminalText } from './terminal-text.js'

/**
 * A test point description or directive reason from untrusted text: one line
 * (a newline could forge `ok 2 - ...`), and per TAP 14 a `#` (which would
 * start a directive) and the escaping `\` itself are backslash-escaped.
 */
export function tapDescription(text: string): string {
  return terminalText(text).replace(/[\\#]/g, c => `\\${c}`)
}

export function tapReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    start(run, total) {
      out.write(`TAP version 14\n# sockspec run ${terminalText(run.uuid)} kernel ${terminalText(run.kernel_release)}\n1..${total}\n`)
    },
    result(r, done) {
      const ok = r.verdict === 'pass' || r.verdict === 'skip'
      const directive = r.verdict === 'skip' ? ` # SKIP ${tapDescription(r.message)}` : ''
      out.write(`${ok ? 'ok' : 'not ok'} ${done} - ${tapDescription(resultName(r))}${directive}\n`)
      if (!ok || r.claim) {
        const diag: Record<string, unknown> = { verdict: r.verdict, message: r.message }
        if (r.claim) diag['claim'] = r.claim
        const failed = r.checks.filter(c => !c.ok)
        if (failed.length)
          diag['checks'] = failed.map(c => ({ step: c.step, actor: c.actor, field: c.field, expected: c.expected, observed: c.observed }))
        if (Object.keys(r.stderr).length) diag['stderr'] = r.stderr
        // YAML quotes control characters and indents every line of a block scalar, so the block cannot end early;
        // bidi overrides it keeps are escaped for the terminal that shows the stream
        out.write(`  ---\n${terminalLines(stringifyYaml(diag)).replace(/^/gm, '  ').trimEnd()}\n  ...\n`)
      }
    },
    end(_run, _results, interrupted) {
      if (interrupted) out.write('Bail out! interrupted\n')
    },
  }
}
