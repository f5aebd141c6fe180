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
import { NET_SYSCTL, SYSCTL_VALUE } from '../scenario/semantics.js'

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
}

export interface TopologyPlan {
  hub: string
  hosts: HostPlan[]
}

/** Namespace names carry our pid and run token so `sockspec cleanup` can tell live runs from leftovers (see netns.ts). */
export function planTopology(
  hostNames: readonly string[],
  sysctls: Record<string, Record<string, string | number>>,
  tag: string,
): TopologyPlan {
  for (const [host, values] of Object.entries(sysctls)) for (const [k, v] of Object.entries(values)) checkHostSysctl(host, k, v)
  const hub = `${NS_PREFIX}${tag}-hub`
  const hosts = hostNames.map((name, i) => ({
    name,
    ns: `${NS_PREFIX}${tag}-${name}`,
    inet: `198.18.0.${i + 1}`,
    inet6: `fd00:0:0:5::${i + 1}`,
    sysctl: sysctls[name] ?? {},
  }))
  return { hub, hosts }
}

/** ip(8) argv lists that build the topology, in order (each list is one `ip` call). */
export function topologyCommands(plan: TopologyPlan): string[][] {
  const cmds: string[][] = [['ip', 'netns', 'add', plan.hub]]
  for (const h of plan.hosts) cmds.push(['ip', 'netns', 'add', h.ns])
  cmds.push(['ip', '-n', plan.hub, 'link', 'add', 'br0', 'type', 'bridge'])
  cmds.push(['ip', '-n', plan.hub, 'link', 'set', 'br0', 'up'])
  plan.hosts.forEach((h, i) => {
    const port = `p${i}`
    cmds.push(['ip', 'link', 'add', 'name', port, 'netns', plan.hub, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns])
    cmds.push(['ip', '-n', plan.hub, 'link', 'set', port, 'master', 'br0', 'up'])
    cmds.push(['ip', '-n', h.ns, 'link', 'set', 'lo', 'up'])
    cmds.push(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'up'])
    cmds.push(['ip', '-n', h.ns, 'addr', 'add', `${h.inet}/24`, 'dev', 'eth0'])
    cmds.push(['ip', '-n', h.ns, '-6', 'addr', 'add', `${h.inet6}/64`, 'dev', 'eth0', 'nodad'])
  })
  return cmds
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
