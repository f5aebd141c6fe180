/**
 * What the guest told the host at boot (control port lines) and the
 * SystemInfo a guest run is recorded and judged with: the guest's uname, its
 * sysctls, IPv6 on its loopback, root (probes run as root in the guest).
 */
import type { SystemInfo } from '../system-info.js'
import { RELEVANT_SYSCTLS } from '../system-info.js'

export interface GuestInfo {
  release: string
  version: string
  sysctls: Record<string, string>
  ipv6Loopback: boolean
  modules: Record<string, 'ok' | 'failed'>
  /** host tools copied into the initramfs (ip, nft) that run in the guest */
  tools: Record<string, 'ok' | 'missing'>
}

/** Fold one control line into `info`; true when the line was `ready`. */
export function readInfoLine(info: GuestInfo, line: string): boolean {
  const space = line.indexOf(' ')
  const key = space < 0 ? line : line.slice(0, space)
  const rest = space < 0 ? '' : line.slice(space + 1)
  switch (key) {
    case 'uname-r':
      info.release = rest
      break
    case 'uname-v':
      info.version = rest
      break
    case 'ipv6lo':
      info.ipv6Loopback = rest === '1'
      break
    case 'sysctl': {
      const m = /^(\S+)\s*=\s*(.*)$/.exec(rest)
      if (m) info.sysctls[m[1]!] = m[2]!.trim().replace(/\s+/g, ' ')
      break
    }
    case 'module': {
      const [name, status] = rest.split(' ')
      if (name) info.modules[name] = status === 'ok' ? 'ok' : 'failed'
      break
    }
    case 'tool': {
      const [name, status] = rest.split(' ')
      if (name) info.tools[name] = status === 'ok' ? 'ok' : 'missing'
      break
    }
    case 'ready':
      return true
  }
  return false
}

export const emptyGuestInfo = (): GuestInfo => ({ release: '', version: '', sysctls: {}, ipv6Loopback: false, modules: {}, tools: {} })

export function guestSystemInfo(info: GuestInfo, hostname: string): SystemInfo {
  const sysctls: Record<string, string> = {}
  for (const name of RELEVANT_SYSCTLS) if (info.sysctls[name] !== undefined) sysctls[name] = info.sysctls[name]!
  return {
    hostname,
    kernelRelease: info.release,
    kernelVersion: info.version,
    arch: 'x86_64',
    distro: 'sockspec guest (busybox initramfs)',
    uid: 0,
    ipv6Loopback: info.ipv6Loopback,
    sysctls,
  }
}
