/**
 * A strict JSON syntax checker that says where the first error is. V8's
 * JSON.parse gives an offset for some errors only ("Unexpected token" has
 * none), so this scanner finds the offset itself. It accepts exactly what
 * JSON.parse accepts (RFC 8259: no comments, no trailing commas, no leading
 * zeros, no BOM, no raw control characters in strings, lone surrogates
 * allowed), plus one limit of its own: a nesting depth. Iterative, so a
 * deeply nested text cannot exhaust the stack. Pure.
 */

export interface JsonSyntaxError {
  /** UTF-16 offset of the offending character (text.length at an unexpected end). */
  offset: number
  message: string
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r'])
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't'])
const HEX = /^[0-9a-fA-F]$/
const DIGIT = /^[0-9]$/

function describeChar(c: string | undefined): string {
  return c === undefined ? 'end of input' : `character ${JSON.stringify(c)}`
}

class Fail {
  constructor(readonly error: JsonSyntaxError) {}
}

/** The first syntax error of `text` as JSON, or null when JSON.parse would accept it. */
export function findJsonSyntaxError(text: string, maxDepth: number): JsonSyntaxError | null {
  let i = 0
  const fail = (message: string, at = i): never => {
    throw new Fail({ offset: at, message })
  }
  const unexpected = (what?: string): never => fail(`unexpected ${describeChar(text[i])}${what ? `, expected ${what}` : ''}`)
  const skipWhitespace = (): void => {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++
  }
  const string = (): void => {
    i++ // the opening quote
    for (;;) {
      const c = text[i]
      if (c === undefined) fail('unterminated string')
      if (c === '"') {
        i++
        return
      }
      if (c!.charCodeAt(0) < 0x20) fail(`control character ${JSON.stringify(c)} in a string (escape it)`)
      if (c === '\\') {
        const e = text[i + 1]
        if (e === 'u') {
          for (let k = 2; k < 6; k++) if (!HEX.test(text[i + k] ?? '')) fail('bad \\u escape: four hex digits expected', i + k)
          i += 6
        } else if (e !== undefined && SIMPLE_ESCAPES.has(e)) i += 2
        else fail(`bad escape ${JSON.stringify(`\\${e ?? ''}`)}`, i + 1)
      } else i++
    }
  }
  const digits = (what: string): void => {
    if (!DIGIT.test(text[i] ?? '')) unexpected(what)
    while (DIGIT.test(text[i] ?? '')) i++
  }
  const number = (): void => {
    if (text[i] === '-') i++
    if (text[i] === '0') {
      i++
      if (DIGIT.test(text[i] ?? '')) fail('leading zero in a number')
    } else digits('a digit')
    if (text[i] === '.') {
      i++
      digits('a digit after the decimal point')
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++
      if (text[i] === '+' || text[i] === '-') i++
      digits('a digit in the exponent')
    }
  }
  const literal = (word: string): void => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) unexpected(`'${word}'`)
  }

  // Containers still open: '{' or '['. `afterValue` says a value just ended.
  const open: string[] = []
  try {
    skipWhitespace()
    for (;;) {
      // a value is expected here
      const c = text[i]
      let afterValue = true
      if (c === '{' || c === '[') {
        if (open.length >= maxDepth) fail(`nested deeper than ${maxDepth} levels`)
        open.push(c)
        i++
        skipWhitespace()
        if (text[i] === (c === '{' ? '}' : ']')) {
          open.pop()
          i++
        } else if (c === '{') {
          afterValue = false
        } else continue
      } else if (c === '"') string()
      else if (c === '-' || DIGIT.test(c ?? '')) number()
      else if (c === 't') literal('true')
      else if (c === 'f') literal('false')
      else if (c === 'n') literal('null')
      else unexpected('a value')

      // after a value (or right after '{' of a non-empty object): separators and closers
      for (;;) {
        skipWhitespace()
        const top = open[open.length - 1]
        if (top === undefined) {
          if (i < text.length) unexpected('the end of the document')
          return null
        }
        if (afterValue) {
          const close = top === '{' ? '}' : ']'
          if (text[i] === close) {
            open.pop()
            i++
            continue
          }
          if (text[i] !== ',') unexpected(`',' or '${close}'`)
          i++
          skipWhitespace()
        }
        if (top === '{') {
          // a member: "key" ':' value
          if (text[i] !== '"') unexpected('a quoted property name')
          string()
          skipWhitespace()
          if (text[i] !== ':') unexpected(`':' after the property name`)
          i++
          skipWhitespace()
        }
        break
      }
    }
  } catch (err) {
    if (err instanceof Fail) return err.error
    throw err
  }
}
