/**
 * Run one scenario variant on a host: set up (session, captures, a probe per
 * actor), drive the steps, tear down, then assemble the trace and judge it.
 * A probe that crashes, hangs or misbehaves makes the result `error` with its
 * stderr kept; it never throws.
 */
import type { HostDriver } from '../hosts/host.js'
import type { SystemInfo } from '../hosts/system-info.js'
import type { ProbeEvent } from '../trace/event.js'
import type { ProbePool } from '../probe/pool.js'
import type { ProbeProcess, ProbeRecord } from '../probe/process.js'
import type { VariantPlan } from '../scenario/expand.js'
import type { Scenario } from '../scenario/types.js'
import { assembleTrace } from './assemble-trace.js'
import { driveSteps } from './drive-steps.js'
import { judge } from './judge.js'
import type { LogEntry } from './judge.js'
import { unmetRequirement } from './requirements.js'
import { rangeRelease } from '../scenario/kernel-range.js'
import type { ScenarioResult, TraceEvent } from '../trace/result.js'
import { newStage, openSession, startStage, tearDown, udpHandles } from './set-up.js'

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
  /** Idle probes to borrow and give back (absent: the result starts and stops its own). */
  probePool?: ProbePool
  /** True once the run is interrupted: stop before the next step. */
  shouldStop?: () => boolean
}

const DEFAULT_SCENARIO_LIMIT_MS = 30_000

export async function runScenario(scenario: Scenario, variant: VariantPlan, opts: RunScenarioOptions): Promise<ScenarioResult> {
  const started = performance.now()
  const base = {
    scenario,
    variant: variant.name,
    attempt: opts.attempt ?? 1,
    claim: undefined,
    events: [],
    invalid: [],
    checks: [],
    stderr: {},
    kernels: {},
  }
  const skip = unmetRequirement(scenario, variant, opts.system, opts.readSysctl)
  if (skip) return { ...base, verdict: 'skip', message: skip, durationMs: 0 }

  const opened = await openSession(opts.host, scenario, variant.name, opts.capture !== false)
  if ('error' in opened) return { ...base, verdict: 'error', message: opened.error, durationMs: performance.now() - started }
  if ('skip' in opened) return { ...base, verdict: 'skip', message: opened.skip, durationMs: 0 }
  const { session } = opened
  const stage = newStage(session, opts.probePool)
  const log: LogEntry[] = []
  let harnessEvents: TraceEvent[] = []
  let packets: ProbeEvent[]
  let records: Map<string, ProbeRecord>
  try {
    const problems = await startStage(stage, scenario, opened.captureSpecs, opts)
    log.push(...problems.map(problem => ({ problem })))
    if (!problems.length) {
      const limitMs = scenario.limit_ms ?? DEFAULT_SCENARIO_LIMIT_MS
      const driven = await driveSteps({
        scenario,
        variant,
        session,
        probes: stage.probes,
        tmpDir: stage.tmpDir,
        deadline: started + limitMs,
        limitMs,
        shouldStop: opts.shouldStop,
      })
      log.push(...driven.log)
      harnessEvents = driven.harnessEvents
    }
  } finally {
    ;({ packets, records } = await tearDown(stage, udpHandles(scenario.steps)))
  }

  const clockOf = (actor: string): string => session.clockOf?.(actor) ?? 'local'
  const probes = [...records]
  const trace = assembleTrace({
    steps: scenario.steps,
    actors: probes.map(([actor, p]) => ({
      actor,
      clock: clockOf(actor),
      events: p.events,
      invalid: p.invalid,
      stderr: p.stderr,
      release: p.hello?.uname?.release,
    })),
    harness: harnessEvents,
    packets,
    wireClock: clockOf('wire'),
    captures: stage.captures,
  })
  const judged = judge({
    scenario,
    kernelRelease: rangeRelease(opts.system.kernelRelease, opts.system.kernelVersion),
    variant: variant.name,
    log,
    clockOf,
    packets,
    exits: probes.map(([actor, p]) => ({ actor, exit: p.exit })),
    invalid: trace.invalid,
  })
  const { verdict, claim, message, checks } = judged
  const { events, invalid, stderr, kernels } = trace
  return { ...base, verdict, claim, message, durationMs: performance.now() - started, events, invalid, checks, stderr, kernels }
}
