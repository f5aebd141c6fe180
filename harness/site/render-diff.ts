/**
 * A diff page: one pair of runs compared the way `sockspec compare` does.
 * Both runs, the count of each label, every pair that is not the same, and
 * for a pair whose trace or verdict changed the first differing event on
 * each side, field by field, above both timelines with that event marked.
 * Pure: the comparison and the traces in, one HTML page out.
 */
import type { CheckRow, EventRow } from '../store/store.js'
import { normaliseTrace } from '../compare/normalise.js'
import type { Comparison, DiffItem, FirstDifference, Pair, PairSide } from '../compare/types.js'
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import { renderPage } from './layout.js'
import type { ReportRun, ReportScenario } from './model.js'
import { DIFF_LABELS, LABEL_SYMBOL } from './palette.js'
import type { DiffLabel } from './palette.js'
import { shortDate, verdictBadge } from './render-bits.js'
import { renderTimeline } from './render-timeline.js'
import { scenarioPage, tracePage } from './site-paths.js'

export interface DiffTrace {
  events: readonly EventRow[]
  checks: readonly CheckRow[]
}

export interface DiffPageModel {
  /** The older side (previous run or baseline) and the newer one. */
  a: ReportRun
  b: ReportRun
  reason: 'previous' | 'baseline'
  comparison: Comparison
  /** Traces of both runs' results, by result id. */
  traces: ReadonlyMap<number, DiffTrace>
  scenarios: ReadonlyMap<string, ReportScenario>
  generatedAt: string
}

const ROOT = '../'
const DETAILED: ReadonlySet<DiffLabel> = new Set(['differs', 'flaky', 'regression', 'fixed'])

export function labelBadge(label: DiffLabel, text?: string): SafeHtml {
  return html`<span class="badge l-${label}" title="${label}">${LABEL_SYMBOL[label]}${text !== undefined ? html` ${text}` : ''}</span>`
}

function runCell(run: ReportRun): SafeHtml {
  return html`<td><strong>#${run.id}</strong> ${run.host} <span class="muted">${run.hostKind}</span></td>`
}

function runsTable(a: ReportRun, b: ReportRun): SafeHtml {
  const row = (name: string, f: (r: ReportRun) => unknown): SafeHtml => html`<tr><th>${name}</th><td>${f(a)}</td><td>${f(b)}</td></tr>`
  return html`<table class="list diff-runs">
<thead><tr><th></th><th>A (older)</th><th>B (newer)</th></tr></thead>
<tbody>
<tr><th>run</th>${runCell(a)}${runCell(b)}</tr>
${row('kernel', r => html`${r.kernel} <span class="muted">${r.arch}</span>`)}
${row('distro', r => r.distro ?? '')}
${row('started', r => shortDate(r.startedAt))}
${row('uuid', r => html`<span class="mono">${r.uuid}</span>`)}
${row('status', r => r.status)}
</tbody>
</table>`
}

function verdictCell(side: PairSide | null): SafeHtml {
  if (!side) return html`<td class="muted">not run</td>`
  const link = side.verdict === 'fail' || side.verdict === 'error' ? html` <a href="${ROOT}${tracePage(side.resultId)}">trace</a>` : ''
  // a skip says why (a missing requirement): without it a reader cannot tell a kernel gap from a set-up gap
  const reason =
    side.verdict === 'skip'
      ? html`<div class="muted skip-note" data-skip-reason="${side.message}">${side.message || 'no reason recorded'}</div>`
      : ''
  return html`<td data-verdict="${side.verdict}">${verdictBadge(side.verdict, side.verdict)}${side.flaky ? html` <span class="muted">flaky</span>` : ''}${link}${reason}</td>`
}

/** Leaves of a normalised event or check as dotted paths, the way first-difference names them. */
export function flatten(value: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
    if (!entries.length) out.set(path, value)
    for (const [k, v] of entries) flatten(v, path ? `${path}.${k}` : k, out)
  } else out.set(path, value)
  return out
}

function isChanged(path: string, changed: readonly string[]): boolean {
  return changed.some(c => c === path || path.startsWith(`${c}.`) || c === '')
}

function show(value: unknown): string {
  if (value === undefined) return '—'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function itemFields(item: DiffItem | null): Map<string, unknown> {
  return item ? flatten(item.event ?? item.check ?? {}) : new Map()
}

function renderFirstDifference(d: FirstDifference): SafeHtml {
  const fa = itemFields(d.a)
  const fb = itemFields(d.b)
  const paths = [...new Set([...fa.keys(), ...fb.keys()])]
  const bothSides = d.a !== null && d.b !== null
  const rows = paths.map(p => {
    const changed = !bothSides || isChanged(p, d.changed)
    return html`<tr class="${changed ? 'changed' : ''}" data-path="${p}"${changed ? html` data-changed="1"` : ''}><th class="mono">${p}</th><td class="mono">${d.a ? show(fa.get(p)) : ''}</td><td class="mono">${d.b ? show(fb.get(p)) : ''}</td></tr>`
  })
  const where =
    d.kind === 'event' ? `event ${d.position + 1} of ${d.actor ?? '?'}` : `check ${d.position + 1}${d.actor ? ` (${d.actor})` : ''}`
  const text = (item: DiffItem | null): SafeHtml =>
    item ? html`<code>${item.text}</code>` : html`<span class="muted">(nothing: the trace ended)</span>`
  return html`<div class="first-diff" data-kind="${d.kind}">
<p>First difference: <strong>${where}</strong>${
    d.changed.length
      ? html`; changed: ${joinHtml(
          d.changed.map(c => html`<code class="changed-path">${c}</code>`),
          ', ',
        )}`
      : ''
  }</p>
<table class="list diff-fields">
<thead><tr><th>${d.kind === 'event' ? 'field' : 'column'}</th><th>A</th><th>B</th></tr></thead>
<tbody>
<tr class="diff-text"><th>as read</th><td data-side="a">${text(d.a)}</td><td data-side="b">${text(d.b)}</td></tr>
${joinHtml(rows)}
</tbody>
</table>
</div>`
}

/** Position in `events` of the first differing event or, for a check, the last event of its step. -1: none on this side. */
export function differingIndex(events: readonly EventRow[], d: FirstDifference, item: DiffItem | null): number {
  if (!item) return -1
  if (d.kind === 'event') {
    const hit = normaliseTrace(events).find(e => e.actor === d.actor && e.position === d.position)
    return hit ? events.findIndex(e => e.idx === hit.idx) : -1
  }
  const check = item.check
  if (!check) return -1
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.actor === check.actor && events[i]!.step === check.step) return i
  return -1
}

