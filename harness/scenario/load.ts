/**
 * Load scenario files (JSON or YAML, one schema), validate them with ajv and
 * report every problem as file:line:col. Pure except for reading the file.
 */
import { createHash } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { basename, dirname, extname, join, relative, resolve } from 'node:path'
import { compileSchemaFile } from '../deps/ajv.js'
import type { ErrorObject } from '../deps/ajv.js'
import { DEFAULT_LIMITS, parseWithPositions } from '../deps/yaml.js'
import type { ParsedDocument } from '../deps/yaml.js'
import { InputErrors, SockspecError } from '../errors.js'
import { schemaDir } from '../paths.js'
import { findJsonSyntaxError } from './json-syntax.js'
import { checkedHash, rememberChecked } from './checked-cache.js'
import { checkSemantics } from './semantics.js'
import type { ScenarioPolicy } from './semantics.js'
import { expandSteps, writtenPath } from './groups.js'
import type { Scenario, ScenarioDoc, WrittenStep } from './types.js'
import { canonicalJson } from '../trace/canonical-json.js'

const SCENARIO_EXTENSIONS = new Set(['.json', '.yaml', '.yml'])
/** Largest scenario file read: the packaged ones are a few KiB; anything near this is not a scenario. */
export const MAX_SCENARIO_BYTES = 1024 * 1024

/** Expand files and directories into a sorted list of scenario files. */
export function findScenarioFiles(paths: string[]): string[] {
  const out: string[] = []
  // a symlink back to a parent would make the walk endless (or exponential with two)
  const seenDirs = new Set<string>()
  const walk = (p: string, explicit: boolean): void => {
    let st
    try {
      st = statSync(p)
    } catch {
      throw new SockspecError('E_NOT_FOUND', `no such file or directory: ${p}`)
    }
    if (st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`
      if (seenDirs.has(key)) return
      seenDirs.add(key)
      let names: string[]
      try {
        names = readdirSync(p).sort()
      } catch (err) {
        throw new SockspecError('E_NOT_FOUND', `cannot read directory ${p}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
      }
      for (const name of names) {
        if (name.startsWith('.') || name === 'node_modules') continue
        walk(join(p, name), false)
      }
    } else if (explicit || SCENARIO_EXTENSIONS.has(extname(p))) {
      out.push(p)
    }
  }
  for (const p of paths) walk(p, true)
  return out
}

/** Byte offset -> 1-based line and column. */
function lineColAt(text: string, offset: number): { line: number; col: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < Math.min(offset, text.length); i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, col: offset - lineStart + 1 }
}

/**
 * Strict JSON syntax check for .json files: YAML would accept things JSON does
 * not (comments, trailing commas), and users expect JSON errors for JSON. The
 * checker finds the offending token itself (V8's messages carry an offset for
 * some errors only) and bounds the nesting depth.
 */
function checkJsonSyntax(text: string, file: string): void {
  const error = findJsonSyntaxError(text, DEFAULT_LIMITS.maxDepth)
  if (error) throw new SockspecError('E_SYNTAX', `invalid JSON: ${error.message}`, { file, ...lineColAt(text, error.offset) })
}

function describeAjvError(e: ErrorObject): { message: string; keyPath?: string } {
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties':
      return { message: `unknown property '${String(p['additionalProperty'])}'`, keyPath: String(p['additionalProperty']) }
    case 'required':
      return { message: `missing required property '${String(p['missingProperty'])}'` }
    case 'enum':
      return { message: `must be one of: ${(p['allowedValues'] as unknown[]).map(v => JSON.stringify(v)).join(', ')}` }
    case 'type':
      return { message: `must be ${String(p['type'])}` }
    case 'pattern':
      return { message: `does not match the expected form (${String(p['pattern'])})` }
    default:
      return { message: e.message ?? e.keyword }
  }
}

