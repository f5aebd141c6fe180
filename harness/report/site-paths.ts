/**
 * Where each page of the report lives, relative to the site root. Pages in
 * sub-folders link back with a `root` prefix ('' or '../'), so the site
 * works from file:// and can be moved as a whole.
 */

export const INDEX_PAGE = 'index.html'
export const KERNELS_PAGE = 'kernels.html'
export const CLAIMS_PAGE = 'claims.html'

/** Page 1 holds the newest runs. */
export function matrixPage(page: number): string {
  return page <= 1 ? 'matrix.html' : `matrix-${page}.html`
}

/** A file-name-safe, collision-free form of a scenario id. */
export function scenarioSlug(id: string): string {
  return id.replace(/[^a-z0-9_-]/g, c => (c === '/' ? '--' : `_${c.codePointAt(0)!.toString(16)}_`))
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
