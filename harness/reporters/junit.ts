/** JUnit XML (one testsuite per pack), written when the run ends. */
import type { ScenarioResult } from '../trace/result.js'
import type { Reporter } from './reporter.js'

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

export function junitXml(results: readonly ScenarioResult[], runUuid: string): string {
  const packs = new Map<string, ScenarioResult[]>()
  for (const r of results) {
    const list = packs.get(r.scenario.pack) ?? []
    list.push(r)
    packs.set(r.scenario.pack, list)
  }
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="sockspec" id="${escapeXml(runUuid)}">`]
  for (const [pack, list] of [...packs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const count = (v: string): number => list.filter(r => r.verdict === v).length
    const time = list.reduce((s, r) => s + r.durationMs, 0) / 1000
    lines.push(
      `  <testsuite name="${escapeXml(pack)}" tests="${list.length}" failures="${count('fail')}" errors="${count('error')}" skipped="${count('skip')}" time="${time.toFixed(3)}">`,
    )
    for (const r of list) {
      const name = `${r.scenario.id} [${r.variant}]${r.attempt > 1 ? ` #${r.attempt}` : ''}`
      lines.push(`    <testcase classname="${escapeXml(pack)}" name="${escapeXml(name)}" time="${(r.durationMs / 1000).toFixed(3)}">`)
      if (r.verdict === 'fail')
        lines.push(
          `      <failure message="${escapeXml(r.message)}">${escapeXml(
            r.checks
              .filter(c => !c.ok)
              .map(c => `${c.step} ${c.actor} ${c.field}: expected ${c.expected}, got ${c.observed}`)
              .join('\n'),
          )}</failure>`,
        )
      if (r.verdict === 'error')
        lines.push(
          `      <error message="${escapeXml(r.message)}">${escapeXml(
            Object.entries(r.stderr)
              .map(([a, t]) => `${a}: ${t}`)
              .join('\n'),
          )}</error>`,
        )
      if (r.verdict === 'skip') lines.push(`      <skipped message="${escapeXml(r.message)}"/>`)
      if (r.claim) lines.push(`      <properties><property name="claim" value="${escapeXml(r.claim)}"/></properties>`)
      lines.push('    </testcase>')
    }
    lines.push('  </testsuite>')
  }
  lines.push('</testsuites>')
  return lines.join('\n') + '\n'
}

export function junitReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    start() {},
    result() {},
    end(run, results) {
      out.write(junitXml(results, run.uuid))
    },
  }
}
