/** Facts about the machine a run happens on: kernel, distro, sysctls that matter. */
import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'

export interface SystemInfo {
  hostname: string
  kernelRelease: string
  kernelVersion: string
  arch: string
  distro: string | undefined
  uid: number
  ipv6Loopback: boolean
  sysctls: Record<string, string>
}

/** sysctls that change readiness behaviour; recorded with every run. */
export const RELEVANT_SYSCTLS = [
  'net.core.somaxconn',
  'net.ipv4.tcp_syn_retries',
  'net.ipv4.tcp_synack_retries',
  'net.ipv4.tcp_syn_linear_timeouts',
  'net.ipv4.tcp_abort_on_overflow',
  'net.ipv4.tcp_max_syn_backlog',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.tcp_fastopen',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  // SO_RCVBUF/SO_SNDBUF caps, and (rmem_max) the window scale a SYN offers: 4 MiB by default from 6.18 (a6d4f25888b8)
  'net.core.rmem_max',
  'net.core.wmem_max',
  'net.ipv4.ip_local_port_range',
  'net.ipv6.conf.lo.disable_ipv6',
]

export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8')
      .trim()
      .replace(/\s+/g, ' ')
  } catch {
    return undefined
  }
}

function readDistro(): string | undefined {
  try {
    const text = readFileSync('/etc/os-release', 'utf8')
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)
    return m?.[1]
  } catch {
    return undefined
  }
}

function hasIpv6Loopback(): boolean {
  try {
    // /proc/net/if_inet6 lists ::1 on lo as 00000000000000000000000000000001
    return existsSync('/proc/net/if_inet6') && /^0{31}1 /m.test(readFileSync('/proc/net/if_inet6', 'utf8'))
  } catch {
    return false
  }
}

export function systemInfo(): SystemInfo {
  const sysctls: Record<string, string> = {}
  for (const name of RELEVANT_SYSCTLS) {
    const v = readSysctl(name)
    if (v !== undefined) sysctls[name] = v
  }
  return {
    hostname: os.hostname(),
    kernelRelease: os.release(),
    kernelVersion: os.version(),
    arch: os.arch() === 'x64' ? 'x86_64' : os.arch(),
    distro: readDistro(),
    uid: process.getuid?.() ?? -1,
    ipv6Loopback: hasIpv6Loopback(),
    sysctls,
  }
}
