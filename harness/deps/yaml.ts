/**
 * Adapter for the `yaml` package (v2). Scenario files are parsed with it even
 * when they are JSON: the CST keeps source ranges, so schema errors can point
 * at file:line:col.
 *
 * Parsing the packaged scenarios was half a second of every start-up, so a
 * parse is cached on disk by the sha256 of the text: the value and a light
 * tree of source offsets, enough to answer positionOf exactly as the CST
 * would. A missing or unreadable entry just means parsing again.
 */
import type { Document, Node } from 'yaml'
import type * as YamlModule from 'yaml'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'

export interface ParsedDocument {
  value: unknown
  /** 1-based line/col of the node at a JSON pointer-ish path, or the closest parent. */
  positionOf(path: ReadonlyArray<string | number>, key?: boolean): { line: number; col: number }
  errors: Array<{ message: string; line: number; col: number }>
}

// loaded on the first parse that misses the cache (about 0.1 s of start-up otherwise)
const require = createRequire(import.meta.url)
let yamlModule: typeof YamlModule | undefined
const yaml = (): typeof YamlModule => (yamlModule ??= require('yaml') as typeof YamlModule)

/** Limits for untrusted text: the parser and toJS recurse, and aliases can expand exponentially. */
export interface ParseLimits {
  /** Deepest nesting of collections. */
  maxDepth: number
  /** Most alias nodes (`*name`) in one document; also toJS's maxAliasCount. */
  maxAliases: number
}

export const DEFAULT_LIMITS: ParseLimits = { maxDepth: 64, maxAliases: 100 }

/**
 * Flow brackets beyond which the text is not even given to the parser: the
 * `yaml` package recurses per flow level and a few thousand levels exhaust
 * the stack or memory. A plain scalar may hold a stray '[', so this counts
 * every bracket and only guards the parser; the exact depth is checked on
 * the parsed nodes.
 */
const FLOW_GUARD = 256

function flowGuardOffset(text: string): number {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5b || c === 0x7b) {
      if (++depth > FLOW_GUARD) return i
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--
  }
  return -1
}

type Problem = { message: string; offset: number }

/**
 * Walk the parsed nodes in document order without recursion: collections
 * nested deeper than the limit, aliases to anchors not defined before them
 * (toJS would throw a bare ReferenceError), too many aliases, keys that
 * are not scalars.
 */
function structureProblem(doc: Document, limits: ParseLimits): { problem: Problem | null; firstAlias: number } {
  const { isAlias, isMap, isSeq, isScalar, isPair } = yaml()
  let firstAlias = 0
  // anchor -> end of the node it names: an alias before that end sits inside its own target (a cycle)
  const anchors = new Map<string, number>()
  let aliases = 0
  const stack: Array<{ node: unknown; depth: number }> = [{ node: doc.contents, depth: 0 }]
  while (stack.length) {
    const { node, depth } = stack.pop()!
    if (!node) continue
    const offset = (node as Node).range?.[0] ?? 0
    if (isAlias(node)) {
      if (!aliases) firstAlias = offset
      if (++aliases > limits.maxAliases) return { problem: { message: `more than ${limits.maxAliases} aliases`, offset }, firstAlias }
      const targetEnd = anchors.get(node.source)
      if (targetEnd === undefined)
        return { problem: { message: `unresolved alias *${node.source} (no anchor &${node.source} before it)`, offset }, firstAlias }
      if (offset < targetEnd) return { problem: { message: `alias *${node.source} inside its own anchor: a cycle`, offset }, firstAlias }
      continue
    }
    const anchor = (node as { anchor?: string }).anchor
    if (anchor) anchors.set(anchor, (node as Node).range?.[1] ?? offset)
    if (isPair(node)) {
      // toJS would stringify such a key and print a process warning; no scenario property is one
      if (node.key && !isScalar(node.key))
        return { problem: { message: 'a mapping key must be a plain value', offset: (node.key as Node).range?.[0] ?? offset }, firstAlias }
      stack.push({ node: node.value, depth }, { node: node.key, depth })
    } else if (isMap(node) || isSeq(node)) {
      if (depth + 1 > limits.maxDepth) return { problem: { message: `nested deeper than ${limits.maxDepth} levels`, offset }, firstAlias }
      for (let k = node.items.length - 1; k >= 0; k--) stack.push({ node: node.items[k], depth: depth + 1 })
    }
  }
  return { problem: null, firstAlias }
}

