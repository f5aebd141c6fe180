/**
 * The `vm` host: actors are probes inside a booted guest. A session leases
 * one probe port per actor and gives them back (reset) when closed; the
 * actor's argv is the connector that pipes to its port.
 *
 * A scenario with `hosts` gets its namespaces inside the guest, built with
 * the same ip(8)/nft commands as on this machine, run through the guest's
 * control port; each probe joins its host's namespace with the probe's
 * `netns` command before the first step (the guest's init starts the probes).
 */
import type { HostDriver, HostSession } from '../host.js'
import { buildTopology, hostOfActor } from '../netns.js'
import { namespaceHosts } from '../topology.js'
import type { NetnsExec, NetnsSession, Topology } from '../netns.js'
import type { Guest } from './guest.js'
import { guestScratchDir } from './init-script.js'
import { NETNS_MODULES } from './module-deps.js'
import { GUEST_PORT_PROGRAM } from './port-child.js'

/** The connector as a program of its own (a child per probe); vmHost connects in this process unless given one. */

/** Why this guest cannot build scenario hosts, or undefined when it can. */
export function netnsUnavailable(guest: Pick<Guest, 'info'>): string | undefined {
  const missingTools = ['ip', 'nft'].filter(t => guest.info.tools[t] !== 'ok')
  if (missingTools.length)
    return `scenario hosts need ${missingTools.join(' and ')} in the guest (install iproute2/nftables on this machine)`
  const failed = NETNS_MODULES.filter(m => guest.info.modules[m] === 'failed')
  if (failed.length) return `scenario hosts need kernel modules that did not load in the guest: ${failed.join(', ')}`
  return undefined
}

let sessions = 0

/**
 * The guest's busybox shell runs its own applets before anything on PATH
 * (its `ip` knows no netns), so the copied tools are named by path.
 */
const GUEST_TOOL_PATHS: Record<string, string> = { ip: '/usr/sbin/ip', nft: '/usr/sbin/nft' }
const guestExec =
  (guest: Guest): NetnsExec =>
  (argv, opts) =>
    guest.exec([GUEST_TOOL_PATHS[argv[0]!] ?? argv[0]!, ...argv.slice(1)], opts)

/** `current` may name the guest anew per session: a guest rebooted after a panic takes the sessions that follow. */
export function vmHost(current: Guest | (() => Guest), connector?: string): HostDriver {
  return {
    kind: 'vm',
    open: async scenario => {
      const guest = typeof current === 'function' ? current() : current
      let topo: Topology | undefined
      if (scenario.hosts) {
        const why = netnsUnavailable(guest)
        if (why) return { skip: why }
        // a packet host is a TUN device: built in, or the module loaded at boot
        if (Object.values(scenario.hosts ?? {}).some(h => h.packet !== undefined) && guest.info.modules['tun'] === 'failed')
          return { skip: 'a packet host needs the tun module, which did not load in the guest' }
        const built = await buildTopology(scenario, guestExec(guest), `vm-${(++sessions).toString(36)}`)
        if ('skip' in built) return built
        topo = built
      }
      const actors = [...new Set(scenario.steps.map(s => s.actor))]
      let ports: number[]
      try {
        ports = await guest.lease(actors.length)
      } catch (err) {
        await topo?.destroy()
        throw err
      }
      const portOf = new Map(actors.map((a, i) => [a, ports[i]!]))
      const connect = (port: number): string[] =>
        connector ? [process.execPath, connector, guest.socketOf(port)] : [GUEST_PORT_PROGRAM, guest.socketOf(port)]
      let closed: Promise<void> | undefined
      const session: HostSession = {
        scratchDir: guestScratchDir(ports[0]!),
        probeArgv: actor => connect(portOf.get(actor) ?? ports[0]!),
        // a port's probe serves the sessions that follow when its reset answers clean
        probePool: guest.probes,
        // the guest's run-wide captures: its loopback, or its namespaces' interfaces added for this window
        captureSpecs: () => {
          if (!topo) return [{ host: 'local', argv: [...guest.loWire.argv], shared: guest.loWire }]
          const hosts = namespaceHosts(topo.plan)
          const add = {
            interfaces: hosts.flatMap(h => [`${h.ns}:eth0`, `${h.ns}:lo`]),
            hostOfNs: Object.fromEntries(hosts.map(h => [h.ns, h.name])),
          }
          return [{ host: hosts.map(h => h.name).join(','), argv: [...guest.netnsWire.argv], shared: guest.netnsWire, add }]
        },
        // the guest's own CLOCK_MONOTONIC: comparable between its probes, not with this machine
        clockOf: () => 'guest',
        // probes first (a reset kills what still runs), then the namespaces
        close: () => (closed ??= guest.release(ports).then(() => topo?.destroy())),
      }
      if (!topo) return session
      const t = topo
      const netns: NetnsSession = {
        ...session,
        plan: t.plan,
        probeSetup: actor => [`netns ${t.hostPlan(actor).ns}`],
        defaultAddress: (actor, family) => (family === 'inet6' ? t.hostPlan(actor).inet6 : t.hostPlan(actor).inet),
        hostOf: actor => hostOfActor(scenario, actor),
        setPathGates: t.setPathGates,
      }
      return netns
    },
  }
}
