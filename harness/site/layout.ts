/**
 * The page shell: inline stylesheet, navigation, and a Content-Security-Policy
 * that allows only the page's own inline script (by hash), so even markup
 * that slipped past escaping could not run. Pure: data in, HTML out.
 */
import { createHash } from 'node:crypto'
import { html, trusted } from './escape.js'
import type { SafeHtml } from './escape.js'
import { ATLAS_PAGE, CLAIMS_PAGE, INDEX_PAGE, KERNELS_PAGE, matrixPage } from './site-paths.js'
import { STYLESHEET } from './style.js'

export interface PageOptions {
  title: string
  /** '' for pages at the site root, '../' for pages in a sub-folder. */
  root: string
  body: SafeHtml
  generatedAt: string
  /** Trusted inline script written by the kit (never data). */
  script?: string
}

function csp(script: string | undefined): string {
  const scriptSrc = script ? `'sha256-${createHash('sha256').update(script).digest('base64')}'` : "'none'"
  return `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src ${scriptSrc}; base-uri 'none'; form-action 'none'`
}

export function renderPage(opts: PageOptions): string {
  const r = opts.root
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp(opts.script)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · sockspec</title>
<style>${trusted(STYLESHEET)}</style>
</head>
<body>
<header class="site"><strong>sockspec</strong>
<nav><a href="${r}${INDEX_PAGE}">Runs</a><a href="${r}${matrixPage(1)}">Matrix</a><a href="${r}${KERNELS_PAGE}">Kernels</a><a href="${r}${ATLAS_PAGE}">Atlas</a><a href="${r}${CLAIMS_PAGE}">Claims</a></nav>
<span class="muted">generated ${opts.generatedAt}</span></header>
<main>
${opts.body}
</main>
${opts.script ? trusted(`<script>${opts.script}</script>`) : ''}
</body>
</html>
`
  return page.value
}