export interface ParsedDocument {
  value: unknown
  /** 1-based line/col of the node at a JSON pointer-ish path, or the closest parent. */
  positionOf(path: ReadonlyArray<string | number>, key?: boolean): { line: number; col: number }
  errors: Array<{ message: string; line: number; col: number }>
}

/** Source offsets of a document's nodes: a map's pairs by key (first wins), a sequence's items. */
export type OffsetTree =
  { at: number; map: Record<string, { key: number; value: OffsetTree | null }> } | { at: number; seq: OffsetTree[] } | { at: number }

/** Bump when the cached form changes. */
const CACHE_FORMAT = 1

function offsetTree(node: unknown, fallback: number): OffsetTree {
  const { isMap, isSeq, isPair, isScalar } = yaml()
  const at = (node as Node | null)?.range?.[0] ?? fallback
  if (isMap(node)) {
    const map: Record<string, { key: number; value: OffsetTree | null }> = {}
    for (const p of node.items) {
      if (!isPair(p) || !isScalar(p.key)) continue
      const name = String(p.key.value)
      if (Object.hasOwn(map, name)) continue
      const key = (p.key as Node).range?.[0] ?? at
      map[name] = { key, value: p.value ? offsetTree(p.value, key) : null }
    }
    return { at, map }
  }
  if (isSeq(node)) return { at, seq: node.items.map(item => offsetTree(item, at)) }
  return { at }
}

/** The walk positionOf has always made over the CST, over the offset tree. */
export function offsetOf(tree: OffsetTree, path: ReadonlyArray<string | number>, key = false): number {
  let node: OffsetTree | null = tree
  let offset = tree.at
  for (const seg of path) {
    if (node && 'map' in node) {
      const pair: { key: number; value: OffsetTree | null } | undefined = Object.hasOwn(node.map, String(seg))
        ? node.map[String(seg)]
        : undefined
      if (!pair) break
      offset = pair.key
      if (key && seg === path[path.length - 1]) break
      node = pair.value
      offset = pair.value?.at ?? offset
    } else if (node && 'seq' in node) {
      const item: OffsetTree | undefined = node.seq[Number(seg)]
      if (!item) break
      node = item
      offset = item.at
    } else break
  }
  return offset
}

function lineStarts(text: string): number[] {
  const starts = [0]
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1)
  return starts
}

/** 1-based line and column of an offset, as yaml's LineCounter.linePos gives them. */
function linePos(starts: readonly number[], offset: number): { line: number; col: number } {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= offset) lo = mid
    else hi = mid - 1
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1 }
}