function pathSegments(instancePath: string): string[] {
  if (!instancePath) return []
  return instancePath
    .slice(1)
    .split('/')
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/**
 * ajv reports every failed branch of oneOf/if-then. Keep the most specific
 * errors: the deepest instance paths, without the oneOf/if summaries.
 */
function selectErrors(errors: ErrorObject[]): ErrorObject[] {
  const useful = errors.filter(e => e.keyword !== 'oneOf' && e.keyword !== 'if' && e.keyword !== 'anyOf')
  const pool = useful.length ? useful : errors
  // For one instance path keep the errors of one kind only: a value that fails
  // a oneOf fails every branch, and the first branch's complaint is enough.
  const byPath = new Map<string, ErrorObject[]>()
  for (const e of pool) {
    const list = byPath.get(e.instancePath) ?? []
    list.push(e)
    byPath.set(e.instancePath, list)
  }
  const out: ErrorObject[] = []
  const paths = [...byPath.keys()]
  for (const [path, list] of byPath) {
    // A parent path whose child also failed is noise (oneOf branches).
    if (list.every(e => e.keyword === 'type') && paths.some(p => p !== path && p.startsWith(path + '/'))) continue
    const seen = new Set<string>()
    for (const e of list) {
      const key = e.keyword + JSON.stringify(e.params)
      if (seen.has(key)) continue
      seen.add(key)
      out.push(e)
    }
  }
  return out
}

export function validateDocument(value: unknown, doc: ParsedDocument, file: string): void {
  const validate = compileSchemaFile(join(schemaDir, 'scenario.schema.json'))
  if (validate(value)) return
  const errors = selectErrors(validate.errors ?? []).map(e => {
    const segs = pathSegments(e.instancePath)
    const { message, keyPath } = describeAjvError(e)
    const pos = keyPath !== undefined ? doc.positionOf([...segs, keyPath], true) : doc.positionOf(segs)
    const where = segs.length ? segs.join('.') : '(top level)'
    return new SockspecError('E_SCHEMA', `${where}: ${message}`, { file, ...pos })
  })
  errors.sort((a, b) => a.position!.line - b.position!.line || a.position!.col - b.position!.col)
  throw errors.length === 1 ? errors[0]! : new InputErrors(errors)
}

export function contentHash(doc: unknown): string {
  // the editor's `$schema` pointer is not content: a scenario hashes the same with or without it
  const content = doc && typeof doc === 'object' && !Array.isArray(doc) ? { ...(doc as Record<string, unknown>), $schema: undefined } : doc
  return createHash('sha256').update(canonicalJson(content)).digest('hex')
}

/** Parse and validate scenario text. `file` is used for positions and the default id. */
export function parseScenario(text: string, file: string, policy?: ScenarioPolicy): Scenario {
  if (extname(file) === '.json') checkJsonSyntax(text, file)
  const parsed = parseWithPositions(text)
  const first = parsed.errors[0]
  if (first) {
    throw new SockspecError('E_SYNTAX', `invalid YAML: ${first.message}`, { file, line: first.line, col: first.col })
  }
  // a text that passed the schema before passes it again: its content hash comes with that (checked-cache.ts)
  let hash = checkedHash(text)
  if (hash === undefined) {
    validateDocument(parsed.value, parsed, file)
    hash = contentHash(parsed.value)
    rememberChecked(text, hash)
  }
  const doc = parsed.value as Omit<ScenarioDoc, 'steps'> & { steps: WrittenStep[] }
  const pack = basename(dirname(resolve(file)))
  const id = doc.id ?? `${pack}/${basename(file, extname(file))}`
  // steps of several actors (actors:, share with:) become one step per actor here
  const { steps, origins, across } = expandSteps(doc.steps, doc.across)
  const stepPositions = origins.map(o => parsed.positionOf(['steps', o.index]))
  const scenario: Scenario = { ...doc, id, pack, file, hash, steps, stepPositions, ...(across ? { across } : {}) }
  const positionOf = (path: Array<string | number>) => ({ file, ...parsed.positionOf(writtenPath(path, origins)) })
  checkSemantics(scenario, positionOf, policy, origins)
  return scenario
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a regular file'
}

let readBuffer: Buffer | undefined

/**
 * Read a scenario file: regular files only, at most MAX_SCENARIO_BYTES.
 * O_NONBLOCK so that opening a FIFO without a writer cannot block; fstat on
 * the opened fd, so what is checked is what is read.
 */
export function readScenarioText(file: string, shown = file): string {
  const at = { file: shown, line: 1, col: 1 }
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (err) {
    throw new SockspecError('E_NOT_FOUND', `cannot read scenario file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, at)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new SockspecError('E_SCENARIO', `not a scenario file: ${fileKind(st)}, not a regular file`, at)
    const tooBig = (): SockspecError => new SockspecError('E_SCENARIO', `scenario file larger than ${MAX_SCENARIO_BYTES} bytes`, at)
    if (st.size > MAX_SCENARIO_BYTES) throw tooBig()
    // the size may change under us: read at most one byte past the limit (into one buffer for every file: a fresh
    // megabyte per file was most of the garbage of a start-up)
    const buf = (readBuffer ??= Buffer.allocUnsafe(MAX_SCENARIO_BYTES + 1))
    let length = 0
    for (;;) {
      let n: number
      try {
        n = readSync(fd, buf, length, buf.length - length, null)
      } catch (err) {
        throw new SockspecError('E_NOT_FOUND', `cannot read scenario file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, at)
      }
      if (n === 0) break
      length += n
      if (length > MAX_SCENARIO_BYTES) throw tooBig()
    }
    return buf.toString('utf8', 0, length)
  } finally {
    closeSync(fd)
  }
}

export function loadScenarioFile(file: string, policy?: ScenarioPolicy): Scenario {
  const shown = relativeIfInside(file)
  const text = readScenarioText(file, shown)
  try {
    return parseScenario(text, shown, policy)
  } catch (err) {
    if (err instanceof SockspecError) throw err
    // whatever a hostile file provokes further in is still an input error: one line with the file, not a stack trace
    throw new SockspecError('E_SCENARIO', `cannot load scenario: ${err instanceof Error ? err.message : String(err)}`, {
      file: shown,
      line: 1,
      col: 1,
    })
  }
}

function relativeIfInside(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel.startsWith('..') ? file : rel
}

/** Load every scenario under the given paths; collect all input errors. */
export function loadScenarios(paths: string[], policy?: ScenarioPolicy): Scenario[] {
  const files = findScenarioFiles(paths)
  const scenarios: Scenario[] = []
  const errors: SockspecError[] = []
  const ids = new Map<string, string>()
  for (const f of files) {
    try {
      const s = loadScenarioFile(f, policy)
      const other = ids.get(s.id)
      if (other) {
        errors.push(
          new SockspecError('E_SCENARIO', `duplicate scenario id '${s.id}' (also in ${other})`, { file: s.file, line: 1, col: 1 }),
        )
        continue
      }
      ids.set(s.id, s.file)
      scenarios.push(s)
    } catch (err) {
      if (err instanceof InputErrors) errors.push(...err.errors)
      else if (err instanceof SockspecError) errors.push(err)
      else throw err
    }
  }
  if (errors.length) throw errors.length === 1 ? errors[0]! : new InputErrors(errors)
  return scenarios
}
