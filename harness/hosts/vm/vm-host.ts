/**
 * The `vm` host: actors are probes inside a booted guest. A session leases
 * one probe port per actor and gives them back (reset) when closed; the
 * actor's argv is the connector that pipes to its port.
 */
import { join } from 'node:path'
import { kitRoot } from '../../paths.js'
import type { HostDriver, HostSession } from '../host.js'
import type { Guest } from './guest.js'
import { guestScratchDir } from './init-script.js'

export const connectorScript = join(kitRoot, 'dist', 'harness', 'hosts', 'vm', 'connect.js')

export function vmHost(guest: Guest, connector = connectorScript): HostDriver {
  return {
    kind: 'vm',
    open: async scenario => {
      // Scenario hosts are network namespaces joined by veth; the guest's init does not build them (yet).
      if (scenario.hosts) return { skip: 'scenario hosts (network namespaces) are not set up inside vm guests' }
      const actors = [...new Set(scenario.steps.map(s => s.actor))]
      const ports = await guest.lease(actors.length)
      const portOf = new Map(actors.map((a, i) => [a, ports[i]!]))
      let closed: Promise<void> | undefined
      const session: HostSession = {
        scratchDir: guestScratchDir(ports[0]!),
        probeArgv: actor => [process.execPath, connector, guest.socketOf(portOf.get(actor) ?? ports[0]!)],
        close: () => (closed ??= guest.release(ports)),
      }
      return session
    },
  }
}
