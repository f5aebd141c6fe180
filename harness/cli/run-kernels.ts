/**
 * `sockspec run --kernel debian:6.1 ...`: one run per guest kernel, in the
 * same store, two guests at a time on a 2-core machine (guestSlots). Each kernel is
 * fetched (cached), booted, given the scenarios through the vm host, and
 * powered off. A guest that does not boot still gets its run recorded, every
 * result `error` with the reason, so the matrix shows the gap. A guest that
 * dies mid-run (a kernel Oops panics it) is booted again once and the results
 * it broke are run again; if it dies again, they stay `error` naming the Oops.
 */
import { availableParallelism, hostname, loadavg } from 'node:os'
import { GUEST_CAPTURE_PORTS, GuestBootError, guestCpus } from '../hosts/vm/guest.js'
import type { Guest } from '../hosts/vm/guest.js'
import { MAX_PROBE_PORTS } from '../hosts/vm/qemu-argv.js'
import { vmHost } from '../hosts/vm/vm-host.js'
import type { RunInfo } from '../store/store.js'
import type { ScenarioResult } from '../trace/result.js'
import type { HostDriver } from '../hosts/host.js'
import type { SystemInfo } from '../hosts/system-info.js'
import { kernelFor, launchKernel } from '../hosts/vm/launch.js'
import type { LaunchedKernel } from '../hosts/vm/launch.js'
import type { DebianSpec } from '../hosts/vm/kernel-spec.js'
import type { CachedKernel } from '../hosts/vm/kernel-fetch.js'
import type { ProgressLine } from '../reporters/progress.js'
import type { Reporter } from '../reporters/reporter.js'
import { tally } from '../reporters/reporter.js'
import { runOnHost } from './run-on-host.js'
import { upstreamRelease } from '../scenario/kernel-range.js'
import { stdoutClosed } from './stdout.js'
import type { Scenario } from '../scenario/types.js'
import type { TraceStore } from '../store/store.js'

export interface GuestRunOptions {
  store: TraceStore
  reporter: () => Reporter
  jobs: number | undefined
  repeat: number
  log: (line: string) => void
  /** the status line on stderr: fetching, booting, then the scenarios */
  progress?: ProgressLine
  /** this kernel's place among the run's guests, e.g. `2/8` */
  position?: string
  /** called after each boot of the guest (0 the first, 1 a reboot), before scenarios use it */
  onBoot?: (guest: Guest, boot: number) => Promise<void>
  /** vCPUs of the guest (default guestCpus()) */
  cpus?: number
}

/**
 * Scenarios at once in a guest: six per vCPU (at most 16). Most of a result
 * is waiting on kernel timers, so at two a guest sat idle: the whole suite
 * on a 1-vCPU 6.1 guest took 238 s at 2 jobs and 119 s at 6 (quiet 2-core
 * machine, 0 fail, 0 error either way), where the one emulated vCPU was
 * busy all the time; more jobs only stretch each result. Under TCG four
 * jobs on two emulated cores once missed path-gate deadlines, before guest
 * commands got cheap and a missed deadline got its retry.
 */
export const guestJobs = (cpus = guestCpus()): number => Math.min(16, Math.max(2, 6 * cpus))

/**
 * The errors of a guest too slow for a scenario, not of its kernel: the kit
 * missed the scenario's timing, or a step outlived its limit (an emulated
 * guest on a loaded machine stretched a 6 s epoll_wait past its 9 s limit),
 * or a probe or capture gave no hello in time (seen once in 36 results on a
 * 5.10 guest), or a capture did not answer its first sync. Each is run once
 * more; a second time it stands.
 */
const TOO_SLOW = /a kit limit, not a kernel result|did not finish within \d+ ms|did not start\b/

/** Reboots after a guest died mid-run; past it its remaining results are errors naming why. */
const MAX_REBOOTS = 1

/** ", upstream 6.1.192" (after the boot line, which tools match) when the guest's version string names the x.y.z its ranges resolve against. */
function upstreamNote(system: SystemInfo): string {
  const upstream = upstreamRelease(system.kernelVersion)
  return upstream ? `, upstream ${upstream}` : ''
}

