/**
 * A scenario page: title, description, sources, the steps with their
 * expectations, the verdict history, and the latest runs' timelines side by
 * side per variant. Pure: data in, HTML out.
 */
import { describePacketSpec } from '../expect/packets.js'
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'
import { renderPage } from './layout.js'
import type { ReportResult, ReportRun, ReportScenario, ResultTrace } from './model.js'
import { VERDICT_SYMBOL } from './palette.js'
import { runLabel } from './render-bits.js'
import { renderTraceCards } from './render-trace-cards.js'
import type { Expectation, ExpectFields, PacketSpec, Source, Step } from '../scenario/types.js'

export interface ScenarioPageModel {
  scenario: ReportScenario
  /** Per variant (and attempt): every result newest first, and the traces shown. */
  variants: Array<{ name: string; history: ReportResult[]; shown: ResultTrace[] }>
  runs: ReadonlyMap<number, ReportRun>
  /** Link to a result from this page (relative to the page). */
  resultHref: (r: ReportResult) => string
  historyCap: number
  generatedAt: string
}

const ROOT = '../'

function value(v: unknown): string {
  if (typeof v === 'string') return v
  if (Array.isArray(v)) return v.map(value).join(' or ')
  if (v === null) return 'none'
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${value(x)}`)
      .join(', ')}}`
  }
  return String(v)
}

const FIELDS: ReadonlyArray<keyof ExpectFields> = [
  'ret',
  'errno',
  'ready',
  'revents',
  'value',
  'data',
  'msg_flags',
  'cmsg',
  'sets',
  'registered',
  'time',
]

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th')
  return `${n}${s}`
}

/** `the 2nd segment ACK to L, 0 bytes`: a packet spec as a reader says it. */
export function packetText(p: PacketSpec): string {
  const which = p.last ? 'the last segment' : p.nth !== undefined ? `the ${ordinal(p.nth)} segment` : 'a segment'
  // an ICMP error, or a segment's options: the matcher's own wording
  if (p.icmp !== undefined || p.opts !== undefined) return describePacketSpec(p)
  const parts = [which, p.flags ?? 'any flags']
  if (p.from) parts.push(`from ${p.from}`)
  if (p.to) parts.push(`to ${p.to}`)
  if (p.len !== undefined) parts.push(`${p.len} bytes`)
  return parts.join(' ')
}

function fields(exp: ExpectFields): string[] {
  const lines = FIELDS.filter(k => exp[k] !== undefined).map(k => `${k} ${value(exp[k])}`)
  // packet expectations are judged when the scenario ends, against the capture
  if (exp.after_packet) lines.push(`after ${packetText(exp.after_packet)}`)
  if (exp.before_packet) lines.push(`before ${packetText(exp.before_packet)}`)
  if (exp.packets) {
    const c = exp.packets
    lines.push(`packets: ${c.count ?? '>=1'} × ${packetText(c.match).replace(/^a segment /, '')}${c.since ? ` since ${c.since}` : ''}`)
  }
  return lines
}

export function expectationLines(exp: Expectation): string[] {
  const lines = fields(exp)
  for (const k of exp.kernels ?? []) lines.push(`on ${k.range}: ${fields(k).join(', ')}${k.source ? ` (${k.source})` : ''}`)
  return lines
}

const CALL_SKIP = new Set(['id', 'actor', 'do', 'expect', 'claim', 'note'])

