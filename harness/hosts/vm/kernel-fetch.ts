/**
 * Get a Debian kernel for a guest: pick the build from the kit's private apt
 * indexes (debian-apt.ts), `apt-get download` its packages (the image, or
 * from 6.19 on linux-binary + linux-modules + linux-base), unpack them with
 * dpkg-deb, and keep vmlinuz plus the modules the guest loads under
 * <cache>/kernels/<package>_<version>/ with a manifest holding the sha256 of
 * every .deb and of vmlinuz. A cached kernel is used as is (checked against
 * its hash), also offline: the last build a name resolved to is remembered.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, relative } from 'node:path'
import { SockspecError } from '../../errors.js'
import { runCommand } from '../../deps/process.js'
import { apt, ensureLists, privateApt } from './debian-apt.js'
import type { PrivateApt } from './debian-apt.js'
import { chooseKernel, installable, kernelsInIndex, newestPerSeries } from './kernel-spec.js'
import type { DebianKernel, DebianSpec } from './kernel-spec.js'
import { GUEST_MODULES, closure, modinfoDepends, moduleName } from './module-deps.js'

export interface PackageFact {
  package: string
  version: string
  sha256: string
}

export interface CachedKernel {
  spec: string
  package: string
  /** Debian package version, e.g. 6.1.192-2 */
  version: string
  /** uname -r of the guest, e.g. 6.1.0-56-cloud-amd64 */
  release: string
  vmlinuz: string
  /** module files in load order */
  modules: string[]
  /** deb: the package holding vmlinuz (the image, or linux-binary-* when split) */
  sha256: { deb: string; vmlinuz: string }
  /** every .deb the kernel was taken from */
  debs: PackageFact[]
  /** wanted modules this kernel has built in or not at all (e.g. nft_counter since 5.17) */
  notModules: string[]
}

interface Manifest extends Omit<CachedKernel, 'vmlinuz' | 'modules' | 'spec'> {
  modules: string[]
  /** GUEST_MODULES when the modules were picked; another list means pick again */
  wanted: string[]
  fetchedAt: string
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

function fail(message: string): never {
  throw new SockspecError('E_NOT_FOUND', message)
}

const indexes = new Map<string, Promise<DebianKernel[]>>()

/** Every cloud-amd64 kernel build the private indexes list (once per process). */
export function debianKernels(cacheRoot: string, log: (line: string) => void = () => {}): Promise<DebianKernel[]> {
  const a = privateApt(cacheRoot)
  let p = indexes.get(a.dir)
  if (!p) {
    p = (async () => {
      await ensureLists(a, log)
      const names = await apt('apt-cache', a, ['search', '--names-only', '^linux-image-[0-9].*-cloud-amd64$'])
      const list = names.stdout
        .split('\n')
        .map(l => l.split(' ')[0]!)
        .filter(n => /-cloud-amd64$/.test(n))
      if (!list.length) fail(`no Debian cloud kernels in the private apt lists under ${a.dir}: ${names.stderr.trim()}`)
      const show = await apt('apt-cache', a, ['show', ...list])
      const kernels = kernelsInIndex(show.stdout)
      const parts = [...new Set(kernels.flatMap(k => k.parts.filter(p => p.package !== k.package).map(p => p.package)))]
      const madison = parts.length ? await apt('apt-cache', a, ['madison', ...parts]) : undefined
      return installable(kernels, madison?.stdout ?? '')
    })()
    indexes.set(a.dir, p)
    p.catch(() => indexes.delete(a.dir))
  }
  return p
}

/** `all`: one spec per series the indexes carry, oldest first. */
export async function allDebianSpecs(cacheRoot: string, log?: (line: string) => void): Promise<DebianSpec[]> {
  return newestPerSeries(await debianKernels(cacheRoot, log)).map(k => ({ kind: 'debian', name: `debian:${k.series}`, series: k.series }))
}

const cacheDirName = (k: { package: string; version: string }): string => `${k.package}_${k.version.replace(/[^A-Za-z0-9.+-]/g, '_')}`

function loadCached(dir: string, spec: string): CachedKernel | undefined {
  const file = join(dir, 'kernel.json')
  if (!existsSync(file)) return undefined
  let m: Manifest
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest
  } catch {
    return undefined
  }
  if ((m.wanted ?? []).join(' ') !== GUEST_MODULES.join(' ') || !Array.isArray(m.debs)) return undefined
  const vmlinuz = join(dir, 'vmlinuz')
  if (!existsSync(vmlinuz) || sha256(vmlinuz) !== m.sha256.vmlinuz) return undefined
  return {
    spec,
    package: m.package,
    version: m.version,
    release: m.release,
    sha256: m.sha256,
    debs: m.debs,
    notModules: m.notModules ?? [],
    vmlinuz,
    modules: m.modules.map(f => join(dir, 'modules', f)),
  }
}

/** A module file's bytes, decompressed the way the guest will (xz; zstd for completeness). */
function moduleBytes(file: string): Buffer {
  const opts = { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'] }
  // busybox (which the guests need anyway) when xz-utils is not installed
  if (file.endsWith('.xz'))
    return existsSync('/usr/bin/xz') ? execFileSync('xz', ['-dc', file], opts) : execFileSync('busybox', ['xzcat', file], opts)
  if (file.endsWith('.zst')) return execFileSync('zstd', ['-dc', file], opts)
  return readFileSync(file)
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, out)
    else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) out.push(p)
  }
  return out
}

/**
 * Over an unpacked tree: the release, vmlinuz and the guest's modules in
 * load order, dependencies from each module's own .modinfo (no depmod).
 */
