/**
 * JUnit XML, valid against the schema Jenkins' xunit plugin checks
 * (junit-10.xsd, test/fixtures/formats/): one testsuite per pack carrying the
 * run's host, start time and kernel (hostname, timestamp and properties are
 * allowed on testsuite only); per testcase the failure with its checks, the
 * error with the probes' stderr, the skip reason, and the timeline in
 * system-out. Flavour `gitlab` adds `file` on testcase, which GitLab reads
 * to link a failure to its scenario file; junit-10.xsd does not allow that
 * attribute there, so that flavour is not valid against it, by design.
 */
import { relative } from 'node:path'
import type { Reporter } from './reporter.js'
import { byPack, nameInPack, outcomeOfResult, outcomeRun, totals } from './outcome.js'
import type { Outcome, OutcomeRun } from './outcome.js'
import { renderTimeline } from './timeline.js'

export type JunitFlavour = 'jenkins' | 'gitlab'

export function escapeXml(s: string): string {
  // Characters XML 1.0 cannot carry at all (NUL and the other C0 controls, lone surrogates, U+FFFE/U+FFFF) are
  // dropped; per code point (the u flag), so characters beyond the BMP survive as the pairs they are.
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

/** Seconds with millisecond digits: matches the xsd's SUREFIRE_TIME. */
const seconds = (ms: number): string => (Math.max(0, ms) / 1000).toFixed(3)

function testcase(o: Outcome, flavour: JunitFlavour): string[] {
  const file = flavour === 'gitlab' && o.file ? ` file="${escapeXml(relative(process.cwd(), o.file))}"` : ''
  const lines = [
    `    <testcase classname="${escapeXml(o.pack)}" name="${escapeXml(nameInPack(o))}" time="${seconds(o.duration_ms)}"${file}>`,
  ]
  const failed = o.checks.filter(c => c.verdict !== 'pass')
  const checksText = failed.map(c => `${c.step} ${c.actor} ${c.field}: expected ${c.expected}, got ${c.observed}`).join('\n')
  const stderr = Object.entries(o.stderr)
    .map(([a, t]) => `${a}: ${t}`)
    .join('\n')
  if (o.verdict === 'fail')
    lines.push(
      `      <failure type="fail" message="${escapeXml(o.message || 'an expectation was not met')}">${escapeXml(checksText)}</failure>`,
    )
  if (o.verdict === 'error')
    lines.push(`      <error type="error" message="${escapeXml(o.message || 'the kit broke')}">${escapeXml(stderr)}</error>`)
  if (o.verdict === 'skip') lines.push(`      <skipped message="${escapeXml(o.message)}"/>`)
  const out = [`${o.title}`, ...(o.claim ? [`claim: ${o.claim}`] : []), '', renderTimeline(o.events, o.checks)].join('\n')
  lines.push(`      <system-out>${escapeXml(out)}</system-out>`)
  if (stderr && o.verdict !== 'error') lines.push(`      <system-err>${escapeXml(stderr)}</system-err>`)
  lines.push('    </testcase>')
  return lines
}

export function junitXml(run: OutcomeRun, outcomes: readonly Outcome[], flavour: JunitFlavour = 'jenkins'): string {
  const all = totals(outcomes)
  const total = outcomes.reduce((s, o) => s + o.duration_ms, 0)
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="sockspec" tests="${outcomes.length}" failures="${all.fail}" errors="${all.error}" time="${seconds(total)}">`,
  ]
  const properties: Array<[string, string | null]> = [
    ['run_uuid', run.uuid],
    ['kernel_release', run.kernel_release],
    ['kernel_version', run.kernel_version],
    ['arch', run.arch],
    ['distro', run.distro],
    ['host_kind', run.host_kind],
    ['kit_version', run.kit_version],
    ['kit_commit', run.kit_commit],
  ]
  byPack(outcomes).forEach(([pack, list], i) => {
    const t = totals(list)
    const time = list.reduce((s, o) => s + o.duration_ms, 0)
    lines.push(
      `  <testsuite name="${escapeXml(pack)}" tests="${list.length}" failures="${t.fail}" errors="${t.error}" skipped="${t.skip}" time="${seconds(time)}" timestamp="${escapeXml(run.started_at)}" hostname="${escapeXml(run.host)}" id="${i}" package="sockspec">`,
      '    <properties>',
      ...properties.filter(([, v]) => v !== null).map(([k, v]) => `      <property name="${k}" value="${escapeXml(v!)}"/>`),
      '    </properties>',
    )
    for (const o of list) lines.push(...testcase(o, flavour))
    lines.push('  </testsuite>')
  })
  lines.push('</testsuites>')
  return lines.join('\n') + '\n'
}

export function junitReporter(out: NodeJS.WritableStream = process.stdout, flavour: JunitFlavour = 'jenkins'): Reporter {
  return {
    start() {},
    result() {},
    end(run, results) {
      out.write(junitXml(outcomeRun(run), results.map(outcomeOfResult), flavour))
    },
  }
}
