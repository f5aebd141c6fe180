/**
 * `sockspec export RUN`: one run as a self-contained bundle (schemas/run.schema.json),
 * or, with --format, as a consumer reads it: KCIDB v5 JSON, KTAP, JUnit XML or
 * the results JSON of `run --reporter json`; `--pcap SCENARIO` writes one
 * result's captured segments as a pcap file, `--trace-event SCENARIO` its
 * timeline as Trace Event JSON (chrome://tracing, Perfetto).
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { selectRun } from '../compare/select-run.js'
import { SockspecError } from '../errors.js'
import { junitXml } from '../reporters/junit.js'
import type { JunitFlavour } from '../reporters/junit.js'
import { kcidbReport } from '../reporters/kcidb.js'
import { ktapDocument } from '../reporters/ktap.js'
import { runDocument } from '../reporters/json.js'
import { outcomeRun, outcomesOfBundle } from '../reporters/outcome.js'
import type { Outcome } from '../reporters/outcome.js'
import { pcapFile, segmentsOf } from '../reporters/pcap.js'
import { traceEventDocument } from '../reporters/trace-event.js'
import { scenarioDir } from '../paths.js'
import { exportRunBundle } from '../store/export-bundle.js'
import { validExport } from '../store/merge.js'
import type { RunBundle } from '../store/run-bundle.js'
import { TraceStore, withStoreErrors } from '../store/store.js'

export const EXPORT_FORMATS = ['bundle', 'kcidb', 'ktap', 'junit', 'json'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export interface ExportOptions {
  db: string
  format?: ExportFormat
  junitFlavour?: JunitFlavour
  pcap?: string
  traceEvent?: string
  variant?: string
  out?: string
}

export function exportCommand(ref: string, opts: ExportOptions): number {
  if (opts.pcap !== undefined && opts.traceEvent !== undefined)
    throw new SockspecError('E_USAGE', '--pcap and --trace-event each write one file: give one of them')
  if ((opts.pcap !== undefined || opts.traceEvent !== undefined) && opts.format && opts.format !== 'bundle')
    throw new SockspecError(
      'E_USAGE',
      `--format ${opts.format} and --${opts.pcap !== undefined ? 'pcap' : 'trace-event'} are different outputs: give one of them`,
    )
  if (opts.pcap !== undefined && opts.out === undefined && process.stdout.isTTY)
    throw new SockspecError('E_USAGE', 'a pcap file is binary: give --out FILE or redirect stdout')
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  let output: string | Buffer
  try {
    // everything is read (and a bundle checked) before any byte is written: a damaged store yields no half file
    output = withStoreErrors(opts.db, () => {
      const { run } = selectRun(store, ref)
      const bundle = exportRunBundle(store.db, run)
      return render(bundle, opts)
    })
  } finally {
    store.close()
  }
  if (opts.out !== undefined) writeFileSync(opts.out, output)
  else process.stdout.write(output)
  return 0
}

function render(bundle: RunBundle, opts: ExportOptions): string | Buffer {
  const run = outcomeRun(bundle.run)
  if (opts.pcap !== undefined || opts.traceEvent !== undefined) {
    const o = pickResult(outcomesOfBundle(bundle), (opts.pcap ?? opts.traceEvent)!, opts.variant, bundle.run.uuid)
    if (opts.pcap !== undefined) return pcapFile(segmentsOf(o.events), Date.parse(bundle.run.started_at) || 0)
    const about = {
      run: run.uuid,
      kernel: run.kernel_release,
      host: run.host,
      scenario: o.scenario,
      variant: o.variant,
      verdict: o.verdict,
    }
    return `${JSON.stringify(traceEventDocument(o.events, about))}\n`
  }
  switch (opts.format ?? 'bundle') {
    case 'kcidb':
      return `${JSON.stringify(kcidbReport(run, outcomesOfBundle(bundle)), null, 2)}\n`
    case 'ktap':
      return ktapDocument(run, outcomesOfBundle(bundle), bundle.run.status === 'interrupted')
    case 'junit': {
      const outcomes = outcomesOfBundle(bundle)
      if (opts.junitFlavour === 'gitlab') for (const o of outcomes) o.file ??= packagedFile(o.scenario)
      return junitXml(run, outcomes, opts.junitFlavour)
    }
    case 'json':
      return `${JSON.stringify(runDocument(run, outcomesOfBundle(bundle), bundle.run.status === 'interrupted'), null, 2)}\n`
    default:
      return `${JSON.stringify(validExport(opts.db, bundle))}\n`
  }
}

/**
 * A store keeps a scenario's body, not its path: GitLab's `file` of an
 * exported result is the packaged scenario of that id, where there is one
 * (a scenario from elsewhere gets none, as before).
 */
function packagedFile(id: string): string | undefined {
  return ['.yaml', '.yml', '.json'].map(ext => join(scenarioDir, `${id}${ext}`)).find(f => existsSync(f))
}

/** A result by scenario id (exact, else the one scenario containing the text), variant, latest attempt. */
function pickResult(outcomes: Outcome[], what: string, variant: string | undefined, uuid: string): Outcome {
  const inVariant = variant ? outcomes.filter(o => o.variant === variant) : outcomes
  let found = inVariant.filter(o => o.scenario === what)
  if (!found.length) {
    found = inVariant.filter(o => o.scenario.includes(what))
    const ids = new Set(found.map(o => o.scenario))
    if (ids.size > 1)
      throw new SockspecError('E_USAGE', `'${what}' matches ${ids.size} scenarios of run ${uuid}: ${[...ids].slice(0, 5).join(', ')}`)
  }
  if (!found.length) throw new SockspecError('E_NOT_FOUND', `no result of '${what}'${variant ? ` [${variant}]` : ''} in run ${uuid}`)
  // first variant in name order (ipv4 before ipv6), its latest attempt
  const v = [...new Set(found.map(o => o.variant))].sort()[0]
  return found.filter(o => o.variant === v).sort((a, b) => b.attempt - a.attempt)[0]!
}
