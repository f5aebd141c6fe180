/**
 * The verdict of one scenario variant, from what its run left: each step's
 * expectations against the event that answered it, packet expectations
 * against the captured segments, and the run's problems, folded into
 * pass / fail / error and the claim's outcome. Pure: everything is passed in.
 */
import { matchStep } from '../expect/match.js'
import type { Check } from '../trace/result.js'
import { matchAcross } from '../expect/across.js'
import { matchPackets } from '../expect/packets.js'
import type { PacketContext } from '../expect/packets.js'
import type { ProbeEvent, SockAddr } from '../trace/event.js'
import type { InvalidLine } from '../trace/result.js'
import { resolveExpectation } from '../scenario/expand.js'
import type { Scenario, Step } from '../scenario/types.js'
import { learnAddresses, primaryEvent } from './answer.js'
import { opDef } from '../ops/table.js'
import type { ClaimOutcome, Verdict } from '../trace/result.js'

/** One entry of a run's log, in the order it happened: a problem, or the events a step answered with. */
export type LogEntry = { problem: string } | { step: Step & { id: string }; events: ProbeEvent[] }

export interface JudgeInput {
  scenario: Pick<Scenario, 'steps' | 'claim' | 'across'>
  /** kernel the probes ran on, as ranges read it (the upstream x.y.z when known): selects `kernels:` overrides */
  kernelRelease: string
  /** the variant run (selects `variants:` overrides of expectations) */
  variant?: string
  /** set-up problems, then the steps' answers and problems as the driver met them */
  log: readonly LogEntry[]
  /** the CLOCK_MONOTONIC an actor's events are stamped on: times compare only within one */
  clockOf(actor: string): string
  /** captured segments of the scenario */
  packets: readonly ProbeEvent[]
  /** how each actor's probe ended, in actor order (undefined: still running when stopped, or killed by us) */
  exits: ReadonlyArray<{ actor: string; exit: { code: number | undefined; signal: string | undefined } | undefined }>
  /** output lines of probes and captures that were not valid events */
  invalid: readonly InvalidLine[]
}

export interface Judgement {
  /** skip only from a step's `skip_if`: the kernel said the feature is missing */
  verdict: Verdict
  claim: ClaimOutcome | undefined
  message: string
  checks: Check[]
}

/** A step's expectation with what its op implies (packet_expect: the fields of its `segment`). */
function withImplied(step: Step): Step['expect'] {
  const implied = opDef(step.do).impliedExpect?.(step)
  if (!implied) return step.expect
  const own = step.expect
  const value =
    implied.value !== undefined && own?.value !== undefined && typeof own.value === 'object'
      ? { ...(implied.value as object), ...(own.value as object) }
      : (own?.value ?? implied.value)
  return { ...implied, ...own, ...(value !== undefined ? { value } : {}) } as Step['expect']
}

const describe = (c: Check): string => `${c.step} ${c.actor} ${c.field}: expected ${c.expected}, got ${c.observed}`

