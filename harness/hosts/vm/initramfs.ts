/**
 * The guest's initramfs: busybox (static), the static probe, /init and the
 * kernel's modules the guest loads at boot. No Node inside the guest. The
 * archive is cached by the hash of its inputs, so a second run reuses it.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { SockspecError } from '../../errors.js'
import { cpioNewc } from './cpio.js'
import type { CpioEntry } from './cpio.js'
import { initScript } from './init-script.js'

export interface InitramfsInputs {
  busybox: string
  probe: string
  /** module files in load order (dependencies first) */
  modules: readonly string[]
  probePorts: number
  /** host binaries to copy in with the shared libraries ldd names (ip, nft: scenario hosts in the guest) */
  tools?: readonly string[]
}

/** Host programs a guest needs to build scenario hosts; copied with their libraries when present. */
export const GUEST_TOOLS = ['/usr/sbin/ip', '/usr/sbin/nft'] as const

export interface ToolFile {
  /** absolute path, the same in the guest as on the host */
  path: string
  data: Uint8Array
  mode: number
}

/**
 * The files that make `tools` run in the guest: each binary and every shared
 * object ldd resolves for it (the loader included), at the paths ldd gives,
 * so the guest's dynamic loader finds them where it looks on the host.
 * Tools that are not installed are left out (the guest reports them missing).
 */
export function collectTools(tools: readonly string[]): ToolFile[] {
  const files = new Map<string, ToolFile>()
  for (const tool of tools) {
    if (!existsSync(tool)) continue
    files.set(tool, { path: tool, data: readFileSync(tool), mode: 0o755 })
    let ldd = ''
    try {
      ldd = execFileSync('ldd', [tool], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    } catch {
      // a static program (ldd exits 1), or no ldd: the binary alone; if it cannot run, the guest reports it missing
    }
    for (const line of ldd.split('\n')) {
      const lib = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1]
      if (lib && !files.has(lib)) files.set(lib, { path: lib, data: readFileSync(lib), mode: 0o755 })
    }
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))
}

/** Pure: the archive entries for these file contents. */
export function initramfsEntries(
  busybox: Uint8Array,
  probe: Uint8Array,
  modules: ReadonlyArray<{ name: string; data: Uint8Array }>,
  probePorts: number,
  tools: readonly ToolFile[] = [],
): CpioEntry[] {
  const dirs = new Set(['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'var', 'lib', 'lib/modules'])
  for (const t of tools) {
    for (let d = dirname(t.path.slice(1)); d !== '.' && d !== ''; d = dirname(d)) dirs.add(d)
  }
  const entries: CpioEntry[] = [
    ...[...dirs].sort().map(path => ({ kind: 'dir' as const, path })),
    // iproute2 keeps namespaces under /var/run/netns
    { kind: 'symlink', path: 'var/run', target: '../run' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'file', path: 'bin/sockspec-probe', data: probe, mode: 0o755 },
    { kind: 'file', path: 'init', data: Buffer.from(initScript(probePorts)), mode: 0o755 },
  ]
  for (const t of tools) entries.push({ kind: 'file', path: t.path.slice(1), data: t.data, mode: t.mode })
  for (const m of modules) entries.push({ kind: 'file', path: `lib/modules/${m.name}`, data: m.data })
  entries.push({ kind: 'file', path: 'lib/modules/load-order', data: Buffer.from(modules.map(m => `${m.name}\n`).join('')) })
  return entries
}

/** Build (or reuse) the gzip'd initramfs under `cacheDir`; returns its path. */
export function buildInitramfs(inputs: InitramfsInputs, cacheDir: string): string {
  for (const f of [inputs.busybox, inputs.probe]) {
    if (!existsSync(f))
      throw new SockspecError('E_NOT_FOUND', `${f} not found (vm kernels need busybox-static and 'make -C harness/native')`)
  }
  const busybox = readFileSync(inputs.busybox)
  const probe = readFileSync(inputs.probe)
  // A dynamic busybox names its loader near the start (PT_INTERP); the initramfs has no libc.
  if (busybox.subarray(0, 4096).includes('ld-linux'))
    throw new SockspecError('E_NOT_FOUND', `${inputs.busybox} is dynamically linked: install busybox-static`)
  const modules = inputs.modules.map(f => ({ name: basename(f), data: readFileSync(f) }))
  const tools = collectTools(inputs.tools ?? [])
  const hash = createHash('sha256')
  for (const part of [
    busybox,
    probe,
    Buffer.from(initScript(inputs.probePorts)),
    ...modules.flatMap(m => [Buffer.from(m.name), m.data]),
    ...tools.flatMap(t => [Buffer.from(t.path), t.data]),
  ])
    hash.update(part)
  const file = join(cacheDir, `initramfs-${hash.digest('hex').slice(0, 16)}.cpio.gz`)
  if (existsSync(file)) return file
  mkdirSync(cacheDir, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, gzipSync(cpioNewc(initramfsEntries(busybox, probe, modules, inputs.probePorts, tools)), { level: 1 }))
  renameSync(tmp, file)
  return file
}
