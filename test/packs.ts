// The CLI end to end on the real kernel: the packaged scenarios run with no
// failure or error and every event lands in the store; a crashing and a
// hanging helper become `error` results with stderr kept while the run goes
// on; malformed input exits 2 with file:line:col.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot, scenarioDir } from '../harness/paths.js'

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-packs-'))

function sockspec(args: string[], timeoutMs = 600_000) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

interface RunDoc {
  run: { uuid: string; kernel_release: string; totals: Record<string, number> }
  results: Array<{ scenario: string; variant: string; verdict: string; claim: string | null; message: string; events: number }>
}

t.test('the packaged scenarios pass on this kernel and the store holds every event', async t => {
  const db = join(dir, 'packs.db')
  const r = sockspec(['run', '--db', db, '--reporter', 'json', '--jobs', '8'])
  const doc = JSON.parse(r.stdout) as RunDoc
  const bad = doc.results.filter(x => x.verdict === 'fail' || x.verdict === 'error')
  t.same(
    bad.map(x => `${x.scenario} [${x.variant}] ${x.verdict}: ${x.message}`),
    [],
    'no failure, no error',
  )
  t.equal(r.code, 0, 'exit 0')
  const scenarios = new Set(doc.results.map(x => x.scenario))
  t.ok(scenarios.size >= 30, `at least 30 distinct scenarios (${scenarios.size})`)
  t.ok(
    doc.results.some(x => x.variant === 'ipv6'),
    'IPv6 variants ran',
  )
  const claims = doc.results.filter(x => x.scenario.startsWith('seed-claims/'))
  t.ok(claims.length > 0 && claims.every(x => x.claim === 'holds' || x.claim === 'refuted'), 'every seed claim is decided')
  const store = new Database(db, { readonly: true })
  const stored = store
    .prepare(`SELECT count(*) AS n FROM events e JOIN results r ON r.id = e.result_id JOIN runs u ON u.id = r.run_id WHERE u.uuid = ?`)
    .get(doc.run.uuid) as { n: number }
  t.equal(
    stored.n,
    doc.results.reduce((s, x) => s + x.events, 0),
    'every reported event is stored',
  )
  const run = store.prepare(`SELECT status, kernel_release FROM runs WHERE uuid = ?`).get(doc.run.uuid) as {
    status: string
    kernel_release: string
  }
  t.same(run, { status: 'complete', kernel_release: doc.run.kernel_release })
  store.close()
})

t.test('a crashing helper and a hanging one become errors; the run goes on', async t => {
  const pack = join(dir, 'broken')
  mkdirSync(pack)
  writeFileSync(
    join(pack, 'crash.yaml'),
    [
      'title: the probe aborts in the middle',
      'sources: [{ man: abort(3) }]',
      'variants: [ipv4]',
      'steps:',
      '  - { actor: client, do: socket, sock: C, nonblock: true }',
      '  - { actor: client, do: abort }',
      '  - { actor: client, do: close, sock: C }',
      '',
    ].join('\n'),
  )
  writeFileSync(
    join(pack, 'hang.yaml'),
    [
      'title: a blocking accept nobody answers',
      'sources: [{ man: accept(2) }]',
      'variants: [ipv4]',
      'steps:',
      '  - { actor: server, do: socket, sock: L }',
      '  - { actor: server, do: bind, sock: L }',
      '  - { actor: server, do: listen, sock: L, backlog: 1 }',
      '  - { actor: server, do: accept4, sock: L, new: S, limit_ms: 300 }',
      '',
    ].join('\n'),
  )
  writeFileSync(
    join(pack, 'fine.yaml'),
    [
      'title: still runs after the others broke',
      'sources: [{ man: socket(2) }]',
      'variants: [ipv4]',
      'steps:',
      '  - { actor: client, do: socket, sock: C, expect: { ret: ">=0" } }',
      '',
    ].join('\n'),
  )
  const db = join(dir, 'broken.db')
  const r = sockspec(['run', pack, '--db', db, '--reporter', 'json'])
  t.equal(r.code, 1, 'errors make the run exit 1')
  const doc = JSON.parse(r.stdout) as RunDoc
  const by = new Map(doc.results.map(x => [x.scenario, x]))
  t.equal(by.get('broken/crash')?.verdict, 'error')
  t.match(by.get('broken/crash')?.message, /exited during step s2|SIGABRT/)
  t.equal(by.get('broken/hang')?.verdict, 'error')
  t.match(by.get('broken/hang')?.message, /did not finish within 300 ms/)
  t.equal(by.get('broken/fine')?.verdict, 'pass')
  const store = new Database(db, { readonly: true })
  const row = store
    .prepare(
      `SELECT r.stderr, (SELECT count(*) FROM events e WHERE e.result_id = r.id) AS events FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE s.scenario = 'broken/crash'`,
    )
    .get() as { stderr: string; events: number }
  t.match(JSON.parse(row.stderr).client, /abort requested by step s2/, "the helper's stderr is kept")
  t.equal(row.events, 1, 'the socket event before the crash is kept')
  store.close()
  const show = sockspec(['show', 'broken/crash', '--db', db])
  t.equal(show.code, 0)
  t.match(show.stdout, /stderr of client:\nsockspec-probe: abort requested/)
})

