/**
 * `sockspec cleanup`: remove what a killed run left behind: its network
 * namespaces (and the processes in them), probes that outlived it, its temp
 * dirs, and with --db mark its run `aborted`. A run is dead when its beacon
 * (hosts/netns.ts) is gone; live runs are left alone unless --force.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanupNamespaces } from '../hosts/netns.js'
import { SockspecError } from '../errors.js'
import { listeningBeacons } from '../store/liveness.js'
import { TraceStore } from '../store/store.js'

const TOKEN_ENV = 'SOCKSPEC_RUN_TOKEN='

/** Processes started by a dead run (probes carry its token in their environment); killed with SIGKILL. */
function killOrphanProbes(dead: (token: string) => boolean): number[] {
  const killed: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    let env: string
    try {
      env = readFileSync(`/proc/${entry}/environ`, 'latin1')
    } catch {
      continue // gone, or not ours to read
    }
    const token = env
      .split('\0')
      .find(v => v.startsWith(TOKEN_ENV))
      ?.slice(TOKEN_ENV.length)
    if (!token || !dead(token)) continue
    try {
      process.kill(Number(entry), 'SIGKILL')
      killed.push(Number(entry))
    } catch {
      // already gone
    }
  }
  return killed
}

/** Scenario temp dirs of dead runs: tmpdir/sockspec-run-<token>/ (runner/set-up.ts). */
function removeTempDirs(dead: (token: string) => boolean): string[] {
  const removed: string[] = []
  for (const name of readdirSync(tmpdir())) {
    const m = /^sockspec-run-([0-9a-f]+)$/.exec(name)
    if (!m || !dead(m[1]!)) continue
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
    removed.push(join(tmpdir(), name))
  }
  return removed
}

export async function cleanupCommand(opts: { force?: boolean; db?: string }): Promise<number> {
  if (process.getuid?.() !== 0) throw new SockspecError('E_USAGE', 'cleanup needs root (it deletes network namespaces)')
  const removed = await cleanupNamespaces(opts.force ?? false)
  const alive = listeningBeacons()
  const dead = (token: string): boolean => (opts.force ?? false) || !alive.has(token)
  const probes = killOrphanProbes(dead)
  const dirs = removeTempDirs(dead)
  let aborted: number[] = []
  if (opts.db) {
    // opening the store marks its dead runs aborted
    const store = TraceStore.open(opts.db, { mustExist: true })
    aborted = store.aborted
    store.close()
  }
  const out: string[] = []
  if (removed.length) out.push(`removed ${removed.length} namespace(s): ${removed.join(' ')}`)
  if (probes.length) out.push(`killed ${probes.length} leftover probe(s): ${probes.join(' ')}`)
  if (dirs.length) out.push(`removed ${dirs.length} temp dir(s): ${dirs.join(' ')}`)
  if (aborted.length) out.push(`marked ${aborted.length} dead run(s) aborted in ${opts.db}: ${aborted.join(' ')}`)
  process.stdout.write(out.length ? `${out.join('\n')}\n` : 'nothing to clean up\n')
  return 0
}
