/**
 * A result's trace as an inline SVG timeline, read like a handshake diagram:
 * one lane per actor (client left, server right), the wire between them with
 * an arrow per captured packet, one row per event in trace order, each
 * syscall with its return value, errno and epoll mask. The last event of a
 * checked step carries ✓ or ✗; failed checks are spelled out under it.
 * Pure: rows in, SVG out.
 */
import type { CheckRow, EventRow } from '../store/store.js'
import type { ProbeEvent } from '../trace/event.js'
import { describeEvent } from '../reporters/timeline.js'
import { failedChecksByStep, packetFromLeft, packetLabel, portOwners } from '../reporters/trace-shape.js'
import { formatMask } from '../expect/mask.js'
import { html, joinHtml } from './escape.js'
import type { SafeHtml } from './escape.js'

const TIME_W = 64
const LANE_W = 330
const WIRE_W = 150
const HEADER_H = 26
const ROW_H = 21
const NOTE_H = 15
const CHAR_W = 6.65
const WIRE = 'wire'

export interface TimelineOptions {
  /** Positions of events that differ from the reference trace. */
  differing?: ReadonlySet<number>
  label?: string
}

export function isPacket(row: EventRow): boolean {
  return row.actor === WIRE || row.op === 'packet'
}

/** Actor lanes in reading order: client, the wire, server, then any others. */
export function laneOrder(events: readonly EventRow[]): string[] {
  const actors = [...new Set(events.filter(e => !isPacket(e)).map(e => e.actor))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))
  const lanes = actors.length ? [actors[0]!, WIRE, ...actors.slice(1)] : [WIRE]
  return lanes
}

function rank(actor: string): number {
  return actor === 'client' ? 0 : actor === 'server' ? 1 : 2
}

function parseDetails(row: EventRow): ProbeEvent {
  try {
    return JSON.parse(row.details) as ProbeEvent
  } catch {
    return { seq: row.seq, op: row.op, t0: 0 }
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, Math.max(1, max - 1)) + '…' : text
}

interface Label {
  head: string
  answer: string
  mask: string
}

/**
 * The call as describeEvent spells it (shared with `sockspec show`), and the
 * answer spelled here with full flag names, so the mask can stand out.
 */
export function eventLabel(e: ProbeEvent): Label {
  if (e.error !== undefined) return { head: e.op, answer: `! ${e.error}`, mask: '' }
  const full = describeEvent(e)
  const at = full.indexOf(' = ')
  const head = at >= 0 ? full.slice(0, at) : full
  let answer = `= ${e.ret ?? '?'}`
  if (e.errno) answer += ` ${e.errno}`
  if (e.new && e.h) answer += ` (${e.new})`
  if (e.value_name !== undefined) answer += ` ${e.value_name}`
  else if (e.value !== undefined && e.op === 'getsockopt') {
    answer += ` ${typeof e.value === 'object' ? String((e.value as Record<string, unknown>)['state'] ?? JSON.stringify(e.value)) : String(e.value)}`
  }
  if (e.data !== undefined && e.data !== '') answer += ` "${e.data}"`
  const list = e.ready ?? e.revents
  const mask = list ? (list.length ? list.map(r => `${r.h}:${formatMask(r.events)}`).join(' ') : '-') : ''
  return { head, answer, mask }
}

interface PacketShape {
  /** true: sent by the right-hand side (server), drawn right to left */
  leftward: boolean
  text: string
}

/**
 * A captured TCP segment (PROTOCOL.md, capture mode): its flags, and its
 * direction, found from the ports the actors bound (getsockname after bind):
 * a segment from a bound port comes from that actor, one to it from the peer.
 */
export function packetShape(e: ProbeEvent, portOwner: ReadonlyMap<number, string>, leftActor: string): PacketShape {
  return { leftward: !packetFromLeft(e, portOwner, a => a === leftActor), text: packetLabel(e) }
}

export function describeCheck(c: CheckRow): string {
  return `${c.claim ? 'claim refuted: ' : ''}${c.field}: expected ${c.expected}, got ${c.observed}`
}

