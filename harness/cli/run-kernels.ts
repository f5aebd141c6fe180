/**
 * `sockspec run --kernel debian:6.1 ...`: one run per guest kernel, in the
 * same store, one after the other (a guest takes a core). Each kernel is
 * fetched (cached), booted, given the scenarios through the vm host, and
 * powered off. A guest that does not boot still gets its run recorded, every
 * result `error` with the reason, so the matrix shows the gap. A guest that
 * dies mid-run (a kernel Oops panics it) is booted again once and the results
 * it broke are run again; if it dies again, they stay `error` naming the Oops.
 */
import { hostname } from 'node:os'
import { GuestBootError, guestCpus } from '../hosts/vm/guest.js'
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
}

/**
 * Scenarios at once in a guest: one per vCPU. Under TCG four on two
 * emulated cores missed their path-gate deadlines (5-9 errors per run).
 */
export const guestJobs = (cpus = guestCpus()): number => Math.max(1, cpus)

/** The error run-scenario gives when the kit (not the kernel) missed a scenario's timing. */
const TOO_SLOW = /a kit limit, not a kernel result/

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
  const jobs = opts.jobs ?? guestJobs()
  // a probe port per actor, plus one per packet capture (per scenario host, or the loopback); capped, sessions share them
  const perScenario = Math.max(
    1,
    ...scenarios.map(s => new Set(s.steps.map(step => step.actor)).size + Math.max(1, Object.keys(s.hosts ?? {}).length)),
  )
  const probePorts = Math.max(perScenario, Math.min(MAX_PROBE_PORTS, jobs * perScenario))
  let launched: LaunchedKernel | undefined
  let bootProblem: string | undefined
  try {
    opts.progress?.phase(`booting ${tag}`)
    launched = await launchKernel(kernel, { probePorts })
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
      const next = await launchKernel(kernel, { probePorts })
      guest = next.guest
      opts.log(`kernel ${spec.name}: booted again in ${(next.guest.bootMs / 1000).toFixed(1)} s`)
      await opts.onBoot?.(next.guest, reboots)
      return true
    } catch (err) {
      opts.log(`kernel ${spec.name}: the guest did not boot again: ${(err as Error).message}`)
      return false
    }
  }
  const retry = async (r: ScenarioResult, mayRetry: boolean): Promise<boolean> => {
    // a path gate that landed past its deadline in a busy emulated guest is no kernel answer: once more
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
    opts.log(
      `kernel ${spec.name}: ${system.kernelRelease}: ${t.pass} pass, ${t.fail} fail, ${t.error} error, ${t.skip} skip in ${((performance.now() - started) / 1000).toFixed(1)} s${reboots ? ` (${reboots} reboot)` : ''}`,
    )
    return { code: outcome.code, interrupted: outcome.interrupted }
  } finally {
    // A guest that broke mid-run keeps its console log for a look.
    const broken = guest?.downReason
    await guest?.shutdown({ keepLogs: broken !== undefined })
    if (broken) opts.log(`kernel ${spec.name}: guest went down (${broken}); console log: ${guest!.consoleLog}`)
  }
}
