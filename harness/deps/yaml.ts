/**
 * Adapter for the `yaml` package (v2). Scenario files are parsed with it even
 * when they are JSON: the CST keeps source ranges, so schema errors can point
 * at file:line:col.
 */
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, stringify } from 'yaml'
import type { Document, Node } from 'yaml'

export interface ParsedDocument {
  value: unknown
  /** 1-based line/col of the node at a JSON pointer-ish path, or the closest parent. */
  positionOf(path: ReadonlyArray<string | number>, key?: boolean): { line: number; col: number }
  errors: Array<{ message: string; line: number; col: number }>
}

export function parseWithPositions(text: string): ParsedDocument {
  const lineCounter = new LineCounter()
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  const errors = doc.errors.map(e => {
    const lp = lineCounter.linePos(e.pos[0])
    return { message: e.message.split('\n')[0] ?? e.message, line: lp.line, col: lp.col }
  })
  const value: unknown = errors.length ? undefined : doc.toJS({ maxAliasCount: 100 })
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
