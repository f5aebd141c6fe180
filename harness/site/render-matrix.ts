/**
 * The matrix: scenarios (grouped by pack) down, runs or kernels across, one
 * cell per result with a colour and a symbol, counts per row and column.
 * Pure: the matrix model in, one HTML page out.
 */
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import { renderPage } from './layout.js'
import { MATRIX_FILTER_SCRIPT } from './matrix-filter.js'
import type { ReportResult, ReportScenario } from './model.js'
import { emptyCounts, VERDICT_SYMBOL, VERDICTS } from './palette.js'
import type { VerdictCounts } from './palette.js'
import { countsText, legend } from './render-bits.js'
import { scenarioPage } from './site-paths.js'

export interface MatrixRow {
  key: string
  scenario: string
  pack: string
  variant: string
  attempt: number
}

export interface MatrixColumn {
  key: string
  /** Short text in the rotated header. */
  label: string
  /** Full description (tooltip). */
  title: string
  anchor: string
  /** The column's diff page, if it has one. */
  diff?: { href: string; text: string }
}

export interface MatrixPageModel {
  kind: 'runs' | 'kernels'
  heading: string
  intro: string
  columns: MatrixColumn[]
  rows: MatrixRow[]
  /** rowKey -> columnKey -> result */
  cells: Map<string, Map<string, ReportResult>>
  scenarios: ReadonlyMap<string, ReportScenario>
  resultHref: (r: ReportResult) => string
  pager: SafeHtml
  generatedAt: string
}

export function rowKeyOf(r: Pick<ReportResult, 'scenario' | 'variant' | 'attempt'>): string {
  return `${r.scenario}\u0000${r.variant}\u0000${r.attempt}`
}

/** Distinct rows of a set of results, sorted by pack, scenario, variant, attempt. */
export function matrixRows(results: readonly ReportResult[]): MatrixRow[] {
  const rows = new Map<string, MatrixRow>()
  for (const r of results) {
    const key = rowKeyOf(r)
    if (!rows.has(key)) rows.set(key, { key, scenario: r.scenario, pack: r.pack, variant: r.variant, attempt: r.attempt })
  }
  return [...rows.values()].sort(
    (a, b) => cmp(a.pack, b.pack) || cmp(a.scenario, b.scenario) || cmp(a.variant, b.variant) || a.attempt - b.attempt,
  )
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text
}

/** Every distinct skip reason on the page with its cells' rows and columns: a tooltip alone is invisible on touch screens and in print. */
function skipReasons(m: MatrixPageModel): SafeHtml {
  const reasons = new Map<string, { rows: Set<string>; columns: Set<string> }>()
  for (const row of m.rows) {
    for (const col of m.columns) {
      const r = m.cells.get(row.key)?.get(col.key)
      if (r?.verdict !== 'skip') continue
      const reason = r.message || 'no reason recorded'
      const entry = reasons.get(reason) ?? { rows: new Set<string>(), columns: new Set<string>() }
      entry.rows.add(`${row.scenario} ${row.variant}`)
      entry.columns.add(col.label)
      reasons.set(reason, entry)
    }
  }
  if (!reasons.size) return html``
  const items = [...reasons].map(
    ([reason, e]) =>
      html`<li data-skip-reason="${reason}">${VERDICT_SYMBOL.skip} <strong>${reason}</strong> <span class="muted">· ${e.rows.size} row${e.rows.size === 1 ? '' : 's'} on ${[...e.columns].join(', ')}</span><div class="muted skip-rows">${clip([...e.rows].join(', '), 600)}</div></li>`,
  )
  return html`<h2>Skip reasons</h2><ul class="skip-reasons">${joinHtml(items)}</ul>`
}

