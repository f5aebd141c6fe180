/** `sockspec run`: load, run on the loopback host, store, report. */
import os from 'node:os'
import { SockspecError } from '../errors.js'
import { loopbackHost } from '../hosts/loopback.js'
import { systemInfo } from '../hosts/system-info.js'
import { kitCommit, kitVersion } from '../kit.js'
import { scenarioDir } from '../paths.js'
import { jsonReporter } from '../reporters/json.js'
import { junitReporter } from '../reporters/junit.js'
import type { Reporter } from '../reporters/reporter.js'
import { tapReporter } from '../reporters/tap.js'
import { ttyReporter } from '../reporters/tty.js'
import { runPlan } from '../runner/run.js'
import { loadScenarios } from '../scenario/load.js'
import type { Scenario } from '../scenario/types.js'
import { variantsOf } from '../scenario/expand.js'
import { TraceStore } from '../store/store.js'

export interface RunOptions {
  db: string
  jobs?: number
  filter?: string[]
  repeat: number
  reporter: 'tty' | 'tap' | 'junit' | 'json'
  variant?: string[]
  report?: string | boolean
}

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${re}$`)
}

export function filterScenarios(scenarios: Scenario[], patterns: string[] | undefined): Scenario[] {
  if (!patterns?.length) return scenarios
  return scenarios.filter(s => patterns.some(p => (/[*?]/.test(p) ? globToRegExp(p).test(s.id) : s.id.includes(p))))
}

function reporterFor(name: RunOptions['reporter']): Reporter {
  switch (name) {
    case 'tap': return tapReporter()
    case 'junit': return junitReporter()
    case 'json': return jsonReporter()
    default: return ttyReporter()
  }
}

export async function runCommand(paths: string[], opts: RunOptions): Promise<number> {
  let scenarios = filterScenarios(loadScenarios(paths.length ? paths : [scenarioDir]), opts.filter)
  if (opts.variant?.length) {
    const wanted = new Set(opts.variant)
    for (const v of wanted) if (!['ipv4', 'ipv6', 'default'].includes(v)) throw new SockspecError('E_USAGE', `unknown variant '${v}'`)
    scenarios = scenarios
      .map(s => ({ ...s, variants: variantsOf(s).map(v => v.name).filter(n => wanted.has(n)) }))
      .filter(s => s.variants.length > 0)
  }
  if (!scenarios.length) throw new SockspecError('E_USAGE', 'no scenario matches')
  const host = loopbackHost()
  const system = systemInfo()
  const store = TraceStore.open(opts.db)
  let code: number
  try {
    const { id: runId } = store.beginRun({
      host: system.hostname,
      hostKind: host.kind,
      kernelRelease: system.kernelRelease,
      kernelVersion: system.kernelVersion,
      arch: system.arch,
      distro: system.distro,
      kitVersion: kitVersion(),
      kitCommit: kitCommit(),
      sysctls: system.sysctls,
      argv: process.argv.slice(2),
    })
    const run = store.run(String(runId))!
    const reporter = reporterFor(opts.reporter)
    const outcome = await runPlan({
      scenarios,
      host,
      system,
      store,
      runId,
      jobs: opts.jobs ?? os.availableParallelism(),
      repeat: opts.repeat,
      onStart: total => reporter.start(run, total),
      onResult: (r, done, total) => reporter.result(r, done, total),
    })
    reporter.end(run, outcome.results, outcome.interrupted)
    code = outcome.interrupted ? 130 : outcome.results.some(r => r.verdict === 'fail' || r.verdict === 'error') ? 1 : 0
  } finally {
    store.close()
  }
  if (opts.report) {
    const { reportCommand } = await import('./report.js')
    reportCommand({ db: opts.db, out: typeof opts.report === 'string' ? opts.report : 'reports' }, process.stderr)
  }
  return code
}
