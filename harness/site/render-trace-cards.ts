/**
 * Results of one scenario on several runs, side by side: one card per run
 * with its timeline, events that differ from the most common trace
 * highlighted. Pure.
 */
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import type { ResultTrace } from './model.js'
import { claimBadge, runLabel, verdictBadge } from './render-bits.js'
import { renderTimeline } from './render-timeline.js'
import { resultAnchor, tracePage } from './site-paths.js'
import { differingEvents, referenceTrace } from './trace-diff.js'

export interface CardOptions {
  /** '' or '../': where the site root is from the page. */
  root: string
  /** Heading line above the run line, e.g. the scenario id on the claims page. */
  caption?: (t: ResultTrace) => string
  /** Give each card the result's anchor id (only on the page that owns it). */
  anchors?: boolean
}

export function renderTraceCards(traces: readonly ResultTrace[], opts: CardOptions): SafeHtml {
  if (!traces.length) return html`<p class="muted">no results</p>`
  const ref = referenceTrace(traces.map(t => t.events))
  const cards = traces.map((t, i) => {
    const differing = traces.length > 1 && i !== ref ? differingEvents(t.events, traces[ref]!.events) : new Set<number>()
    const r = t.result
    const broken = r.verdict === 'fail' || r.verdict === 'error'
    const diffNote =
      traces.length < 2
        ? ''
        : i === ref
          ? html`<span class="muted">reference (most common trace)</span>`
          : differing.size
            ? html`<span class="badge" style="background: var(--diff)">${differing.size} differ</span>`
            : html`<span class="muted">same trace as reference</span>`
    return html`<section class="trace-card" ${opts.anchors ? html`id="${resultAnchor(r.id)}"` : ''} data-result="${r.id}" data-verdict="${r.verdict}">
<header>${opts.caption ? html`<div><strong>${opts.caption(t)}</strong></div>` : ''}
${verdictBadge(r.verdict, r.verdict)} ${r.claim ? claimBadge(r.claim) : ''} <span title="${t.run.uuid} on ${t.run.host}">run ${runLabel(t.run)} ${t.run.arch}</span> <span class="muted">${r.variant}${r.attempt > 1 ? ` #${r.attempt}` : ''}</span> ${diffNote}
${broken ? html` · <a href="${opts.root}${tracePage(r.id)}">full trace and stderr</a>` : ''}
${r.message ? html`<div class="msg">${r.message}</div>` : ''}</header>
${renderTimeline(t.events, t.checks, { differing, label: `timeline of ${r.scenario} [${r.variant}] on run ${t.run.id}` })}
</section>`
  })
  return html`<div class="side-by-side">${joinHtml(cards)}</div>`
}
