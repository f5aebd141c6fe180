/** `sockspec show`: one result's trace as a terminal timeline. */
import { SockspecError } from '../errors.js'
import { renderTimeline } from '../reporters/timeline.js'
import { TraceStore, withStoreErrors } from '../store/store.js'
import type { ResultRow } from '../store/store.js'

export interface ShowOptions {
  db: string
  run: string
  variant?: string
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
  const out = process.stdout
  out.write(
    `${chosen.scenario} [${chosen.variant}]${chosen.attempt > 1 ? ` #${chosen.attempt}` : ''}: ${chosen.verdict}${chosen.claim ? ` (claim ${chosen.claim})` : ''}\n`,
  )
  out.write(`${chosen.title}\n`)
  out.write(
    `run ${run.uuid} on ${run.host}, kernel ${run.kernel_release} ${run.arch}, result ${chosen.id}, ${chosen.duration_ms.toFixed(0)} ms\n`,
  )
  if (chosen.message) out.write(`${chosen.message}\n`)
  out.write('\n')
  out.write(renderTimeline(store.events(chosen.id), store.checks(chosen.id)))
  const stderr = JSON.parse(chosen.stderr) as Record<string, string>
  for (const [actor, text] of Object.entries(stderr)) out.write(`\nstderr of ${actor}:\n${text}`)
  const invalid = JSON.parse(chosen.invalid) as Array<{ actor: string; raw: string; problem: string }>
  for (const i of invalid) out.write(`\ninvalid output from ${i.actor}: ${i.problem}\n  ${i.raw}\n`)
  return 0
}
