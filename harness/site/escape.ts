/**
 * HTML built only through the `html` tag: every interpolated value is
 * escaped unless it is already SafeHtml, so text from a scenario file or a
 * trace (titles, notes, stderr, received data) can never become markup.
 */

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/**
 * Characters no page should carry from untrusted text: NUL and the other C0
 * controls but tab, newline and CR (parse errors in HTML), and the bidi
 * embeddings, overrides and isolates, which reorder what a reader sees
 * around them (Trojan Source, CVE-2021-42574).
 */
const UNSHOWABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202a-\u202e\u2066-\u2069]/g

/** Escape for element content and quoted attribute values alike; every interpolation passes here. */
export function escapeHtml(text: string): string {
  return text.replace(UNSHOWABLE, '').replace(/[&<>"']/g, c => ENTITIES[c]!)
}

function fragment(value: unknown): string {
  if (value instanceof SafeHtml) return value.value
  if (value === undefined || value === null || value === false) return ''
  if (Array.isArray(value)) return value.map(fragment).join('')
  return escapeHtml(String(value))
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) out += fragment(values[i]) + (strings[i + 1] ?? '')
  return new SafeHtml(out)
}

/** Trusted markup written by the kit itself (CSS, the filter script). Never for data. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup)
}

export function joinHtml(parts: readonly SafeHtml[], separator = ''): SafeHtml {
  return new SafeHtml(parts.map(p => p.value).join(separator))
}
