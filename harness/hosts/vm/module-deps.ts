/**
 * Which module files a guest must load, in order, for a set of wanted
 * modules: pure over the text of modules.dep (as written by depmod, whose
 * dependency lists are in modprobe's order: load them reversed).
 */

/**
 * Modules the guest loads when the kernel builds them as modules (6.1 cloud
 * builds virtio as modules): virtio for the ports, and what scenario hosts
 * need: veth and bridge for the topology, nf_tables and its reject
 * expression for path gates.
 */
export const GUEST_MODULES = ['virtio_pci', 'virtio_console', 'veth', 'bridge', 'nf_tables', 'nft_reject_inet'] as const
/** The modules without which a guest cannot build scenario hosts. */
export const NETNS_MODULES = ['veth', 'bridge', 'nf_tables', 'nft_reject_inet'] as const

export function moduleName(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1)
  return file.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_')
}

/** Paths (relative to lib/modules/<release>/) in load order; wanted modules that are built in are absent. */
export function loadOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, { path: string; deps: string[] }>()
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const path = line.slice(0, colon).trim()
    deps.set(moduleName(path), {
      path,
      deps: line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    })
  }
  const order: string[] = []
  const add = (path: string): void => {
    if (!order.includes(path)) order.push(path)
  }
  for (const name of wanted) {
    const entry = deps.get(name)
    if (!entry) continue
    for (const d of [...entry.deps].reverse()) add(d)
    add(entry.path)
  }
  return order
}