export function renderMatrix(m: MatrixPageModel): string {
  const byPack = new Map<string, MatrixRow[]>()
  for (const row of m.rows) {
    const list = byPack.get(row.pack) ?? []
    list.push(row)
    byPack.set(row.pack, list)
  }
  const columnCounts = new Map<string, VerdictCounts>(m.columns.map(c => [c.key, emptyCounts()]))
  const total = emptyCounts()
  const groups: SafeHtml[] = []
  for (const [pack, rows] of byPack) {
    const trs = rows.map(row => {
      const counts = emptyCounts()
      const cells = m.columns.map(col => {
        const r = m.cells.get(row.key)?.get(col.key)
        if (!r) return html`<td class="cell empty"></td>`
        counts[r.verdict]++
        columnCounts.get(col.key)![r.verdict]++
        total[r.verdict]++
        // short: the row and column headers say the rest, and a page holds thousands of cells
        const tip = `${r.verdict}${r.claim ? ` (claim ${r.claim})` : ''} · ${col.label}${r.message && r.verdict !== 'pass' ? ` · ${clip(r.message, 120)}` : ''}`
        return html`<td class="cell v-${r.verdict}" data-verdict="${r.verdict}" data-result="${r.id}" title="${tip}"><a href="${m.resultHref(r)}">${VERDICT_SYMBOL[r.verdict]}</a></td>`
      })
      const scenario = m.scenarios.get(row.scenario)
      const name = row.scenario.startsWith(`${pack}/`) ? row.scenario.slice(pack.length + 1) : row.scenario
      const search = `${row.scenario} ${row.variant} ${scenario?.title ?? ''}`
      return html`<tr data-row="${row.key}" data-search="${search}"><th class="row" scope="row" title="${scenario?.title ?? row.scenario}"><a href="${scenarioPage(row.scenario)}">${name}</a> <span class="muted">${row.variant}${row.attempt > 1 ? ` #${row.attempt}` : ''}</span></th>${joinHtml(cells)}<td class="counts">${countsText(counts)}</td></tr>`
    })
    groups.push(
      html`<tbody data-pack="${pack}"><tr class="pack"><th colspan="${m.columns.length + 2}">${pack}</th></tr>${joinHtml(trs)}</tbody>`,
    )
  }
  const head = m.columns.map(
    c =>
      html`<th class="col" scope="col" id="${c.anchor}" title="${c.title}">${c.label}${c.diff ? html` <a class="diff" href="${c.diff.href}" title="${c.diff.text}">diff</a>` : ''}</th>`,
  )
  const foot = VERDICTS.map(
    v =>
      html`<tr><th scope="row">${VERDICT_SYMBOL[v]} ${v}</th>${m.columns.map(c => html`<td class="colcount">${columnCounts.get(c.key)![v]}</td>`)}<td>${total[v]}</td></tr>`,
  )
  const packs = [...byPack.keys()]
  const skips = skipReasons(m)
  const body = html`<h1>${m.heading}</h1>
<p>${m.intro}</p>
${legend()}
<form id="filters" class="filters" hidden>
<label>search <input type="search" name="q" placeholder="scenario, title, variant" autocomplete="off"></label>
<label>pack <select name="pack"><option value="">all packs</option>${packs.map(p => html`<option value="${p}">${p}</option>`)}</select></label>
<label>verdict <select name="verdict"><option value="">any verdict</option>${VERDICTS.map(v => html`<option value="${v}">${VERDICT_SYMBOL[v]} ${v}</option>`)}</select></label>
<span class="muted"><span id="shown">${m.rows.length}</span> of ${m.rows.length} rows shown</span>
</form>
${m.pager}
<div class="matrix-wrap">
<table class="matrix" data-matrix="${m.kind}">
<thead><tr><th class="row">scenario</th>${joinHtml(head)}<th class="col">per row</th></tr></thead>
${joinHtml(groups)}
<tfoot>${joinHtml(foot)}</tfoot>
</table>
</div>
${m.pager}
${skips}`
  return renderPage({ title: m.heading, root: '', body, generatedAt: m.generatedAt, script: MATRIX_FILTER_SCRIPT })
}
