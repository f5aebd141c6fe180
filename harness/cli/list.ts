/**
 * `sockspec list [paths]`: the scenarios a run would take, one line each:
 * id, variants, what it needs to run, where its expectations come from.
 * `--json` gives the same as one document.
 */
import { scenarioDir } from '../paths.js'
import { terminalText } from '../reporters/terminal-text.js'
import { usesPackets } from '../runner/set-up.js'
import { variantsOf } from '../scenario/expand.js'
import { loadScenarios } from '../scenario/load.js'
import type { Scenario, Source } from '../scenario/types.js'
import { filterScenarios } from './select-scenarios.js'
import { stdoutClosed } from './stdout.js'

export interface ListOptions {
  json?: boolean
  filter?: string[]
  exclude?: string[]
}

export interface ListedScenario {
  id: string
  pack: string
  file: string
  title: string
  variants: string[]
  /** what the run checks before it starts the scenario, and what makes it a skip elsewhere */
  requires: string[]
  sources: string[]
  claim: number | string | null
}

/** `man:connect(2) EINPROGRESS`, `kernel:net/ipv4/af_inet.c`, `catalog:12` ... */
export function sourceText(s: Source): string {
  const parts = (['man', 'kernel', 'commit', 'url', 'catalog'] as const).flatMap(k => (s[k] !== undefined ? [`${k}:${s[k]}`] : []))
  return parts.join(' ') || (s.quote ? `quote:${s.quote}` : '?')
}

/** Declared requirements, and those the scenario's shape implies (simulated hosts, packet expectations). */
export function requirementsOf(s: Scenario): string[] {
  const req = s.requires ?? {}
  const out: string[] = []
  if (req.root) out.push('root')
  if (s.hosts && Object.keys(s.hosts).length) out.push(`netns (${Object.keys(s.hosts).length} hosts, root)`)
  if (usesPackets(s)) out.push('capture (root or CAP_NET_RAW)')
  if (req.ipv6) out.push('ipv6')
  if (req.kernel) out.push(`kernel ${req.kernel}`)
  for (const [name, want] of Object.entries(req.sysctl ?? {})) out.push(`sysctl ${name}${/^[<>!=&]/.test(String(want)) ? '' : '='}${want}`)
  return out
}

export function listed(s: Scenario): ListedScenario {
  return {
    id: s.id,
    pack: s.pack,
    file: s.file,
    title: s.title,
    variants: variantsOf(s).map(v => v.name),
    requires: requirementsOf(s),
    sources: (s.sources ?? []).map(sourceText),
    claim: s.claim?.id ?? null,
  }
}

export function listCommand(paths: string[], opts: ListOptions): number {
  const scenarios = filterScenarios(loadScenarios(paths.length ? paths : [scenarioDir]), opts.filter, opts.exclude).map(listed)
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ scenarios }, null, 2)}\n`)
    return 0
  }
  for (const s of scenarios) {
    // scenario files are untrusted input: no field may carry a tab, a newline or an escape sequence
    const fields = [s.id, s.variants.join(','), s.requires.join(', ') || '-', s.sources.join('; ') || '-']
    process.stdout.write(`${fields.map(terminalText).join('\t')}\n`)
    if (stdoutClosed()) break
  }
  return 0
}