export function judge(input: JudgeInput): Judgement {
  const { scenario, log } = input
  const stepActor = new Map(scenario.steps.map(s => [s.id, s.actor]))
  const problems: string[] = []
  const checks: Check[] = []
  /** events of the steps answered so far, by step id */
  const stepEvents = new Map<string, ProbeEvent[]>()
  const addresses = new Map<string, SockAddr>()
  // segments are all in only at the end: packet expectations are judged after the walk
  const deferred: Array<(ctx: Pick<PacketContext, 'packets' | 'portOf'>) => Check[]> = []

  let skipped: string | undefined
  // checks judged before the skipping step: a failure among them is not hidden by the skip
  let judgedBeforeSkip = 0
  for (const entry of log) {
    if ('problem' in entry) {
      problems.push(entry.problem)
      continue
    }
    const { step, events } = entry
    stepEvents.set(step.id, events)
    learnAddresses(events, addresses)
    const event = primaryEvent(step, events)
    if (event?.error !== undefined) problems.push(`probe refused step ${step.id}: ${event.error}`)
    // The kernel's own answer says the feature is missing: what follows depends on it, so the walk ends here.
    if (step.skip_if && event && event.error === undefined && !problems.length) {
      const { why, ...answer } = step.skip_if
      const base = { step: step.id, actor: step.actor, claim: false, stepStart: () => undefined }
      if (matchStep(answer, event, base).every(c => c.ok)) {
        skipped = `${why} (step ${step.id}: ${event.errno ?? `ret ${String(event.ret)}`})`
        judgedBeforeSkip = checks.length
        break
      }
    }
    // A step's start is known for steps answered so far, and only on its own clock.
    const stepStart = (id: string): number | undefined => {
      const other = stepActor.get(id)
      return other !== undefined && input.clockOf(other) === input.clockOf(step.actor) ? stepEvents.get(id)?.[0]?.t0 : undefined
    }
    for (const [exp, claim] of [
      [withImplied(step), false],
      [step.claim, true],
    ] as const) {
      const resolved = resolveExpectation(exp, input.kernelRelease, input.variant)
      if (!resolved) continue
      const { after_packet, before_packet, packets, ...syscall } = resolved
      if (Object.keys(syscall).length) checks.push(...matchStep(syscall, event, { step: step.id, actor: step.actor, claim, stepStart }))
      if (after_packet || before_packet || packets) {
        deferred.push(ctx =>
          matchPackets({ after_packet, before_packet, packets }, event, { ...ctx, step: step.id, actor: step.actor, claim, stepStart }),
        )
      }
    }
  }
  const portOf = (handle: string): number | undefined => addresses.get(handle)?.port
  for (const judgePackets of deferred) checks.push(...judgePackets({ packets: input.packets, portOf }))
  if (skipped !== undefined) judgedBeforeSkip = checks.length
  // expectations across steps need every step's answer: judged after the walk too
  if (scenario.across) {
    const stepById = new Map(scenario.steps.map(s => [s.id, s]))
    const answerOf = (id: string): ProbeEvent | undefined => {
      const step = stepById.get(id)
      return step ? primaryEvent(step, stepEvents.get(id) ?? []) : undefined
    }
    checks.push(...matchAcross(scenario.across, answerOf))
  }

  for (const { actor, exit } of input.exits) {
    // a probe whose death was already reported is not reported twice
    if (exit && (exit.signal !== undefined || (exit.code ?? 0) !== 0) && !problems.some(m => m.includes(`'${actor}'`))) {
      problems.push(`probe for actor '${actor}' ended with ${exit.signal ?? `exit code ${exit.code}`}`)
    }
  }
  if (input.invalid.length) problems.push(`${input.invalid.length} invalid probe output line(s), first: ${input.invalid[0]!.problem}`)

  if (skipped !== undefined && !problems.length) {
    // steps after the skipping one were not judged, nor expectations across steps
    const judged = checks.slice(0, judgedBeforeSkip)
    const earlier = judged.filter(c => !c.ok && !c.claim)
    if (!earlier.length) return { verdict: 'skip', claim: undefined, message: skipped, checks: judged }
    return { verdict: 'fail', claim: undefined, message: `${earlier.map(describe).join('; ')}; then skipped: ${skipped}`, checks: judged }
  }
  const failed = checks.filter(c => !c.ok && !c.claim)
  const refuted = checks.filter(c => !c.ok && c.claim)
  const verdict = problems.length ? 'error' : failed.length ? 'fail' : 'pass'
  const claim = scenario.claim && verdict !== 'error' ? (refuted.length ? 'refuted' : 'holds') : undefined
  const message = problems.length
    ? problems.join('; ')
    : failed.length
      ? failed.map(describe).join('; ')
      : refuted.length
        ? `claim refuted: ${refuted.map(describe).join('; ')}`
        : ''
  return { verdict, claim, message, checks }
}
