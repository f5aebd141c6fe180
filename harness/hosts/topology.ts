/**
 * Simulated hosts: the pure part. Names, addresses and the commands that
 * build one scenario's namespaces; hosts/netns.ts runs them.
 *
 * Layout: one namespace per scenario host plus a hub namespace holding a
 * bridge; each host's eth0 is a veth whose peer is a bridge port in the hub.
 * Addresses come from ranges reserved for test networks: 198.18.0.0/15
 * (RFC 2544) and fd00::/8 (unique local), and exist only inside the
 * namespaces: nothing here is routable from the machine's own namespace.
 */

import { SockspecError } from '../errors.js'
import { packetDevice } from '../ops/peer.js'
import { NET_SYSCTL, SYSCTL_VALUE } from '../scenario/semantics.js'
import type { RouteSpec } from '../scenario/types.js'

export const NS_PREFIX = 'sockspec-'

/**
 * A host sysctl the kit may write: a net.* key (it lives in the host's
 * namespace, which is deleted after the scenario) with an integer or simple
 * token value. Anything else would change this machine for good, so it is
 * refused here too, whatever validation let through.
 */
export function checkHostSysctl(host: string, key: string, value: string | number): void {
  if (!NET_SYSCTL.test(key))
    throw new SockspecError('E_SCENARIO', `host '${host}': sysctl '${key}' refused: only net.* keys are set, inside the host's namespace`)
  const ok = typeof value === 'number' ? Number.isInteger(value) : SYSCTL_VALUE.test(value)
  if (!ok)
    throw new SockspecError('E_SCENARIO', `host '${host}': sysctl '${key}' refused: the value must be an integer or one simple token`)
}

