/**
 * Run one scenario variant on a host: start a probe per actor, walk the steps
 * in order, check expectations, collect the whole trace. A probe that crashes,
 * hangs or misbehaves makes the result `error` with its stderr kept; it never
 * throws.
 */
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { matchStep } from '../expect/match.js'
import type { Check } from '../expect/match.js'
import type { HostDriver } from '../hosts/host.js'
import { liveBeaconToken } from '../hosts/netns.js'
import type { NetnsSession } from '../hosts/netns.js'
import type { PathGate } from '../hosts/topology.js'
import type { SystemInfo } from '../hosts/system-info.js'
import type { ProbeEvent, SockAddr } from '../probe/event.js'
import { ProbeProcess } from '../probe/process.js'
import type { InvalidLine, StepOutcome } from '../probe/process.js'
import { scenarioPorts, startCaptures, stopCaptures } from '../probe/capture.js'
import type { RunningCapture } from '../probe/capture.js'
import { matchPackets } from '../expect/packets.js'
import { matchAcross } from '../expect/across.js'
import type { PacketContext } from '../expect/packets.js'
import { resolveExpectation } from '../scenario/expand.js'
import type { VariantPlan } from '../scenario/expand.js'
import type { Scenario, Step } from '../scenario/types.js'
import { CommandError, buildCommand, primaryOp, stepLimitMs } from './command.js'
import type { CommandContext } from './command.js'
import { unmetRequirement } from './requirements.js'
import type { ScenarioResult, TraceEvent } from './result.js'

export interface RunScenarioOptions {
  host: HostDriver
  system: SystemInfo
  attempt?: number
  /** Called when the scenario starts probes, so Ctrl-C can kill them. */
  onProbe?: (probe: ProbeProcess) => void
  helloTimeoutMs?: number
  /** sysctl lookup for `requires.sysctl` where the probes run (a vm guest); default: this machine */
  readSysctl?: (name: string) => string | undefined
  /** Capture packets where the session can (default true). */
  capture?: boolean
  /** True once the run is interrupted: stop before the next step. */
  shouldStop?: () => boolean
}

const DEFAULT_SCENARIO_LIMIT_MS = 30_000

function usesPackets(scenario: Scenario): boolean {
  const has = (e: object | undefined): boolean =>
    !!e && ('after_packet' in e || 'before_packet' in e || 'packets' in e || ((e as { kernels?: object[] }).kernels ?? []).some(has))
  return scenario.steps.some(s => has(s.expect) || has(s.claim))
}

function primaryEvent(step: Step, events: readonly ProbeEvent[]): ProbeEvent | undefined {
  const op = primaryOp(step)
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.op === op) return events[i]
  // a refused command answers with an error event named by its protocol command; anything else is no answer
  return events.find(e => e.error !== undefined)
}

let scratchParent: string | undefined

/**
 * Scenario temp dirs live under `sockspec-run-<beacon token>/` while the
 * process holds a beacon, so `sockspec cleanup` can remove those of a killed
 * run (and only those). The inner name keeps the `sockspec-XXXXXX` shape
 * the timeline shortens.
 */
function scratchRoot(): string {
  const token = liveBeaconToken()
  if (!token) return tmpdir()
  if (!scratchParent) {
    const dir = join(tmpdir(), `sockspec-run-${token}`)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    scratchParent = dir
    process.once('exit', () => {
      try {
        rmdirSync(dir)
      } catch {
        // not empty or gone: cleanup takes it once this process is dead
      }
    })
  }
  return scratchParent
}

/** Step token of host setup commands; a scenario step id cannot contain '.', so no clash. */
const SETUP_STEP = 'setup.'

