/** Requirements that turn a scenario into `skip` with a reason. */
import { readSysctl } from '../hosts/system-info.js'
import type { SystemInfo } from '../hosts/system-info.js'
import { kernelInRange, rangeRelease } from '../scenario/kernel-range.js'
import type { VariantPlan } from '../scenario/expand.js'
import type { Scenario } from '../scenario/types.js'
import { checkRet } from '../expect/match.js'

/** The reason the scenario cannot run here, or undefined. */
export function unmetRequirement(scenario: Scenario, variant: VariantPlan, system: SystemInfo, sysctl = readSysctl): string | undefined {
  const req = scenario.requires ?? {}
  if (req.root && system.uid !== 0) return 'needs root (CAP_NET_ADMIN)'
  if ((req.ipv6 || variant.name === 'ipv6') && !system.ipv6Loopback) return 'needs IPv6 on loopback (::1)'
  const kernel = rangeRelease(system.kernelRelease, system.kernelVersion)
  if (req.kernel && !kernelInRange(kernel, req.kernel))
    return `needs kernel ${req.kernel} (this is ${system.kernelRelease}${kernel === system.kernelRelease ? '' : `, upstream ${kernel}`})`
  for (const [name, want] of Object.entries(req.sysctl ?? {})) {
    const have = sysctl(name)
    if (have === undefined) return `needs sysctl ${name} (not present)`
    const ok = sysctlSatisfies(have, want)
    if (!ok) {
      const wanted =
        typeof want === 'string' && want.startsWith('&')
          ? `with bits ${want.slice(1)} set`
          : /^[<>!=]/.test(String(want))
            ? String(want)
            : `= ${want}`
      return `needs sysctl ${name} ${wanted} (it is ${have})`
    }
  }
  return undefined
}

/**
 * A sysctl requirement: an integer (exact), a comparison (">=1"), a bit mask
 * ("&2": all these bits set, for flag sysctls such as tcp_fastopen), or a
 * literal string.
 */
export function sysctlSatisfies(have: string, want: number | string): boolean {
  if (typeof want === 'number') return Number(have) === want
  const bits = /^&(0x[0-9a-f]+|\d+)$/i.exec(want)
  if (bits) {
    const mask = Number(bits[1])
    return (Number(have) & mask) === mask
  }
  if (/^(>=|<=|>|<|!=|==)-?\d+$/.test(want)) return checkRet(want, Number(have))
  return have === want
}
