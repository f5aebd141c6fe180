/**
 * Whether to colour a stream's output. Node 20's util.styleText does not look
 * at NO_COLOR or FORCE_COLOR, and chalk/picocolors are not dependencies of the
 * kit, so the conventions are read here: FORCE_COLOR (any value but 0/false)
 * colours even a pipe and wins over NO_COLOR, as in Node itself; NO_COLOR
 * (https://no-color.org, any non-empty value) and NODE_DISABLE_COLORS turn
 * colour off; otherwise a TTY whose TERM is not `dumb` gets colour.
 */

export function colourEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env['FORCE_COLOR']
  if (force !== undefined) return !['0', 'false'].includes(force.toLowerCase())
  if (env['NO_COLOR']) return false
  if (env['NODE_DISABLE_COLORS']) return false
  return Boolean(stream.isTTY) && env['TERM'] !== 'dumb'
}

export type Paint = (sgr: number, text: string) => string

/** A painter for SGR codes (31 red, 32 green ...) that leaves text bare when colour is off. */
export function painter(enabled: boolean): Paint {
  return (sgr, text) => (enabled ? `\x1b[${sgr}m${text}\x1b[0m` : text)
}
