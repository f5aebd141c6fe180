/**
 * One kernel of the matrix, ready to run scenarios: fetched (cached),
 * initramfs built (cached), booted. The caller shuts the guest down.
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { probeStaticBinary } from '../../paths.js'
import type { HostDriver } from '../host.js'
import type { SystemInfo } from '../system-info.js'
import { bootGuest } from './accel.js'
import { cacheRoot as defaultCacheRoot } from './cache-dir.js'
import type { Guest } from './guest.js'
import { guestSystemInfo } from './guest-info.js'
import { GUEST_TOOLS, buildInitramfs } from './initramfs.js'
import { allDebianSpecs, fetchKernel } from './kernel-fetch.js'
import type { CachedKernel } from './kernel-fetch.js'
import type { DebianSpec, KernelSpec } from './kernel-spec.js'
import { MAX_PROBE_PORTS } from './qemu-argv.js'
import { vmHost } from './vm-host.js'

export interface LaunchedKernel {
  kernel: CachedKernel
  guest: Guest
  host: HostDriver
  system: SystemInfo
  /** sysctl lookup in the guest, for `requires.sysctl` */
  readSysctl: (name: string) => string | undefined
}

export interface LaunchOptions {
  probePorts?: number
  cacheRoot?: string
  busybox?: string
  bootTimeoutMs?: number
  /** vCPUs of the guest (default guestCpus()) */
  cpus?: number
}

/** `all` becomes the host plus every Debian series the kit's apt indexes carry (oldest first); duplicates go. */
export async function expandKernelSpecs(
  specs: readonly KernelSpec[],
  log?: (line: string) => void,
  opts: LaunchOptions = {},
): Promise<KernelSpec[]> {
  const out: KernelSpec[] = []
  for (const s of specs) {
    const add =
      s.kind === 'all'
        ? [{ kind: 'host', name: 'host' } as const, ...(await allDebianSpecs(opts.cacheRoot ?? defaultCacheRoot(), log))]
        : [s]
    for (const k of add) if (!out.some(o => o.name === k.name)) out.push(k)
  }
  return out
}

/** Fetch (or find in the cache) the kernel of `spec`. */
export function kernelFor(spec: DebianSpec, opts: LaunchOptions = {}, log?: (line: string) => void): Promise<CachedKernel> {
  return fetchKernel(spec, opts.cacheRoot ?? defaultCacheRoot(), log)
}

/** Boot a fetched kernel; throws GuestBootError when it does not come up in time. */
export async function launchKernel(kernel: CachedKernel, opts: LaunchOptions = {}): Promise<LaunchedKernel> {
  const root = opts.cacheRoot ?? defaultCacheRoot()
  const probePorts = Math.min(MAX_PROBE_PORTS, opts.probePorts ?? 8)
  const initramfs = buildInitramfs(
    { busybox: opts.busybox ?? '/bin/busybox', probe: probeStaticBinary, modules: kernel.modules, probePorts, tools: GUEST_TOOLS },
    join(root, 'initramfs'),
  )
  const guest = await bootGuest(
    { vmlinuz: kernel.vmlinuz, initramfs, probePorts, bootTimeoutMs: opts.bootTimeoutMs, cpus: opts.cpus },
    root,
  )
  return {
    kernel,
    guest,
    host: vmHost(guest),
    system: guestSystemInfo(guest.info, `${hostname()}/vm:${kernel.spec}`),
    readSysctl: name => guest.info.sysctls[name],
  }
}