function brokenHost(reason: string): HostDriver {
  return {
    kind: 'vm',
    open: () => Promise.reject(new Error(reason)),
  }
}

/** What the run records about the guest's kernel package, in its hosts facts. */
function guestFacts(kernel: CachedKernel, system: SystemInfo): NonNullable<RunInfo['hosts']> {
  return {
    guest: {
      kind: 'vm',
      kernelRelease: system.kernelRelease,
      kernelVersion: system.kernelVersion,
      ...(upstreamRelease(system.kernelVersion) ? { kernelUpstream: upstreamRelease(system.kernelVersion) } : {}),
      arch: system.arch,
      package: kernel.package,
      packageVersion: kernel.version,
      sha256: kernel.sha256.deb,
      debs: kernel.debs,
    },
  }
}

export async function runGuestKernel(
  spec: DebianSpec,
  scenarios: Scenario[],
  opts: GuestRunOptions,
): Promise<{ code: number; interrupted: boolean }> {
  const started = performance.now()
  const tag = `${spec.name}${opts.position ? ` (${opts.position})` : ''}`
  opts.progress?.phase(`fetching ${tag}`)
  const kernel = await kernelFor(spec, {}, opts.log)
  opts.log(`kernel ${spec.name}: ${kernel.package} ${kernel.version}`)
  const jobs = opts.jobs ?? guestJobs(opts.cpus)
  // a probe port per actor, capped (sessions share them), plus the guest's two run-wide captures, plus the
  // guest's host helper's, held for the guest's life, when a scenario has hosts
  const perScenario = Math.max(1, ...scenarios.map(s => new Set(s.steps.map(step => step.actor)).size))
  const helperPort = scenarios.some(s => s.hosts) ? 1 : 0
  const fixed = GUEST_CAPTURE_PORTS + helperPort
  const probePorts = Math.max(perScenario, Math.min(MAX_PROBE_PORTS - fixed, jobs * perScenario)) + fixed
  let launched: LaunchedKernel | undefined
  let bootProblem: string | undefined
  try {
    opts.progress?.phase(`booting ${tag}`)
    try {
      launched = await launchKernel(kernel, { probePorts, cpus: opts.cpus })
    } catch (err) {
      // one more boot: an emulated boot on a loaded machine can miss a limit once
      if (!(err instanceof GuestBootError)) throw err
      opts.log(`kernel ${spec.name}: the guest did not boot (${err.message.slice(0, 200)}); booting it again`)
      launched = await launchKernel(kernel, { probePorts, cpus: opts.cpus })
    }
    opts.log(
      `kernel ${spec.name}: ${launched.system.kernelRelease} booted in ${(launched.guest.bootMs / 1000).toFixed(1)} s (${launched.guest.accel})${upstreamNote(launched.system)}`,
    )
    await opts.onBoot?.(launched.guest, 0)
  } catch (err) {
    if (!(err instanceof GuestBootError)) throw err
    bootProblem = `guest ${kernel.release} did not boot: ${err.message}`
    opts.log(`kernel ${spec.name}: ${bootProblem}`)
  }
  // Without a booted guest the package still says which kernel it is.
  const system: SystemInfo = launched?.system ?? {
    hostname: `${hostname()}/vm:${spec.name}`,
    kernelRelease: kernel.release,
    kernelVersion: `Debian ${kernel.version}`,
    arch: 'x86_64',
    distro: undefined,
    uid: 0,
    ipv6Loopback: true,
    sysctls: {},
  }
  let guest: Guest | undefined = launched?.guest
  // every guest this run booted (a reboot adds one): their probe counts add up
  const booted: Guest[] = guest ? [guest] : []
  // the guest each (scenario, variant) opened its session on: an error is retried only when that guest died
  const openedOn = new Map<string, Guest>()
  const keyOf = (scenario: string, variant: string): string => `${scenario}\0${variant}`
  let host = brokenHost(bootProblem ?? 'no guest')
  if (guest) {
    const inner = vmHost(() => guest!)
    host = { kind: 'vm', open: (scenario, variant) => (openedOn.set(keyOf(scenario.id, variant), guest!), inner.open(scenario, variant)) }
  }
  let reboots = 0
  let rebooting: Promise<boolean> | undefined
  const reboot = async (dead: Guest): Promise<boolean> => {
    reboots++
    opts.log(`kernel ${spec.name}: guest went down (${dead.downReason}); console log: ${dead.consoleLog}; booting it again`)
    await dead.shutdown({ keepLogs: true })
    try {
      opts.progress?.phase(`booting ${tag} again`)
      const next = await launchKernel(kernel, { probePorts, cpus: opts.cpus })
      guest = next.guest
      booted.push(next.guest)
      opts.log(`kernel ${spec.name}: booted again in ${(next.guest.bootMs / 1000).toFixed(1)} s`)
      await opts.onBoot?.(next.guest, reboots)
      return true
    } catch (err) {
      opts.log(`kernel ${spec.name}: the guest did not boot again: ${(err as Error).message}`)
      return false
    }
  }
  const retry = async (r: ScenarioResult, mayRetry: boolean): Promise<boolean> => {
    // a path gate that landed past its deadline, or a step past its limit, in a busy emulated guest is no kernel answer: once more
    if (TOO_SLOW.test(r.message)) return mayRetry
    const on = openedOn.get(keyOf(r.scenario.id, r.variant))
    if (!on?.downReason || !guest) return false
    if (!mayRetry) {
      if (!r.message.includes(on.downReason)) r.message = `${r.message} (guest down: ${on.downReason})`
      return false
    }
    if (on === guest && !rebooting && reboots < MAX_REBOOTS) rebooting = reboot(on).finally(() => (rebooting = undefined))
    if (rebooting && (await rebooting) && !guest.downReason) return true
    if (on !== guest && !guest.downReason) return true
    // no more reboots: the result stays an error, saying what broke the guest
    if (!r.message.includes(on.downReason)) r.message = `${r.message} (guest down: ${on.downReason})`
    return false
  }
  try {
    const outcome = await runOnHost({
      store: opts.store,
      host,
      hosts: guestFacts(kernel, system),
      system,
      scenarios,
      reporter: opts.reporter,
      jobs,
      repeat: opts.repeat,
      readSysctl: launched?.readSysctl ?? (() => undefined),
      retry,
      progress: opts.progress,
      progressLabel: tag,
    })
    const t = tally(outcome.results)
    const probes = booted.reduce(
      (n, g) => ({ started: n.started + g.probes.counts.spawned, reused: n.reused + g.probes.counts.reused, killed: n.killed + g.kills }),
      { started: 0, reused: 0, killed: 0 },
    )
    opts.log(
      `kernel ${spec.name}: ${system.kernelRelease}: ${t.pass} pass, ${t.fail} fail, ${t.error} error, ${t.skip} skip in ${((performance.now() - started) / 1000).toFixed(1)} s${reboots ? ` (${reboots} reboot)` : ''}${guest ? `; ${guest.execStats.count} guest commands, ${(guest.execStats.ms / 1000).toFixed(1)} s summed; probes: ${probes.started} started, ${probes.reused} reused, ${probes.killed} killed` : ''}`,
    )
    return { code: outcome.code, interrupted: outcome.interrupted }
  } finally {
    // A guest that broke mid-run keeps its console log for a look.
    const broken = guest?.downReason
    await guest?.shutdown({ keepLogs: broken !== undefined })
    if (broken) opts.log(`kernel ${spec.name}: guest went down (${broken}); console log: ${guest!.consoleLog}`)
  }
}

