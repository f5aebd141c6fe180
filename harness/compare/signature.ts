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
import type { ProbeEvent } from '../trace/event.js'
import { rawLineOf } from '../trace/raw-line.js'
import { memberPlan, normaliseFields, normaliseMember, normaliseReady, PortNames, tcpInfoJson } from './normalise.js'
import type { MemberRule } from './normalise.js'

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
    this.lane(actor, JSON.stringify(normaliseFields(raw, op, this.ports)))
  }

  /** The same as event(actor, e.op, e), cut from the probe's line of `e` (rawLineOf) where it has one (lineKey). */
  probeEvent(actor: string, e: ProbeEvent, line: string | undefined = rawLineOf(e)): void {
    if (actor === 'wire') return
    const key = line === undefined ? undefined : lineKey(line, e, this.ports)
    this.lane(actor, key ?? JSON.stringify(normaliseFields(e, e.op, this.ports)))
  }

  private lane(actor: string, key: string): void {
    const lane = this.lanes.get(actor)
    this.lanes.set(actor, lane === undefined ? key : `${lane}\u0002${key}`)
  }

  check(c: CheckSignatureFields): void {
    this.checks += `${checkSignature(c)}\u0002`
  }

  /** check() of a check whose checkSignature text the caller built. */
  checkJson(signature: string): void {
    this.checks += `${signature}\u0002`
  }

  digest(): string {
    // one update of the whole text (the same digest as an update per part): each call into the hash costs more than its bytes
    let text = ''
    for (const actor of [...this.lanes.keys()].sort()) text += `${actor}\u0001${this.lanes.get(actor)!}\u0003`
    text += `\u0004${this.checks}`
    return `${SIGNATURE_VERSION}:${sha1Base64(text)}`
  }
}

// ---- the key of an event from its probe line ------------------------------------------------------------

/** Normalised ready lists by their text in the line: a run has few distinct ones (bounded). */
const readyTexts = new Map<string, string>()

/**
 * JSON.stringify(normaliseFields(e, e.op, ports)) cut from `line`, the probe's JSON text of `e`, without
 * building the normalised object: members memberPlan has no rule for are copied as they stand in the
 * line, the others follow their rule. Undefined (the caller takes the object path) unless the line's
 * members are the object's keys in order (a key repeated or starting with a digit breaks that) and each
 * member copied is the text JSON.stringify gives its value. Lines with backslashes are left to the object
 * path (the probe writes control bytes as \u00XX, JSON.stringify as \n), so a string's text is its
 * characters between quotes.
 */
export function lineKey(line: string, e: Readonly<Record<string, unknown>>, ports: PortNames): string | undefined {
  const n = line.length
  const op = e['op']
  if (typeof op !== 'string' || n < 3 || line.charCodeAt(0) !== OPEN || line.charCodeAt(n - 1) !== CLOSE || line.includes('\\'))
    return undefined
  const plan = memberPlan(op)
  const tcpInfo = e['opt'] === 'TCP_INFO'
  let out = '{'
  // a run of members kept as they are is one slice of the line, commas included
  let runStart = -1
  let runEnd = -1
  let i = 1
  for (const k in e) {
    const valueAt = i + k.length + 3
    if (
      line.charCodeAt(i) !== QUOTE ||
      !line.startsWith(k, i + 1) ||
      line.charCodeAt(valueAt - 2) !== QUOTE ||
      line.charCodeAt(valueAt - 1) !== COLON
    )
      return undefined
    const v = e[k]
    const rule = plan.get(k) ?? (tcpInfo && k === 'value' ? 'tcp-info' : undefined)
    const end = valueEnd(line, valueAt, v, rule === undefined)
    if (end < 0) return undefined
    if (rule === undefined) {
      if (runStart < 0) runStart = i
      runEnd = end
    } else {
      if (runStart >= 0) {
        out += `${out.length > 1 ? ',' : ''}${line.slice(runStart, runEnd)}`
        runStart = -1
      }
      const value = rule === 'drop' ? undefined : memberText(rule, k, v, line, valueAt, end, e, op, ports)
      if (value !== undefined) out += `${out.length > 1 ? ',' : ''}${line.slice(i, valueAt)}${value}`
    }
    const c = line.charCodeAt(end)
    if (c === COMMA) i = end + 1
    else if (c === CLOSE && end === n - 1) i = n
    else return undefined
  }
  // members left over: a key repeated in the line (the object keeps one)
  if (i !== n) return undefined
  if (runStart >= 0) out += `${out.length > 1 ? ',' : ''}${line.slice(runStart, runEnd)}`
  return `${out}}`
}

/** A flat object, strings without escapes: where most containers end. */
const SHALLOW = /\{(?:"[^"]*"|[^"{}[\]])*\}/y

/**
 * The end of the text of value `v` at line[at], walked along `v` itself, or -1 when the text is not `v`'s.
 * With `exact`, only when that text is what JSON.stringify gives `v`: numbers integers of at most 15
 * digits other than -0 (those a double holds and prints alike), an object's keys in the order the object
 * lists them, each once (so a key repeated or starting with a digit refuses).
 */
