/**
 * Drive a scenario's steps, in order, through its probes: build each step's
 * command from the op table, send it, wait for its answer within its limit
 * (background steps: at their `await`), and run path gates on the host
 * session. What happened is returned as a log for the judge; the first step
 * that does not finish stops the walk.
 */
import { randomBytes } from 'node:crypto'
import type { HostSession } from '../hosts/host.js'
import type { PathGate } from '../hosts/topology.js'
import type { ProbeEvent, SockAddr } from '../trace/event.js'
import type { ProbeProcess, StepOutcome } from '../probe/process.js'
import type { VariantPlan } from '../scenario/expand.js'
import type { Scenario, Step } from '../scenario/types.js'
import { learnAddresses, learnSharedFds, primaryEvent } from './answer.js'
import { CommandError, buildCommand, stepLimitMs } from './command.js'
import type { CommandContext } from './command.js'
import type { LogEntry } from './judge.js'
import type { TraceEvent } from '../trace/result.js'

type IdStep = Step & { id: string }

export interface DriveOptions {
  scenario: Scenario
  variant: VariantPlan
  session: HostSession
  /** a started probe per actor */
  probes: ReadonlyMap<string, ProbeProcess>
  tmpDir: string
  /** performance.now() past which no step starts */
  deadline: number
  /** the scenario's limit, for the message when the deadline passes */
  limitMs: number
  /** True once the run is interrupted: stop before the next step. */
  shouldStop?: () => boolean
}

export interface Driven {
  log: LogEntry[]
  /** events the harness made itself (path gates), on this machine's monotonic clock */
  harnessEvents: TraceEvent[]
}

/** Path gates through the session's capability: each call replaces the host's gates, so the kit keeps the list. */
function pathGates(session: HostSession): (step: IdStep) => Promise<StepOutcome> {
  const installed = new Map<string, PathGate[]>()
  let seq = 0
  return async (step: IdStep): Promise<StepOutcome> => {
    const host = session.hostOf?.(step.actor) ?? 'local'
    const t0 = Number(process.hrtime.bigint())
    let result: { ok: boolean; message: string }
    if (!session.setPathGates) result = { ok: false, message: 'path gates need simulated hosts (a scenario with `hosts`)' }
    else {
      const gates =
        step.do === 'path_ungate'
          ? []
          : [
              ...(installed.get(host) ?? []),
              { dir: step.dir ?? 'in', drop: step.drop, reject: step.reject, with: typeof step.with === 'string' ? step.with : undefined },
            ]
      result = await session.setPathGates(host, gates)
      if (result.ok) installed.set(host, gates)
    }
    const event: ProbeEvent = {
      seq: ++seq,
      step: step.id,
      op: 'nft',
      t0,
      t1: Number(process.hrtime.bigint()),
      ret: result.ok ? 0 : -1,
      host,
      dir: step.dir ?? 'in',
      gate: [...(step.drop ?? []), ...(step.reject ?? []).map(c => `reject:${c}`)],
      ...(result.ok ? {} : { error: result.message }),
    }
    return { events: [event], status: 'done' }
  }
}

export async function driveSteps(o: DriveOptions): Promise<Driven> {
  const { scenario, session, probes, deadline } = o
  const log: LogEntry[] = []
  const harnessEvents: TraceEvent[] = []
  // a problem so far: unawaited background steps then get no grace at the end
  let troubled = false
  const problem = (message: string): void => {
    log.push({ problem: message })
    troubled = true
  }
  const addresses = new Map<string, SockAddr>()
  const sharedFds = new Map<string, number>()
  const ctx: CommandContext = {
    variant: o.variant,
    addresses,
    families: new Map(),
    owners: new Map(),
    passing: [],
    tmpDir: o.tmpDir,
    sharedFds,
    uniqueSuffix: randomBytes(4).toString('hex'),
    defaultAddress: session.defaultAddress ? (actor, family) => session.defaultAddress!(actor, family) : undefined,
    // a pid means something only on the machine where it was reported (one clock, one machine)
    probePid: (target, from) =>
      (session.clockOf?.(target) ?? 'local') === (session.clockOf?.(from) ?? 'local') ? probes.get(target)?.hello?.pid : undefined,
  }
  const answered = (step: IdStep, outcome: StepOutcome): void => {
    learnAddresses(outcome.events, addresses)
    learnSharedFds(step.actor, outcome.events, sharedFds)
    if (outcome.status === 'timeout') problem(`step ${step.id} (${step.actor} ${step.do}) did not finish within ${stepLimitMs(step)} ms`)
    if (outcome.status === 'exit') {
      const p = probes.get(step.actor)
      problem(
        `probe for actor '${step.actor}' exited during step ${step.id} (${step.do})${p?.exit ? ` with ${p.exit.signal ?? `code ${p.exit.code}`}` : ''}`,
      )
    }
    log.push({ step, events: outcome.events })
    if (primaryEvent(step, outcome.events)?.error !== undefined) troubled = true
  }
  const runPathGate = pathGates(session)
  const background = new Map<string, { step: Step; sentAt: number }>()
  /** performance.now() when each step was sent (or a path gate started), for `within` */
  const sentAt = new Map<string, number>()

  for (const step of scenario.steps) {
    const probe = probes.get(step.actor)!
    if (o.shouldStop?.()) {
      problem('interrupted')
      break
    }
    if (performance.now() > deadline) {
      problem(`scenario time limit (${o.limitMs} ms) reached before step ${step.id}`)
      break
    }
    if (step.do === 'await') {
      const target = background.get(step.step ?? '')!
      background.delete(step.step ?? '')
      const limit = stepLimitMs(target.step) - (performance.now() - target.sentAt)
      const outcome = await probe.waitStep(target.step.id!, Math.min(limit, deadline - performance.now()))
      answered(target.step as IdStep, outcome)
      if (outcome.status !== 'done') break
      continue
    }
    if (step.do === 'path_gate' || step.do === 'path_ungate') {
      sentAt.set(step.id, performance.now())
      const outcome = await runPathGate(step)
      harnessEvents.push(...outcome.events.map(event => ({ actor: step.actor, event })))
      answered(step, outcome)
      const w = step.within
      const since = w ? sentAt.get(w.since) : undefined
      if (w && since !== undefined && performance.now() - since > w.ms) {
        const took = (performance.now() - since).toFixed(0)
        problem(
          `step ${step.id} (${step.do}) was in place ${took} ms after step ${w.since} was sent; the scenario needs it within ${w.ms} ms (this machine is too slow for the scenario's timing, a kit limit, not a kernel result)`,
        )
        break
      }
      continue
    }
    let command: string
    try {
      command = buildCommand(step, ctx)
    } catch (err) {
      if (!(err instanceof CommandError)) throw err
      problem(`step ${step.id}: ${err.message}`)
      break
    }
    sentAt.set(step.id, performance.now())
    probe.send(step.id, command)
    if (step.background) {
      background.set(step.id, { step, sentAt: performance.now() })
      continue
    }
    const outcome = await probe.waitStep(step.id, Math.min(stepLimitMs(step), deadline - performance.now()))
    answered(step, outcome)
    if (outcome.status !== 'done') break
  }
  // Background steps nobody awaited: collect what they did, without waiting long.
  for (const { step } of background.values()) {
    const outcome = await probes.get(step.actor)!.waitStep(step.id!, troubled ? 0 : 1000)
    answered(step as IdStep, outcome)
  }
  return { log, harnessEvents }
}
