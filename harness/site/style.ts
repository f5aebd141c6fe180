/** The site's one stylesheet, inlined into every page (no external files). */
import { CLAIM_COLOUR, DARK_UI, DIFF_COLOUR, DIFF_LABELS, LABEL_COLOUR, LIGHT_UI, VERDICT_COLOUR } from './palette.js'
import type { UiColours } from './palette.js'

function uiVariables(c: UiColours): string {
  return Object.entries(c)
    .map(([k, v]) => `--${k.replace(/[A-Z]/g, m => `-${m.toLowerCase()}`)}: ${v};`)
    .join(' ')
}

export const STYLESHEET = `
:root { --pass: ${VERDICT_COLOUR.pass}; --fail: ${VERDICT_COLOUR.fail}; --error: ${VERDICT_COLOUR.error}; --skip: ${VERDICT_COLOUR.skip};
  --holds: ${CLAIM_COLOUR.holds}; --refuted: ${CLAIM_COLOUR.refuted}; --diff: ${DIFF_COLOUR}; ${uiVariables(LIGHT_UI)} color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { ${uiVariables(DARK_UI)} } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); margin: 0; background: var(--bg); }
header.site { display: flex; gap: 1.2em; align-items: baseline; padding: .6em 1.2em; border-bottom: 1px solid var(--rule); background: var(--bg-alt); }
header.site strong { font-size: 1.05em; }
header.site nav a { margin-right: 1em; }
main { padding: 1em 1.2em 3em; }
h1 { font-size: 1.35em; margin: .2em 0 .4em; overflow-wrap: anywhere; }
h2 { font-size: 1.12em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--rule); padding-bottom: .2em; }
h3 { font-size: 1em; margin: 1.2em 0 .4em; }
a { color: var(--link); }
code, pre, .mono { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 12.5px; }
pre { background: var(--bg-alt); border: 1px solid var(--rule); padding: .6em .8em; overflow: auto; max-height: 30em; white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
table { border-collapse: collapse; }
table.list th, table.list td { border-bottom: 1px solid var(--rule); padding: .25em .6em; text-align: left; vertical-align: top; }
table.list th { background: var(--bg-alt); font-weight: 600; }
table.list td.num, table.list th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; min-width: 1.6em; padding: 0 .35em; border-radius: 3px; text-align: center; font-weight: 700; color: #000; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); } .v-error { background: var(--error); } .v-skip { background: var(--skip); }
.c-holds { background: var(--holds); } .c-refuted { background: var(--refuted); } .c-none { background: var(--skip); }
.legend span { margin-right: 1em; white-space: nowrap; }
.pager { margin: .6em 0; } .pager a, .pager strong { margin-right: .5em; }
/* matrix */
.matrix-wrap { overflow: auto; max-height: 80vh; border: 1px solid var(--rule); }
table.matrix { font-size: 12px; }
table.matrix th, table.matrix td { border: 1px solid var(--bg); padding: 0; }
table.matrix thead th { position: sticky; top: 0; background: var(--bg-alt); z-index: 2; vertical-align: bottom; font-weight: 500; }
table.matrix thead th.col { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; padding: .4em .1em; text-align: left; }
table.matrix th.row { position: sticky; left: 0; background: var(--bg); z-index: 1; text-align: left; padding: 0 .6em 0 .3em; white-space: nowrap; font-weight: 400; max-width: 34em; overflow: hidden; text-overflow: ellipsis; }
table.matrix thead th.row { z-index: 3; background: var(--bg-alt); }
table.matrix tr.pack th { text-align: left; background: var(--bg-pack); padding: .25em .4em; font-weight: 600; position: sticky; left: 0; }
table.matrix td.cell { width: 1.7em; min-width: 1.7em; height: 1.6em; text-align: center; font-weight: 700; }
table.matrix td.cell a { color: #000; text-decoration: none; display: block; line-height: 1.6em; }
table.matrix td.empty { background: var(--bg-empty); }
table.matrix td.counts, table.matrix tfoot td { font-size: 11px; color: var(--ink-soft); padding: 0 .4em; white-space: nowrap; text-align: left; font-variant-numeric: tabular-nums; }
table.matrix tfoot td.colcount { writing-mode: vertical-rl; transform: rotate(180deg); padding: .3em 0; text-align: left; }
table.matrix tfoot th { text-align: right; padding: 0 .6em; font-weight: 500; position: sticky; left: 0; background: var(--bg); }
td.dim { opacity: .18; }
.filters { margin: .6em 0; display: flex; gap: 1.2em; align-items: center; flex-wrap: wrap; }
/* scenario page */
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: .4em 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table.steps td, table.steps th { font-size: 13px; }
table.steps td.expect { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 12px; }
.history { display: flex; flex-wrap: wrap; gap: 2px; margin: .4em 0; }
.history a, .history span { display: inline-block; width: 1.4em; text-align: center; color: #000; text-decoration: none; font-weight: 700; font-size: 12px; border-radius: 2px; }
.side-by-side { display: flex; gap: 1em; overflow-x: auto; padding-bottom: .6em; align-items: flex-start; }
.trace-card { flex: 0 0 auto; border: 1px solid var(--rule); border-radius: 4px; padding: .5em .6em; background: var(--bg); }
.trace-card.diff-none { }
.trace-card header { margin-bottom: .3em; font-size: 13px; }
.trace-card .msg { font-size: 12px; color: var(--ink-soft); max-width: 60em; overflow-wrap: anywhere; }
/* timeline svg */
svg.timeline { display: block; font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 11px; }
svg.timeline text { fill: var(--ink); }
svg.timeline .lane-bg { fill: var(--lane); }
svg.timeline .wire-bg { fill: var(--wire); }
svg.timeline .lane-title { font-family: system-ui, sans-serif; font-size: 12px; font-weight: 600; fill: var(--ink-soft); }
svg.timeline .axis { stroke: var(--axis); stroke-width: 1; }
svg.timeline .time { fill: var(--muted); font-size: 10px; }
svg.timeline .ev rect { fill: var(--bg); stroke: var(--ev-stroke); }
svg.timeline .ev.err rect { stroke: var(--muted); }
svg.timeline .ev.err .ret { fill: var(--err-text); font-weight: 700; }
svg.timeline .ev .mask { fill: var(--mask-text); font-weight: 700; }
svg.timeline .ev .dur { fill: var(--muted); }
svg.timeline .ev.differs rect { fill: var(--diff); stroke: #8a7d00; }
/* on the diff yellow, text stays dark in either scheme */
svg.timeline .ev.differs text { fill: #000; }
svg.timeline .ev.failed rect { stroke: var(--fail); stroke-width: 2.5; }
svg.timeline .ev.refuted rect { stroke: var(--refuted); stroke-width: 2.5; stroke-dasharray: 4 2; }
svg.timeline .mark-pass { fill: var(--mark-pass); font-weight: 700; }
svg.timeline .mark-fail { fill: var(--fail); font-weight: 700; }
svg.timeline .note-fail { fill: var(--note-fail); font-family: system-ui, sans-serif; font-size: 11px; }
svg.timeline .packet line { stroke: var(--packet); stroke-width: 1.5; }
svg.timeline .packet polygon { fill: var(--packet); }
svg.timeline .packet text { fill: var(--packet); font-size: 10px; }
svg.timeline .nowire { fill: var(--muted); font-size: 10px; font-style: italic; font-family: system-ui, sans-serif; }
.kbd-legend .sw { display: inline-block; width: 1.1em; height: .9em; vertical-align: -1px; border: 1px solid #888; margin-right: .3em; }
.claim-card { border-left: 4px solid var(--rule); padding: .2em 0 .2em 1em; margin: 1.4em 0; }
/* diff pages */
${DIFF_LABELS.map(l => `.l-${l} { background: ${LABEL_COLOUR[l]}; }`).join(' ')}
ul.label-counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4em 1.4em; }
ul.label-counts li[data-count="0"] { opacity: .45; }
table.diff-runs th { text-align: left; }
.pair-detail { border-top: 1px solid var(--rule); margin-top: 1.4em; }
.pair-title { overflow-wrap: anywhere; }
table.diff-fields td, table.diff-fields th { font-size: 12.5px; }
table.diff-fields tr.changed td, table.diff-fields tr.changed th { background: var(--diff); font-weight: 700; }
code.changed-path { background: var(--diff); padding: 0 .2em; }
.diff-links a { margin-right: .6em; white-space: nowrap; }
table.matrix thead th.col a.diff { font-size: 10px; margin-top: .3em; }
blockquote { margin: .4em 0; padding: .3em .8em; border-left: 3px solid var(--rule); color: var(--ink-soft); background: var(--lane); }
table.diff-fields tr.changed td, table.diff-fields tr.changed th, code.changed-path { color: #000; }
/* skip reasons */
ul.skip-reasons { padding-left: 1.2em; } ul.skip-reasons li { margin: .3em 0; } .skip-rows { font-size: 12px; overflow-wrap: anywhere; }
.skip-note { font-size: 12px; }
/* atlas */
.atlas-wrap { overflow: auto; max-height: 85vh; border: 1px solid var(--rule); }
table.atlas { font-size: 12px; }
table.atlas th, table.atlas td { border: 1px solid var(--rule); padding: .3em .45em; vertical-align: top; text-align: left; }
table.atlas thead th { position: sticky; top: 0; background: var(--bg-alt); z-index: 2; font-weight: 500; white-space: nowrap; }
table.atlas th.row { position: sticky; left: 0; background: var(--bg); z-index: 1; font-weight: 400; min-width: 16em; max-width: 24em; overflow-wrap: anywhere; }
table.atlas thead th.row { z-index: 3; background: var(--bg-alt); }
table.atlas tr.pack th { background: var(--bg-pack); font-weight: 600; position: sticky; left: 0; }
table.atlas td.atlas-cell { min-width: 14em; max-width: 26em; overflow-wrap: anywhere; }
table.atlas td.atlas-cell.changed { box-shadow: inset 4px 0 0 var(--diff); }
table.atlas td.no-answer .reason { color: var(--muted); }
table.atlas td.dim { opacity: 1; }
.atlas-title { color: var(--ink-soft); margin: .15em 0; }
ul.facets, ul.changes, ul.atlas-sources { list-style: none; margin: .2em 0 0; padding: 0; }
ul.facets li { padding: 0 .2em; font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 11.5px; }
ul.facets li.changed, .facet-sample.changed { background: var(--diff); color: #000; }
ul.facets li.changed .muted { color: #333; }
.change-mark { display: inline-block; background: var(--diff); color: #000; font-weight: 700; padding: 0 .3em; border-radius: 3px; }
.change-expected, .change-unexpected, .change-sysctl { margin: .1em 0 .2em 1.2em; }
.change-unexpected .tag, .change-sysctl .tag { font-weight: 700; }
ul.changes li { margin-top: .2em; }
ul.atlas-sources li, div.atlas-sources { color: var(--muted); font-size: 11.5px; margin-top: .15em; }
/* claims summary */
table.claim-summary td, table.claim-summary th { font-size: 13px; }
table.claim-summary td.statement { max-width: 40em; }
`