export function stepCall(step: Step): string {
  const args = Object.entries(step)
    .filter(([k]) => !CALL_SKIP.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
  return [step.do, ...args].join(' ')
}

function renderSource(s: Source): SafeHtml {
  const parts: SafeHtml[] = []
  if (s.man) parts.push(html`man <span class="mono">${s.man}</span>`)
  if (s.kernel) parts.push(html`kernel <span class="mono">${s.kernel}</span>`)
  if (s.commit) parts.push(html`commit <span class="mono">${s.commit}</span>`)
  if (s.catalog !== undefined) parts.push(html`CATALOG.md item ${s.catalog}`)
  // only web links become links: a javascript: or data: URL stays text
  if (s.url)
    parts.push(
      /^https?:\/\//i.test(s.url) ? html`<a href="${s.url}" rel="noreferrer">${s.url}</a>` : html`<span class="mono">${s.url}</span>`,
    )
  return html`<li>${joinHtml(parts, ' · ')}${s.quote ? html`<blockquote>${s.quote}</blockquote>` : ''}</li>`
}

function renderSteps(steps: ReportScenario['doc']['steps']): SafeHtml {
  const rows = steps.map((step, i) => {
    const expect = step.expect ? expectationLines(step.expect) : []
    const claim = step.claim ? expectationLines(step.claim) : []
    const why = [step.expect?.why, step.claim?.why].filter(Boolean)
    return html`<tr><td class="mono">${step.id ?? `s${i + 1}`}</td><td>${step.actor}</td><td class="mono">${stepCall(step)}</td>
<td class="expect">${expect.map(l => html`<div>${l}</div>`)}${claim.map(l => html`<div>claim: ${l}</div>`)}${why.map(w => html`<div class="muted">why: ${w}</div>`)}</td>
<td>${step.note ?? ''}</td></tr>`
  })
  return html`<table class="list steps"><thead><tr><th>step</th><th>actor</th><th>call</th><th>expected</th><th>note</th></tr></thead><tbody>${joinHtml(rows)}</tbody></table>`
}

function renderHistory(m: ScenarioPageModel, history: readonly ReportResult[]): SafeHtml {
  const shown = history.slice(0, m.historyCap)
  const marks = shown.map(r => {
    const run = m.runs.get(r.runId)
    const tip = `${r.verdict}${r.claim ? ` (claim ${r.claim})` : ''} · run ${run ? runLabel(run) : r.runId}${r.verdict === 'skip' ? ` · ${r.message}` : ''}`
    return html`<a class="v-${r.verdict}" href="${m.resultHref(r)}" title="${tip}">${VERDICT_SYMBOL[r.verdict]}</a>`
  })
  const more =
    history.length > shown.length
      ? html` <span class="muted">and ${history.length - shown.length} older results (see the matrix pages)</span>`
      : ''
  return html`<div class="history" aria-label="verdict history, newest first">${joinHtml(marks)}</div>${more}`
}

export function renderScenarioPage(m: ScenarioPageModel): string {
  const s = m.scenario
  const doc = s.doc
  const variants = m.variants.map(
    v => html`<h3>${v.name} <span class="muted">· ${v.history.length} results, newest first; timelines of the latest ${v.shown.length}</span></h3>
${renderHistory(m, v.history)}
${renderTraceCards(v.shown, { root: ROOT, anchors: true })}`,
  )
  const body = html`<p class="muted mono">${s.id} · pack ${s.pack}</p>
<h1>${s.title}</h1>
${doc.description ? html`<p>${doc.description}</p>` : ''}
${doc.claim ? html`<p><strong>Claim ${doc.claim.id}${doc.claim.role ? ` (${doc.claim.role})` : ''}:</strong></p><blockquote>${doc.claim.statement}${doc.claim.source ? html`<footer class="muted">${doc.claim.source}</footer>` : ''}</blockquote>` : ''}
<h2>Sources</h2>
${doc.sources?.length ? html`<ul>${doc.sources.map(renderSource)}</ul>` : html`<p class="muted">none given</p>`}
<h2>Steps</h2>
${renderSteps(doc.steps)}
<h2>Results</h2>
<p class="kbd-legend muted">Timelines: one lane per actor, the wire between them (packets appear when captured). ✓/✗ mark checked steps; a red frame is a failed check, a dashed frame a refuted claim; <span class="sw" style="background: var(--diff)"></span>an event that differs from the most common trace (op, handle, errno or return value, epoll mask; times and fd numbers ignored).</p>
${variants}`
  return renderPage({ title: s.title, root: ROOT, body, generatedAt: m.generatedAt })
}
