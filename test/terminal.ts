// The terminal as people use it: `show` at 80 and 100 columns, the status
// line on a real pseudo-terminal (util-linux `script`) and never in a pipe,
// colours and NO_COLOR/FORCE_COLOR, skip reasons, `list`, --filter/--exclude
// globs, --rerun-failed, and every reader ended quietly by a closed pipe.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot } from '../harness/paths.js'
import { colourEnabled } from '../harness/reporters/colour.js'
import { formatSeconds, plannedWallMs, ProgressLine, remainingMs, SHOW_AFTER_MS } from '../harness/reporters/progress.js'
import { describeEvent, fitLanes, MIN_LANE, renderTimeline } from '../harness/reporters/timeline.js'
import { packetLabel } from '../harness/reporters/trace-shape.js'
import { textWidth, wrapLine, fitText, terminalColumns } from '../harness/reporters/terminal-width.js'
import { filterScenarios, scenarioMatcher } from '../harness/cli/select-scenarios.js'
import { TraceStore } from '../harness/store/store.js'
import type { ProbeEvent } from '../harness/trace/event.js'
import { bin } from './fixtures/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'sockspec-terminal-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const root = process.getuid?.() === 0

/** The CLI with a chosen environment (tap itself sets NO_COLOR=1 and FORCE_COLOR=0). */
function sockspec(args: string[], env: NodeJS.ProcessEnv = {}) {
  const base = { ...process.env }
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI', 'COLUMNS']) delete base[k]
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...base, ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const widest = (text: string): number => Math.max(...text.split('\n').map(textWidth))

// scenarios of our own: one that passes, one that fails, one skipped for a kernel no machine runs
const pack = join(dir, 'mine')
mkdirSync(pack)
const socketSteps = '  - { actor: client, do: socket, sock: C, family: unix }\n'
writeFileSync(join(pack, 'passes.yaml'), `title: a unix socket is made\nsources: [{ man: socket(2) }]\nsteps:\n${socketSteps}`)
writeFileSync(
  join(pack, 'fails.yaml'),
  `title: a socket() said to return 77\nsources: [{ man: socket(2) }]\nsteps:\n  - { actor: client, do: socket, sock: C, family: unix, expect: { ret: 77 } }\n`,
)
writeFileSync(
  join(pack, 'ancient.yaml'),
  `title: only for a kernel before 2.0\nsources: [{ man: socket(2) }]\nrequires: { kernel: "<2.0" }\nsteps:\n${socketSteps}`,
)

t.test('wrapLine folds without losing a character; fitText keeps short lines', async t => {
  const text = 'connect C 127.0.0.1:36053 = -1 EINPROGRESS [1002 ms] SO_ATTACH_FILTER_WITH_A_VERY_LONG_NAME_INDEED ✓'
  for (const width of [8, 17, 30, 80]) {
    const lines = wrapLine(text, width, '  ')
    t.ok(
      lines.every(l => textWidth(l) <= width),
      `width ${width}: every piece fits`,
    )
    t.equal(lines.join('').replace(/\s/g, ''), text.replace(/\s/g, ''), `width ${width}: nothing lost`)
  }
  t.same(wrapLine('a b', 10), ['a b'])
  t.equal(fitText('short\nline\n', 20), 'short\nline\n')
  t.equal(terminalColumns({ isTTY: false }, { COLUMNS: '83' }), 83)
  t.equal(terminalColumns({ isTTY: true, columns: 91 }, { COLUMNS: '83' }), 91, "a TTY's own width wins")
  t.equal(terminalColumns({ isTTY: false }, {}), 100)
  t.same(fitLanes([40, 14, 40], 66), [26, 14, 26], 'the wire keeps its width, the call lanes share the rest')
  t.equal(fitLanes([40, 14, 40, 40, 40], 60), undefined, `lanes under ${MIN_LANE} columns: no lane form`)
})

t.test('show fits 80 and 100 columns, and every event is still there', async t => {
  // claim 7 is the widest trace of the seed (three lanes, captured segments): it needs root for the capture
  const scenario = root ? 'seed-claims/claim-7-ack-gate.yaml' : 'tcp-connect/einprogress.yaml'
  const db = join(dir, 'show.db')
  const run = sockspec(['run', join(kitRoot, 'scenarios', scenario), '--db', db, '--variant', 'ipv6', '--reporter', 'json'])
  t.equal(run.code, 0, run.stderr)
  const store = TraceStore.open(db, { readonly: true, mustExist: true })
  const result = store.results(store.run('latest')!.id)[0]!
  const events = store.events(result.id)
  const checks = store.checks(result.id)
  store.close()
  t.ok(events.length >= 10, `a real trace (${events.length} events)`)
  if (root)
    t.ok(
      events.some(e => e.actor === 'wire'),
      'with captured segments',
    )
  const texts = events.map(row => {
    const e = JSON.parse(row.details) as ProbeEvent
    return e.op === 'packet' ? packetLabel(e) : describeEvent(e)
  })
  const unspaced = (s: string): string => s.replace(/\s/g, '')
  for (const width of [80, 100]) {
    for (const [how, r] of [
      ['COLUMNS', sockspec(['show', result.scenario, '--db', db], { COLUMNS: String(width) })],
      ['--width', sockspec(['show', result.scenario, '--db', db, '--width', String(width)])],
    ] as const) {
      t.equal(r.code, 0, r.stderr)
      t.ok(widest(r.stdout) <= width, `${how} ${width}: widest line ${widest(r.stdout)} columns`)
      // each event's lines are consecutive: without the time column and the folds its text reads whole
      const flat = unspaced(
        r.stdout
          .split('\n')
          .map(l => l.slice(12))
          .join(''),
      )
      const lost = texts.filter(x => !flat.includes(unspaced(x)))
      t.same(lost, [], `${how} ${width}: every event appears`)
      for (const c of checks.filter(c => c.verdict !== 'pass')) t.ok(flat.includes(unspaced(c.field)), `failed check ${c.field} shown`)
    }
  }
  // lanes at 100 columns, the one-lane form when lanes would be too narrow
  const wide = renderTimeline(events, checks, { width: 100 })
  t.match(wide.split('\n')[0], /t \(ms\)\s+client\s+.*server/, 'lanes at 100')
  const narrow = renderTimeline(events, checks, { width: 50 })
  t.match(narrow.split('\n')[0], /t \(ms\)\s+actor\s+call = answer/, 'one line per event at 50')
  t.ok(widest(narrow) <= 50, `widest at 50: ${widest(narrow)}`)
  if (root) t.match(narrow, /wire\s+SYN\|ACK \S+ → /, 'segments named by direction in the one-lane form')
  // colour only when asked: FORCE_COLOR paints a pipe, NO_COLOR and a pipe do not
  const forced = sockspec(['show', result.scenario, '--db', db], { FORCE_COLOR: '1' })
  t.match(forced.stdout, /\x1b\[32mpass\x1b\[0m/, 'FORCE_COLOR: the verdict painted')
  t.ok(widest(forced.stdout.replace(/\x1b\[\d+m/g, '')) <= 100, 'painted after folding: still within the width')
  t.notMatch(sockspec(['show', result.scenario, '--db', db]).stdout, /\x1b/, 'a pipe: no escape codes')
})

t.test('colours follow NO_COLOR, FORCE_COLOR and the TTY', async t => {
  const tty = { isTTY: true }
  const pipe = { isTTY: false }
  t.equal(colourEnabled(tty, {}), true)
  t.equal(colourEnabled(pipe, {}), false)
  t.equal(colourEnabled(tty, { NO_COLOR: '1' }), false)
  t.equal(colourEnabled(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count')
  t.equal(colourEnabled(pipe, { FORCE_COLOR: '1' }), true)
  t.equal(colourEnabled(tty, { FORCE_COLOR: '0' }), false)
  t.equal(colourEnabled(tty, { FORCE_COLOR: '1', NO_COLOR: '1' }), true, 'FORCE_COLOR wins, as in Node')
  t.equal(colourEnabled(tty, { TERM: 'dumb' }), false)
})

t.test('the status line: time left from the estimates, only on a TTY', async t => {
  t.equal(plannedWallMs([1000, 1000, 1000, 1000], 2), 2000)
  t.equal(plannedWallMs([3000, 1000, 1000, 1000], 2), 3000, 'the longest task bounds the wall')
  t.equal(remainingMs(2000, 500, 0, 4000), 1500, 'before a tenth is done: the plan')
  t.equal(remainingMs(2000, 2000, 2000, 4000), 2000, 'half the work in the whole planned time: twice as slow')
  t.equal(formatSeconds(125_000), '2 min 05 s')
  let clock = 0
  const written: string[] = []
  const stream = { isTTY: true, columns: 60, write: (s: string) => (written.push(s), true) }
  const line = new ProgressLine(stream, {}, () => clock)
  line.phase('booting 6.1')
  t.same(written, [], 'nothing in the first second')
  clock = SHOW_AFTER_MS + 3000
  line.phase('booting 6.1')
  clock += 3000
  t.equal(line.text(), 'booting 6.1 (3 s)')
  line.start(
    '6.1',
    [
      { scenario: 'a', variant: 'ipv4', estimateMs: 4000 },
      { scenario: 'b', variant: 'ipv4', estimateMs: 1000 },
    ],
    1,
  )
  clock += 1000
  line.result('b', 'ipv4', 'skip')
  line.write(() => written.push('skip b\n'))
  t.match(line.text(), /^6\.1: \[1\/2\] 0 pass, 0 fail, 0 error, 1 skip, 1 s, about 4 s left$/)
  const last = written.at(-1)!
  t.ok(last.startsWith('\r\x1b[K') && textWidth(last.slice(4)) <= 59, `rewritten in place, within the width: ${JSON.stringify(last)}`)
  t.equal(written.at(-3), '\r\x1b[K', 'taken away before other output')
  line.stop()
  t.equal(written.at(-1), '\r\x1b[K', 'gone at the end')
  for (const [what, s, env] of [
    ['a pipe', { isTTY: false, write: () => true }, {}],
    ['CI', { isTTY: true, write: () => true }, { CI: 'true' }],
  ] as const)
    t.equal(new ProgressLine(s, env).enabled, false, `${what}: no status line`)
})

t.test('a run on a real terminal: status line and skip reasons; in a pipe: neither escape nor carriage return', async t => {
  // --repeat makes it last past the first second, where the line appears
  const scenarios = [pack, join(kitRoot, 'scenarios', 'seed-claims')]
  const db = join(dir, 'tty.db')
  const argv = [process.execPath, bin, 'run', ...scenarios, '--db', db, '--repeat', '2']
  const quoted = argv.map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  const env: NodeJS.ProcessEnv = { ...process.env, COLUMNS: '90' }
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI']) delete env[k]
  const pty = spawnSync('script', ['-qec', `stty cols 90; ${quoted}`, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env })
  t.equal(pty.status, 1, `the failing scenario fails the run: ${pty.stderr}`)
  t.match(pty.stdout, /\r\x1b\[K\[\d+\/\d+\] \d+ pass, \d+ fail, \d+ error, \d+ skip, \d+ s(, about \d+ s left)?/, 'the status line')
  t.match(pty.stdout, /skip\x1b\[0m mine\/ancient \[default\]: needs kernel <2\.0/, 'a skip says why on a TTY')
  t.match(pty.stdout, /\x1b\[31mFAIL\x1b\[0m mine\/fails/, 'colour on a TTY')
  const statusLines = pty.stdout.split(/\r\n|\r/).filter(l => /^\x1b\[K\[\d+\//.test(l))
  t.ok(
    statusLines.length > 0 && statusLines.every(l => textWidth(l.slice(3)) < 90),
    `the status line fits 90 columns (${statusLines.length} redraws)`,
  )

  const piped = sockspec(['run', ...scenarios, '--db', join(dir, 'pipe.db'), '--repeat', '2'])
  t.equal(piped.code, 1)
  t.notMatch(piped.stdout + piped.stderr, /[\r\x1b]/, 'a pipe gets no status line and no colour')
  t.match(piped.stdout, /^skip mine\/ancient \[default\]: needs kernel <2\.0/m)
})

t.test('list: one line per scenario, --json, globs; filters and --rerun-failed on run', async t => {
  const all = sockspec(['list'])
  t.equal(all.code, 0, all.stderr)
  const json = sockspec(['list', '--json'])
  const doc = JSON.parse(json.stdout) as { scenarios: Array<{ id: string; variants: string[]; requires: string[]; sources: string[] }> }
  t.equal(all.stdout.trim().split('\n').length, doc.scenarios.length, 'one line each')
  t.ok(doc.scenarios.length > 50)
  const einprogress = doc.scenarios.find(s => s.id === 'tcp-connect/einprogress')!
  t.same(einprogress.variants, ['ipv4', 'ipv6'])
  t.ok(einprogress.sources.some(s => s.startsWith('man:connect(2)')))
  t.ok(
    doc.scenarios.filter(s => s.id.startsWith('netns/')).every(s => s.requires.some(r => r.startsWith('netns'))),
    'simulated hosts say they need namespaces',
  )
  for (const line of all.stdout.trim().split('\n')) t.equal(line.split('\t').length, 4, 'id, variants, requirements, sources')

  // picomatch: braces, negation, pack and name globs, the substring fallback
  const ids = (args: string[]): string[] =>
    sockspec(['list', ...args])
      .stdout.trim()
      .split('\n')
      .filter(Boolean)
      .map(l => l.split('\t')[0]!)
  const braces = ids(['-f', '{netns,udp}/*'])
  t.ok(braces.length > 0 && braces.every(id => /^(netns|udp)\//.test(id)))
  const netns = filterScenarios(
    doc.scenarios.map(s => ({ ...s, pack: s.id.split('/')[0]! })),
    ['netns/*'],
  )
  t.equal(ids(['-f', '!netns/*']).length + netns.length, doc.scenarios.length, '!glob is the complement')
  t.same(
    ids(['-f', 'tcp-*', '-x', 'tcp-connect']),
    ids(['-f', 'tcp-*']).filter(id => !id.includes('tcp-connect')),
  )
  t.same(ids(['-f', 'connect/einprogress']), ['tcp-connect/einprogress'], 'a plain word is a substring')
  const fake = [
    { id: 'seed-claims/claim-7-ack-gate', pack: 'seed-claims' },
    { id: 'tcp-connect/einprogress', pack: 'tcp-connect' },
  ]
  t.same(
    filterScenarios(fake, ['claim-*']).map(s => s.id),
    ['seed-claims/claim-7-ack-gate'],
    'a glob on the name inside the pack',
  )
  t.equal(scenarioMatcher('!(x)').negated, false, 'an extglob is not a negation')

  // --rerun-failed: only what failed in the last run of the store
  const db = join(dir, 'rerun.db')
  t.equal(sockspec(['run', pack, '--db', db, '--reporter', 'json']).code, 1)
  const again = sockspec(['run', pack, '--db', join(dir, 'rerun-2.db'), '--rerun-failed', db, '--reporter', 'json'])
  t.equal(again.code, 1, again.stderr)
  const results = (JSON.parse(again.stdout) as { results: Array<{ scenario: string; variant: string }> }).results
  t.same(
    results.map(r => `${r.scenario} [${r.variant}]`),
    ['mine/fails [default]'],
  )
  const clean = join(dir, 'clean.db')
  t.equal(sockspec(['run', join(pack, 'passes.yaml'), '--db', clean]).code, 0)
  const nothing = sockspec(['run', pack, '--db', clean, '--rerun-failed'])
  t.equal(nothing.code, 0)
  t.match(nothing.stderr, /nothing failed in run/)
  const elsewhere = sockspec(['run', join(pack, 'passes.yaml'), '--db', join(dir, 'x.db'), '--rerun-failed', db])
  t.equal(elsewhere.code, 2, 'the failed scenario is not among those given')
  t.match(elsewhere.stderr, /mine\/fails/)
})

t.test('a closed pipe ends every reader quietly, with its exit code', async t => {
  const db = join(dir, 'pipes.db')
  for (let i = 0; i < 2; i++) t.equal(sockspec(['run', pack, '--db', db, '--reporter', 'json']).code, 1)
  const cli = [process.execPath, bin].map(a => `'${a}'`).join(' ')
  for (const cmd of ['runs', 'show', 'export latest', 'list', 'compare 1 2', 'list --json']) {
    const opts = cmd.startsWith('list') ? '' : ` --db '${db}'`
    // head takes one line and leaves: the writer meets EPIPE
    const r = spawnSync('bash', ['-c', `${cli} ${cmd}${opts} | head -n 1 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' })
    t.equal(r.stdout.trim(), '0', `${cmd} | head -n 1: exit 0`)
    t.equal(r.stderr, '', `${cmd} | head -n 1: nothing on stderr`)
  }
})