/** /proc/sys path of a checked net.* key (dots to slashes; the key has no '/'). */
export const sysctlPath = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`

export interface HostPlan {
  name: string
  ns: string
  inet: string
  inet6: string
  sysctl: Record<string, string | number>
  /** a packet host: the host whose namespace holds its TUN device (ns is that host's) */
  packetOn?: string
}

export interface TopologyPlan {
  hub: string
  hosts: HostPlan[]
}

const NAME_WORD = /^[A-Za-z0-9_.-]{1,64}$/

/** Namespace names carry our pid and run token so `sockspec cleanup` can tell live runs from leftovers (see netns.ts). */
export function planTopology(
  hostNames: readonly string[],
  sysctls: Record<string, Record<string, string | number>>,
  tag: string,
  packets: Record<string, string> = {},
): TopologyPlan {
  for (const [host, values] of Object.entries(sysctls)) for (const [k, v] of Object.entries(values)) checkHostSysctl(host, k, v)
  // names end up as words of ip batch lines: nothing that splits or ends a line
  for (const name of [tag, ...hostNames])
    if (!NAME_WORD.test(name)) throw new SockspecError('E_SCENARIO', `host name '${name}' refused: letters, digits, '.', '_' and '-' only`)
  const hub = `${NS_PREFIX}${tag}-hub`
  for (const [name, on] of Object.entries(packets))
    if (!hostNames.includes(on) || on in packets)
      throw new SockspecError('E_SCENARIO', `packet host '${name}' must be attached to a host with a namespace, not '${on}'`)
  const hosts: HostPlan[] = hostNames.map((name, i) => ({
    name,
    ns: `${NS_PREFIX}${tag}-${packets[name] ?? name}`,
    inet: `198.18.0.${i + 1}`,
    inet6: `fd00:0:0:5::${i + 1}`,
    sysctl: sysctls[name] ?? {},
    ...(packets[name] !== undefined ? { packetOn: packets[name] } : {}),
  }))
  return { hub, hosts }
}

/** The hosts that are namespaces of their own (packet hosts live in another host's). */
export const namespaceHosts = (plan: TopologyPlan): HostPlan[] => plan.hosts.filter(h => h.packetOn === undefined)

/** Hosts a packet host is attached to: their TUN devices and routes need an ip batch (and their addresses up first). */
export const hostsWithPackets = (plan: TopologyPlan): Set<string> =>
  new Set(plan.hosts.flatMap(h => (h.packetOn !== undefined ? [h.packetOn] : [])))

/**
 * A packet host's plumbing, in the namespace of the host it is attached to:
 * a persistent TUN device (IFF_TUN, no packet information; the peer's probe
 * attaches to it) and host routes for the peer's addresses through it. The
 * /32 and /128 win over the attached host's /24 and /64 on eth0; the source
 * is the attached host's own address. No ARP or NDP on a TUN link.
 */
function packetLines(plan: TopologyPlan, host: HostPlan): string[] {
  return plan.hosts
    .filter(p => p.packetOn === host.name)
    .flatMap(p => [
      `tuntap add dev ${packetDevice(p.inet)} mode tun`,
      `link set ${packetDevice(p.inet)} up`,
      `route add ${p.inet}/32 dev ${packetDevice(p.inet)} src ${host.inet}`,
      `route add ${p.inet6}/128 dev ${packetDevice(p.inet)} src ${host.inet6}`,
    ])
}

/**
 * One `ip [-n NS] -batch -` call: its lines are ip(8) commands without the
 * leading `ip`. iproute2 takes no `-n` inside a batch, so each namespace that
 * needs commands run inside it gets a batch of its own.
 */
export interface IpBatch {
  /** the namespace the batch runs in (`ip -n NS`); absent: the namespace of the caller */
  ns?: string
  lines: string[]
  /** the same batch for the host helper, where its lines differ (sysctls are written by the helper, not by sh) */
  helperLines?: string[]
}

/** argv of one batch; stdin carries its lines. `force` keeps going past a failed line (teardown). */
export function ipBatchArgv(batch: Pick<IpBatch, 'ns'>, force = false): string[] {
  return ['ip', ...(batch.ns ? ['-n', batch.ns] : []), ...(force ? ['-force'] : []), '-batch', '-']
}

/** ifindex of the hub's bridge, fixed so the veths made from outside the hub can name it (`master if<N>`). */
const BRIDGE_INDEX = 10

/**
 * The topology as batches, in the order they must run. First one batch in
 * the caller's namespace: every namespace, the hub's bridge and one veth per
 * host, each link made directly inside its namespace (`link add ... netns`:
 * the kernel creates it there; nothing appears in the caller's namespace),
 * the hub end enslaved to the bridge by its fixed ifindex (a name would be
 * looked up in the caller's namespace). Then each host's links and
 * addresses, which must run inside the host (these batches are independent
 * of each other). An address family comes from the address itself: a batch
 * line takes no `-6`.
 */
export function topologyBatches(plan: TopologyPlan, configuredByProbe: ReadonlySet<string> = new Set()): IpBatch[][] {
  const own = namespaceHosts(plan)
  const lines = [plan.hub, ...own.map(h => h.ns)].map(ns => `netns add ${ns}`)
  lines.push(`link add name br0 index ${BRIDGE_INDEX} netns ${plan.hub} up type bridge`)
  own.forEach((h, i) =>
    lines.push(`link add name p${i} netns ${plan.hub} up master if${BRIDGE_INDEX} type veth peer name eth0 netns ${h.ns}`),
  )
  // a host with a packet host attached is set up here, never by its probe: the TUN routes need its addresses
  const withPackets = hostsWithPackets(plan)
  return [
    [{ lines }],
    own
      .filter(h => !configuredByProbe.has(h.name) || withPackets.has(h.name))
      .map(h => ({
        ns: h.ns,
        lines: [
          'link set lo up',
          'link set eth0 up',
          `addr add ${h.inet}/24 dev eth0`,
          `addr add ${h.inet6}/64 dev eth0 nodad`,
          ...packetLines(plan, h),
        ],
      })),
  ]
}

/** The probe command that does what a host's own batch does (lo and eth0 up, both addresses), from inside the host's namespace. */
export function hostnetCommand(h: Pick<HostPlan, 'inet' | 'inet6'>): string {
  return `hostnet eth0 ${h.inet}/24 ${h.inet6}/64`
}

/**
 * A shell loop writing (value, path) pairs given as arguments; stops at the
 * first write that fails and names its path on stderr. No '#' anywhere: an
 * ip batch line ends at one (a comment).
 */
const SYSCTL_WRITER = 'while [ -n "$1" ]; do printf "%s" "$1" > "$2" || { echo "sysctl-failed $2" >&2; exit 1; }; shift 2; done'

/**
 * One batch line per host with sysctls: run inside the host's namespace
 * (`netns exec`), so the writes land in that namespace's net.* and die with
 * it. Each key is checked again here, next to the line that writes it; the
 * checked values hold no blank or quote, so they survive ip's word splitting.
 */
export function sysctlBatch(plan: TopologyPlan): { batch: IpBatch; hostOfLine: HostPlan[]; helperLines: string[] } | undefined {
  const hosts = plan.hosts.filter(h => Object.keys(h.sysctl).length > 0)
  if (!hosts.length) return undefined
  const lines = hosts.map(h => {
    const args = Object.entries(h.sysctl).flatMap(([key, value]) => {
      checkHostSysctl(h.name, key, value)
      return [String(value), sysctlPath(key)]
    })
    return `netns exec ${h.ns} sh -c '${SYSCTL_WRITER}' sh ${args.join(' ')}`
  })
  // the host helper's form: one `sysctl NS PATH VALUE` line per key, written from inside NS
  const helperLines = hosts.flatMap(h =>
    Object.entries(h.sysctl).map(([key, value]) => `sysctl ${h.ns} ${sysctlPath(key)} ${String(value)}`),
  )
  return { batch: { lines }, hostOfLine: hosts, helperLines }
}

/** The batch that deletes namespaces (run with `force`, so one missing namespace does not keep the others). */
export function deleteBatch(names: readonly string[]): IpBatch {
  return { lines: names.map(ns => `netns del ${ns}`) }
}

/**
 * Routes pass: what `hosts.X.routes` adds once the hosts are up. A gateway
 * forwards (both families) and sends no redirects; a host routing through
 * one takes no redirects either, so the path stays through the gateway for
 * the whole scenario (icmp_send of a redirect in ip_forward would otherwise
 * let the sender go around it).
 */
export function routeSysctls(routes: Readonly<Record<string, readonly RouteSpec[] | undefined>>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  const add = (host: string, values: Record<string, number>): void => void (out[host] = { ...out[host], ...values })
  for (const [host, list] of Object.entries(routes))
    for (const r of list ?? []) {
      if (r.via === undefined) continue
      add(r.via, {
        'net.ipv4.ip_forward': 1,
        'net.ipv6.conf.all.forwarding': 1,
        'net.ipv4.conf.all.send_redirects': 0,
        'net.ipv4.conf.eth0.send_redirects': 0,
      })
      add(host, {
        'net.ipv4.conf.all.accept_redirects': 0,
        'net.ipv4.conf.eth0.accept_redirects': 0,
        'net.ipv6.conf.all.accept_redirects': 0,
        'net.ipv6.conf.eth0.accept_redirects': 0,
      })
    }
  return out
}

/** Hosts with a route through a gateway: their eth0 must be up with its addresses before the route (so an ip batch configures them, not a probe). */
export function hostsRoutingViaGateway(routes: Readonly<Record<string, readonly RouteSpec[] | undefined>>): Set<string> {
  return new Set(Object.entries(routes).flatMap(([host, list]) => ((list ?? []).some(r => r.via !== undefined) ? [host] : [])))
}

const ROUTE_TYPES = new Set(['unreachable', 'prohibit', 'blackhole'])

/**
 * One batch per host with routes, run inside it after the hosts are up: each
 * route covers the destination host's two addresses (/32, /128; a batch line
 * takes its family from the prefix). Names and types are checked again here,
 * next to the lines they end up in.
 */
export function routeBatches(plan: TopologyPlan, routes: Readonly<Record<string, readonly RouteSpec[] | undefined>>): IpBatch[] {
  const byName = new Map(plan.hosts.map(h => [h.name, h]))
  const hostPlan = (name: string, what: string): HostPlan => {
    const h = byName.get(name)
    if (!h) throw new SockspecError('E_SCENARIO', `route ${what} '${name}' refused: not a host of the scenario`)
    return h
  }
  return Object.entries(routes).flatMap(([host, list]) => {
    if (!list?.length) return []
    const h = hostPlan(host, 'on')
    const lines = list.flatMap(r => {
      const to = hostPlan(r.to, 'to')
      if (r.via !== undefined) {
        const gw = hostPlan(r.via, 'via')
        return [`route add ${to.inet}/32 via ${gw.inet} dev eth0`, `route add ${to.inet6}/128 via ${gw.inet6} dev eth0`]
      }
      if (!ROUTE_TYPES.has(r.type ?? '')) throw new SockspecError('E_SCENARIO', `route type '${String(r.type)}' refused`)
      return [`route add ${r.type} ${to.inet}/32`, `route add ${r.type} ${to.inet6}/128`]
    })
    return [{ ns: h.ns, lines }]
  })
}

/** A gate on the path, as nftables rules in the host's namespace. */
export interface PathGate {
  dir: 'in' | 'out'
  drop?: string[]
  reject?: string[]
  with?: 'tcp-reset' | 'icmp-port-unreachable' | 'icmp-host-unreachable' | 'icmp-net-unreachable' | 'icmp-admin-prohibited'
}

/**
 * nft match expressions per segment class. nftables cannot compute a
 * payload length, so `ack` means "flags exactly ACK": Linux marks the last
 * segment of every write with PSH (tcp_push), so in practice this is the
 * pure ACKs; `data` is "PSH set".
 */
const CLASS_MATCH: Record<string, string> = {
  syn: 'tcp flags & (syn | ack) == syn',
  synack: 'tcp flags & (syn | ack) == syn | ack',
  ack: 'tcp flags == ack',
  data: 'tcp flags & psh == psh',
  fin: 'tcp flags & fin == fin',
  rst: 'tcp flags & rst == rst',
  all: 'meta l4proto tcp',
}

const REJECT: Record<NonNullable<PathGate['with']>, string> = {
  'tcp-reset': 'reject with tcp reset',
  'icmp-port-unreachable': 'reject with icmpx type port-unreachable',
  'icmp-host-unreachable': 'reject with icmpx type host-unreachable',
  'icmp-net-unreachable': 'reject with icmpx type no-route',
  'icmp-admin-prohibited': 'reject with icmpx type admin-prohibited',
}

/** One nft script that (re)creates the kit's table with the given gates. */
export function nftScript(gates: readonly PathGate[]): string {
  const lines = ['table inet sockspec', 'delete table inet sockspec', 'table inet sockspec {']
  for (const dir of ['in', 'out'] as const) {
    const hook = dir === 'in' ? 'input' : 'output'
    lines.push(`  chain ${hook} {`, `    type filter hook ${hook} priority -10; policy accept;`)
    for (const g of gates.filter(x => x.dir === dir)) {
      for (const cls of g.drop ?? []) lines.push(`    ${CLASS_MATCH[cls] ?? 'meta l4proto tcp'} counter drop`)
      for (const cls of g.reject ?? []) lines.push(`    ${CLASS_MATCH[cls] ?? 'meta l4proto tcp'} counter ${REJECT[g.with ?? 'tcp-reset']}`)
    }
    lines.push('  }')
  }
  lines.push('}')
  return lines.join('\n') + '\n'
}