/**
 * Guests booted at once and vCPUs each. Under TCG a guest's run is mostly
 * waiting (a 2-vCPU guest kept about one host core busy), so two 1-vCPU
 * guests side by side use both cores of an idle 2-core machine where one
 * 2-vCPU guest did not. On a machine already busy (load average at or above
 * its cores) side by side was still faster (6.1 + 6.12 at load 8-19: 215 s
 * against 298 s, 326 s against 351 s), but starved 1-vCPU guests fired
 * their timers late more often (6.12 netns timing errors: 4-8 a run with
 * 1 vCPU, 0-2 with 2): verdicts first, so one guest at a time then.
 * SOCKSPEC_VM_GUESTS sets how many at once; SOCKSPEC_VM_CPUS the vCPUs.
 */
export function guestSlots(
  env: NodeJS.ProcessEnv = process.env,
  cores = availableParallelism(),
  load = loadavg()[0] ?? 0,
): { guests: number; cpus: number } {
  const asked = Number(env['SOCKSPEC_VM_GUESTS'])
  const guests = Number.isInteger(asked) && asked >= 1 ? Math.min(asked, 8) : load >= cores ? 1 : Math.max(1, Math.min(2, cores))
  const cpusAsked = Number(env['SOCKSPEC_VM_CPUS'])
  const cpus =
    Number.isInteger(cpusAsked) && cpusAsked >= 1 ? Math.min(cpusAsked, 16) : Math.max(1, Math.min(4, Math.floor(cores / guests)))
  return { guests, cpus }
}

