/**
 * The seed claims page: each claim of the seed note that a scenario tests,
 * whether it holds or is refuted on each kernel, and the latest timeline per
 * kernel that shows why. Pure: data in, HTML out.
 */
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import { renderPage } from './layout.js'
import type { ReportResult, ReportScenario, ResultTrace } from './model.js'
import { claimBadge, verdictBadge } from './render-bits.js'
import { renderTraceCards } from './render-trace-cards.js'
import { scenarioPage } from './site-paths.js'

export interface ClaimRow {
  scenario: ReportScenario
  variant: string
  /** kernel key -> latest result on that kernel */
  byKernel: Map<string, ReportResult>
}

export interface ClaimModel {
  id: number | string
  statement: string
  /** where a quoted claim comes from (a man page and its section) */
  source?: string
  rows: ClaimRow[]
  /** Latest result per kernel for each scenario of the claim (one variant each), newest kernel first. */
  why: Array<{ scenario: string; variant: string; traces: ResultTrace[] }>
  /** Scenarios of the claim left out of `why` (their pages have the timelines). */
  whyOmitted: number
}

export interface ClaimsPageModel {
  claims: ClaimModel[]
  kernels: string[]
  resultHref: (r: ReportResult) => string
  generatedAt: string
}

function outcomeCell(r: ReportResult | undefined, href: (r: ReportResult) => string): SafeHtml {
  if (!r) return html`<td class="muted">not run</td>`
  const badge = r.claim ? claimBadge(r.claim) : verdictBadge(r.verdict, r.verdict)
  return html`<td data-claim="${r.claim ?? ''}" data-verdict="${r.verdict}"><a href="${href(r)}">${badge}</a></td>`
}

export function renderClaimsPage(m: ClaimsPageModel): string {
  const sections = m.claims.map(claim => {
    const rows = claim.rows.map(
      row =>
        html`<tr><th scope="row"><a href="${scenarioPage(row.scenario.id)}">${row.scenario.id}</a> <span class="muted">${row.variant}${row.scenario.doc.claim?.role ? ` · ${row.scenario.doc.claim.role}` : ''}</span></th>${m.kernels.map(k => outcomeCell(row.byKernel.get(k), m.resultHref))}</tr>`,
    )
    return html`<section class="claim-card" id="claim-${claim.id}">
<h2>Claim ${claim.id}</h2>
<blockquote>${claim.statement}${claim.source ? html`<footer class="muted">${claim.source}</footer>` : ''}</blockquote>
<table class="list"><thead><tr><th>scenario</th>${m.kernels.map(k => html`<th>${k}</th>`)}</tr></thead><tbody>${joinHtml(rows)}</tbody></table>
<h3>Why: the latest trace on each kernel</h3>
${claim.why.map(w => html`<p><a href="${scenarioPage(w.scenario)}">${w.scenario}</a> <span class="muted">${w.variant}</span></p>${renderTraceCards(w.traces, { root: '', caption: t => `kernel ${t.run.kernel} ${t.run.arch}` })}`)}
${claim.whyOmitted ? html`<p class="muted">${claim.whyOmitted} more scenarios of this claim: their timelines are on their scenario pages (table above).</p>` : ''}
</section>`
  })
  const body = html`<h1>Seed claims</h1>
<p>The claims of the seed note about EINPROGRESS and epoll, each turned into scenarios. A claim scenario's <em>claim</em> checks decide whether it holds on a kernel; a refuted claim does not fail the run. Columns are kernels, newest first; each cell is the latest result on that kernel.</p>
${m.claims.length ? joinHtml(sections) : html`<p class="muted">No claim scenario has been run yet (scenarios with a top-level <code>claim</code>, e.g. the seed-claims pack).</p>`}`
  return renderPage({ title: 'Seed claims', root: '', body, generatedAt: m.generatedAt })
}
