/** `sockspec report`: write the static HTML site for a trace store. */
import { resolve } from 'node:path'
import { writeReport } from '../report/write.js'

export interface ReportOptions {
  db: string
  out: string
  runsPerPage?: number
  latest?: number
}

/** `log` is stderr when called after `run`, whose stdout may be TAP, JUnit or JSON. */
export function reportCommand(opts: ReportOptions, log: NodeJS.WritableStream = process.stdout): number {
  const stats = writeReport(opts.db, opts.out, {
    ...(opts.runsPerPage ? { runsPerPage: opts.runsPerPage } : {}),
    ...(opts.latest ? { latestPerScenario: opts.latest } : {}),
  })
  const mb = (stats.bytes / 1e6).toFixed(1)
  log.write(`report: ${stats.pages} pages (${mb} MB) in ${stats.seconds.toFixed(1)} s: ${resolve(stats.index)}\n`)
  return 0
}
