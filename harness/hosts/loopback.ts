/** The loopback host: every actor is a probe in the current network namespace. */
import { existsSync } from 'node:fs'
import { SockspecError } from '../errors.js'
import { probeBinary } from '../paths.js'
import type { HostDriver } from './host.js'

export function loopbackHost(binary = probeBinary): HostDriver {
  if (!existsSync(binary)) {
    throw new SockspecError('E_PROBE', `probe binary not found: ${binary} (run 'npm run build' or 'make -C harness/native')`)
  }
  return {
    kind: 'loopback',
    probeArgv: () => [binary],
    cleanup: async () => {},
  }
}
