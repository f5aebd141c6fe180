/**
 * Run selectors, for picking a baseline without knowing its uuid (CI legs
 * learn uuids only after the fact):
 *   latest | <id> | <uuid prefix>     as everywhere else
 *   host:NAME                         newest run whose host is NAME
 *   kernel:PREFIX                     newest run whose kernel release starts with PREFIX
 *   distro:PREFIX                     newest run whose distro starts with PREFIX (case-insensitive)
 * When a selector matches several runs the newest is taken and the caller
 * is told how many matched.
 */
import { SockspecError } from '../errors.js'
import type { RunRow, TraceStore } from '../store/store.js'

export interface SelectedRun {
  run: RunRow
  /** Runs the selector matched (1 for a uuid or id). */
  matched: number
}

type Field = 'host' | 'kernel' | 'distro'
const SELECTOR = /^(host|kernel|distro):(.+)$/

function matches(run: RunRow, field: Field, value: string): boolean {
  switch (field) {
    case 'host':
      return run.host === value
    case 'kernel':
      return run.kernel_release.startsWith(value)
    case 'distro':
      return (run.distro ?? '').toLowerCase().startsWith(value.toLowerCase())
  }
}

/** Pure part: pick among runs (given newest first, as TraceStore.runs() returns them). */
export function selectBySelector(runsNewestFirst: readonly RunRow[], selector: string): SelectedRun | undefined {
  const m = SELECTOR.exec(selector)
  if (!m) return undefined
  const found = runsNewestFirst.filter(r => matches(r, m[1] as Field, m[2]!))
  return found[0] ? { run: found[0], matched: found.length } : undefined
}

export function isSelector(ref: string): boolean {
  return SELECTOR.test(ref)
}

export function selectRun(store: TraceStore, ref: string): SelectedRun {
  if (isSelector(ref)) {
    const picked = selectBySelector(store.runs(), ref)
    if (!picked) throw new SockspecError('E_NOT_FOUND', `no run matches '${ref}' in ${store.file}`)
    return picked
  }
  const run = store.run(ref)
  if (!run) throw new SockspecError('E_NOT_FOUND', `no run '${ref}' in ${store.file}`)
  return { run, matched: 1 }
}
