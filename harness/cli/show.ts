/** `sockspec show`: one result's trace as a terminal timeline. */
import { SockspecError } from '../errors.js'
import { terminalLines, terminalText } from '../reporters/terminal-text.js'
import { colourEnabled, painter } from '../reporters/colour.js'
import { renderTimeline } from '../reporters/timeline.js'
import { fitText, terminalColumns } from '../reporters/terminal-width.js'
import { TraceStore, withStoreErrors } from '../store/store.js'
import type { ResultRow } from '../store/store.js'

export interface ShowOptions {
  db: string
  run: string
  variant?: string
  /** columns no line may exceed (default: the terminal's, COLUMNS, or 100) */
  width?: number
}

export function showCommand(what: string | undefined, opts: ShowOptions): number {
  const store = TraceStore.open(opts.db, { readonly: true, mustExist: true })
  try {
    return withStoreErrors(opts.db, () => show(store, what, opts))
  } finally {
    store.close()
  }
}

function show(store: TraceStore, what: string | undefined, opts: ShowOptions): number {
  const run = store.run(opts.run)
  if (!run) throw new SockspecError('E_NOT_FOUND', `no run '${opts.run}' in ${opts.db}`)
  let results = store.results(run.id)
  if (opts.variant) results = results.filter(r => r.variant === opts.variant)
  let chosen: ResultRow | undefined
  if (what === undefined) chosen = results.find(r => r.verdict === 'fail' || r.verdict === 'error') ?? results[0]
  else if (/^\d+$/.test(what)) chosen = results.find(r => r.id === Number(what)) ?? store.results(run.id).find(r => r.id === Number(what))
  else chosen = results.find(r => r.scenario === what) ?? results.find(r => r.scenario.includes(what))
  if (!chosen) throw new SockspecError('E_NOT_FOUND', `no result matching '${what ?? ''}' in run ${run.uuid}`)
  const width = opts.width ?? terminalColumns(process.stdout)
  const paint = painter(colourEnabled(process.stdout))
  // every text below came from a store (possibly an imported bundle): escaped for the terminal, folded to its width
  const out = { write: (s: string): boolean => process.stdout.write(fitText(terminalLines(s), width)) }
  const line = terminalText
  const verdictColour = { pass: 32, fail: 31, error: 35, skip: 33 }[chosen.verdict] ?? 0
  const head = `${line(chosen.scenario)} [${line(chosen.variant)}]${chosen.attempt > 1 ? ` #${chosen.attempt}` : ''}: `
  const verdict = line(chosen.verdict)
  // folded first, painted after: the escape codes are neither escaped nor counted as columns
  const header = fitText(`${head}${verdict}${chosen.claim ? ` (claim ${line(chosen.claim)})` : ''}\n`, width)
  const at = header.lastIndexOf(`: ${verdict}`)
  process.stdout.write(
    at >= 0 ? `${header.slice(0, at + 2)}${paint(verdictColour, verdict)}${header.slice(at + 2 + verdict.length)}` : header,
  )
  out.write(`${line(chosen.title)}\n`)
  out.write(
    `run ${line(run.uuid)} on ${line(run.host)}, kernel ${line(run.kernel_release)} ${line(run.arch)}, result ${chosen.id}, ${chosen.duration_ms.toFixed(0)} ms\n`,
  )
  if (chosen.message) out.write(`${line(chosen.message)}\n`)
  out.write('\n')
  process.stdout.write(renderTimeline(store.events(chosen.id), store.checks(chosen.id), { width, paint }))
  const stderr = JSON.parse(chosen.stderr) as Record<string, string>
  for (const [actor, text] of Object.entries(stderr)) out.write(`\nstderr of ${line(actor)}:\n${text}`)
  const invalid = JSON.parse(chosen.invalid) as Array<{ actor: string; raw: string; problem: string }>
  for (const i of invalid) out.write(`\ninvalid output from ${line(i.actor)}: ${line(i.problem)}\n  ${line(i.raw)}\n`)
  return 0
}
