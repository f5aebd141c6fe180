/**
 * Kernel names on the command line: `host` (the running kernel),
 * `debian:<series>` (5.10, 6.1, 7.3: that series' newest cloud-amd64 build in
 * any suite the kit's apt lists carry), `debian:<linux-image package>` (one
 * build, pinned by name) or `all` (host plus every series the lists carry).
 * Which series exist is read from the signed indexes, not from a table here;
 * this module holds the pure parts: parsing, Debian version order, choosing.
 */
import { SockspecError } from '../../errors.js'

export type DebianSpec = { kind: 'debian'; name: string; series: string } | { kind: 'debian'; name: string; package: string }
export type KernelSpec = { kind: 'host'; name: 'host' } | { kind: 'all'; name: 'all' } | DebianSpec

const PACKAGE_RE = /^linux-image-\d[a-z0-9.+~-]*-cloud-amd64$/
const SERIES_RE = /^\d+\.\d+$/

export function parseKernelSpec(text: string): KernelSpec {
  if (text === 'host') return { kind: 'host', name: 'host' }
  if (text === 'all') return { kind: 'all', name: 'all' }
  const m = /^debian:(.+)$/.exec(text)
  if (m) {
    const what = m[1]!
    if (SERIES_RE.test(what)) return { kind: 'debian', name: text, series: what }
    if (PACKAGE_RE.test(what)) return { kind: 'debian', name: text, package: what }
  }
  throw new SockspecError(
    'E_USAGE',
    `unknown kernel '${text}' (known: host, all, debian:<series> such as debian:5.10 or debian:7.3, debian:linux-image-<release>-cloud-amd64)`,
  )
}

/** dpkg's order of one character in a version's non-digit part: ~ before the end, the end before letters, letters before the rest. */
function order(c: string | undefined): number {
  if (c === undefined || (c >= '0' && c <= '9')) return 0
  if (c === '~') return -1
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0)
  return c.charCodeAt(0) + 256
}

const digit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'

/** dpkg's verrevcmp: alternating non-digit and digit runs. */
function verrevcmp(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    while ((i < a.length && !digit(a[i])) || (j < b.length && !digit(b[j]))) {
      const d = order(a[i]) - order(b[j])
      if (d) return d
      i++
      j++
    }
    while (a[i] === '0') i++
    while (b[j] === '0') j++
    let first = 0
    while (digit(a[i]) && digit(b[j])) {
      first ||= a.charCodeAt(i) - b.charCodeAt(j)
      i++
      j++
    }
    if (digit(a[i])) return 1
    if (digit(b[j])) return -1
    if (first) return first
  }
  return 0
}

/** Debian version order (epoch, upstream, revision), as `dpkg --compare-versions`: <0, 0, >0. */
export function compareDebianVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const e = /^(\d+):/.exec(v)
    const rest = e ? v.slice(e[0].length) : v
    const dash = rest.lastIndexOf('-')
    return [e ? Number(e[1]) : 0, dash < 0 ? rest : rest.slice(0, dash), dash < 0 ? '' : rest.slice(dash + 1)]
  }
  const [ea, ua, ra] = split(a)
  const [eb, ub, rb] = split(b)
  return Math.sign(ea - eb || verrevcmp(ua, ub) || verrevcmp(ra, rb))
}

/** One build of a kernel in the indexes, and the packages that hold its files. */
export interface DebianKernel {
  package: string
  version: string
  /** major.minor of the upstream version: 7.3 for 7.3~rc7-1~exp1 */
  series: string
  /** packages to download, pinned: the image itself, or from 6.19 on its linux-binary, -modules and -base */
  parts: Array<{ package: string; version: string }>
}

/**
 * Pure: the cloud-amd64 kernel builds in `apt-cache show` output. Meta
 * packages (they depend on another linux-image) and debug or unsigned
 * variants are left out.
 */
export function kernelsInIndex(showOutput: string): DebianKernel[] {
  const out: DebianKernel[] = []
  const seen = new Set<string>()
  for (const stanza of showOutput.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}: (.*(?:\\n[ \\t].*)*)`, 'm').exec(stanza)?.[1]?.replace(/\n[ \t]+/g, ' ')
    const pkg = field('Package')
    const version = field('Version')
    if (!pkg || !version || !PACKAGE_RE.test(pkg) || seen.has(`${pkg}=${version}`)) continue
    const depends = (field('Depends') ?? '').split(',').map(d => d.trim())
    if (depends.some(d => /^linux-image-\d/.test(d))) continue
    const series = /^(?:\d+:)?(\d+\.\d+)/.exec(version)?.[1]
    if (!series) continue
    seen.add(`${pkg}=${version}`)
    const split = depends.flatMap(d => {
      const m = /^(linux-(?:binary|modules|base)-\S+) \(= (\S+)\)$/.exec(d)
      return m ? [{ package: m[1]!, version: m[2]! }] : []
    })
    out.push({
      package: pkg,
      version,
      series,
      parts: split.some(p => p.package.startsWith('linux-binary-')) ? split : [{ package: pkg, version }],
    })
  }
  return out
}

/**
 * Pure: the builds whose every part is in the indexes (`apt-cache madison`
 * output). The archive keeps old linux-binary builds of a series after their
 * linux-modules are gone (trixie-backports' 6.19 to 7.1): those cannot be had.
 */
export function installable(kernels: readonly DebianKernel[], madison: string): DebianKernel[] {
  const have = new Set(
    madison.split('\n').flatMap(l => {
      const [name, version] = l.split('|').map(f => f.trim())
      return name && version ? [`${name}=${version}`] : []
    }),
  )
  return kernels.filter(k => k.parts.every(p => p.package === k.package || have.has(`${p.package}=${p.version}`)))
}

const newest = (ks: readonly DebianKernel[]): DebianKernel | undefined =>
  ks.reduce<DebianKernel | undefined>((best, k) => (!best || compareDebianVersions(k.version, best.version) > 0 ? k : best), undefined)

/** Every series in the index, oldest first, each with its newest build. */
export function newestPerSeries(kernels: readonly DebianKernel[]): DebianKernel[] {
  const series = [...new Set(kernels.map(k => k.series))].sort((a, b) => compareDebianVersions(a, b))
  return series.map(s => newest(kernels.filter(k => k.series === s))!)
}

/** The build a spec names: the newest of its series, or the newest version of the pinned package. */
export function chooseKernel(spec: DebianSpec, kernels: readonly DebianKernel[]): DebianKernel | undefined {
  return newest(kernels.filter(k => ('series' in spec ? k.series === spec.series : k.package === spec.package)))
}
