/**
 * A result's trace as a terminal timeline: one column per actor, time down
 * the left, each syscall with its answer, failed checks marked beside it.
 * Pure: rows in, text out.
 */
import type { CheckRow, EventRow } from '../store/store.js'
import type { ProbeEvent } from '../trace/event.js'
import { formatMask } from '../expect/mask.js'
import { failedChecksByStep, packetFromLeft, packetLabel, portOwners } from './trace-shape.js'
import { terminalText } from './terminal-text.js'

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

/** A segment as an arrow between the lanes: `──SYN──▶` or `◀──SYN|ACK──`. */
export function describePacket(e: ProbeEvent, leftActors: ReadonlySet<string>, owners: ReadonlyMap<number, string>): string {
  const label = packetLabel(e)
  return packetFromLeft(e, owners, a => leftActors.has(a)) ? `──${label}──▶` : `◀──${label}──`
}

export function renderTimeline(events: readonly EventRow[], checks: readonly CheckRow[], maxWidth = 72): string {
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
  const texts = events.map(row => {
    const e = JSON.parse(row.details) as ProbeEvent
    // everything in a stored event came from a probe or a bundle: escaped before it is measured and padded
    return terminalText(e.op === 'packet' ? describePacket(e, leftSet, owners) : describeEvent(e))
  })
  // no spread: a trace may hold 200,000 events, more than a call takes arguments
  const width = Math.min(
    maxWidth,
    texts.reduce((w, x) => Math.max(w, x.length + 2), 20),
  )
  const pad = (s: string): string => (s.length > width ? s.slice(0, width - 1) + '…' : s.padEnd(width))
  const lines = [`${'t (ms)'.padStart(10)}  ${actors.map(a => pad(terminalText(a))).join(' ')}`]
  const lastOfStep = new Map<string, number>()
  events.forEach((e, i) => {
    if (e.step) lastOfStep.set(`${e.actor}/${e.step}`, i)
  })
  events.forEach((row, i) => {
    const col = actors.indexOf(row.actor)
    const isLast = row.step !== null && lastOfStep.get(`${row.actor}/${row.step}`) === i
    const failed = isLast && row.step ? failedByStep.get(row.step) : undefined
    const mark = isLast && row.step && checkedSteps.has(row.step) ? (failed ? ' ✗' : ' ✓') : ''
    const cells = actors.map((_, c) => (c === col ? pad(texts[i]! + mark) : ' '.repeat(width)))
    lines.push(`${(row.t_ns / 1e6).toFixed(3).padStart(10)}  ${cells.join(' ').trimEnd()}`)
    for (const c of failed ?? []) {
      lines.push(
        `${''.padStart(10)}  ${' '.repeat((width + 1) * col)}${terminalText(`${c.claim ? 'claim ' : ''}${c.field}: expected ${c.expected}, got ${c.observed}`)}`,
      )
    }
  })
  return lines.join('\n') + '\n'
}
