/** TAP 14 output, one test point per result, diagnostics as YAML blocks. */
import { stringifyYaml } from '../deps/yaml.js'
import type { Reporter } from './reporter.js'
import { resultName } from './reporter.js'

export function tapReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    start(run, total) {
      out.write(`TAP version 14\n# sockspec run ${run.uuid} kernel ${run.kernel_release}\n1..${total}\n`)
    },
    result(r, done) {
      const ok = r.verdict === 'pass' || r.verdict === 'skip'
      const directive = r.verdict === 'skip' ? ` # SKIP ${r.message}` : ''
      out.write(`${ok ? 'ok' : 'not ok'} ${done} - ${resultName(r)}${directive}\n`)
      if (!ok || r.claim) {
        const diag: Record<string, unknown> = { verdict: r.verdict, message: r.message }
        if (r.claim) diag['claim'] = r.claim
        const failed = r.checks.filter(c => !c.ok)
        if (failed.length)
          diag['checks'] = failed.map(c => ({ step: c.step, actor: c.actor, field: c.field, expected: c.expected, observed: c.observed }))
        if (Object.keys(r.stderr).length) diag['stderr'] = r.stderr
        out.write(`  ---\n${stringifyYaml(diag).replace(/^/gm, '  ').trimEnd()}\n  ...\n`)
      }
    },
    end(_run, _results, interrupted) {
      if (interrupted) out.write('Bail out! interrupted\n')
    },
  }
}
