/**
 * A result's trace as a terminal timeline: one column per actor, time down
 * the left, each syscall with its answer, failed checks marked beside it.
 * Pure: rows in, text out.
 */
import type { CheckRow, EventRow } from '../store/store.js'
import type { ProbeEvent } from '../trace/event.js'
import { formatMask } from '../expect/mask.js'
import { optsLabel } from '../expect/packets.js'
import { failedChecksByStep, packetFromLeft, packetLabel, portOwners } from './trace-shape.js'
import type { Paint } from './colour.js'
import { terminalText } from './terminal-text.js'
import { textWidth, wrapLine } from './terminal-width.js'

export function formatAddr(a: ProbeEvent['addr']): string {
  if (!a) return ''
  // the scenario's private temp dir says nothing: show the name inside it
  if (a.family === 'unix') return (a.path ?? '').replace(/^.*\/sockspec-[A-Za-z0-9]{6}\//, '')
  if (a.family === 'inet6') return `[${a.addr ?? ''}]:${a.port ?? 0}`
  return `${a.addr ?? ''}:${a.port ?? 0}`
}

/** IN|OUT|HUP: masks without the EPOLL/POLL prefix, in bit order. */
export function shortMask(flags: readonly string[]): string {
  return formatMask(flags).replace(/\bE?POLL/g, '')
}

/** One event as a short line: `connect C 127.0.0.1:4242 = -1 EINPROGRESS`. */
export function describeEvent(e: ProbeEvent): string {
  if (e.error !== undefined) return `${e.op} ! ${e.error}`
  const parts: string[] = [e.op]
  if (e.h) parts.push(e.h)
  else if (e.new) parts.push(e.new)
  if (e.op === 'epoll_ctl') {
    const ctl = typeof e['ctl'] === 'string' ? e['ctl'].replace('EPOLL_CTL_', '').toLowerCase() : ''
    const events = Array.isArray(e['events']) ? shortMask(e['events'] as string[]) : ''
    parts.push(`${ctl} ${String(e['target'] ?? '')} ${events}`.trim())
  }
  if (typeof e['how'] === 'string') parts.push(e['how'])
  if (Array.isArray(e['pass'])) parts.push(`fd ${(e['pass'] as string[]).join(',')}`)
  if (e.opt) parts.push(e.opt)
  if (e.op === 'setsockopt' && e.value !== undefined && !e.gate)
    parts.push(String(typeof e.value === 'object' ? JSON.stringify(e.value) : e.value))
  if (e.gate) parts.push(e.gate.length ? `drop ${e.gate.join(',')}` : 'clear')
  if (e.addr && e.op !== 'accept4') parts.push(formatAddr(e.addr))
  let answer = `= ${e.ret ?? '?'}`
  if (e.errno) answer += ` ${e.errno}`
  if (e.new && e.h) answer += ` (${e.new}${e.addr && formatAddr(e.addr) ? ` from ${formatAddr(e.addr)}` : ''})`
  if (e.ready) answer += ` ${e.ready.map(r => `${r.h}:${shortMask(r.events)}`).join(' ') || '-'}`
  if (e.revents) answer += ` ${e.revents.map(r => `${r.h}:${shortMask(r.events)}`).join(' ')}`
  if (e.value_name !== undefined) answer += ` ${e.value_name}`
  else if (e.value !== undefined && e.op === 'getsockopt')
    answer += ` ${typeof e.value === 'object' ? String((e.value as Record<string, unknown>)['state'] ?? JSON.stringify(e.value)) : String(e.value)}`
  if (e.data !== undefined && e.data !== '') answer += ` "${e.data.length > 16 ? e.data.slice(0, 16) + '…' : e.data}"`
  // a call that blocked shows how long it took (the row is placed at its start)
  if (e.t1 !== undefined && e.t1 - e.t0 >= 1_000_000) answer += ` [${((e.t1 - e.t0) / 1e6).toFixed(0)} ms]`
  parts.push(answer)
  return parts.join(' ')
}

/**
 * What the arrow of a wire event says: a segment's flags and length, then its
 * options where they are news (a SYN's offer in full; on other segments what
 * is not the usual timestamp: SACK blocks, MPTCP, a cookie); an ICMP error's
 * name (and MTU) instead.
 */
function wireLabel(e: ProbeEvent): string {
  const opts = wireOpts(e)
  return opts ? `${wireName(e)} <${opts}>` : wireName(e)
}

/** Flags and length, or the ICMP error's name. */
function wireName(e: ProbeEvent): string {
  // "unreach port" rather than "dest-unreach/port": the lane is narrow and a space folds well
  if (e.op === 'icmp')
    return `ICMP ${String(e['icmp'] ?? '?').replace(/^dest-unreach\//, 'unreach ')}${e['mtu'] !== undefined ? ` mtu=${String(e['mtu'])}` : ''}`
  return packetLabel(e)
}

/** The options worth showing, compactly ('' for none). */
function wireOpts(e: ProbeEvent): string {
  const opts = e['opts'] as Record<string, unknown> | undefined
  if (e.op === 'icmp' || !opts) return ''
  const syn = ((e['tcp_flags'] as string[] | undefined) ?? []).includes('SYN')
  return optsLabel(syn ? opts : Object.fromEntries(Object.entries(opts).filter(([k]) => k !== 'ts' && k !== 'tsval' && k !== 'tsecr')))
}

/** An ICMP error travels back to the sender of the packet it quotes: as a segment from the quoted destination port. */
const wireEnds = (e: ProbeEvent): ProbeEvent =>
  e.op === 'icmp' ? { ...e, sport: e['orig_dport'] as number, dport: e['orig_sport'] as number } : e

/** A segment as an arrow between the lanes: `──SYN──▶` or `◀──SYN|ACK──`. */
export function describePacket(e: ProbeEvent, leftActors: ReadonlySet<string>, owners: ReadonlyMap<number, string>): string {
  const label = wireLabel(e)
  return packetFromLeft(wireEnds(e), owners, a => leftActors.has(a)) ? `──${label}──▶` : `◀──${label}──`
}

const isWire = (e: ProbeEvent): boolean => e.op === 'packet' || e.op === 'icmp'

/** Gutter of the lane layout: `t (ms)` right-aligned in 10 columns, then two spaces. */
const TIME_COLUMNS = 12
/** Narrower lanes than this fold most calls into three lines or more: the vertical form reads better. */
export const MIN_LANE = 18
const MAX_LANE = 72

export interface TimelineOptions {
  /** columns no line may exceed (default 100) */
  width?: number
  /** paints failed checks (default: none) */
  paint?: Paint
}

interface Layout {
  actors: string[]
  texts: string[]
  marks: string[]
  failedBelow: Array<readonly CheckRow[] | undefined>
}

/** Who sends a segment to whom, named: `SYN|ACK server → client`, for the one-lane form. */
function describePacketBetween(e: ProbeEvent, owners: ReadonlyMap<number, string>): string {
  const w = wireEnds(e)
  const from = owners.get(Number(w['sport']))
  const to = owners.get(Number(w['dport']))
  const opts = wireOpts(e)
  return `${wireName(e)} ${from ?? `:${String(w['sport'] ?? '?')}`} → ${to ?? `:${String(w['dport'] ?? '?')}`}${opts ? ` <${opts}>` : ''}`
}

function checkLine(c: CheckRow): string {
  return terminalText(`${c.claim ? 'claim ' : ''}${c.field}: expected ${c.expected}, got ${c.observed}`)
}

/**
 * A trace as lanes (client left, the wire, the others right) sized to `width`:
 * a call longer than its lane folds onto the next lines of that lane, so
 * nothing is cut. When even folded lanes would be too narrow (many actors, a
 * narrow terminal) it falls back to one line per event with the actor named.
 */
export function renderTimeline(events: readonly EventRow[], checks: readonly CheckRow[], opts: TimelineOptions = {}): string {
  const width = opts.width ?? 100
  const paint = opts.paint ?? ((_: number, s: string) => s)
  // client lanes left, the wire in the middle, everyone else right
  const others = [...new Set(events.map(e => e.actor))]
    .filter(a => a !== 'wire')
    .sort((a, b) => (a === 'client' ? -1 : b === 'client' ? 1 : a < b ? -1 : 1))
  const left = others.slice(0, Math.max(1, Math.ceil(others.length / 2)))
  const hasWire = events.some(e => e.actor === 'wire')
  const actors = [...left, ...(hasWire ? ['wire'] : []), ...others.slice(left.length)]
  const owners = portOwners(events)
  const leftSet = new Set(left)
  const failedByStep = failedChecksByStep(checks)
  const checkedSteps = new Set(checks.map(c => c.step))
  const lastOfStep = new Map<string, number>()
  events.forEach((e, i) => {
    if (e.step) lastOfStep.set(`${e.actor}/${e.step}`, i)
  })
  // everything in a stored event came from a probe or a bundle: escaped (terminalText) before it is measured
  const parsed = events.map(row => JSON.parse(row.details) as ProbeEvent)
  const marks: string[] = []
  const failedBelow: Array<readonly CheckRow[] | undefined> = []
  events.forEach((row, i) => {
    const isLast = row.step !== null && lastOfStep.get(`${row.actor}/${row.step}`) === i
    const failed = isLast && row.step ? failedByStep.get(row.step) : undefined
    marks.push(isLast && row.step && checkedSteps.has(row.step) ? (failed ? ' ✗' : ' ✓') : '')
    failedBelow.push(failed)
  })
  const laneCount = actors.length
  const texts = parsed.map(e => terminalText(isWire(e) ? describePacket(e, leftSet, owners) : describeEvent(e)))
  // each lane as wide as its longest call (capped), then the widest ones narrowed until the lanes fit
  const natural = actors.map(a => Math.min(MAX_LANE, Math.max(8, textWidth(terminalText(a)))))
  events.forEach((row, i) => {
    const col = actors.indexOf(row.actor)
    natural[col] = Math.min(MAX_LANE, Math.max(natural[col]!, textWidth(texts[i]! + marks[i]!) + 1))
  })
  const lanes = fitLanes(natural, width - TIME_COLUMNS - (laneCount - 1))
  if (!lanes) {
    const named = parsed.map((e, i) => (isWire(e) ? terminalText(describePacketBetween(e, owners)) : texts[i]!))
    return renderVertical(events, { actors, texts: named, marks, failedBelow }, width, paint)
  }
  return renderLanes(events, { actors, texts, marks, failedBelow }, lanes, width, paint)
}

/**
 * Lane widths within `room` columns: lanes that need little keep what they
 * need, the rest share what is left equally. Undefined when a lane would get
 * fewer than MIN_LANE columns while needing more.
 */
export function fitLanes(natural: readonly number[], room: number): number[] | undefined {
  const widths = [...natural]
  const order = natural.map((_, i) => i).sort((a, b) => natural[a]! - natural[b]!)
  let left = room
  order.forEach((lane, k) => {
    const share = Math.floor(left / (order.length - k))
    widths[lane] = Math.min(natural[lane]!, share)
    left -= widths[lane]
  })
  return widths.every((w, i) => w >= Math.min(MIN_LANE, natural[i]!)) ? widths : undefined
}

function renderLanes(events: readonly EventRow[], layout: Layout, lanes: readonly number[], width: number, paint: Paint): string {
  const { actors, texts, marks, failedBelow } = layout
  const offsets = lanes.map((_, col) => TIME_COLUMNS + lanes.slice(0, col).reduce((sum, w) => sum + w + 1, 0))
  const name = (a: string, lane: number): string => {
    const shown = terminalText(a)
    const cut = textWidth(shown) > lane ? [...shown].slice(0, lane - 1).join('') + '…' : shown
    return cut + ' '.repeat(Math.max(0, lane - textWidth(cut)))
  }
  const lines = [`${'t (ms)'.padStart(10)}  ${actors.map((a, col) => name(a, lanes[col]!)).join(' ')}`.trimEnd()]
  events.forEach((row, i) => {
    const col = actors.indexOf(row.actor)
    const offset = offsets[col]!
    wrapLine(texts[i]! + marks[i]!, lanes[col]!, '  ').forEach((piece, k) => {
      const time = k === 0 ? (row.t_ns / 1e6).toFixed(3).padStart(10) : ''.padStart(10)
      lines.push(`${time}  ${' '.repeat(offset - TIME_COLUMNS)}${piece}`.trimEnd())
    })
    // a failed check sits under its lane while at least 32 columns remain there, else under the time column
    const indent = width - offset >= 32 ? offset : TIME_COLUMNS
    for (const c of failedBelow[i] ?? [])
      for (const piece of wrapLine(checkLine(c), width - indent, '  ')) lines.push(' '.repeat(indent) + paint(31, piece))
  })
  return lines.join('\n') + '\n'
}

function renderVertical(events: readonly EventRow[], layout: Layout, width: number, paint: Paint): string {
  const { texts, marks, failedBelow } = layout
  const names = layout.actors.map(a => terminalText(a))
  const actorWidth = Math.min(
    12,
    names.reduce((w, a) => Math.max(w, textWidth(a)), 5),
  )
  const indent = TIME_COLUMNS + actorWidth + 2
  const room = Math.max(20, width - indent)
  const lines = [`${'t (ms)'.padStart(10)}  ${'actor'.padEnd(actorWidth)}  call = answer`]
  events.forEach((row, i) => {
    const actor = terminalText(row.actor)
    const head = `${(row.t_ns / 1e6).toFixed(3).padStart(10)}  `
    // a long actor name takes its own line rather than pushing the call out of its column
    const own = textWidth(actor) > actorWidth
    if (own) for (const piece of wrapLine(actor, width - TIME_COLUMNS)) lines.push(`${head}${piece}`)
    wrapLine(texts[i]! + marks[i]!, room, '  ').forEach((piece, k) => {
      const lead = k === 0 && !own ? `${head}${actor.padEnd(actorWidth)}  ` : ' '.repeat(indent)
      lines.push(`${lead}${piece}`.trimEnd())
    })
    for (const c of failedBelow[i] ?? [])
      for (const piece of wrapLine(checkLine(c), room, '  ')) lines.push(' '.repeat(indent) + paint(31, piece))
  })
  return lines.join('\n') + '\n'
}