t.test('malformed input: exit 2 with file:line:col, never a stack trace', async t => {
  const bad = join(dir, 'bad')
  mkdirSync(bad)
  writeFileSync(join(bad, 'syntax.json'), '{\n  "title": "x",\n  "steps": [\n    {"actor": "a" "do": "socket"}\n  ]\n}\n')
  writeFileSync(join(bad, 'schema.yaml'), 'title: t\nsteps:\n  - { actor: a, do: socket, sock: L, nonblok: true }\n')
  for (const cmd of ['validate', 'run']) {
    const r = sockspec([cmd, bad, '--db', join(dir, 'never.db')].filter(a => cmd === 'run' || (!a.endsWith('.db') && a !== '--db')))
    t.equal(r.code, 2, `${cmd}: exit 2`)
    t.match(r.stderr, /syntax\.json:4:19: invalid JSON/)
    t.match(r.stderr, /schema\.yaml:3:38: steps\.0: unknown property 'nonblok'/)
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
  }
  t.equal(sockspec(['run', '--frobnicate']).code, 2, 'unknown option: exit 2')
  t.equal(sockspec(['run', '--jobs', 'zero']).code, 2, 'bad option value: exit 2')
  const ok = sockspec(['validate', scenarioDir])
  t.equal(ok.code, 0)
  t.match(ok.stdout, /^ok: \d+ scenarios/)
})

