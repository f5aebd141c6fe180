/**
 * `sockspec run --kernel debian:6.1 ...`: one run per guest kernel, in the
 * same store, one after the other (a guest takes a core). Each kernel is
 * fetched (cached), booted, given the scenarios through the vm host, and
 * powered off. A guest that does not boot still gets its run recorded, every
 * result `error` with the reason, so the matrix shows the gap.
 */
import { hostname } from 'node:os'
import { GuestBootError } from '../hosts/vm/guest.js'
import type { HostDriver } from '../hosts/host.js'
import type { SystemInfo } from '../hosts/system-info.js'
import { kernelFor, launchKernel } from '../hosts/vm/launch.js'
import type { LaunchedKernel } from '../hosts/vm/launch.js'
import type { KernelSpec } from '../hosts/vm/kernel-spec.js'
import type { Reporter } from '../reporters/reporter.js'
import { tally } from '../reporters/reporter.js'
import { runOnHost } from './run-on-host.js'
import type { Scenario } from '../scenario/types.js'
import type { TraceStore } from '../store/store.js'

export interface GuestRunOptions {
  store: TraceStore
  reporter: () => Reporter
  jobs: number | undefined
  repeat: number
  log: (line: string) => void
}

/** Guests run this many scenarios at once by default: they mostly wait on kernel timers, on one vCPU. */
const GUEST_JOBS = 4

function brokenHost(reason: string): HostDriver {
  return {
    kind: 'vm',
    open: () => Promise.reject(new Error(reason)),
  }
}

export async function runGuestKernel(
  spec: Extract<KernelSpec, { kind: 'debian' }>,
  scenarios: Scenario[],
  opts: GuestRunOptions,
): Promise<{ code: number; interrupted: boolean }> {
  const started = performance.now()
  opts.log(`kernel ${spec.name}: fetching ${spec.package}`)
  const kernel = await kernelFor(spec)
  const jobs = opts.jobs ?? GUEST_JOBS
  // a probe port per actor, plus one per packet capture (per scenario host, or the loopback)
  const actors = Math.max(
    1,
    ...scenarios.map(s => new Set(s.steps.map(step => step.actor)).size + Math.max(1, Object.keys(s.hosts ?? {}).length)),
  )
  let launched: LaunchedKernel | undefined
  let bootProblem: string | undefined
  try {
    launched = await launchKernel(kernel, { probePorts: jobs * actors })
    opts.log(
      `kernel ${spec.name}: ${launched.system.kernelRelease} booted in ${(launched.guest.bootMs / 1000).toFixed(1)} s (${launched.guest.accel})`,
    )
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
  try {
    const outcome = await runOnHost({
      store: opts.store,
      host: launched?.host ?? brokenHost(bootProblem ?? 'no guest'),
      system,
      scenarios,
      reporter: opts.reporter,
      jobs,
      repeat: opts.repeat,
      readSysctl: launched?.readSysctl ?? (() => undefined),
    })
    const t = tally(outcome.results)
    opts.log(
      `kernel ${spec.name}: ${system.kernelRelease}: ${t.pass} pass, ${t.fail} fail, ${t.error} error, ${t.skip} skip in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )
    return { code: outcome.code, interrupted: outcome.interrupted }
  } finally {
    // A guest that broke mid-run keeps its console log for a look.
    const broken = launched?.guest.downReason
    await launched?.guest.shutdown({ keepLogs: broken !== undefined })
    if (broken) opts.log(`kernel ${spec.name}: guest went down (${broken}); console log: ${launched!.guest.consoleLog}`)
  }
}
