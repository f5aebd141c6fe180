/**
 * The atlas page: what each kernel answered, per behaviour, kernels in
 * version order. A cell that answers differently from the kernel before it
 * is marked (diff yellow and ≠, the facets that changed highlighted) and
 * the row states the range where the answer changed, with the commits the
 * scenario cites. Pure: the atlas model in, one HTML page out.
 */
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import type { AtlasCell, AtlasChange, AtlasKernel, AtlasModel, AtlasRow } from './atlas.js'
import { renderPage } from './layout.js'
import { FILTER_SCRIPT } from './matrix-filter.js'
import { legend, verdictBadge } from './render-bits.js'
import { scenarioPage } from './site-paths.js'
import type { ReportResult } from './model.js'

export interface AtlasPageModel extends AtlasModel {
  resultHref: (r: ReportResult) => string
}

export const CHANGE_SYMBOL = '≠'

function kernelName(k: AtlasKernel): string {
  return k.release.startsWith(k.upstream) ? k.release : `${k.upstream} (${k.release})`
}

function changeText(row: AtlasRow): string[] {
  return row.changes.map(c => `changed between ${c.from.upstream} and ${c.to.upstream}`)
}

const caseName = (range: string | null): string => (range === null ? 'the default expectation' : `"${range}"`)

/** The scenario's account of a change (its per-kernel cases and their sources), and what it does not account for. */
function expectedText(c: AtlasChange): SafeHtml {
  const expected = c.expected.map(
    e =>
      html`<li class="expected-step">${e.step}: ${caseName(e.fromRange)} on ${c.from.upstream}, ${caseName(e.toRange)} on ${c.to.upstream}${
        e.sources.length ? html` <span class="muted">(${e.sources.join('; ')})</span>` : html` <span class="muted">(no source given)</span>`
      }</li>`,
  )
  return html`${
    expected.length ? html`<div class="change-expected">expected by the scenario: <ul class="changes">${joinHtml(expected)}</ul></div>` : ''
  }${
    !c.unexpected.length
      ? ''
      : c.scenarioEdited
        ? html`<div class="change-edited"><span class="tag">scenario edited</span> between these runs: ${c.unexpected.join(', ')} <span class="muted">(each result is read with the steps it ran; run both kernels with one version to tell the kernel's part)</span></div>`
        : c.sysctls.length
          ? html`<div class="change-sysctl"><span class="tag">follows a sysctl difference</span>: ${c.unexpected.join(', ')} <span class="muted">(no per-kernel case; the runs recorded ${c.sysctls
              .map(d => `${d.name} ${d.from} on ${c.from.upstream}, ${d.to} on ${c.to.upstream}`)
              .join('; ')})</span></div>`
          : html`<div class="change-unexpected"><span class="tag">not expected</span> by any per-kernel case: ${c.unexpected.join(', ')} <span class="muted">(timing noise, or a change not yet located)</span></div>`
  }`
}

/** A change no per-kernel case accounts for and no recorded sysctl difference goes with. */
const unexplained = (c: AtlasChange): boolean => c.unexpected.length > 0 && !c.sysctls.length && !c.scenarioEdited
const bySysctl = (c: AtlasChange): boolean => c.unexpected.length > 0 && c.sysctls.length > 0
const byEdit = (c: AtlasChange): boolean => c.unexpected.length > 0 && c.scenarioEdited === true

function cell(row: AtlasRow, kernel: AtlasKernel, c: AtlasCell | undefined, href: (r: ReportResult) => string): SafeHtml {
  if (!c) return html`<td class="atlas-cell empty muted" data-kernel="${kernel.key}">not run</td>`
  const r = c.result
  const head = html`<a href="${href(r)}" title="${r.verdict} · result ${r.id}">${verdictBadge(r.verdict)}</a>`
  if (!c.summary) {
    return html`<td class="atlas-cell no-answer" data-kernel="${kernel.key}" data-verdict="${r.verdict}">${head} <span class="reason">${r.verdict}: ${r.message || 'no reason recorded'}</span></td>`
  }
  const changed = new Set(c.changed)
  const facets = c.summary.facets.map(
    f =>
      html`<li class="facet f-${f.kind}${changed.has(f.key) ? ' changed' : ''}" data-facet="${f.key}">${f.text}${f.detail ? html` <span class="muted">(${f.detail})</span>` : ''}</li>`,
  )
  const mark =
    c.changed.length && c.previous
      ? html`<span class="change-mark" title="answers differently from ${kernelName(c.previous)}">${CHANGE_SYMBOL} vs ${c.previous.upstream}</span> `
      : ''
  return html`<td class="atlas-cell${c.changed.length ? ' changed' : ''}" data-kernel="${kernel.key}" data-verdict="${r.verdict}"${c.changed.length ? html` data-changed="${c.changed.join(',')}"` : ''}>${mark}${head}${
    facets.length ? html`<ul class="facets">${joinHtml(facets)}</ul>` : html` <span class="muted">no checked step</span>`
  }</td>`
}

export function renderAtlas(m: AtlasPageModel): string {
  const packs = [...new Set(m.rows.map(r => r.pack))]
  const differing = m.rows.filter(r => r.changes.length).length
  const notExpected = m.rows.filter(r => r.changes.some(unexplained)).length
  const configured = m.rows.filter(r => !r.changes.some(unexplained) && r.changes.some(bySysctl)).length
  const edited = m.rows.filter(r => !r.changes.some(unexplained) && !r.changes.some(bySysctl) && r.changes.some(byEdit)).length
  const groups = packs.map(pack => {
    const trs = m.rows
      .filter(r => r.pack === pack)
      .map(row => {
        const changes = changeText(row)
        const search = `${row.scenario} ${row.variant} ${row.title} ${changes.join(' ')}${row.changes.some(unexplained) ? ' not expected' : ''}${row.changes.some(bySysctl) ? ' sysctl' : ''}`
        return html`<tr data-row="${row.key}" data-scenario="${row.scenario}" data-variant="${row.variant}" data-differs="${row.changes.length ? '1' : '0'}" data-unexpected="${row.changes.some(unexplained) ? '1' : '0'}" data-sysctl="${row.changes.some(bySysctl) ? '1' : '0'}" data-search="${search}">
<th class="row" scope="row"><a href="${scenarioPage(row.scenario)}">${row.scenario}</a> <span class="muted">${row.variant}</span><div class="atlas-title">${row.title}</div>${
          changes.length
            ? html`<ul class="changes">${row.changes.map(
                (c, i) =>
                  html`<li class="change" data-from="${c.from.key}" data-to="${c.to.key}" data-expected="${c.expected.length}" data-unexpected="${c.unexpected.length}"><span class="change-mark">${CHANGE_SYMBOL}</span> ${changes[i]} <span class="muted">(${c.facets.join(', ')})</span>${expectedText(c)}</li>`,
              )}</ul>${
                row.sources.length
                  ? html`<ul class="atlas-sources">${row.sources.map(s => html`<li>${s}</li>`)}</ul>`
                  : html`<div class="muted atlas-sources">the scenario names no commit</div>`
              }`
            : ''
        }</th>
${joinHtml(m.kernels.map(k => cell(row, k, row.cells.get(k.key), m.resultHref)))}
</tr>`
      })
    return html`<tbody data-pack="${pack}"><tr class="pack"><th colspan="${m.kernels.length + 1}">${pack}</th></tr>${joinHtml(trs)}</tbody>`
  })
  const head = m.kernels.map(
    k =>
      html`<th class="kernel" scope="col" data-kernel="${k.key}" title="kernel ${k.release} ${k.arch} on ${k.hosts.join(', ')}"><strong>${k.upstream}</strong><div class="muted">${k.release}</div><div class="muted">${k.arch}</div></th>`,
  )
  const body = html`<h1>Atlas: what each kernel answers</h1>
<p>For each behaviour (scenario × variant), the latest answer of each kernel, oldest kernel left: the return value and errno of every checked step, the masks of the waits, the time of timer-bound steps in units of the scenario's timers, the TCP_INFO fields the scenario reads and the handshake and teardown segments per direction (→ towards the listener, ← back) and the ICMP errors by type. A value the scenario bounds (a range, one of a list) is compared by the bound it met, a captured segment by the fields the scenario asserts, SYNs and SYN|ACKs by their retransmission schedule (a handshake that got through one retransmit sooner is no change). A cell marked <span class="change-mark">${CHANGE_SYMBOL}</span> answers differently from the kernel before it that answered; the facets that changed are highlighted. Skipped and errored results show their reason and are not compared.</p>
<p>${m.kernels.length} kernels${m.omittedKernels ? html` (${m.omittedKernels} older ones left out)` : ''}, ${m.rows.length} behaviours, <strong>${differing}</strong> answer differently on some kernel: <strong>${differing - notExpected - configured - edited}</strong> only where their per-kernel expectations say the kernels differ (each change with its range and source), <strong>${configured}</strong> otherwise only beside a difference of the runs' recorded sysctls (marked <em>follows a sysctl difference</em>: the machines' configuration, not the kernel), ${
    edited
      ? html`<strong>${edited}</strong> otherwise only between results of two versions of the scenario file (marked <em>scenario edited</em>), `
      : ''
  }<strong>${notExpected}</strong> with a change no per-kernel case accounts for (marked <em>not expected</em>: timing noise, or a change still to be located).</p>
${legend()}<p class="legend"><span><span class="change-mark">${CHANGE_SYMBOL}</span> answers differently from the kernel before it</span><span><span class="facet-sample changed">a changed facet</span></span></p>
<form id="filters" class="filters" hidden>
<label>search <input type="search" name="q" placeholder="scenario, title, kernel" autocomplete="off"></label>
<label>pack <select name="pack"><option value="">all packs</option>${packs.map(p => html`<option value="${p}">${p}</option>`)}</select></label>
<label><input type="checkbox" name="differs" checked> only behaviours that differ</label>
<span class="muted"><span id="shown">${m.rows.length}</span> of ${m.rows.length} behaviours shown</span>
</form>
${
  m.rows.length
    ? html`<div class="atlas-wrap">
<table class="atlas">
<thead><tr><th class="row">behaviour</th>${joinHtml(head)}</tr></thead>
${joinHtml(groups)}
</table>
</div>`
    : html`<p class="muted">No results yet.</p>`
}`
  return renderPage({ title: 'Atlas', root: '', body, generatedAt: m.generatedAt, script: FILTER_SCRIPT })
}