t.test('repeat and reporters: verdicts are identical across attempts; TAP and JUnit are well formed', async t => {
  const db = join(dir, 'repeat.db')
  const r = sockspec(['run', join(scenarioDir, 'tcp-connect'), '--db', db, '--repeat', '3', '--reporter', 'json', '--jobs', '8'])
  const doc = JSON.parse(r.stdout) as RunDoc & { results: Array<{ attempt: number }> }
  const verdicts = new Map<string, Set<string>>()
  for (const x of doc.results) {
    const key = `${x.scenario} ${x.variant}`
    verdicts.set(key, (verdicts.get(key) ?? new Set()).add(x.verdict))
  }
  t.ok(
    [...verdicts.values()].every(v => v.size === 1),
    'one verdict per scenario variant',
  )
  t.equal(doc.results.length, verdicts.size * 3)
  const tap = sockspec(['run', join(scenarioDir, 'tcp-connect', 'einprogress.yaml'), '--db', db, '--reporter', 'tap'])
  t.match(tap.stdout, /^TAP version 14\n/)
  t.match(tap.stdout, /\n1\.\.2\n/)
  t.match(tap.stdout, /\nok 1 - tcp-connect\/einprogress \[ipv/)
  const junit = sockspec(['run', join(scenarioDir, 'tcp-connect', 'einprogress.yaml'), '--db', db, '--reporter', 'junit'])
  t.match(junit.stdout, /<testsuite name="tcp-connect" tests="2" failures="0" errors="0" skipped="0"/)
})

const notRoot = process.getuid?.() !== 0
t.test(
  'without root, gated scenarios run in a private user+net namespace and pass',
  { skip: notRoot && 'needs root to become an unprivileged user' },
  async t => {
    const free = mkdtempSync(join(tmpdir(), 'sockspec-nobody-'))
    chmodSync(free, 0o777)
    const file = join(free, 'gated.yaml')
    writeFileSync(
      file,
      [
        'title: a gated listener stays unreadable, unprivileged',
        'sources: [{ catalog: 5 }]',
        'steps:',
        '  - { actor: server, do: socket, sock: L, nonblock: true }',
        '  - { actor: server, do: bind, sock: L }',
        '  - { actor: server, do: listen, sock: L, backlog: 4 }',
        '  - { actor: server, do: gate, sock: L, drop: [ack], expect: { ret: 0 } }',
        '  - { actor: server, do: epoll_create1, ep: E }',
        '  - { actor: server, do: epoll_ctl, ep: E, op: add, sock: L, events: [in] }',
        '  - { actor: client, do: socket, sock: C, nonblock: true }',
        '  - { actor: client, do: connect, sock: C, to: L, expect: { errno: EINPROGRESS } }',
        '  - { actor: server, do: epoll_wait, ep: E, timeout_ms: 200, expect: { ready: {} } }',
        '',
      ].join('\n'),
    )
    chmodSync(file, 0o644)
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=nobody',
        '--regid=nogroup',
        '--clear-groups',
        process.execPath,
        bin,
        'run',
        file,
        '--db',
        join(free, 'n.db'),
        '--reporter',
        'json',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    )
    const doc = JSON.parse(r.stdout) as RunDoc
    t.same(
      doc.results.map(x => [x.variant, x.verdict]).sort(),
      [
        ['ipv4', 'pass'],
        ['ipv6', 'pass'],
      ],
      r.stderr,
    )
  },
)

// The package as users get it: `npm pack`, installed into an empty project (npm runs the
// package's install script, which builds the probe from its C sources; prepare does not run
// there), then one pack run from that install with its own bin.
t.test('the packed tarball installs into an empty directory and runs scenarios from there', async t => {
  const where = mkdtempSync(join(tmpdir(), 'sockspec-pack-'))
  const pack = spawnSync('npm', ['pack', '--pack-destination', where, '--json'], {
    cwd: kitRoot,
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  t.equal(pack.status, 0, pack.stderr)
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = packed!.files.map(f => f.path)
  t.ok(files.includes('dist/harness/cli/bin.js') && files.includes('harness/native/Makefile'), 'the bin and the probe sources are packed')
  t.notOk(
    files.some(f => f.startsWith('test/') || f.startsWith('.ci/') || (f.startsWith('harness/') && f.endsWith('.ts'))),
    'no tests, CI or TypeScript sources',
  )
  // a source map points at TypeScript the package does not ship: dead weight
  t.notOk(
    files.some(f => f.endsWith('.map')),
    'no source maps',
  )
  const app = join(where, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n')
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(where, packed!.filename)], {
    cwd: app,
    encoding: 'utf8',
    timeout: 600_000,
  })
  t.equal(install.status, 0, install.stderr)
  const run = spawnSync(
    join(app, 'node_modules', '.bin', 'sockspec'),
    ['run', join(app, 'node_modules', 'sockspec', 'scenarios', 'tcp-connect'), '--db', join(app, 'traces.db'), '--reporter', 'tap'],
    { cwd: app, encoding: 'utf8', timeout: 120_000 },
  )
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /^ok 1 - tcp-connect\//m, 'the installed kit ran the scenarios with the probe it built')
  t.notMatch(run.stdout, /^not ok/m)
})
