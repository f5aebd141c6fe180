/**
 * The errno names the probe can report, read from the probe's own table
 * (harness/native/src/errno-names.def, which event.c includes), so the two
 * cannot drift.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitRoot } from '../paths.js'

export const errnoTableFile = join(kitRoot, 'harness', 'native', 'src', 'errno-names.def')

let names: ReadonlySet<string> | undefined

/** Every name in the probe's table (EAGAIN, not its alias EWOULDBLOCK). */
export function errnoNames(): ReadonlySet<string> {
  names ??= new Set([...readFileSync(errnoTableFile, 'utf8').matchAll(/^ERRNO\((E[A-Z0-9]+)\)$/gm)].map(m => m[1]!))
  return names
}

/** Aliases the table leaves out: the probe reports the other name. */
export const ERRNO_ALIASES: Readonly<Record<string, string>> = { EWOULDBLOCK: 'EAGAIN', EDEADLOCK: 'EDEADLK', ENOTSUP: 'EOPNOTSUPP' }
