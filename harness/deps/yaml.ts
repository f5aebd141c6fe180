/**
 * Adapter for the `yaml` package (v2). Scenario files are parsed with it even
 * when they are JSON: the CST keeps source ranges, so schema errors can point
 * at file:line:col.
 */
import { LineCounter, parseDocument, isAlias, isMap, isSeq, isScalar, isPair, stringify } from 'yaml'
import type { Document, Node } from 'yaml'

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

export function parseWithPositions(text: string, limits: ParseLimits = DEFAULT_LIMITS): ParsedDocument {
  const lineCounter = new LineCounter()
  const guard = flowGuardOffset(text)
  if (guard >= 0) {
    const lineStart = text.lastIndexOf('\n', guard - 1) + 1
    const at = { line: text.slice(0, lineStart).split('\n').length, col: guard - lineStart + 1 }
    return { value: undefined, positionOf: () => at, errors: [{ message: `nested deeper than ${FLOW_GUARD} brackets`, ...at }] }
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
  return { value, positionOf, errors }
}

export function stringifyYaml(value: unknown): string {
  return stringify(value)
}
