/** Terminal rendering of comparisons. Pure: returns the text, control characters from the stores escaped. */
import { terminalText } from '../reporters/terminal-text.js'
import { emptyCounts } from './compare-runs.js'
import { PAIR_LABELS } from './types.js'
import type { FacetKind } from './answer-summary.js'
import type { Comparison, Pair, PairLabel, PairSide, RunSummary } from './types.js'

export function describeRun(run: RunSummary): string {
  return terminalText(`${run.uuid.slice(0, 8)} ${run.host}, kernel ${run.kernelRelease} ${run.arch}${run.distro ? `, ${run.distro}` : ''}`)
}

function verdictOf(side: PairSide | null): string {
  if (!side) return '-'
  const flaky = side.flaky
    ? ` (flaky: ${Object.entries(side.verdicts)
        .map(([v, n]) => `${n} ${v}`)
        .join(', ')} over ${side.attempts} attempts; attempt ${side.attempt} compared)`
    : ''
  return `${side.verdict}${side.claim ? ` [claim ${side.claim}]` : ''}${flaky}`
}

function pairLines(p: Pair): string[] {
  const head = `${p.label === 'regression' || p.label === 'error' ? p.label.toUpperCase() : p.label} ${p.scenario} [${p.variant}]`
  const lines: string[] = []
  switch (p.label) {
    case 'new':
      lines.push(`${head}: only in b (${verdictOf(p.b)})`)
      break
    case 'missing':
      lines.push(`${head}: only in a (${verdictOf(p.a)})`)
      break
    default:
      lines.push(`${head}: ${verdictOf(p.a)} -> ${verdictOf(p.b)}`)
  }
  if (p.label === 'error') {
    const broken = [p.a?.verdict === 'error' ? `a: ${p.a.message}` : '', p.b?.verdict === 'error' ? `b: ${p.b.message}` : ''].filter(
      Boolean,
    )
    lines.push(`    the kit broke, the kernel's answer is unknown (not counted as a regression): ${broken.join('; ')}`)
  }
  if (p.scenarioChanged) lines.push('    note: the scenario file changed between the runs (different content hash)')
  const d = p.firstDifference
  if (d) {
    lines.push(
      d.kind === 'event'
        ? `    first difference, ${d.actor ?? '?'} event #${d.position + 1}:`
        : `    same trace; first differing check #${d.position + 1}:`,
    )
    lines.push(`      a: ${d.a?.text ?? '(nothing: trace ended)'}`)
    lines.push(`      b: ${d.b?.text ?? '(nothing: trace ended)'}`)
    if (d.kind === 'event' && d.changed.length) {
      const at = (event: Record<string, unknown> | undefined, path: string) =>
        JSON.stringify(path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], event))
      lines.push(`      changed: ${d.changed.map(p => `${p} ${at(d.a?.event, p)} -> ${at(d.b?.event, p)}`).join(', ')}`)
    }
  }
  if (p.facets.length) lines.push(`    answers changed: ${p.facets.map(f => f.key).join(', ')}`)
  if (p.rerun) {
    const r = p.rerun
    const unanswered = r.runs - (r.answered ?? r.runs)
    const why =
      p.label === 'flaky'
        ? ': not reproduced every time, not counted as a regression'
        : r.answered === 0
          ? ': no re-run answered, the pair stands as recorded'
          : ''
    lines.push(
      `    re-run ${r.runs}x on b's kernel: ${r.asB} answered as b, ${r.asA} as a${unanswered ? `, ${unanswered} not answered (kit error or skip)` : ''} (${r.verdicts.join(', ')})${why}`,
    )
  }
  if (p.label === 'regression') {
    for (const c of p.b?.failedChecks ?? [])
      lines.push(`    failed in b: ${c.actor} ${c.step} ${c.field}: expected ${c.expected}, observed ${c.observed}`)
  }
  return lines
}

const KIND_NAMES: Record<FacetKind, string> = {
  answer: 'answers (return values, errno, masks, values)',
  tcp_info: 'TCP_INFO',
  time: 'time of timer-bound steps, in timer units',
  packets: 'segments on the wire (SYN, SYN|ACK, FIN, RST per direction)',
}

/** Every changed facet of the shown pairs, grouped by what kind of behaviour changed: a change across many scenarios reads as one. */
function byBehaviour(pairs: readonly Pair[]): string[] {
  const lines: string[] = []
  for (const kind of Object.keys(KIND_NAMES) as FacetKind[]) {
    const entries = pairs.flatMap(p => p.facets.filter(f => f.kind === kind).map(f => ({ p, f })))
    if (!entries.length) continue
    if (!lines.length) lines.push('what changed, by behaviour:')
    lines.push(`  ${KIND_NAMES[kind]}: ${entries.length} change(s)`)
    for (const { p, f } of entries) {
      lines.push(`    ${p.label} ${p.scenario} [${p.variant}] ${f.key}`)
      lines.push(`      a: ${f.a ?? '(none)'}`)
      lines.push(`      b: ${f.b ?? '(none)'}`)
    }
  }
  return lines
}

export function formatCounts(counts: Record<PairLabel, number>): string {
  return PAIR_LABELS.map(l => `${counts[l]} ${l}`).join(', ')
}

export function renderComparison(c: Comparison, opts: { showSame?: boolean } = {}): string {
  const out = [`a ${describeRun(c.a)}`, `b ${describeRun(c.b)}`]
  const order = (p: Pair) => PAIR_LABELS.indexOf(p.label)
  const shown = c.pairs.filter(p => opts.showSame || p.label !== 'same').sort((x, y) => order(x) - order(y))
  // each line is built from store text (ids, messages, event values): escaped as a whole, so none can span two lines
  for (const p of shown) out.push(...pairLines(p).map(l => `  ${terminalText(l)}`))
  out.push(...byBehaviour(shown).map(l => `  ${terminalText(l)}`))
  out.push(`  ${formatCounts(c.counts)}`)
  return `${out.join('\n')}\n`
}

export function renderComparisons(
  comparisons: readonly Comparison[],
  baseline: RunSummary | null,
  opts: { showSame?: boolean } = {},
): string {
  const parts: string[] = []
  if (baseline) parts.push(renderBaselineHeader(baseline, comparisons.length))
  for (const c of comparisons) parts.push(renderComparison(c, opts))
  const totals = emptyCounts()
  for (const c of comparisons) addCounts(totals, c.counts)
  parts.push(renderTotals(totals))
  return parts.join('\n')
}

/** The pieces of renderComparisons, for writing one comparison at a time (compare --baseline over many runs). */
export function renderBaselineHeader(baseline: RunSummary, runs: number): string {
  return `baseline ${describeRun(baseline)}: ${runs} run(s) compared against it\n`
}

export function addCounts(totals: Record<PairLabel, number>, counts: Readonly<Record<PairLabel, number>>): void {
  for (const l of PAIR_LABELS) totals[l] += counts[l]
}

export function renderTotals(totals: Record<PairLabel, number>): string {
  const regressions = totals.regression
  return regressions ? `${regressions} regression(s): ${formatCounts(totals)}\n` : `no regression: ${formatCounts(totals)}\n`
}
