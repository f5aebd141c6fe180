/**
 * The `vm` host: actors are probes inside a booted guest. A session leases
 * one probe port per actor and gives them back (reset) when closed; the
 * actor's argv is the connector that pipes to its port.
 *
 * A scenario with `hosts` gets its namespaces inside the guest, built as on
 * this machine: by the guest's host helper (a probe on a port leased for the
 * guest's life, turned into the helper by its `hosts` command: rtnetlink, no
 * process per batch; path gates through nft(8) as its child, the static probe
 * having no libnftables), and the first actor on each host configures it from
 * inside (`hostnet`). When the helper cannot (it did not start, a line it does
 * not know) ip(8)/nft run through the guest's control port: a shell and a
 * dynamically linked program each, costly under emulation. Each probe joins
 * its host's namespace with the probe's `netns` command before the first
 * step (the guest's init starts the probes).
 */
import type { HostDriver, HostSession } from '../host.js'
import { HostHelper, buildTopology, hostConfigurers, hostOfActor, probeSetupOf } from '../netns.js'
import { namespaceHosts } from '../topology.js'
import type { NetnsExec, NetnsSession, Topology } from '../netns.js'
import type { Guest } from './guest.js'
import { guestScratchDir } from './init-script.js'
import { NETNS_MODULES } from './module-deps.js'
import { GUEST_PORT_PROGRAM } from './port-child.js'

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
/** Per guest, the ip and nft commands its scenario hosts still cost through the control port (an nft gate counts as nft). */
const toolExecs = new WeakMap<Guest, { ip: number; nft: number }>()
export const guestToolExecs = (guest: Guest): { ip: number; nft: number } => ({ ...(toolExecs.get(guest) ?? { ip: 0, nft: 0 }) })

const guestExec =
  (guest: Guest): NetnsExec =>
  (argv, opts) => {
    let n = toolExecs.get(guest)
    if (!n) toolExecs.set(guest, (n = { ip: 0, nft: 0 }))
    n[argv.includes('nft') ? 'nft' : 'ip']++
    return guest.exec([GUEST_TOOL_PATHS[argv[0]!] ?? argv[0]!, ...argv.slice(1)], opts)
  }

/** Each guest's host helper (a guest booted again after a panic gets a new one); undefined: none (ip runs every batch). */
/**
 * A guest probe's or capture's hello, set-up and helper commands: an emulated
 * guest just booted on a busy machine may still be starting its ports' probes
 * (a CI run once lost all three first sessions of a 6.1 guest after about
 * 5 s, the then limit; the messages were not kept). Only a broken port waits
 * this long.
 */
const GUEST_START_LIMIT_MS = 20_000

const helpers = new WeakMap<Guest, Promise<HostHelper | undefined>>()

/** The guest's host helper: the probe of one port, leased at first use and kept for the guest's life. */
export function guestHostHelper(guest: Guest, connect: (port: number) => string[]): Promise<HostHelper | undefined> {
  let h = helpers.get(guest)
  if (!h) {
    h = guest.lease(1).then(
      // limits for an emulated guest that may be busy with several sessions
      ([port]) =>
        new HostHelper({
          argv: connect(port!),
          viaCommand: true,
          helloMs: GUEST_START_LIMIT_MS,
          commandMs: GUEST_START_LIMIT_MS,
          // the port's probe may be in the guest's pool from an earlier session: a port takes one connection at a time
          spawn: argv => guest.probes.take(argv, 'hosts'),
        }),
      () => undefined,
    )
    helpers.set(guest, h)
  }
  return h
}

/** The guest's host helper, once a session asked for it. */
export const hostHelperOf = (guest: Guest): Promise<HostHelper | undefined> | undefined => helpers.get(guest)

/** `current` may name the guest anew per session: a guest rebooted after a panic takes the sessions that follow. */
export function vmHost(current: Guest | (() => Guest)): HostDriver {
  return {
    kind: 'vm',
    open: async scenario => {
      const guest = typeof current === 'function' ? current() : current
      // the port's connector runs in this process (port-child.ts)
      const connect = (port: number): string[] => [GUEST_PORT_PROGRAM, guest.socketOf(port)]
      let topo: Topology | undefined
      const configurer = hostConfigurers(scenario)
      if (scenario.hosts) {
        const why = netnsUnavailable(guest)
        if (why) return { skip: why }
        // a packet host is a TUN device: built in, or the module loaded at boot
        if (Object.values(scenario.hosts ?? {}).some(h => h.packet !== undefined) && guest.info.modules['tun'] === 'failed')
          return { skip: 'a packet host needs the tun module, which did not load in the guest' }
        const built = await buildTopology(
          scenario,
          guestExec(guest),
          `vm-${(++sessions).toString(36)}`,
          new Set(configurer.keys()),
          await guestHostHelper(guest, connect),
        )
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
      let closed: Promise<void> | undefined
      const session: HostSession = {
        scratchDir: guestScratchDir(ports[0]!),
        // the guest starts its ports' probes one after another under emulation; the capture ports come last
        startLimitMs: GUEST_START_LIMIT_MS,
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
        probeSetup: actor => probeSetupOf(configurer, t.hostPlan(actor), actor),
        defaultAddress: (actor, family) => (family === 'inet6' ? t.hostPlan(actor).inet6 : t.hostPlan(actor).inet),
        hostOf: actor => hostOfActor(scenario, actor),
        setPathGates: t.setPathGates,
      }
      return netns
    },
  }
}
