/**
 * Which module files a guest must load, in order, for a set of wanted
 * modules: pure over the text of modules.dep (as written by depmod, whose
 * dependency lists are in modprobe's order: load them reversed), or over each
 * module's own `depends=` (its .modinfo), which needs no depmod: busybox's
 * depmod skips a release that is not X.Y.Z (7.3-cloud-amd64).
 */

/**
 * Modules the guest loads when the kernel builds them as modules (6.1 cloud
 * builds virtio as modules): virtio for the ports, and what scenario hosts
 * need: veth and bridge for the topology, nf_tables and the expressions
 * path gates use that can be modules: reject, and counter (built into
 * nf_tables since v5.17, a module before; whether it is one is read from the
 * kernel package, a module absent from it and from modules.builtin is left out).
 */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_console',
  'veth',
  'bridge',
  'nf_tables',
  'nft_counter',
  'nft_reject_inet',
  'tun',
] as const
/** The modules without which a guest cannot build scenario hosts. */
export const NETNS_MODULES = ['veth', 'bridge', 'nf_tables', 'nft_counter', 'nft_reject_inet'] as const

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

/** Pure: the `depends=` list of a module's .modinfo section (NUL-separated key=value strings). */
export function modinfoDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko).toString('latin1')
  const m = /(?:^|\0)depends=([^\0]*)\0/.exec(text)
  return m ? m[1]!.split(',').filter(Boolean).map(moduleName) : []
}

/**
 * Pure: load order for `wanted` given each module's file and direct
 * dependencies (`lookup` undefined: not a module of this kernel). Dependencies
 * come first; built-in or absent modules are skipped and listed.
 */
export function closure(
  wanted: readonly string[],
  lookup: (name: string) => { path: string; depends: string[] } | undefined,
): { order: string[]; absent: string[] } {
  const order: string[] = []
  const absent: string[] = []
  const visiting = new Set<string>()
  const visit = (name: string, top: boolean): void => {
    if (visiting.has(name)) return
    visiting.add(name)
    const m = lookup(name)
    if (!m) {
      if (top) absent.push(name)
      return
    }
    for (const d of m.depends) visit(d, false)
    if (!order.includes(m.path)) order.push(m.path)
  }
  for (const w of wanted) visit(w, true)
  return { order, absent }
}