/** Parse without the cache: the CST answers positionOf. */
export function parseUncached(text: string, limits: ParseLimits = DEFAULT_LIMITS): ParsedDocument & { tree: OffsetTree | undefined } {
  const { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair } = yaml()
  const lineCounter = new LineCounter()
  const guard = flowGuardOffset(text)
  if (guard >= 0) {
    const lineStart = text.lastIndexOf('\n', guard - 1) + 1
    const at = { line: text.slice(0, lineStart).split('\n').length, col: guard - lineStart + 1 }
    return {
      value: undefined,
      positionOf: () => at,
      errors: [{ message: `nested deeper than ${FLOW_GUARD} brackets`, ...at }],
      tree: undefined,
    }
  }
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  const errors = doc.errors.map(e => {
    const lp = lineCounter.linePos(e.pos[0])
    // the parser reports its own stack overflow as RESOURCE_EXHAUSTION: deep block nesting
    const message = e.code === 'RESOURCE_EXHAUSTION' ? 'nested too deeply' : (e.message.split('\n')[0] ?? e.message)
    return { message, line: lp.line, col: lp.col }
  })
  let value: unknown
  if (!errors.length) {
    const { problem, firstAlias } = structureProblem(doc, limits)
    if (problem) errors.push({ message: problem.message, ...lineCounter.linePos(problem.offset) })
    else {
      try {
        value = doc.toJS({ maxAliasCount: limits.maxAliases })
      } catch (err) {
        // an alias expanding past maxAliasCount (an alias bomb); the walk above caught the other alias problems
        const reason = /alias count/i.test((err as Error).message) ? 'aliases expand too far (an alias bomb)' : (err as Error).message
        errors.push({ message: reason, ...lineCounter.linePos(firstAlias) })
      }
    }
  }
  function positionOf(path: ReadonlyArray<string | number>, key = false) {
    let node: unknown = doc.contents
    let offset = (doc.contents as Node | null)?.range?.[0] ?? 0
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find(p => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))
        if (!pair) break
        const keyNode = pair.key as Node
        offset = keyNode.range?.[0] ?? offset
        if (key && seg === path[path.length - 1]) break
        node = pair.value
        offset = (pair.value as Node | null)?.range?.[0] ?? offset
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)] as Node | undefined
        if (!item) break
        node = item
        offset = item.range?.[0] ?? offset
      } else break
    }
    return lineCounter.linePos(offset)
  }
  const tree = errors.length ? undefined : offsetTree(doc.contents, 0)
  return { value, positionOf, errors, tree }
}

/** ~/.cache/sockspec/NAME (SOCKSPEC_CACHE_DIR, XDG_CACHE_HOME respected); SOCKSPEC_PARSE_CACHE=0 turns the cache off. */
export function cacheDir(name = 'parsed'): string | undefined {
  const env = process.env
  if (env['SOCKSPEC_PARSE_CACHE'] === '0') return undefined
  const root = env['SOCKSPEC_CACHE_DIR'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'sockspec')
  return join(root, name)
}

export function parseWithPositions(text: string, limits: ParseLimits = DEFAULT_LIMITS): ParsedDocument {
  const dir = cacheDir()
  const file = dir
    ? join(dir, `${createHash('sha256').update(`${CACHE_FORMAT}\0${limits.maxDepth}\0${limits.maxAliases}\0${text}`).digest('hex')}.json`)
    : undefined
  if (file) {
    let cached: { value: unknown; tree: OffsetTree } | undefined
    try {
      cached = JSON.parse(readFileSync(file, 'utf8')) as { value: unknown; tree: OffsetTree }
    } catch {
      cached = undefined // not cached yet (or a damaged entry: parse again and rewrite it)
    }
    if (cached && typeof cached === 'object' && 'tree' in cached) {
      const starts = lineStarts(text)
      const tree = cached.tree
      return { value: cached.value, errors: [], positionOf: (path, key) => linePos(starts, offsetOf(tree, path, key)) }
    }
  }
  const parsed = parseUncached(text, limits)
  const json = file && parsed.tree ? JSON.stringify({ value: parsed.value, tree: parsed.tree }) : undefined
  // only what JSON carries faithfully (.inf, -0 or a NaN would come back otherwise)
  if (file && dir && json && isDeepStrictEqual((JSON.parse(json) as { value: unknown }).value, parsed.value)) {
    try {
      mkdirSync(dir, { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, json)
      renameSync(tmp, file) // whole entries only, even with runs in parallel
    } catch {
      // a read-only home only costs the next start-up the parse
    }
  }
  return parsed
}

export function stringifyYaml(value: unknown): string {
  return yaml().stringify(value)
}
