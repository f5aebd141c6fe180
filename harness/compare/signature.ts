/**
 * A result's normalised signature: a hash of exactly what first-difference.ts
 * compares (each actor's lane of normalised event keys, wire left out, and
 * the checks' signatures in order). Two results with equal signatures have no
 * first difference, so compare and the report's diff pages skip loading and
 * normalising them. Written with each result (store.ts); results of older
 * stores get theirs computed when read. The version prefix changes whenever
 * normalisation changes, so a stale stored signature is recomputed, never
 * trusted.
 */
import { createHash } from 'node:crypto'
import type { CheckRow, EventRow } from '../store/store.js'
import { normaliseFields, PortNames } from './normalise.js'

export const SIGNATURE_VERSION = 'n2'

/** The part of a check that first-difference.ts compares. */
export type CheckSignatureFields = Pick<CheckRow, 'step' | 'actor' | 'field' | 'expected' | 'verdict'>

export function checkSignature(c: CheckSignatureFields): string {
  return JSON.stringify([c.step, c.actor, c.field, c.expected, c.verdict])
}

/** From events in store order (raw probe objects) and checks in store order. */
export function signatureOf(
  events: Iterable<{ actor: string; op: string; raw: Readonly<Record<string, unknown>> }>,
  checks: Iterable<CheckSignatureFields>,
): string {
  const ports = new PortNames()
  const lanes = new Map<string, string[]>()
  for (const e of events) {
    if (e.actor === 'wire') continue
    // plain JSON, not canonical: the probe writes an op's fields in one order, so this is as equal as the
    // canonical key (never equal where it differs), at a fraction of the cost on the write path
    const key = JSON.stringify(normaliseFields(e.raw, e.op, ports))
    const lane = lanes.get(e.actor)
    if (lane) lane.push(key)
    else lanes.set(e.actor, [key])
  }
  // one update of the whole text (the same digest as an update per part): each call into the hash costs more than its bytes
  let text = ''
  for (const actor of [...lanes.keys()].sort()) text += `${actor}\u0001${lanes.get(actor)!.join('\u0002')}\u0003`
  text += '\u0004'
  for (const c of checks) text += `${checkSignature(c)}\u0002`
  return `${SIGNATURE_VERSION}:${createHash('sha1').update(text).digest('base64')}`
}

/** From stored rows (a store written before signatures, or a stale version). */
export function signatureOfRows(events: readonly EventRow[], checks: readonly CheckRow[]): string {
  const ordered = [...events].sort((a, b) => a.idx - b.idx)
  return signatureOf(
    ordered.map(e => ({ actor: e.actor, op: e.op, raw: JSON.parse(e.details) as Record<string, unknown> })),
    [...checks].sort((a, b) => a.idx - b.idx),
  )
}

export function isCurrentSignature(sig: string | null | undefined): sig is string {
  return !!sig && sig.startsWith(`${SIGNATURE_VERSION}:`)
}