function valueEnd(line: string, at: number, v: unknown, exact: boolean): number {
  switch (typeof v) {
    case 'string':
      // no backslashes in the line: a string's text is its characters between quotes
      return line.charCodeAt(at) === QUOTE && line.charCodeAt(at + v.length + 1) === QUOTE ? at + v.length + 2 : -1
    case 'number': {
      const start = line.charCodeAt(at) === MINUS ? at + 1 : at
      let j = start
      while (isDigit(line.charCodeAt(j))) j++
      const digits = j - start
      if (digits === 0) return -1
      const c = line.charCodeAt(j)
      if (c !== 46 && c !== 101 && c !== 69)
        return !exact || (digits <= 15 && (start === at || digits > 1 || line.charCodeAt(start) !== ZERO)) ? j : -1
      if (exact) return -1
      for (let d = c; d === 46 || d === 101 || d === 69 || d === 43 || d === MINUS || isDigit(d); d = line.charCodeAt(++j));
      return j
    }
    case 'boolean':
      return line.startsWith(v ? 'true' : 'false', at) ? at + (v ? 4 : 5) : -1
    case 'object': {
      if (v === null) return line.startsWith('null', at) ? at + 4 : -1
      if (Array.isArray(v)) {
        if (line.charCodeAt(at) !== 91) return -1
        let i = at + 1
        if (!v.length) return line.charCodeAt(i) === 93 ? i + 1 : -1
        for (let k = 0; k < v.length; k++) {
          i = valueEnd(line, i, v[k], exact)
          if (i < 0) return -1
          const c = line.charCodeAt(i++)
          if (c !== (k === v.length - 1 ? 93 : COMMA)) return -1
        }
        return i
      }
      if (line.charCodeAt(at) !== OPEN) return -1
      if (!exact) {
        // only its end: most are flat
        SHALLOW.lastIndex = at
        if (SHALLOW.test(line)) return SHALLOW.lastIndex
      }
      const o = v as Record<string, unknown>
      let i = at + 1
      let c = COMMA
      for (const k in o) {
        // the text ended before the object's keys did
        if (c !== COMMA) return -1
        if (
          line.charCodeAt(i) !== QUOTE ||
          !line.startsWith(k, i + 1) ||
          line.charCodeAt(i + k.length + 1) !== QUOTE ||
          line.charCodeAt(i + k.length + 2) !== COLON
        )
          return -1
        i = valueEnd(line, i + k.length + 3, o[k], exact)
        if (i < 0) return -1
        c = line.charCodeAt(i++)
      }
      // {}; or the object's keys ended before the text's (a key repeated)
      if (i === at + 1) return line.charCodeAt(i) === CLOSE ? i + 1 : -1
      return c === CLOSE ? i : -1
    }
    default:
      return -1
  }
}

/** The normalised JSON text of member `k` (its value at line[start, end)) by its rule; undefined leaves it out. */
function memberText(
  rule: MemberRule,
  k: string,
  v: unknown,
  line: string,
  start: number,
  end: number,
  e: Readonly<Record<string, unknown>>,
  op: string,
  ports: PortNames,
): string | undefined {
  switch (rule) {
    case 'fd':
      if (typeof v === 'number' && v >= 0) return '"fd"'
      break
    case 'fd-any':
      if (typeof v === 'number') return '"fd"'
      break
    case 'ready': {
      const text = line.slice(start, end)
      let normal = readyTexts.get(text)
      if (normal === undefined) {
        normal = JSON.stringify(normaliseReady(v))
        if (readyTexts.size < 4096) readyTexts.set(text, normal)
      }
      return normal
    }
    case 'addr': {
      // normaliseAddr renames a number port and cleans a string path: without a path, the address's text
      // (what JSON.stringify gives it: walked exactly) with its port's number replaced
      const a = v as Record<string, unknown> | null
      const port = a && typeof a === 'object' && a['path'] === undefined ? a['port'] : undefined
      if (typeof port !== 'number' || valueEnd(line, start, a, true) !== end) break
      const text = line.slice(start, end)
      const at = text.indexOf('"port":') + 7
      const digits = `${port}`
      // the object's own key: the only "port": of a text whose strings hold no quotes, when no nested object has one
      if (at < 7 || text.lastIndexOf('"port":') !== at - 7 || !text.startsWith(digits, at)) break
      const name = ports.name(port)
      return `${text.slice(0, at)}${typeof name === 'number' ? name : `"${name}"`}${text.slice(at + digits.length)}`
    }
    case 'tcp-info':
      return tcpInfoJson(v)
  }
  const normal = normaliseMember(k, v, op, e, ports)
  return normal === undefined ? undefined : JSON.stringify(normal)
}

const QUOTE = 34
const COMMA = 44
const COLON = 58
const MINUS = 45
const ZERO = 48
const NINE = 57
const OPEN = 123
const CLOSE = 125
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE

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
