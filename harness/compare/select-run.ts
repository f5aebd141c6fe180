/**
 * Run selectors, for picking a baseline without knowing its uuid (CI legs
 * learn uuids only after the fact):
 *   latest | <id> | <uuid prefix>     as everywhere else
 *   host:NAME                         newest run whose host is NAME
 *   kernel:PREFIX                     newest run whose kernel release starts with PREFIX (6.1 is not 6.12)
 *   distro:PREFIX                     newest run whose distro starts with PREFIX (case-insensitive)
 *   arch:NAME                         newest run on that machine architecture (uname -m)
 * Selectors combine with commas, all must match: `distro:Ubuntu 24.04,arch:x86_64`.
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

type Field = 'host' | 'kernel' | 'distro' | 'arch'
const PART = /^(host|kernel|distro|arch):(.+)$/

function matches(run: RunRow, field: Field, value: string): boolean {
  switch (field) {
    case 'host':
      return run.host === value
    case 'kernel':
      // version-aware prefix: kernel:6.1 matches 6.1 and 6.1.0-28-cloud, not 6.12
      return run.kernel_release.startsWith(value) && !/^\d/.test(run.kernel_release.slice(value.length))
    case 'distro':
      return (run.distro ?? '').toLowerCase().startsWith(value.toLowerCase())
    case 'arch':
      return run.arch === value
  }
}

/** Pure part: pick among runs (given newest first, as TraceStore.runs() returns them). */
export function selectBySelector(runsNewestFirst: readonly RunRow[], selector: string): SelectedRun | undefined {
  if (!isSelector(selector)) return undefined
  const parts = selector.split(',').map(p => PART.exec(p.trim())!)
  const found = runsNewestFirst.filter(r => parts.every(m => matches(r, m[1] as Field, m[2]!)))
  return found[0] ? { run: found[0], matched: found.length } : undefined
}

export function isSelector(ref: string): boolean {
  return ref.split(',').every(p => PART.test(p.trim()))
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
