/**
 * The full trace of one result (written for failing and errored results):
 * the timeline, every check, every event with its raw details, the helper's
 * stderr and any line it printed that was not a valid event. Pure.
 */
import { html, joinHtml } from './escape.js'
import { renderPage } from './layout.js'
import type { ReportScenario, ResultTrace } from './model.js'
import { claimBadge, runLabel, verdictBadge } from './render-bits.js'
import { renderTimeline } from './render-timeline.js'
import { scenarioPage } from './site-paths.js'

const ROOT = '../'

export function renderTracePage(t: ResultTrace, scenario: ReportScenario | undefined, generatedAt: string): string {
  const r = t.result
  const checks = t.checks.map(
    c =>
      html`<tr class="${c.verdict === 'fail' ? 'failed' : ''}"><td class="mono">${c.step}</td><td>${c.actor}</td><td>${c.field}${c.claim ? ' (claim)' : ''}</td><td class="mono">${c.expected}</td><td class="mono">${c.observed}</td><td>${verdictBadge(c.verdict === 'pass' ? 'pass' : 'fail', c.verdict)}</td></tr>`,
  )
  const events = t.events.map(
    e =>
      html`<tr><td class="num">${e.idx}</td><td>${e.actor}</td><td class="num">${(e.t_ns / 1e6).toFixed(3)}</td><td class="num">${e.dur_ns === null ? '' : (e.dur_ns / 1e6).toFixed(3)}</td><td class="mono">${e.step ?? ''}</td><td class="mono">${e.op}</td><td class="mono">${e.sockets ?? ''}</td><td class="num">${e.ret ?? ''}</td><td class="mono">${e.errno ?? ''}</td><td class="mono">${e.mask ?? ''}</td><td class="mono" style="overflow-wrap: anywhere; max-width: 40em">${e.details}</td></tr>`,
  )
  const stderr = Object.entries(t.stderr)
  const body = html`<p class="muted mono">result ${r.id} · <a href="${ROOT}${scenarioPage(r.scenario)}">${r.scenario}</a> [${r.variant}]${r.attempt > 1 ? ` attempt ${r.attempt}` : ''}</p>
<h1>${scenario?.title ?? r.scenario}</h1>
<p>${verdictBadge(r.verdict, r.verdict)} ${r.claim ? claimBadge(r.claim) : ''} run ${runLabel(t.run)} ${t.run.arch} on ${t.run.host} <span class="mono muted">${t.run.uuid}</span></p>
${r.message ? html`<pre class="message">${r.message}</pre>` : ''}
<h2>Timeline</h2>
${renderTimeline(t.events, t.checks, { label: `timeline of result ${r.id}` })}
<h2>Checks</h2>
${t.checks.length ? html`<table class="list"><thead><tr><th>step</th><th>actor</th><th>field</th><th>expected</th><th>observed</th><th></th></tr></thead><tbody>${joinHtml(checks)}</tbody></table>` : html`<p class="muted">no checks were made</p>`}
<h2>Helper stderr</h2>
${stderr.length ? stderr.map(([actor, text]) => html`<h3>${actor}</h3><pre class="stderr">${text}</pre>`) : html`<p class="muted">empty</p>`}
${t.invalid.length ? html`<h2>Invalid helper output</h2><table class="list"><thead><tr><th>actor</th><th>problem</th><th>line</th></tr></thead><tbody>${t.invalid.map(i => html`<tr><td>${i.actor}</td><td>${i.problem}</td><td class="mono">${i.raw}</td></tr>`)}</tbody></table>` : ''}
<h2>Events</h2>
<table class="list"><thead><tr><th class="num">#</th><th>actor</th><th class="num">t (ms)</th><th class="num">took (ms)</th><th>step</th><th>op</th><th>handle</th><th class="num">ret</th><th>errno</th><th>mask</th><th>details</th></tr></thead><tbody>${joinHtml(events)}</tbody></table>`
  return renderPage({ title: `${r.verdict}: ${r.scenario}`, root: ROOT, body, generatedAt })
}
