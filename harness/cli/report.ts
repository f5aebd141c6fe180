/** `sockspec report`: write the static HTML site for a trace store. */
import { resolve } from 'node:path'
import { writeReport } from '../site/write.js'
import { withStoreErrors } from '../store/store.js'

export interface ReportOptions {
  db: string
  out: string
  runsPerPage?: number
  latest?: number
  /** Run reference or selector: every run also gets a diff page against it. */
  baseline?: string
}

/** `log` is stderr when called after `run`, whose stdout may be TAP, JUnit or JSON. */
export function reportCommand(opts: ReportOptions, log: NodeJS.WritableStream = process.stdout): number {
  const stats = withStoreErrors(opts.db, () =>
    writeReport(opts.db, opts.out, {
      ...(opts.runsPerPage ? { runsPerPage: opts.runsPerPage } : {}),
      ...(opts.latest ? { latestPerScenario: opts.latest } : {}),
      ...(opts.baseline !== undefined ? { baseline: opts.baseline } : {}),
    }),
  )
  if (stats.baseline && stats.baseline.matched > 1) {
    const b = stats.baseline.run
    process.stderr.write(
      `sockspec: '${opts.baseline}' matches ${stats.baseline.matched} runs; using the newest, #${b.id} ${b.uuid.slice(0, 8)} (${b.host}, ${b.kernel_release})\n`,
    )
  }
  const mb = (stats.bytes / 1e6).toFixed(1)
  log.write(
    `report: ${stats.pages} pages (${mb} MB, ${stats.diffPages} diff pages) in ${stats.seconds.toFixed(1)} s: ${resolve(stats.index)}\n`,
  )
  return 0
}
