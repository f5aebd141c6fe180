/**
 * Text from scenario files, stores and probes on its way to a terminal.
 * A terminal obeys control sequences in whatever it prints: an ESC from a
 * hostile bundle could clear the screen or set the window title, a CR or a
 * newline could forge a line, and bidi overrides reorder what the reader
 * sees (Trojan Source, CVE-2021-42574). Every such character is shown as
 * a visible escape instead; ordinary text, Unicode included, is unchanged.
 */

/** C0 controls, DEL, C1 controls, and the bidi embeddings/overrides/isolates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
/** The same, but newline and tab stay: for multi-line texts such as stderr. */
const UNSAFE_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

function visible(c: string): string {
  const code = c.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/** One-line text: every control character (newline and tab too) escaped. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, visible)
}

/** Multi-line text: newlines and tabs kept, every other control escaped. */
export function terminalLines(text: string): string {
  return text.replace(UNSAFE_KEEP_LINES, visible)
}
