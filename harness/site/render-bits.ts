/** Small shared pieces of markup: verdict badges, counts, dates, pagers. Pure. */
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import type { ReportRun } from './model.js'
import { CLAIM_SYMBOL, VERDICT_SYMBOL, VERDICTS } from './palette.js'
import type { VerdictCounts } from './palette.js'
import type { ClaimOutcome, Verdict } from '../trace/result.js'

export function verdictBadge(verdict: Verdict, text?: string): SafeHtml {
  return html`<span class="badge v-${verdict}" title="${verdict}">${VERDICT_SYMBOL[verdict]}${text ? html` ${text}` : ''}</span>`
}

export function claimBadge(claim: ClaimOutcome | null): SafeHtml {
  if (!claim) return html`<span class="badge c-none" title="no claim outcome">–</span>`
  return html`<span class="badge c-${claim}" title="claim ${claim}">${CLAIM_SYMBOL[claim]} ${claim}</span>`
}

/** `✓12 ✗1 –3`: the verdicts that occur, with their counts. */
export function countsText(counts: VerdictCounts): string {
  return VERDICTS.filter(v => counts[v] > 0)
    .map(v => `${VERDICT_SYMBOL[v]}${counts[v]}`)
    .join(' ')
}

export function legend(): SafeHtml {
  return html`<p class="legend">${VERDICTS.map(v => html`<span>${verdictBadge(v)} ${v}</span>`)}</p>`
}

/** `2025-01-31 14:02` from an ISO date; other text unchanged. */
export function shortDate(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(iso)
  return m ? `${m[1]} ${m[2]}` : iso
}

export function runLabel(run: ReportRun): string {
  return `#${run.id} ${shortDate(run.startedAt)} ${run.kernel}`
}

export function pager(current: number, total: number, href: (page: number) => string): SafeHtml {
  if (total <= 1) return html``
  const links: SafeHtml[] = []
  if (current > 1) links.push(html`<a href="${href(current - 1)}" rel="prev">‹ newer</a>`)
  for (let p = 1; p <= total; p++) links.push(p === current ? html`<strong>${p}</strong>` : html`<a href="${href(p)}">${p}</a>`)
  if (current < total) links.push(html`<a href="${href(current + 1)}" rel="next">older ›</a>`)
  return html`<nav class="pager">${joinHtml(links, ' ')}</nav>`
}
