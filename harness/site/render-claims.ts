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

/** One claim on one kernel: refuted when a test of it is, else holds, with how many counterexamples refute it beside. */
export function claimOutcome(claim: ClaimModel, kernel: string): { outcome: 'holds' | 'refuted' | null; text: string } {
  let tests = 0
  let testsHold = 0
  let counters = 0
  let countersRefute = 0
  for (const row of claim.rows) {
    const r = row.byKernel.get(kernel)
    if (!r?.claim) continue
    if (row.scenario.doc.claim?.role === 'counterexample') {
      counters++
      if (r.claim === 'refuted') countersRefute++
    } else {
      tests++
      if (r.claim === 'holds') testsHold++
    }
  }
  if (!tests && !counters) return { outcome: null, text: 'not run' }
  const parts: string[] = []
  if (tests) parts.push(`${testsHold}/${tests} tests hold`)
  if (counters) parts.push(`${countersRefute}/${counters} counterexamples refute`)
  const outcome = tests ? (testsHold < tests ? 'refuted' : 'holds') : countersRefute ? 'refuted' : 'holds'
  return { outcome, text: parts.join(', ') }
}

function clipText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function summaryTable(m: ClaimsPageModel): SafeHtml {
  const rows = m.claims.map(claim => {
    const cells = m.kernels.map(k => {
      const o = claimOutcome(claim, k)
      return html`<td data-kernel="${k}" data-outcome="${o.outcome ?? ''}">${o.outcome ? claimBadge(o.outcome) : html`<span class="muted">–</span>`} <span class="muted">${o.text}</span></td>`
    })
    return html`<tr data-claim-id="${claim.id}"><th scope="row"><a href="#claim-${claim.id}">Claim ${claim.id}</a></th><td class="statement" title="${claim.statement}">${clipText(claim.statement, 140)}</td>${joinHtml(cells)}</tr>`
  })
  return html`<table class="list claim-summary"><thead><tr><th>claim</th><th>statement</th>${m.kernels.map(k => html`<th>${k}</th>`)}</tr></thead><tbody>${joinHtml(rows)}</tbody></table>
<p class="muted">A claim is refuted on a kernel when one of its test scenarios refutes it there; counterexamples are situations the seed note did not consider, listed beside.</p>`
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
  const intro = html`<p>Claims about readiness, each turned into scenarios: the seed note's (numbered) and the man pages' (named by page and section, with their words quoted). A claim scenario's <em>claim</em> checks decide whether it holds on a kernel; a refuted claim does not fail the run. Columns are kernels, newest first; each cell is the latest result on that kernel.</p>`
  const body = html`<h1>Claims</h1>
${
  m.claims.length
    ? html`${summaryTable(m)}${intro}${joinHtml(sections)}`
    : html`${intro}<p class="muted">No claim scenario has been run yet (scenarios with a top-level <code>claim</code>, e.g. the seed-claims pack).</p>`
}`
  return renderPage({ title: 'Claims', root: '', body, generatedAt: m.generatedAt })
}
