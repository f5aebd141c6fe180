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
import * as crypto from 'node:crypto'
import type { CheckRow, EventRow } from '../store/store.js'
import { normaliseFields, PortNames } from './normalise.js'

export const SIGNATURE_VERSION = 'n2'

/** The part of a check that first-difference.ts compares. */
export type CheckSignatureFields = Pick<CheckRow, 'step' | 'actor' | 'field' | 'expected' | 'verdict'>

export function checkSignature(c: CheckSignatureFields): string {
  return JSON.stringify([c.step, c.actor, c.field, c.expected, c.verdict])
}

/** Node's one-shot hash (20.12+) where there is one: the same digest without a Hash object per result. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash
const sha1Base64 = (text: string): string =>
  oneShot ? oneShot('sha1', text, 'base64') : crypto.createHash('sha1').update(text).digest('base64')

/** One event as the signature reads it. */
export interface SignatureEvent {
  actor: string
  op: string
  raw: Readonly<Record<string, unknown>>
}

/**
 * A signature built one event and one check at a time, in store order (the store feeds it while it writes
 * the result, without an array of events for it).
 */
export class SignatureBuilder {
  private readonly ports = new PortNames()
  private readonly lanes = new Map<string, string>()
  private checks = ''

  event(actor: string, op: string, raw: Readonly<Record<string, unknown>>): void {
    if (actor === 'wire') return
    // plain JSON, not canonical: the probe writes an op's fields in one order, so this is as equal as the
    // canonical key (never equal where it differs), at a fraction of the cost on the write path
    const key = JSON.stringify(normaliseFields(raw, op, this.ports))
    const lane = this.lanes.get(actor)
    this.lanes.set(actor, lane === undefined ? key : `${lane}\u0002${key}`)
  }

  check(c: CheckSignatureFields): void {
    this.checks += `${checkSignature(c)}\u0002`
  }

  digest(): string {
    // one update of the whole text (the same digest as an update per part): each call into the hash costs more than its bytes
    let text = ''
    for (const actor of [...this.lanes.keys()].sort()) text += `${actor}\u0001${this.lanes.get(actor)!}\u0003`
    text += `\u0004${this.checks}`
    return `${SIGNATURE_VERSION}:${sha1Base64(text)}`
  }
}

/** From events in store order (raw probe objects) and checks in store order. */
export function signatureOf(events: Iterable<SignatureEvent>, checks: Iterable<CheckSignatureFields>): string {
  const sig = new SignatureBuilder()
  for (const e of events) sig.event(e.actor, e.op, e.raw)
  for (const c of checks) sig.check(c)
  return sig.digest()
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
