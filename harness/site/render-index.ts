/** The index page: every run, newest first, with its verdict counts. Pure. */
import { html } from './escape.js'
import { renderPage } from './layout.js'
import type { ReportData } from './model.js'
import { legend, shortDate, verdictBadge } from './render-bits.js'
import { ATLAS_PAGE, matrixPage } from './site-paths.js'

export interface DiffLink {
  href: string
  text: string
  reason: 'previous' | 'baseline'
}

export function renderIndex(
  data: ReportData,
  runsPerPage: number,
  diffLinks: ReadonlyMap<number, readonly DiffLink[]> = new Map(),
): string {
  const rows = data.runs.map((run, i) => {
    const page = Math.floor(i / runsPerPage) + 1
    return html`<tr data-run="${run.id}">
<td class="num"><a href="${matrixPage(page)}#run-${run.id}">#${run.id}</a></td>
<td><span class="mono">${run.uuid.slice(0, 8)}</span></td>
<td>${shortDate(run.startedAt)}${run.status !== 'complete' ? html` <span class="muted">(${run.status})</span>` : ''}</td>
<td>${run.host} <span class="muted">${run.hostKind}</span></td>
<td>${run.kernel}</td><td>${run.arch}</td><td>${run.distro ?? ''}</td>
<td>${run.kitVersion}${run.kitCommit ? html` <span class="mono muted">${run.kitCommit.slice(0, 8)}</span>` : ''}</td>
<td class="num">${verdictBadge('pass', String(run.counts.pass))}</td>
<td class="num">${verdictBadge('fail', String(run.counts.fail))}</td>
<td class="num">${verdictBadge('error', String(run.counts.error))}</td>
<td class="num">${verdictBadge('skip', String(run.counts.skip))}</td>
<td class="diff-links">${(diffLinks.get(run.id) ?? []).map(l => html`<a href="${l.href}" data-reason="${l.reason}">${l.text}</a>`)}</td>
</tr>`
  })
  const body = html`<h1>Runs</h1>
<p>${data.runs.length} runs, ${data.results.length} results, ${data.scenarios.size} scenarios. Newest first; a run's number opens its column in the matrix. The <a href="${ATLAS_PAGE}">atlas</a> shows what each kernel answers, behaviour by behaviour, and where the answers change.</p>
${legend()}
<table class="list runs">
<thead><tr><th class="num">run</th><th>uuid</th><th>started</th><th>host</th><th>kernel</th><th>arch</th><th>distro</th><th>kit</th><th class="num">pass</th><th class="num">fail</th><th class="num">error</th><th class="num">skip</th><th>diff</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`
  return renderPage({ title: 'Runs', root: '', body, generatedAt: data.generatedAt })
}
