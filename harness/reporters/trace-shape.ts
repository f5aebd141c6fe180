/**
 * What both timelines (terminal and HTML) derive from a stored trace: who
 * owns each port, which way a captured segment travels and how it is
 * labelled, and the failed checks of each step. Pure.
 */
import type { ProbeEvent } from '../trace/event.js'
import type { CheckRow, EventRow } from '../store/store.js'

/** Which actor owns each local port, from its getsockname events. */
export function portOwners(rows: readonly EventRow[]): Map<number, string> {
  const owners = new Map<number, string>()
  for (const row of rows) {
    // a packet peer's tun_open names the address it answers at
    if (row.op !== 'getsockname' && row.op !== 'tun_open') continue
    const port = (JSON.parse(row.details) as ProbeEvent).addr?.port
    if (port) owners.set(port, row.actor)
  }
  return owners
}

/** `SYN|ACK`, or `PSH|ACK len=5` for a segment with payload. */
export function packetLabel(e: ProbeEvent): string {
  const flags = ((e['tcp_flags'] as string[] | undefined) ?? []).join('|') || 'none'
  const len = Number(e['len'] ?? 0)
  return len > 0 ? `${flags} len=${len}` : flags
}

/**
 * Whether a segment travels from a left-hand lane to the right: its sender
 * owns the source port, or else its receiver owns the destination port.
 */
export function packetFromLeft(e: ProbeEvent, owners: ReadonlyMap<number, string>, isLeft: (actor: string) => boolean): boolean {
  const sender = owners.get(Number(e['sport']))
  if (sender !== undefined) return isLeft(sender)
  const receiver = owners.get(Number(e['dport']))
  return receiver !== undefined ? !isLeft(receiver) : true
}

/** Failed (or refuted) checks per step id. */
export function failedChecksByStep(checks: readonly CheckRow[]): Map<string, CheckRow[]> {
  const failed = new Map<string, CheckRow[]>()
  for (const c of checks) {
    if (c.verdict === 'pass') continue
    const list = failed.get(c.step) ?? []
    list.push(c)
    failed.set(c.step, list)
  }
  return failed
}