export function renderTimeline(events: readonly EventRow[], checks: readonly CheckRow[], opts: TimelineOptions = {}): SafeHtml {
  const lanes = laneOrder(events)
  const laneX = new Map<string, number>()
  let x = TIME_W
  for (const lane of lanes) {
    laneX.set(lane, x)
    x += lane === WIRE ? WIRE_W : LANE_W
  }
  const width = x + 4
  const failed = failedChecksByStep(checks)
  const checkedSteps = new Set(checks.map(c => c.step))
  const lastOfStep = new Map<string, number>()
  events.forEach((e, i) => {
    if (e.step && !isPacket(e)) lastOfStep.set(`${e.actor}/${e.step}`, i)
  })
  const perLane = new Map<string, SafeHtml[]>(lanes.map(l => [l, []]))
  const times: SafeHtml[] = []
  let y = HEADER_H + 4
  const packets = events.filter(isPacket).length
  const portOwner = portOwners(events)
  events.forEach((row, i) => {
    // the stored columns are the canonical answer; details carry the rest
    const e: ProbeEvent = { ...parseDetails(row), ret: row.ret ?? undefined, errno: row.errno ?? undefined }
    const time = (row.t_ns / 1e6).toFixed(3)
    times.push(html`<text class="time" x="${TIME_W - 6}" y="${y + 13}" text-anchor="end">${time}</text>`)
    if (isPacket(row)) {
      const wx = laneX.get(WIRE)!
      const p = packetShape(e, portOwner, lanes[0]!)
      const leftward = p.leftward
      const [x1, x2] = leftward ? [wx + WIRE_W - 6, wx + 8] : [wx + 6, wx + WIRE_W - 8]
      const head = leftward
        ? `${x2},${y + 14} ${x2 + 7},${y + 10} ${x2 + 7},${y + 18}`
        : `${x2},${y + 14} ${x2 - 7},${y + 10} ${x2 - 7},${y + 18}`
      perLane
        .get(WIRE)!
        .push(
          html`<g class="packet" data-idx="${i}"><title>${row.t_ns / 1e6} ms: ${p.text}</title><line x1="${x1}" y1="${y + 14}" x2="${x2}" y2="${y + 14}"/><polygon points="${head}"/><text x="${wx + WIRE_W / 2}" y="${y + 9}" text-anchor="middle">${clip(p.text, 20)}</text></g>`,
        )
      y += ROW_H
      return
    }
    const lx = laneX.get(row.actor)!
    const isLast = row.step !== null && lastOfStep.get(`${row.actor}/${row.step}`) === i
    const stepFailures = isLast && row.step ? failed.get(row.step) : undefined
    const checked = isLast && row.step !== null && checkedSteps.has(row.step)
    const label = eventLabel(e)
    const classes = ['ev']
    if ((row.ret ?? 0) < 0 || e.error !== undefined) classes.push('err')
    if (opts.differing?.has(i)) classes.push('differs')
    if (stepFailures?.some(c => !c.claim)) classes.push('failed')
    else if (stepFailures?.length) classes.push('refuted')
    // a call that blocked shows how long (its row sits at its start)
    const blocked = row.dur_ns !== null && row.dur_ns >= 1e6 ? `${(row.dur_ns / 1e6).toFixed(0)} ms` : ''
    const room = Math.floor((LANE_W - 34) / CHAR_W) - (blocked ? blocked.length + 1 : 0)
    const tail = [label.answer, label.mask].filter(Boolean).join(' ')
    const head = clip(label.head, Math.max(8, room - tail.length - 1))
    const answer = clip(label.answer, Math.max(4, room - head.length - 1))
    const mask = clip(label.mask, Math.max(0, room - head.length - answer.length - 2))
    const dur = row.dur_ns !== null ? ` (${(row.dur_ns / 1e6).toFixed(3)} ms)` : ''
    const tooltip = `${row.actor} ${describeEvent(e)}${dur}${row.step ? ` [step ${row.step}]` : ''}`
    const mark = checked
      ? stepFailures?.length
        ? html`<text class="mark-fail" x="${lx + LANE_W - 20}" y="${y + 14}">✗</text>`
        : html`<text class="mark-pass" x="${lx + LANE_W - 20}" y="${y + 14}">✓</text>`
      : ''
    perLane
      .get(row.actor)!
      .push(
        html`<g class="${classes.join(' ')}" data-idx="${i}" data-op="${row.op}"><title>${tooltip}</title><rect x="${lx + 4}" y="${y + 1}" width="${LANE_W - 8}" height="${ROW_H - 3}" rx="3"/><text x="${lx + 10}" y="${y + 14}">${head} <tspan class="ret">${answer}</tspan>${mask ? html` <tspan class="mask">${mask}</tspan>` : ''}${blocked ? html` <tspan class="dur">${blocked}</tspan>` : ''}</text>${mark}</g>`,
      )
    y += ROW_H
    for (const c of stepFailures ?? []) {
      const text = `${c.claim ? 'claim ✗ ' : '✗ '}${describeCheck(c).replace(/^claim refuted: /, '')}`
      perLane
        .get(row.actor)!
        .push(html`<text class="note-fail" x="${lx + 10}" y="${y + 11}"><title>${describeCheck(c)}</title>${clip(text, 64)}</text>`)
      y += NOTE_H
    }
  })
  const height = y + 6
  const backgrounds = lanes.map(lane => {
    const lx = laneX.get(lane)!
    const w = lane === WIRE ? WIRE_W : LANE_W
    return html`<rect class="${lane === WIRE ? 'wire-bg' : 'lane-bg'}" x="${lx + 1}" y="0" width="${w - 2}" height="${height}"/><text class="lane-title" x="${lx + w / 2}" y="17" text-anchor="middle">${lane}</text><line class="axis" x1="${lx + w / 2}" y1="${HEADER_H}" x2="${lx + w / 2}" y2="${height}"/>`
  })
  const wireNote =
    packets === 0
      ? html`<text class="nowire" x="${laneX.get(WIRE)! + WIRE_W / 2}" y="${HEADER_H + 12}" text-anchor="middle">no packets captured</text>`
      : ''
  const groups = lanes.map(lane => html`<g class="lane" data-actor="${lane}">${perLane.get(lane)!}</g>`)
  return html`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${opts.label ?? 'timeline'}"><text class="time" x="${TIME_W - 6}" y="17" text-anchor="end">t (ms)</text>${joinHtml(backgrounds)}${wireNote}${joinHtml(times)}${joinHtml(groups)}</svg>`
}
