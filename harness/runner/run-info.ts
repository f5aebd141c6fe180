/** The facts a run row records, from the system a run happens on. */
import type { SystemInfo } from '../hosts/system-info.js'
import { kitCommit, kitVersion } from '../kit.js'
import type { RunInfo } from '../store/store.js'

export function runInfoFor(system: SystemInfo, hostKind: string, hosts?: RunInfo['hosts'], argv = process.argv.slice(2)): RunInfo {
  return {
    host: system.hostname,
    hostKind,
    kernelRelease: system.kernelRelease,
    kernelVersion: system.kernelVersion,
    arch: system.arch,
    distro: system.distro,
    kitVersion: kitVersion(),
    kitCommit: kitCommit(),
    sysctls: system.sysctls,
    argv,
    hosts,
  }
}
