/**
 * The probe's own JSON line of each event it wrote. The store writes a
 * result's events as these lines instead of encoding the parsed objects
 * again (that encoding was a fifth of a run's write cost). Events are frozen
 * when their line is kept, so a line never disagrees with its object: a
 * change to a kept event throws instead of storing stale text.
 */
import type { ProbeEvent } from './event.js'

const lines = new WeakMap<ProbeEvent, string>()

/** Remember `line` as the exact JSON text of `event` (which it was parsed from) and freeze the event. */
export function keepRawLine(event: ProbeEvent, line: string): ProbeEvent {
  lines.set(event, line)
  return Object.freeze(event)
}

/** The JSON text `event` was parsed from, when it came from a probe line unchanged. */
export function rawLineOf(event: ProbeEvent): string | undefined {
  return lines.get(event)
}

/**
 * `{ ...event, ...extra }` for keys the event does not have, its line
 * extended with them when the event's line is kept (a captured segment gets
 * the name of its host this way).
 */
export function extendEvent(event: ProbeEvent, extra: Readonly<Record<string, string>>): ProbeEvent {
  const copy: ProbeEvent = { ...event, ...extra }
  const line = lines.get(event)
  if (line === undefined || !line.endsWith('}') || !line.includes(':') || Object.keys(extra).some(k => k in event)) return copy
  let text = line.slice(0, -1)
  for (const [k, v] of Object.entries(extra)) text += `,${JSON.stringify(k)}:${JSON.stringify(v)}`
  return keepRawLine(copy, `${text}}`)
}
