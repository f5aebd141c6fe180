/**
 * Where each page of the report lives, relative to the site root. Pages in
 * sub-folders link back with a `root` prefix ('' or '../'), so the site
 * works from file:// and can be moved as a whole.
 */
import { createHash } from 'node:crypto'

export const INDEX_PAGE = 'index.html'
export const KERNELS_PAGE = 'kernels.html'
export const CLAIMS_PAGE = 'claims.html'
export const ATLAS_PAGE = 'atlas.html'

/** Page 1 holds the newest runs. */
export function matrixPage(page: number): string {
  return page <= 1 ? 'matrix.html' : `matrix-${page}.html`
}

/** Longest id kept readable in a file name (file names stop at 255 bytes). */
const PLAIN_MAX = 100

/**
 * A file-name-safe form of a scenario id, one page per id: `pack/name`
 * becomes `pack--name`. The mapping must be injective, or two scenarios share
 * a page. An id whose readable form does not decode back to it (characters
 * outside a-z0-9_-, a `--` or `/-` that reads ambiguously, upper case on a
 * case-insensitive file system, a very long id) gets a readable stem plus
 * `~` and a hash of the whole id; `~` never occurs in a readable slug.
 */
export function scenarioSlug(id: string): string {
  const readable = id.replaceAll('/', '--')
  if (/^[a-z0-9][a-z0-9/_-]*$/.test(id) && id.length <= PLAIN_MAX && readable.replaceAll('--', '/') === id) return readable
  const stem = id
    .toLowerCase()
    .replaceAll('/', '--')
    .replace(/[^a-z0-9_-]+/g, '_')
    .slice(0, 60)
  return `${stem}~${createHash('sha256').update(id).digest('hex').slice(0, 12)}`
}

export function scenarioPage(id: string): string {
  return `scenarios/${scenarioSlug(id)}.html`
}

export function tracePage(resultId: number): string {
  return `traces/${resultId}.html`
}

export function resultAnchor(resultId: number): string {
  return `r${resultId}`
}

/** `diff/<runA-uuid8>-<runB-uuid8>.html`; the ids come from runSlugs (uuid prefixes, longer where 8 characters collide). */
export function diffPage(slugA: string, slugB: string): string {
  return `diff/${slugA}-${slugB}.html`
}
