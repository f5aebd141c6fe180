// Markdown for $GITHUB_STEP_SUMMARY, so a run's page shows what happened
// without downloading an artifact. Node built-ins only (it runs before and
// apart from the kit's build). Every text from a store or a scenario file is
// escaped: a scenario title must not become a link, an image or a table row.
//
//   node step-summary.mjs junit LEG junit-LEG.xml     one leg's results (failures, errors, skips by reason)
//   node step-summary.mjs compare TITLE compare.json  a comparison: totals, regressions, differences
//   node step-summary.mjs runs TITLE < runs.tsv       `sockspec runs` lines as a table (the qemu matrix)
import { readFileSync } from 'node:fs'

const MAX_ROWS = 50

/** One table cell or line of text: no markup, no HTML, no line break. */
export function md(text) {
  return String(text)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\\`*_[\]<>|#!~&]/g, c => `&#${c.charCodeAt(0)};`)
    .slice(0, 300)
}

function xmlText(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&')
}

function attributes(tag) {
  return Object.fromEntries([...tag.matchAll(/([\w:-]+)="([^"]*)"/g)].map(m => [m[1], xmlText(m[2])]))
}

/** Test cases of a JUnit file: name, suite, outcome, message. Tolerant of attributes and elements it does not know. */
export function junitCases(xml) {
  const cases = []
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = attributes(m[1])
    const outcome = /<(failure|error|skipped)\b([^>]*)/.exec(m[3] ?? '')
    cases.push({
      suite: attrs.classname ?? '',
      // sockspec's JUnit names a case inside its pack (classname): show both
      name: attrs.classname && attrs.name && !attrs.name.includes('/') ? `${attrs.classname}/${attrs.name}` : (attrs.name ?? ''),
      outcome: outcome ? outcome[1] : 'pass',
      message: outcome ? (attributes(outcome[2]).message ?? '') : '',
    })
  }
  return cases
}

function table(header, rows) {
  if (!rows.length) return []
  const shown = rows.slice(0, MAX_ROWS)
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- |').join('')}`, ...shown.map(r => `| ${r.join(' | ')} |`)]
  if (rows.length > shown.length) lines.push('', `... and ${rows.length - shown.length} more (see the artifact)`)
  return [...lines, '']
}

export function junitSummary(leg, xml) {
  const cases = junitCases(xml)
  const count = o => cases.filter(c => c.outcome === o).length
  const out = [
    `### sockspec on ${md(leg)}`,
    '',
    `${count('pass')} pass, ${count('failure')} fail, ${count('error')} error, ${count('skipped')} skip`,
    '',
  ]
  const bad = cases.filter(c => c.outcome === 'failure' || c.outcome === 'error')
  out.push(
    ...table(
      ['result', 'scenario', 'message'],
      bad.map(c => [c.outcome === 'failure' ? 'FAIL' : 'ERROR', md(c.name), md(c.message)]),
    ),
  )
  const reasons = new Map()
  for (const c of cases.filter(c => c.outcome === 'skipped')) reasons.set(c.message, (reasons.get(c.message) ?? 0) + 1)
  out.push(
    ...table(
      ['skipped', 'reason'],
      [...reasons].sort((a, b) => b[1] - a[1]).map(([why, n]) => [String(n), md(why)]),
    ),
  )
  return out.join('\n') + '\n'
}

function side(s) {
  return s ? `${s.verdict}${s.flaky ? ' (flaky)' : ''}` : '-'
}

export function compareSummary(title, doc) {
  const out = [`### ${md(title)}`, '']
  if (doc.baseline)
    out.push(`baseline: run ${md(doc.baseline.uuid)}, kernel ${md(doc.baseline.kernelRelease)} on ${md(doc.baseline.host)}`, '')
  const labels = Object.keys(doc.totals)
  out.push(...table(labels, [labels.map(l => String(doc.totals[l]))]))
  const pairs = doc.comparisons.flatMap(c => c.pairs.map(p => ({ ...p, runs: `${c.a.kernelRelease} → ${c.b.kernelRelease}` })))
  const regressions = pairs.filter(p => p.label === 'regression')
  if (regressions.length) out.push('#### Regressions', '')
  out.push(
    ...table(
      ['scenario', 'kernels', 'verdicts', 'message'],
      regressions.map(p => [md(`${p.scenario} [${p.variant}]`), md(p.runs), `${side(p.a)} → ${side(p.b)}`, md(p.b?.message ?? '')]),
    ),
  )
  const differing = pairs.filter(p => p.label === 'differs' || p.label === 'fixed' || p.label === 'error')
  if (differing.length) out.push('#### Differences', '')
  out.push(
    ...table(
      ['scenario', 'label', 'kernels', 'first difference'],
      differing.map(p => {
        const d = p.firstDifference
        const where = d
          ? `${d.actor ?? ''} #${d.position}: ${d.a?.text ?? '(nothing)'} / ${d.b?.text ?? '(nothing)'}`
          : `${side(p.a)} → ${side(p.b)}`
        return [md(`${p.scenario} [${p.variant}]`), p.label, md(p.runs), md(where)]
      }),
    ),
  )
  if (!regressions.length && !differing.length) out.push('no regression, no difference', '')
  return out.join('\n') + '\n'
}

export function runsSummary(title, tsv) {
  const rows = tsv
    .split('\n')
    .filter(Boolean)
    .map(l => l.split('\t'))
    .map(f => [md(f[4] ?? ''), md(f[5] ?? ''), md(f[6] ?? ''), md(f[1] ?? '')])
  return [`### ${md(title)}`, '', ...table(['kernel', 'status', 'results', 'run'], rows)].join('\n') + '\n'
}

const [mode, title, file] = process.argv.slice(2)
if (mode === 'junit') process.stdout.write(junitSummary(title, readFileSync(file, 'utf8')))
else if (mode === 'compare') process.stdout.write(compareSummary(title, JSON.parse(readFileSync(file, 'utf8'))))
else if (mode === 'runs') process.stdout.write(runsSummary(title, readFileSync(0, 'utf8')))
else {
  process.stderr.write('usage: step-summary.mjs junit LEG FILE | compare TITLE FILE | runs TITLE < TSV\n')
  process.exitCode = 2
}
