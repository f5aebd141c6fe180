/**
 * One ordered trace from what a scenario's parts recorded: each actor's
 * probe events, the harness's own events (path gates) and the captured
 * segments, each stamped on some machine's CLOCK_MONOTONIC. Pure.
 *
 * One clock: order by time. Several clocks (a guest's probes, this machine's
 * path gates): times do not compare across them, so the order of the steps
 * decides, and time only within a step; an event of no step (a segment)
 * goes after the last step event of its own clock that precedes it.
 */
import type { ProbeEvent } from '../trace/event.js'
import type { InvalidLine } from '../trace/result.js'
import type { Step } from '../scenario/types.js'
import type { TraceEvent } from '../trace/result.js'

/** Step token of host setup commands; a scenario step id cannot contain '.', so no clash. */
export const SETUP_STEP = 'setup.'

/** What one actor's probe recorded. */
export interface ActorRecord {
  actor: string
  /** the clock its events are stamped on */
  clock: string
  events: readonly ProbeEvent[]
  invalid: readonly InvalidLine[]
  stderr: string
  /** kernel release from its hello */
  release?: string
}

export interface TraceParts {
  steps: ReadonlyArray<Pick<Step, 'id'>>
  actors: readonly ActorRecord[]
  /** events the harness made itself (path gates), on this machine's clock ('local') */
  harness: readonly TraceEvent[]
  /** captured segments, stamped on `wireClock` */
  packets: readonly ProbeEvent[]
  wireClock: string
  /** each capture's stderr and invalid lines */
  captures: ReadonlyArray<{ host: string; stderr: string; invalid: readonly InvalidLine[] }>
}

export interface AssembledTrace {
  events: TraceEvent[]
  invalid: InvalidLine[]
  /** non-empty stderr by actor (`wire@host` for captures) */
  stderr: Record<string, string>
  /** kernel release by actor */
  kernels: Record<string, string>
}

export function assembleTrace(parts: TraceParts): AssembledTrace {
  const events: TraceEvent[] = [...parts.harness, ...parts.packets.map(event => ({ actor: 'wire', event, clock: parts.wireClock }))]
  const invalid: InvalidLine[] = []
  const stderr: Record<string, string> = {}
  const kernels: Record<string, string> = {}
  for (const c of parts.captures) {
    if (c.stderr.trim()) stderr[`wire@${c.host}`] = c.stderr
    invalid.push(...c.invalid)
  }
  for (const a of parts.actors) {
    // setup steps are host plumbing (like `ip netns exec` on the machine), not part of the trace
    // a packet peer's segments and ICMP errors (op packet, icmp) are among `packets`, on the wire lane
    for (const event of a.events)
      if (!event.step?.startsWith(SETUP_STEP) && event.op !== 'packet' && event.op !== 'icmp')
        events.push({ actor: a.actor, event, clock: a.clock })
    invalid.push(...a.invalid)
    if (a.stderr) stderr[a.actor] = a.stderr
    if (a.release) kernels[a.actor] = a.release
  }
  const stepOrder = new Map(parts.steps.map((s, i) => [s.id, i]))
  const clocks = new Set(parts.actors.map(a => a.clock))
  // path gate events are stamped on this machine's clock, which a guest's probes do not share
  if (parts.harness.length) clocks.add('local')
  const inferred = new Map<TraceEvent, number>()
  if (clocks.size > 1) {
    const last = new Map<string, number>() // clock -> order of its latest step event so far
    for (const e of [...events].sort((a, b) => a.event.t0 - b.event.t0)) {
      const clock = e.clock ?? 'local'
      const own = stepOrder.get(e.event.step ?? '')
      if (own !== undefined) last.set(clock, own)
      else if (last.has(clock)) inferred.set(e, last.get(clock)!)
    }
  }
  const order = (e: TraceEvent): number => stepOrder.get(e.event.step ?? '') ?? inferred.get(e) ?? Number.MAX_SAFE_INTEGER
  events.sort(
    (a, b) =>
      (clocks.size > 1 ? order(a) - order(b) : 0) || a.event.t0 - b.event.t0 || (a.actor < b.actor ? -1 : 1) || a.event.seq - b.event.seq,
  )
  return { events, invalid, stderr, kernels }
}
