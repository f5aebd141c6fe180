/**
 * How a step's answer is read: which of its events answers it (the op
 * table's `answers`), and the socket addresses it reports. Pure; shared by
 * the step driver (it needs both while the steps run) and the judge.
 */
import type { ProbeEvent, SockAddr } from '../trace/event.js'
import type { Step } from '../scenario/types.js'
import { primaryOp } from './command.js'
import { sharedKey } from '../ops/share.js'

/** The event that answers a step: the last one of the op the table names, else the probe's refusal, else none. */
export function primaryEvent(step: Pick<Step, 'do'>, events: readonly ProbeEvent[]): ProbeEvent | undefined {
  const op = primaryOp(step)
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.op === op) return events[i]
  // a refused command answers with an error event named by its protocol command; anything else is no answer
  return events.find(e => e.error !== undefined)
}

/** Record the address of each handle a successful getsockname reported (later ones win). */
export function learnAddresses(events: readonly ProbeEvent[], into: Map<string, SockAddr>): void {
  for (const e of events) {
    if (e.op === 'getsockname' && e.ret === 0 && e.h && e.addr) into.set(e.h, e.addr)
    // a packet peer answers at its host's address: `to: P` connects there
    if (e.op === 'tun_open' && e.ret !== undefined && e.ret >= 0 && e.new && e.addr) into.set(e.new, e.addr)
  }
}

/** Record the descriptor number behind each handle an actor reported with `share` (pidfd_getfd asks for it). */
export function learnSharedFds(actor: string, events: readonly ProbeEvent[], into: Map<string, number>): void {
  for (const e of events)
    if (e.op === 'share' && e.ret === 0 && e.h && typeof e['fd'] === 'number') into.set(sharedKey(actor, e.h), e['fd'])
}