/**
 * A reporter whose calls wait until it is this guest's turn to print, so
 * guests running side by side still print one whole run after another, in
 * the order they were named.
 */
class Relay {
  private live = false
  private readonly queue: Array<() => void> = []
  constructor(private readonly progress: ProgressLine | undefined) {}

  wrap(r: Reporter): Reporter {
    return {
      start: (run, total) => this.call(() => r.start(run, total)),
      result: (res, done, total) => this.call(() => r.result(res, done, total)),
      end: (run, results, interrupted) => this.call(() => r.end(run, results, interrupted)),
    }
  }

  private call(fn: () => void): void {
    if (this.live) fn()
    else this.queue.push(fn)
  }

  goLive(): void {
    if (this.live) return
    this.live = true
    for (const fn of this.queue.splice(0)) this.progress ? this.progress.write(fn) : fn()
  }
}

/**
 * Every guest kernel of a run, up to guestSlots().guests at once; the first
 * named prints as it goes, the others when the ones before them are done.
 * Stops starting guests once a run was interrupted or stdout closed.
 */
export async function runGuestKernels(
  specs: readonly DebianSpec[],
  scenarios: Scenario[],
  opts: Omit<GuestRunOptions, 'position' | 'cpus'>,
): Promise<{ code: number; interrupted: boolean }> {
  const slots = guestSlots()
  opts.log(`guests: ${slots.guests} at a time, ${slots.cpus} vCPU each (load ${loadavg()[0]!.toFixed(1)}, ${availableParallelism()} cores)`)
  const relays = specs.map(() => new Relay(opts.progress))
  const done: Array<{ code: number; interrupted: boolean } | undefined> = specs.map(() => undefined)
  let head = 0
  relays[0]?.goLive()
  let next = 0
  let interrupted = false
  const worker = async (): Promise<void> => {
    while (next < specs.length && !interrupted && !stdoutClosed()) {
      const i = next++
      try {
        const r = await runGuestKernel(specs[i]!, scenarios, {
          ...opts,
          cpus: slots.cpus,
          // one status line: the guest that prints now has it
          progress: i === head ? opts.progress : undefined,
          position: specs.length > 1 ? `${i + 1}/${specs.length}` : undefined,
          reporter: () => relays[i]!.wrap(opts.reporter()),
        })
        done[i] = r
        if (r.interrupted) interrupted = true
      } finally {
        done[i] ??= { code: 1, interrupted: false }
        while (head < specs.length && done[head]) relays[++head]?.goLive()
      }
    }
  }
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(slots.guests, specs.length) }, worker))
  // what guests that never became the head printed (an interrupted run): in order, not lost
  for (const r of relays) r.goLive()
  const failed = outcomes.find(o => o.status === 'rejected')
  if (failed) throw failed.reason
  let code = 0
  for (const r of done) if (r) code = r.interrupted ? 130 : Math.max(code === 130 ? 0 : code, r.code)
  return { code: interrupted ? 130 : code, interrupted }
}