export async function runScenario(scenario: Scenario, variant: VariantPlan, opts: RunScenarioOptions): Promise<ScenarioResult> {
  const started = performance.now()
  const attempt = opts.attempt ?? 1
  const base = { scenario, variant: variant.name, attempt, claim: undefined, events: [], invalid: [], checks: [], stderr: {}, kernels: {} }
  const skip = unmetRequirement(scenario, variant, opts.system, opts.readSysctl)
  if (skip) return { ...base, verdict: 'skip', message: skip, durationMs: 0 }

  let session: Awaited<ReturnType<HostDriver['open']>>
  try {
    session = await opts.host.open(scenario, variant.name)
  } catch (err) {
    // The host broke (a guest that died or never booted): the kit's failure, not the kernel's.
    return {
      ...base,
      verdict: 'error',
      message: `host ${opts.host.kind}: ${(err as Error).message}`,
      durationMs: performance.now() - started,
    }
  }
  if ('skip' in session) return { ...base, verdict: 'skip', message: session.skip, durationMs: 0 }
  const captureSpecs = opts.capture === false ? undefined : session.captureSpecs?.()
  if (usesPackets(scenario) && !captureSpecs) {
    await session.close()
    return { ...base, verdict: 'skip', message: 'needs packet capture (root, or CAP_NET_RAW)', durationMs: 0 }
  }
  const kernel = opts.system.kernelRelease
  const tmpDir = session.scratchDir ?? mkdtempSync(join(scratchRoot(), 'sockspec-'))
  const probes = new Map<string, ProbeProcess>()
  const problems: string[] = []
  const checks: Check[] = []
  const stepEvents = new Map<string, ProbeEvent[]>()
  const deferred: Array<(ctx: Pick<PacketContext, 'packets' | 'portOf'>) => Check[]> = []
  let captures: RunningCapture[] = []
  let packets: ProbeEvent[] = []
  const stepActor = new Map(scenario.steps.map(s => [s.id, s.actor]))
  const stepOrder = new Map(scenario.steps.map((s, i) => [s.id, i]))
  const addresses = new Map<string, SockAddr>()
  const ctx: CommandContext = {
    variant,
    addresses,
    families: new Map(),
    owners: new Map(),
    passing: [],
    tmpDir,
    uniqueSuffix: randomBytes(4).toString('hex'),
    defaultAddress: session.defaultAddress ? (actor, family) => session.defaultAddress!(actor, family) : undefined,
  }
  /** Events the harness itself makes (path gates), on the same monotonic clock. */
  const harnessEvents: TraceEvent[] = []
  const pathGates = new Map<string, PathGate[]>()
  let harnessSeq = 0
  const runPathGate = async (step: Step & { id: string }): Promise<StepOutcome> => {
    const host = session.hostOf?.(step.actor) ?? 'local'
    const t0 = Number(process.hrtime.bigint())
    let result: { ok: boolean; message: string }
    if (!('setPathGates' in session)) result = { ok: false, message: 'path gates need simulated hosts (a scenario with `hosts`)' }
    else {
      const gates =
        step.do === 'path_ungate'
          ? []
          : [...(pathGates.get(host) ?? []), { dir: step.dir ?? 'in', drop: step.drop, reject: step.reject, with: step.with }]
      result = await (session as NetnsSession).setPathGates(host, gates)
      if (result.ok) pathGates.set(host, gates)
    }
    const event: ProbeEvent = {
      seq: ++harnessSeq,
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
    harnessEvents.push({ actor: step.actor, event })
    return { events: [event], status: 'done' }
  }
  const background = new Map<string, { step: Step; sentAt: number }>()
  /** performance.now() when each step was sent (or a path gate started), for `within` */
  const sentAt = new Map<string, number>()
  const deadline = started + (scenario.limit_ms ?? DEFAULT_SCENARIO_LIMIT_MS)

  const learnAddresses = (events: readonly ProbeEvent[]): void => {
    for (const e of events) {
      if (e.op === 'getsockname' && e.ret === 0 && e.h && e.addr) addresses.set(e.h, e.addr)
    }
  }

  const evaluate = (step: Step & { id: string }, outcome: StepOutcome): void => {
    stepEvents.set(step.id, outcome.events)
    learnAddresses(outcome.events)
    if (outcome.status === 'timeout')
      problems.push(`step ${step.id} (${step.actor} ${step.do}) did not finish within ${stepLimitMs(step)} ms`)
    if (outcome.status === 'exit') {
      const p = probes.get(step.actor)
      problems.push(
        `probe for actor '${step.actor}' exited during step ${step.id} (${step.do})${p?.exit ? ` with ${p.exit.signal ?? `code ${p.exit.code}`}` : ''}`,
      )
    }
    const event = primaryEvent(step, outcome.events)
    if (event?.error !== undefined) problems.push(`probe refused step ${step.id}: ${event.error}`)
    // Timestamps compare only on one machine (one CLOCK_MONOTONIC).
    const clock = (actor: string): string => session.clockOf?.(actor) ?? 'local'
    const stepStart = (id: string): number | undefined => {
      const other = stepActor.get(id)
      return other !== undefined && clock(other) === clock(step.actor) ? stepEvents.get(id)?.[0]?.t0 : undefined
    }
    for (const [exp, claim] of [
      [step.expect, false],
      [step.claim, true],
    ] as const) {
      const resolved = resolveExpectation(exp, kernel)
      if (!resolved) continue
      const { after_packet, before_packet, packets, ...syscall } = resolved
      if (Object.keys(syscall).length) checks.push(...matchStep(syscall, event, { step: step.id, actor: step.actor, claim, stepStart }))
      // segments are all in only when the captures stop: judged at the end
      if (after_packet || before_packet || packets) {
        deferred.push(packetCtx =>
          matchPackets({ after_packet, before_packet, packets }, event, {
            ...packetCtx,
            step: step.id,
            actor: step.actor,
            claim,
            stepStart,
          }),
        )
      }
    }
  }

  try {
    if (captureSpecs) {
      const started = await startCaptures(captureSpecs)
      captures = started.running
      problems.push(...started.problems)
    }
    const actors = [...new Set(scenario.steps.map(s => s.actor))]
    for (const actor of actors) {
      const probe = new ProbeProcess(session.probeArgv(actor), actor)
      probes.set(actor, probe)
      opts.onProbe?.(probe)
    }
    const hellos = await Promise.all([...probes.values()].map(p => p.waitHello(opts.helloTimeoutMs ?? 5000)))
    hellos.forEach((ok, i) => {
      if (!ok) problems.push(`probe for actor '${actors[i]}' did not start (no hello event)`)
    })
    // Host plumbing a probe must do before the scenario (a guest probe joining its namespace).
    for (const [actor, probe] of problems.length ? [] : probes) {
      const failed = await probe.runSetup(session.probeSetup?.(actor) ?? [], SETUP_STEP, opts.helloTimeoutMs ?? 5000)
      if (failed) problems.push(`probe setup for actor '${actor}': ${failed}`)
    }

    for (const step of problems.length ? [] : scenario.steps) {
      const probe = probes.get(step.actor)!
      if (opts.shouldStop?.()) {
        problems.push('interrupted')
        break
      }
      if (performance.now() > deadline) {
        problems.push(`scenario time limit (${scenario.limit_ms ?? DEFAULT_SCENARIO_LIMIT_MS} ms) reached before step ${step.id}`)
        break
      }
      if (step.do === 'await') {
        const target = background.get(step.step ?? '')!
        background.delete(step.step ?? '')
        const limit = stepLimitMs(target.step) - (performance.now() - target.sentAt)
        const outcome = await probe.waitStep(target.step.id!, Math.min(limit, deadline - performance.now()))
        evaluate(target.step as Step & { id: string }, outcome)
        if (outcome.status !== 'done') break
        continue
      }
      if (step.do === 'path_gate' || step.do === 'path_ungate') {
        sentAt.set(step.id, performance.now())
        evaluate(step, await runPathGate(step))
        const w = step.within
        const since = w ? sentAt.get(w.since) : undefined
        if (w && since !== undefined && performance.now() - since > w.ms) {
          const took = (performance.now() - since).toFixed(0)
          problems.push(
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
        problems.push(`step ${step.id}: ${err.message}`)
        break
      }
      sentAt.set(step.id, performance.now())
      probe.send(step.id, command)
      if (step.background) {
        background.set(step.id, { step, sentAt: performance.now() })
        continue
      }
      const outcome = await probe.waitStep(step.id, Math.min(stepLimitMs(step), deadline - performance.now()))
      evaluate(step, outcome)
      if (outcome.status !== 'done') break
    }
    // Background steps nobody awaited: collect what they did, without waiting long.
    for (const { step } of background.values()) {
      const outcome = await probes.get(step.actor)!.waitStep(step.id!, problems.length ? 0 : 1000)
      evaluate(step as Step & { id: string }, outcome)
    }
  } finally {
    await Promise.all([...probes.values()].map(p => p.stop()))
    const all = [...probes.values()].flatMap(p => p.events)
    packets = await stopCaptures(captures, scenarioPorts(all))
    if (!session.scratchDir) rmSync(tmpDir, { recursive: true, force: true })
    await session.close()
  }

  const portOf = (handle: string): number | undefined => addresses.get(handle)?.port
  for (const judge of deferred) checks.push(...judge({ packets, portOf }))
  const stepById = new Map(scenario.steps.map(s => [s.id, s]))
  const answerOf = (id: string): ProbeEvent | undefined => primaryEvent(stepById.get(id)!, stepEvents.get(id) ?? [])
  if (scenario.across) checks.push(...matchAcross(scenario.across, answerOf))
  const wireClock = session.clockOf?.('wire') ?? 'local'
  const events: TraceEvent[] = [...harnessEvents, ...packets.map(event => ({ actor: 'wire', event, clock: wireClock }))]
  const invalid: InvalidLine[] = []
  const stderr: Record<string, string> = {}
  for (const c of captures) {
    if (c.stderr.trim()) stderr[`wire@${c.host}`] = c.stderr
    invalid.push(...c.invalid)
  }
  const kernels: Record<string, string> = {}
  for (const [actor, p] of probes) {
    // setup steps are host plumbing (like `ip netns exec` on the machine), not part of the trace
    const clock = session.clockOf?.(actor) ?? 'local'
    for (const event of p.events) if (!event.step?.startsWith(SETUP_STEP)) events.push({ actor, event, clock })
    invalid.push(...p.invalid)
    if (p.stderr) stderr[actor] = p.stderr
    if (p.hello?.uname?.release) kernels[actor] = p.hello.uname.release
    if (p.exit && (p.exit.signal !== undefined || (p.exit.code ?? 0) !== 0) && !problems.some(m => m.includes(`'${actor}'`))) {
      problems.push(`probe for actor '${actor}' ended with ${p.exit.signal ?? `exit code ${p.exit.code}`}`)
    }
  }
  // One machine: order by time. Several machines: their clocks are unrelated,
  // so the order of the steps decides, and time only within a step.
  const clocks = new Set([...probes.keys()].map(a => session.clockOf?.(a) ?? 'local'))
  // path gate events are stamped on this machine's clock, which a guest's probes do not share
  if (harnessEvents.length) clocks.add('local')
  // An event of no step (a captured segment) belongs after the last step event of its clock that precedes it.
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
  if (invalid.length) problems.push(`${invalid.length} invalid probe output line(s), first: ${invalid[0]!.problem}`)

  const failed = checks.filter(c => !c.ok && !c.claim)
  const refuted = checks.filter(c => !c.ok && c.claim)
  const verdict = problems.length ? 'error' : failed.length ? 'fail' : 'pass'
  const claim = scenario.claim && verdict !== 'error' ? (refuted.length ? 'refuted' : 'holds') : undefined
  const describe = (c: Check): string => `${c.step} ${c.actor} ${c.field}: expected ${c.expected}, got ${c.observed}`
  const message = problems.length
    ? problems.join('; ')
    : failed.length
      ? failed.map(describe).join('; ')
      : refuted.length
        ? `claim refuted: ${refuted.map(describe).join('; ')}`
        : ''
  return { ...base, verdict, claim, message, durationMs: performance.now() - started, events, invalid, checks, stderr, kernels }
}
