/**
 * The kit's own apt configuration for Debian's kernels: a sources list, lists
 * and caches under <cache>/apt/, passed to apt-get/apt-cache with -o on every
 * call, so this machine's /etc/apt and /var/lib/apt are never read for sources
 * nor written. Every suite that carries a kernel is listed (bullseye to
 * experimental); the indexes are signed, checked by apt against Debian's
 * archive keyring, and every .deb apt-get downloads is checked against them.
 * The lists are refreshed once a day (or when missing).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SockspecError } from '../../errors.js'
import { runCommand } from '../../deps/process.js'
import type { CommandResult } from '../../deps/process.js'

export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'

/** Suites with kernels, oldest first; a suite the archive no longer serves only costs a warning. */
export const DEBIAN_SUITES: ReadonlyArray<{ suite: string; security?: boolean }> = [
  { suite: 'bullseye' },
  { suite: 'bullseye-security', security: true },
  { suite: 'bookworm' },
  { suite: 'bookworm-security', security: true },
  { suite: 'bookworm-backports' },
  { suite: 'trixie' },
  { suite: 'trixie-security', security: true },
  { suite: 'trixie-backports' },
  { suite: 'forky' },
  { suite: 'sid' },
  { suite: 'experimental' },
]

const LISTS_MAX_AGE_MS = 24 * 3600_000
/** when the lists were last refreshed; next to them, as apt-get update removes files it does not know from the lists dir */
const STAMP = 'lists-updated'

export interface PrivateApt {
  dir: string
  /** the -o options that make apt use only the kit's files */
  options: string[]
}

/** The mirror in the form this machine's apt uses (deb.debian.org); SOCKSPEC_DEBIAN_MIRROR overrides. */
export function mirrors(env: NodeJS.ProcessEnv = process.env): { main: string; security: string } {
  const main = env['SOCKSPEC_DEBIAN_MIRROR'] || 'http://deb.debian.org/debian'
  return { main, security: env['SOCKSPEC_DEBIAN_SECURITY_MIRROR'] || `${main.replace(/\/debian\/?$/, '')}/debian-security` }
}

/** Pure: the sources list text. */
export function sourcesList(m: { main: string; security: string }, keyring = DEBIAN_KEYRING): string {
  return DEBIAN_SUITES.map(s => `deb [arch=amd64 signed-by=${keyring}] ${s.security ? m.security : m.main} ${s.suite} main\n`).join('')
}

/** Create the private configuration's files (idempotent) and return the options naming them. */
export function privateApt(cacheRoot: string, env: NodeJS.ProcessEnv = process.env): PrivateApt {
  const dir = join(cacheRoot, 'apt')
  for (const d of ['lists/partial', 'archives/partial', 'cache']) mkdirSync(join(dir, d), { recursive: true })
  const sources = join(dir, 'sources.list')
  const text = sourcesList(mirrors(env))
  if (!existsSync(sources) || readFileSync(sources, 'utf8') !== text) {
    writeFileSync(sources, text)
    // other sources (a mirror set by SOCKSPEC_DEBIAN_MIRROR): the lists are refreshed on first use
    rmSync(join(dir, STAMP), { force: true })
  }
  return {
    dir,
    options: [
      `Dir::Etc::sourcelist=${sources}`,
      'Dir::Etc::sourceparts=-',
      `Dir::State::Lists=${join(dir, 'lists')}`,
      `Dir::Cache=${join(dir, 'cache')}`,
      `Dir::Cache::Archives=${join(dir, 'archives')}`,
      `Dir::Cache::pkgcache=${join(dir, 'cache', 'pkgcache.bin')}`,
      `Dir::Cache::srcpkgcache=${join(dir, 'cache', 'srcpkgcache.bin')}`,
      // only the Packages indexes: no translations, no other architectures
      'Acquire::Languages=none',
      'APT::Architectures=amd64',
      // the _apt user cannot enter a cache dir under root's home
      'APT::Sandbox::User=root',
    ].flatMap(o => ['-o', o]),
  }
}

export function apt(tool: 'apt-get' | 'apt-cache', a: PrivateApt, args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
  return runCommand([tool, ...a.options, ...args], { timeoutMs })
}

const haveLists = (a: PrivateApt): boolean => readdirSync(join(a.dir, 'lists')).some(f => /_Packages(\.\w+)?$/.test(f))

/**
 * Refresh the private lists when they are missing or older than a day. A
 * failed refresh with lists at hand is a warning (offline, a suite gone);
 * without lists it is an error naming apt's complaint.
 */
export async function ensureLists(a: PrivateApt, log: (line: string) => void = () => {}, now = Date.now()): Promise<void> {
  const stamp = join(a.dir, STAMP)
  const fresh = existsSync(stamp) && now - statSync(stamp).mtimeMs < LISTS_MAX_AGE_MS
  if (fresh && haveLists(a)) return
  if (!existsSync(DEBIAN_KEYRING)) throw new SockspecError('E_NOT_FOUND', `${DEBIAN_KEYRING} missing: install debian-archive-keyring`)
  log('updating the private apt lists of Debian kernels')
  const r = await apt('apt-get', a, ['update', '-q'], 600_000)
  const complaint = r.stderr
    .split('\n')
    .filter(l => /^(E|W):/.test(l))
    .slice(0, 3)
    .join('; ')
  if (!haveLists(a)) throw new SockspecError('E_NOT_FOUND', `apt-get update of the kernel suites failed: ${complaint || r.stdout.trim()}`)
  if (r.failed && complaint) log(`apt-get update: ${complaint}`)
  writeFileSync(stamp, `${new Date(now).toISOString()}\n`)
}