export function pickKernelFiles(root: string): {
  release: string
  vmlinuz: string
  modulesDir: string
  order: string[]
  notModules: string[]
} {
  // bookworm's 6.1 ships /lib/modules, later packages /usr/lib/modules (merged /usr)
  const libModules =
    [join(root, 'usr', 'lib', 'modules'), join(root, 'lib', 'modules')].find(d => existsSync(d)) ?? fail(`the packages hold no lib/modules`)
  const release = readdirSync(libModules)[0] ?? fail(`the packages hold no lib/modules/<release>`)
  const modulesDir = join(libModules, release)
  // up to 6.18 the image has boot/vmlinuz-<release>; from 6.19 linux-binary has it next to the modules
  const vmlinuz =
    [join(root, 'boot', `vmlinuz-${release}`), join(modulesDir, 'vmlinuz')].find(f => existsSync(f)) ??
    fail(`the packages hold no vmlinuz for ${release}`)
  const files = new Map<string, string>()
  if (existsSync(join(modulesDir, 'kernel'))) for (const f of walk(join(modulesDir, 'kernel'))) files.set(moduleName(f), f)
  const { order, absent } = closure(GUEST_MODULES, name => {
    const f = files.get(name)
    return f ? { path: relative(modulesDir, f), depends: modinfoDepends(moduleBytes(f)) } : undefined
  })
  return { release, vmlinuz, modulesDir, order, notModules: absent }
}

async function download(a: PrivateApt, k: DebianKernel, dir: string, spec: string): Promise<CachedKernel> {
  const work = mkdtempSync(join(tmpdir(), 'sockspec-kernel-'))
  try {
    const pins = k.parts.map(p => `${p.package}=${p.version}`)
    const dl = await runCommand(
      ['sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', work, 'apt-get', ...a.options, 'download', '-q', ...pins],
      {
        timeoutMs: 900_000,
      },
    )
    const debs = readdirSync(work).filter(f => f.endsWith('.deb'))
    if (dl.failed || debs.length !== k.parts.length)
      fail(`apt-get download ${pins.join(' ')} failed: ${(dl.stderr || dl.stdout).trim().split('\n').pop() ?? ''}`)
    const root = join(work, 'root')
    const dpkgDeb = (await runCommand(['sh', '-c', 'command -v dpkg-deb'])).exitCode === 0 ? ['dpkg-deb'] : ['busybox', 'dpkg-deb']
    const facts: PackageFact[] = []
    for (const p of k.parts) {
      const deb = debs.find(f => f.startsWith(`${p.package}_`)) ?? fail(`apt-get download gave no ${p.package}`)
      facts.push({ package: p.package, version: p.version, sha256: sha256(join(work, deb)) })
      const x = await runCommand([...dpkgDeb, '-x', join(work, deb), root], { timeoutMs: 300_000 })
      if (x.failed) fail(`cannot unpack ${deb}: ${x.stderr.trim()}`)
    }
    const picked = pickKernelFiles(root)
    const staging = `${dir}.${process.pid}.tmp`
    rmSync(staging, { recursive: true, force: true })
    mkdirSync(join(staging, 'modules'), { recursive: true })
    copyFileSync(picked.vmlinuz, join(staging, 'vmlinuz'))
    for (const rel of picked.order) copyFileSync(join(picked.modulesDir, rel), join(staging, 'modules', basename(rel)))
    const holder = facts.find(f => f.package.startsWith('linux-binary-')) ?? facts[0]!
    const manifest: Manifest = {
      package: k.package,
      version: k.version,
      release: picked.release,
      sha256: { deb: holder.sha256, vmlinuz: sha256(picked.vmlinuz) },
      debs: facts,
      notModules: picked.notModules,
      modules: picked.order.map(rel => basename(rel)),
      wanted: [...GUEST_MODULES],
      fetchedAt: new Date().toISOString(),
    }
    writeFileSync(join(staging, 'kernel.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    rmSync(dir, { recursive: true, force: true })
    renameSync(staging, dir)
    return loadCached(dir, spec) ?? fail(`kernel cache ${dir} is inconsistent`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The kernel for `spec`, from the cache or downloaded. */
export async function fetchKernel(spec: DebianSpec, cacheRoot: string, log: (line: string) => void = () => {}): Promise<CachedKernel> {
  const kernels = join(cacheRoot, 'kernels')
  mkdirSync(kernels, { recursive: true })
  const aliasFile = join(kernels, `${spec.name.replace(/[^A-Za-z0-9.+-]/g, '_')}.json`)
  let chosen: DebianKernel | undefined
  let why = ''
  try {
    chosen = chooseKernel(spec, await debianKernels(cacheRoot, log))
    if (!chosen) {
      const series = newestPerSeries(await debianKernels(cacheRoot)).map(k => k.series)
      why = `no ${'series' in spec ? `${spec.series} series` : spec.package} in Debian's suites (series there: ${series.join(', ')})`
    }
  } catch (err) {
    why = (err as Error).message
  }
  // offline, or the archive dropped it: the build this name last resolved to, if still cached
  if (!chosen && existsSync(aliasFile)) {
    const last = JSON.parse(readFileSync(aliasFile, 'utf8')) as Partial<DebianKernel>
    if (last.package && last.version && existsSync(join(kernels, cacheDirName(last as DebianKernel), 'kernel.json')))
      chosen = last as DebianKernel
  }
  if (!chosen) fail(`cannot resolve ${spec.name}: ${why}`)
  const dir = join(kernels, cacheDirName(chosen))
  let kernel = loadCached(dir, spec.name)
  if (!kernel) {
    log(`kernel ${spec.name}: downloading ${chosen.parts.map(p => p.package).join(', ')} ${chosen.version}`)
    kernel = await download(privateApt(cacheRoot), chosen, dir, spec.name)
  }
  writeFileSync(aliasFile, `${JSON.stringify(chosen)}\n`)
  return kernel
}
