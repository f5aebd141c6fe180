/**
 * The probe's own JSON line of each event it wrote. The store writes a
 * result's events as these lines instead of encoding the parsed objects
 * again (that encoding was a fifth of a run's write cost). Events are frozen
 * when their line is kept, so a line never disagrees with its object: a
 * change to a kept event throws instead of storing stale text.
 *
 * The line lives on the event in a private field, not in a WeakMap: the
 * map's entries were a quarter of the harness's CPU per event line (mostly
 * the collector's work on them). A private field is no key of the event:
 * JSON.stringify, Object.keys, spreads, deep equality and the store never
 * see it, and a copy (`{ ...event }`) has no line.
 */
import type { ProbeEvent } from './event.js'

/** Its constructor returns the object it is given, so the subclass's private field lands on that object. */
class Carrier {
  constructor(target: object) {
    return target
  }
}

class LineStamp extends Carrier {
  #line: string

  private constructor(target: object, line: string) {
    super(target)
    this.#line = line
  }

  static stamp(target: object, line: string): void {
    if (#line in target) (target as LineStamp).#line = line
    else new LineStamp(target, line)
  }

  static lineOf(target: object): string | undefined {
    return #line in target ? (target as LineStamp).#line : undefined
  }
}

/** Remember `line` as the exact JSON text of `event` (which it was parsed from) and freeze the event. */
export function keepRawLine(event: ProbeEvent, line: string): ProbeEvent {
  LineStamp.stamp(event, line)
  return Object.freeze(event)
}

/** The JSON text `event` was parsed from, when it came from a probe line unchanged. */
export function rawLineOf(event: ProbeEvent): string | undefined {
  return LineStamp.lineOf(event)
}

/**
 * `{ ...event, ...extra }` for keys the event does not have, its line
 * extended with them when the event's line is kept (a captured segment gets
 * the name of its host this way).
 */
export function extendEvent(event: ProbeEvent, extra: Readonly<Record<string, string>>): ProbeEvent {
  const copy: ProbeEvent = { ...event, ...extra }
  const line = rawLineOf(event)
  if (line === undefined || !line.endsWith('}') || !line.includes(':') || Object.keys(extra).some(k => k in event)) return copy
  let text = line.slice(0, -1)
  for (const [k, v] of Object.entries(extra)) text += `,${JSON.stringify(k)}:${JSON.stringify(v)}`
  return keepRawLine(copy, `${text}}`)
}
