/**
 * Get a Debian kernel image for a guest: resolve the package with apt-cache,
 * `apt-get download` it, unpack it with dpkg-deb, and keep vmlinuz plus the
 * few modules the guest loads under <cache>/kernels/<package>/ with a
 * manifest holding the sha256 of the .deb and of vmlinuz. A cached kernel is
 * used as is (checked against its hash), also offline.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { SockspecError } from '../../errors.js'
import { runCommand } from '../../deps/process.js'
import type { KernelSpec } from './kernel-spec.js'
import { GUEST_MODULES, loadOrder } from './module-deps.js'

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
  sha256: { deb: string; vmlinuz: string }
}

interface Manifest extends Omit<CachedKernel, 'vmlinuz' | 'modules' | 'spec'> {
  modules: string[]
  /** GUEST_MODULES when the modules were picked; another list means pick again */
  wanted?: string[]
  fetchedAt: string
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

function fail(message: string): never {
  throw new SockspecError('E_NOT_FOUND', message)
}

/** A meta package (linux-image-6.12-cloud-amd64) depends on the image it stands for; an image depends on none. */
async function resolvePackage(pkg: string): Promise<string | undefined> {
  const r = await runCommand(['apt-cache', 'depends', '--important', pkg], { timeoutMs: 60_000 }).catch(() => undefined)
  if (!r || r.failed || !r.stdout.trim()) return undefined
  return /Depends:\s*(linux-image-\d\S*)/.exec(r.stdout)?.[1] ?? pkg
}

function loadCached(dir: string, spec: string): CachedKernel | undefined {
  const file = join(dir, 'kernel.json')
  if (!existsSync(file)) return undefined
  const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest
  if ((m.wanted ?? []).join(' ') !== GUEST_MODULES.join(' ')) return undefined
  const vmlinuz = join(dir, 'vmlinuz')
  if (!existsSync(vmlinuz) || sha256(vmlinuz) !== m.sha256.vmlinuz) return undefined
  return {
    spec,
    package: m.package,
    version: m.version,
    release: m.release,
    sha256: m.sha256,
    vmlinuz,
    modules: m.modules.map(f => join(dir, 'modules', f)),
  }
}

async function download(pkg: string, dir: string, spec: string): Promise<CachedKernel> {
  const work = mkdtempSync(join(tmpdir(), 'sockspec-kernel-'))
  try {
    const dl = await runCommand(['sh', '-c', 'cd "$1" && apt-get download "$2"', 'sh', work, pkg], { timeoutMs: 600_000 })
    const deb = readdirSync(work).find(f => f.endsWith('.deb'))
    if (dl.failed || !deb) fail(`apt-get download ${pkg} failed: ${(dl.stderr || dl.stdout).trim().split('\n').pop() ?? ''}`)
    const root = join(work, 'root')
    const dpkgDeb = (await runCommand(['sh', '-c', 'command -v dpkg-deb'])).exitCode === 0 ? ['dpkg-deb'] : ['busybox', 'dpkg-deb']
    const x = await runCommand([...dpkgDeb, '-x', join(work, deb), root], { timeoutMs: 300_000 })
    if (x.failed) fail(`cannot unpack ${deb}: ${x.stderr.trim()}`)
    // bookworm's 6.1 ships /lib/modules, the 6.12 backport /usr/lib/modules (merged /usr)
    const libModules =
      [join(root, 'lib', 'modules'), join(root, 'usr', 'lib', 'modules')].find(d => existsSync(d)) ?? fail(`${deb} holds no lib/modules`)
    const release = readdirSync(libModules)[0] ?? fail(`${deb} holds no lib/modules/<release>`)
    const image = join(root, 'boot', `vmlinuz-${release}`)
    if (!existsSync(image)) fail(`${deb} holds no boot/vmlinuz-${release}`)
    // Debian's package ships no modules.dep (depmod runs at install): make one.
    const depmod = await runCommand(['busybox', 'depmod', '-b', join(libModules, '..', '..'), release], { timeoutMs: 300_000 })
    const depFile = join(libModules, release, 'modules.dep')
    const order = existsSync(depFile) ? loadOrder(readFileSync(depFile, 'utf8'), GUEST_MODULES) : []
    if (!existsSync(depFile) && depmod.failed)
      process.stderr.write(`sockspec: depmod failed for ${release}, guest loads no modules: ${depmod.stderr.trim()}\n`)
    const staging = `${dir}.${process.pid}.tmp`
    rmSync(staging, { recursive: true, force: true })
    mkdirSync(join(staging, 'modules'), { recursive: true })
    copyFileSync(image, join(staging, 'vmlinuz'))
    for (const rel of order) copyFileSync(join(libModules, release, rel), join(staging, 'modules', basename(rel)))
    const manifest: Manifest = {
      package: pkg,
      version: /^[^_]+_([^_]+)_/.exec(deb)?.[1] ?? '',
      release,
      sha256: { deb: sha256(join(work, deb)), vmlinuz: sha256(image) },
      modules: order.map(rel => basename(rel)),
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
export async function fetchKernel(spec: Extract<KernelSpec, { kind: 'debian' }>, cacheRoot: string): Promise<CachedKernel> {
  const kernels = join(cacheRoot, 'kernels')
  mkdirSync(kernels, { recursive: true })
  const aliasFile = join(kernels, `${spec.name.replace(/[^A-Za-z0-9.+-]/g, '_')}.json`)
  const pkg =
    (await resolvePackage(spec.package)) ??
    (existsSync(aliasFile) ? (JSON.parse(readFileSync(aliasFile, 'utf8')) as { package: string }).package : undefined)
  if (!pkg) fail(`cannot resolve ${spec.package} with apt-cache (is this Debian bookworm with apt lists? run 'apt-get update')`)
  const dir = join(kernels, pkg)
  const kernel = loadCached(dir, spec.name) ?? (await download(pkg, dir, spec.name))
  writeFileSync(aliasFile, `${JSON.stringify({ package: pkg })}\n`)
  return kernel
}
