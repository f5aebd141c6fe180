/**
 * Is a `running` run still alive? A run records the token of its process's
 * beacon (the abstract unix socket `@sockspec-run-<token>`, see
 * hosts/netns.ts), this boot's id and its network namespace. Abstract
 * sockets live per network namespace and die with their process, however it
 * dies (kill -9 included), so a reader in the same boot and namespace can
 * tell from /proc/net/unix, synchronously, that the writer is gone. A run of
 * another machine, boot or namespace (imported, merged, a container) is
 * never judged: it may well be alive.
 */
import { readFileSync, readlinkSync } from 'node:fs'

export interface Liveness {
  bootId: string
  netNs: string
}

let cached: Liveness | null | undefined

/** This machine's boot id and this process's network namespace; null where /proc does not tell. */
export function thisLiveness(): Liveness | null {
  if (cached !== undefined) return cached
  try {
    cached = { bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), netNs: readlinkSync('/proc/self/ns/net') }
  } catch {
    cached = null
  }
  return cached
}

const SO_ACCEPTCON = 0x10000

/** Tokens of the beacons listening in this network namespace (/proc/net/unix, abstract names start with @). */
export function listeningBeacons(): Set<string> {
  const tokens = new Set<string>()
  let text: string
  try {
    text = readFileSync('/proc/net/unix', 'utf8')
  } catch {
    return tokens
  }
  for (const line of text.split('\n')) {
    // node pads abstract names with NULs to the full sun_path, shown as @
    const m = / @sockspec-run-([0-9a-f]+)/.exec(line)
    if (!m) continue
    const flags = parseInt(line.trim().split(/\s+/)[3] ?? '0', 16)
    if (flags & SO_ACCEPTCON) tokens.add(m[1]!)
  }
  return tokens
}
