/**
 * Adapter for picomatch 4 (CommonJS, no bundled types): the one place that
 * loads it, typed to the part the kit uses.
 */
import { createRequire } from 'node:module'

export interface GlobOptions {
  /** match names that start with a dot too */
  dot?: boolean
}

type Picomatch = (glob: string, options?: GlobOptions) => (input: string) => boolean

const require = createRequire(import.meta.url)
const picomatch = require('picomatch') as Picomatch

/** A matcher for one glob: `*` within a path segment, `**` across them, braces, classes, extglobs. */
export function globMatcher(glob: string, options: GlobOptions = {}): (input: string) => boolean {
  return picomatch(glob, options)
}
