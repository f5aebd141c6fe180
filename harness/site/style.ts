/** The site's one stylesheet, inlined into every page (no external files). */
import { CLAIM_COLOUR, DIFF_COLOUR, DIFF_LABELS, LABEL_COLOUR, VERDICT_COLOUR } from './palette.js'

export const STYLESHEET = `
:root { --pass: ${VERDICT_COLOUR.pass}; --fail: ${VERDICT_COLOUR.fail}; --error: ${VERDICT_COLOUR.error}; --skip: ${VERDICT_COLOUR.skip};
  --holds: ${CLAIM_COLOUR.holds}; --refuted: ${CLAIM_COLOUR.refuted}; --diff: ${DIFF_COLOUR}; --ink: #1a1a1a; --muted: #666; --rule: #d0d0d0; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); margin: 0; background: #fff; }
header.site { display: flex; gap: 1.2em; align-items: baseline; padding: .6em 1.2em; border-bottom: 1px solid var(--rule); background: #f6f6f4; }
header.site strong { font-size: 1.05em; }
header.site nav a { margin-right: 1em; }
main { padding: 1em 1.2em 3em; }
h1 { font-size: 1.35em; margin: .2em 0 .4em; overflow-wrap: anywhere; }
h2 { font-size: 1.12em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--rule); padding-bottom: .2em; }
h3 { font-size: 1em; margin: 1.2em 0 .4em; }
a { color: #0060a0; }
code, pre, .mono { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 12.5px; }
pre { background: #f6f6f4; border: 1px solid var(--rule); padding: .6em .8em; overflow: auto; max-height: 30em; white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
table { border-collapse: collapse; }
table.list th, table.list td { border-bottom: 1px solid var(--rule); padding: .25em .6em; text-align: left; vertical-align: top; }
table.list th { background: #f6f6f4; font-weight: 600; }
table.list td.num, table.list th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; min-width: 1.6em; padding: 0 .35em; border-radius: 3px; text-align: center; font-weight: 700; color: #000; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); } .v-error { background: var(--error); } .v-skip { background: var(--skip); }
.c-holds { background: var(--holds); } .c-refuted { background: var(--refuted); } .c-none { background: var(--skip); }
.legend span { margin-right: 1em; white-space: nowrap; }
.pager { margin: .6em 0; } .pager a, .pager strong { margin-right: .5em; }
/* matrix */
.matrix-wrap { overflow: auto; max-height: 80vh; border: 1px solid var(--rule); }
table.matrix { font-size: 12px; }
table.matrix th, table.matrix td { border: 1px solid #fff; padding: 0; }
table.matrix thead th { position: sticky; top: 0; background: #f6f6f4; z-index: 2; vertical-align: bottom; font-weight: 500; }
table.matrix thead th.col { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; padding: .4em .1em; text-align: left; }
table.matrix th.row { position: sticky; left: 0; background: #fff; z-index: 1; text-align: left; padding: 0 .6em 0 .3em; white-space: nowrap; font-weight: 400; max-width: 34em; overflow: hidden; text-overflow: ellipsis; }
table.matrix thead th.row { z-index: 3; background: #f6f6f4; }
table.matrix tr.pack th { text-align: left; background: #ececea; padding: .25em .4em; font-weight: 600; position: sticky; left: 0; }
table.matrix td.cell { width: 1.7em; min-width: 1.7em; height: 1.6em; text-align: center; font-weight: 700; }
table.matrix td.cell a { color: #000; text-decoration: none; display: block; line-height: 1.6em; }
table.matrix td.empty { background: #fafafa; }
table.matrix td.counts, table.matrix tfoot td { font-size: 11px; color: #333; padding: 0 .4em; white-space: nowrap; text-align: left; font-variant-numeric: tabular-nums; }
table.matrix tfoot td.colcount { writing-mode: vertical-rl; transform: rotate(180deg); padding: .3em 0; text-align: left; }
table.matrix tfoot th { text-align: right; padding: 0 .6em; font-weight: 500; position: sticky; left: 0; background: #fff; }
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
.trace-card { flex: 0 0 auto; border: 1px solid var(--rule); border-radius: 4px; padding: .5em .6em; background: #fff; }
.trace-card.diff-none { }
.trace-card header { margin-bottom: .3em; font-size: 13px; }
.trace-card .msg { font-size: 12px; color: #333; max-width: 60em; overflow-wrap: anywhere; }
/* timeline svg */
svg.timeline { display: block; font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 11px; }
svg.timeline .lane-bg { fill: #fafaf8; }
svg.timeline .wire-bg { fill: #f1f4f8; }
svg.timeline .lane-title { font-family: system-ui, sans-serif; font-size: 12px; font-weight: 600; fill: #333; }
svg.timeline .axis { stroke: #c8c8c8; stroke-width: 1; }
svg.timeline .time { fill: #777; font-size: 10px; }
svg.timeline .ev rect { fill: #fff; stroke: #b5b5b5; }
svg.timeline .ev.err rect { stroke: #8a8a8a; }
svg.timeline .ev.err .ret { fill: #8b3a00; font-weight: 700; }
svg.timeline .ev .mask { fill: #0050a0; font-weight: 700; }
svg.timeline .ev .dur { fill: #777; }
svg.timeline .ev.differs rect { fill: var(--diff); stroke: #8a7d00; }
svg.timeline .ev.failed rect { stroke: var(--fail); stroke-width: 2.5; }
svg.timeline .ev.refuted rect { stroke: var(--refuted); stroke-width: 2.5; stroke-dasharray: 4 2; }
svg.timeline .mark-pass { fill: #007a5a; font-weight: 700; }
svg.timeline .mark-fail { fill: var(--fail); font-weight: 700; }
svg.timeline .note-fail { fill: #9a3b00; font-family: system-ui, sans-serif; font-size: 11px; }
svg.timeline .packet line { stroke: #0072B2; stroke-width: 1.5; }
svg.timeline .packet polygon { fill: #0072B2; }
svg.timeline .packet text { fill: #0072B2; font-size: 10px; }
svg.timeline .nowire { fill: #9aa; font-size: 10px; font-style: italic; font-family: system-ui, sans-serif; }
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
blockquote { margin: .4em 0; padding: .3em .8em; border-left: 3px solid var(--rule); color: #333; background: #fafaf8; }
`