function timelineCard(
  side: 'a' | 'b',
  run: ReportRun,
  s: PairSide | null,
  trace: DiffTrace | undefined,
  d: FirstDifference | null,
  pair: Pair,
): SafeHtml {
  if (!s || !trace) return html`<section class="trace-card" data-side="${side}"><p class="muted">no result on run #${run.id}</p></section>`
  const at = d ? differingIndex(trace.events, d, side === 'a' ? d.a : d.b) : -1
  const differing = new Set(at >= 0 ? [at] : [])
  return html`<section class="trace-card" data-side="${side}" data-result="${s.resultId}" data-differing="${at}">
<header><strong>${side.toUpperCase()}</strong> ${verdictBadge(s.verdict, s.verdict)} run #${run.id} ${run.kernel} <span class="muted">${shortDate(run.startedAt)}</span>
${s.message ? html`<div class="msg">${s.message}</div>` : ''}</header>
${renderTimeline(trace.events, trace.checks, { differing, label: `timeline of ${pair.scenario} [${pair.variant}] on run ${run.id}` })}
</section>`
}

function pairAnchor(i: number): string {
  return `pair-${i}`
}

export function renderDiffPage(m: DiffPageModel): string {
  const { a, b, comparison: c } = m
  const shown = c.pairs.map((p, i) => ({ p, i })).filter(x => x.p.label !== 'same')
  const counts = DIFF_LABELS.map(
    l => html`<li class="label-count" data-label="${l}" data-count="${c.counts[l]}">${labelBadge(l, String(c.counts[l]))} ${l}</li>`,
  )
  const rows = shown.map(({ p, i }) => {
    const detailed = DETAILED.has(p.label) && p.firstDifference
    const title = m.scenarios.get(p.scenario)?.title ?? p.title
    return html`<tr data-label="${p.label}" data-scenario="${p.scenario}" data-variant="${p.variant}">
<td><a href="${ROOT}${scenarioPage(p.scenario)}">${p.scenario}</a><div class="muted pair-title">${title}</div>${p.scenarioChanged ? html`<div class="muted">scenario file changed between the runs</div>` : ''}</td>
<td>${p.variant}</td>
<td>${labelBadge(p.label, p.label)}${detailed ? html` <a href="#${pairAnchor(i)}">first difference</a>` : ''}${p.facets.length ? html`<div class="muted facets">${p.facets.map(f => f.key).join(', ')}</div>` : ''}</td>
${verdictCell(p.a)}${verdictCell(p.b)}
</tr>`
  })
  const details = shown
    .filter(({ p }) => DETAILED.has(p.label) && p.firstDifference)
    .map(({ p, i }) => {
      const d = p.firstDifference!
      return html`<section class="pair-detail" id="${pairAnchor(i)}" data-label="${p.label}" data-scenario="${p.scenario}">
<h3>${labelBadge(p.label, p.label)} <a href="${ROOT}${scenarioPage(p.scenario)}">${p.scenario}</a> <span class="muted">[${p.variant}]</span></h3>
<p class="pair-title">${m.scenarios.get(p.scenario)?.title ?? p.title}</p>
${renderFirstDifference(d)}
<div class="side-by-side">${timelineCard('a', a, p.a, p.a ? m.traces.get(p.a.resultId) : undefined, d, p)}${timelineCard('b', b, p.b, p.b ? m.traces.get(p.b.resultId) : undefined, d, p)}</div>
</section>`
    })
  const why =
    m.reason === 'baseline'
      ? 'B against the baseline A'
      : 'B against the previous run of its host kind (on another kernel when there is one)'
  const body = html`<h1>Diff: run #${a.id} → run #${b.id}</h1>
<p>${why}, compared as <code>sockspec compare ${a.uuid.slice(0, 8)} ${b.uuid.slice(0, 8)}</code> does: results aligned by scenario and variant, traces normalised (handles, no timestamps).</p>
${runsTable(a, b)}
<h2>Labels</h2>
<ul class="label-counts">${joinHtml(counts)}</ul>
<h2>Pairs that are not the same (${shown.length} of ${c.pairs.length})</h2>
${
  shown.length
    ? html`<table class="list diff-pairs">
<thead><tr><th>scenario</th><th>variant</th><th>label</th><th>A</th><th>B</th></tr></thead>
<tbody>
${joinHtml(rows)}
</tbody>
</table>`
    : html`<p class="muted">Every pair is the same.</p>`
}
${details.length ? html`<h2>First differing events</h2>${joinHtml(details)}` : ''}`
  return renderPage({ title: `Diff #${a.id} → #${b.id}`, root: ROOT, body, generatedAt: m.generatedAt })
}
