/**
 * What a scenario text gives whoever loads it, kept on disk beside the parse
 * cache: that it passes the schema, and its content hash. Both are pure in
 * (schema text, scenario text), so the key is the sha256 of both; a schema
 * edit or another text is simply a miss. Schema validation and the
 * canonical hash were two fifths of loading the packaged scenarios at every
 * start-up. The semantic checks still run every time: they depend on the
 * command line's policy and on the kit's code, not only on the text.
 *
 * Only texts that passed are kept (a failing text must report its errors
 * with positions every time). SOCKSPEC_PARSE_CACHE=0 turns this off too.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AJV_OPTIONS } from '../deps/ajv.js'
import { cacheDir, DEFAULT_LIMITS } from '../deps/yaml.js'
import { schemaDir } from '../paths.js'

/** Bump when what an entry means changes (the hash's form, the parse limits' meaning). */
const FORMAT = 1
const HEX64 = /^[0-9a-f]{64}$/

let schemaKey: string | undefined
/** The scenario schema's text and the validator options, hashed once per process. */
function schemaSha(): string {
  schemaKey ??= createHash('sha256')
    .update(`${JSON.stringify(AJV_OPTIONS)}\0${readFileSync(join(schemaDir, 'scenario.schema.json'), 'utf8')}`)
    .digest('hex')
  return schemaKey
}

function entryFile(text: string): string | undefined {
  const dir = cacheDir('checked')
  if (!dir) return undefined
  const key = createHash('sha256')
    .update(`${FORMAT}\0${schemaSha()}\0${DEFAULT_LIMITS.maxDepth}\0${DEFAULT_LIMITS.maxAliases}\0${text}`)
    .digest('hex')
  return join(dir, key)
}

/** The content hash of a text that passed the schema before, or undefined (not seen, or the cache is off or damaged). */
export function checkedHash(text: string): string | undefined {
  const file = entryFile(text)
  if (!file) return undefined
  try {
    const hash = readFileSync(file, 'latin1')
    return HEX64.test(hash) ? hash : undefined
  } catch {
    return undefined
  }
}

/** Note that `text` passed the schema and hashes to `hash`. */
export function rememberChecked(text: string, hash: string): void {
  const file = entryFile(text)
  if (!file) return
  try {
    mkdirSync(join(file, '..'), { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, hash)
    renameSync(tmp, file) // whole entries only, even with runs in parallel
  } catch {
    // a read-only home only costs the next start-up the checks
  }
}
