/**
 * How wide the terminal is, and text folded to fit it. A line longer than the
 * terminal wraps to its left edge, which tears a lane layout apart, so every
 * line the kit lays out is folded here instead. Pure apart from the defaults.
 */

/** Width when nothing says otherwise (a pipe, a file, a CI log). */
export const DEFAULT_COLUMNS = 100

/** The stream's own width on a TTY, else `COLUMNS`, else 100. */
export function terminalColumns(
  stream: { isTTY?: boolean; columns?: number } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): number {
  if (stream.isTTY && stream.columns && stream.columns > 0) return stream.columns
  const columns = Number(env['COLUMNS'])
  return Number.isInteger(columns) && columns > 0 ? columns : DEFAULT_COLUMNS
}

/** Columns a text takes: one per code point (the kit's own output is box-drawing and ASCII; CJK in a store would count one). */
export function textWidth(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/** At most `width` columns of `text`, cut on code points (never half a surrogate pair). */
function take(chars: string[], width: number): string {
  return chars.slice(0, width).join('')
}

/**
 * One line folded into lines of at most `width` columns, broken at a space
 * where there is one, else mid-word; continuation lines start with
 * `indent` (counted in the width). Nothing is dropped: joined again (without
 * the indents) the pieces give the text back, up to the spaces at the breaks.
 */
export function wrapLine(text: string, width: number, indent = ''): string[] {
  const first = Math.max(1, width)
  const rest = Math.max(1, width - textWidth(indent))
  const lines: string[] = []
  let chars = [...text]
  let room = first
  while (chars.length > room) {
    // break at the last space that fits; a word longer than the room is cut
    let cut = -1
    for (let i = room; i > 0; i--)
      if (chars[i] === ' ') {
        cut = i
        break
      }
    const piece = cut > 0 ? take(chars, cut) : take(chars, room)
    lines.push((lines.length ? indent : '') + piece.trimEnd())
    chars = chars.slice(cut > 0 ? cut + 1 : room)
    room = rest
  }
  lines.push((lines.length ? indent : '') + chars.join(''))
  return lines
}

/** Every line of a multi-line text folded to `width` (continuations indented two spaces). */
export function fitText(text: string, width: number): string {
  const ended = text.endsWith('\n')
  const body = ended ? text.slice(0, -1) : text
  const out = body.split('\n').flatMap(line => (textWidth(line) <= width ? [line] : wrapLine(line, width, '  ')))
  return out.join('\n') + (ended ? '\n' : '')
}
