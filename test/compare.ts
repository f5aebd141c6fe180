// Merge, compare, export/import and the kernels workflow, on real runs.
// Runs that really differ come from the same scenarios run twice: once in a
// fresh network namespace with net.ipv4.tcp_abort_on_overflow=1 (the
// listener answers an overflowing final ACK with a RST) and once on the host
// (default 0: the ACK is dropped silently). A third host run (--repeat 2) is
// the same-kernel control. Everything goes through the built CLI.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { compileSchemaFile } from '../harness/deps/ajv.js'
import { kitRoot, schemaDir } from '../harness/paths.js'
import { PortNames, normaliseFields, normaliseTrace } from '../harness/compare/normalise.js'
import { selectBySelector } from '../harness/compare/select-run.js'
import type { CompareDocument } from '../harness/compare/render-json.js'
import type { Comparison, Pair, RunTraces } from '../harness/compare/types.js'
import { MIGRATIONS, SCHEMA_VERSION } from '../harness/store/migrations.js'
import type { CheckRow, EventRow, RunRow } from '../harness/store/store.js'
import { overflowHeader, overflowSteps } from './fixtures/overflow.js'

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-compare-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const TABLES = ['runs', 'scenarios', 'results', 'events', 'checks'] as const

function sockspec(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024, cwd: opts.cwd })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function runAsync(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

function counts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true })
  try {
    return Object.fromEntries(TABLES.map(tab => [tab, (db.prepare(`SELECT count(*) AS n FROM ${tab}`).get() as { n: number }).n]))
  } finally {
    db.close()
  }
}

function runUuid(file: string): string {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare('SELECT uuid FROM runs').get() as { uuid: string }).uuid
  } finally {
    db.close()
  }
}

const fixtures: Record<string, string> = {
  'overflow/expects-rst.yaml':
    overflowHeader('Overflowing final ACK is answered with a RST') +
    overflowSteps +
    '  - { actor: client, do: getsockopt, sock: C3, level: socket, opt: SO_ERROR, expect: { value: ECONNRESET } }\n',
  'overflow/expects-drop.yaml':
    overflowHeader('Overflowing final ACK is dropped silently') +
    overflowSteps +
    '  - { actor: client, do: getsockopt, sock: C3, level: socket, opt: SO_ERROR, expect: { value: "0" } }\n',
  'overflow/observe.yaml':
    overflowHeader('Overflowing final ACK, outcome observed only') +
    overflowSteps +
    '  - { actor: client, do: epoll_wait, ep: EC, timeout_ms: 0 }\n',
  // nothing observes C3 after its data segment: only the wire differs (RST back with tcp_abort_on_overflow=1, nothing without)
  'overflow/wire-only.yaml':
    overflowHeader('Overflowing final ACK, seen on the wire only') +
    overflowSteps +
    '  - { actor: client, do: sleep, ms: 50, expect: { packets: { match: { flags: SYN }, count: ">=1" } } }\n',
  // blocks (past its limit: error) unless the RST came
  'overflow/blocking-recv.yaml':
    overflowHeader('A blocking recv on the overflowed socket') +
    overflowSteps +
    '  - { actor: client, do: fcntl, sock: C3, cmd: nonblock, nonblock: false }\n  - { actor: client, do: recv, sock: C3, bytes: 16, limit_ms: 400 }\n',
  'overflow/einprogress.yaml': readFileSync(join(kitRoot, 'scenarios', 'tcp-connect', 'einprogress.yaml'), 'utf8'),
  'only-a/gone.yaml':
    'title: In the first run only\nsources: [{ man: socket(2) }]\nvariants: [ipv4]\nsteps:\n  - { actor: client, do: socket, sock: C, expect: { ret: ">=0" } }\n',
  'only-b/added.yaml':
    'title: In the second run only\nsources: [{ man: socket(2) }]\nvariants: [ipv4]\nsteps:\n  - { actor: client, do: socket, sock: C, expect: { ret: ">=0" } }\n',
}
const fx = join(dir, 'fixtures')
for (const [name, text] of Object.entries(fixtures)) {
  mkdirSync(join(fx, name.split('/')[0]!), { recursive: true })
  writeFileSync(join(fx, name), text)
}

const aDb = join(dir, 'a.db') // netns, tcp_abort_on_overflow=1: the baseline
const bDb = join(dir, 'b.db') // host, default
const cDb = join(dir, 'c.db') // host again, --repeat 2
const netns = process.getuid?.() === 0 ? ['unshare', '-n'] : ['unshare', '-Urn']
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

t.before(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`)
  const runs = await Promise.all([
    runAsync([
      ...netns,
      'sh',
      '-c',
      `ip link set lo up && sysctl -qw net.ipv4.tcp_abort_on_overflow=1 && exec ${quote(process.execPath)} ${quote(bin)} run ${quote(join(fx, 'overflow'))} ${quote(join(fx, 'only-a'))} --db ${quote(aDb)}`,
    ]),
    runAsync([process.execPath, bin, 'run', join(fx, 'overflow'), join(fx, 'only-b'), '--db', bDb]),
    runAsync([process.execPath, bin, 'run', join(fx, 'overflow'), join(fx, 'only-b'), '--db', cDb, '--repeat', '2']),
  ])
  for (const r of runs) if (r.code !== 0 && r.code !== 1) throw new Error(`run failed (${r.code}): ${r.stderr}${r.stdout}`)
})

const validateCompare = compileSchemaFile(join(schemaDir, 'compare.schema.json'))
const validateBundle = compileSchemaFile(join(schemaDir, 'run.schema.json'))

function byName(pairs: Pair[]): Record<string, Pair> {
  return Object.fromEntries(pairs.map(p => [`${p.scenario} [${p.variant}]`, p]))
}

t.test('merge: ids remapped, every row kept, idempotent', async t => {
  const before = [counts(aDb), counts(bDb)]
  // both stores numbered their rows from 1: the merge must remap
  t.equal(before[0]!['runs'], 1)
  t.equal(before[1]!['runs'], 1)
  const all = join(dir, 'all.db')
  const r = sockspec(['merge', aDb, bDb, '--into', all])
  t.equal(r.code, 0, r.stderr)
  const merged = counts(all)
  t.equal(merged['runs'], 2)
  t.equal(merged['results'], before[0]!['results']! + before[1]!['results']!)
  t.equal(merged['events'], before[0]!['events']! + before[1]!['events']!, 'every event kept')
  t.equal(merged['checks'], before[0]!['checks']! + before[1]!['checks']!, 'every check kept')
  t.equal(merged['scenarios'], 8, 'the 6 shared scenarios are stored once, plus one only-a and one only-b')
  // the merged copy of each run exports to exactly what its source exports
  for (const [db, uuid] of [
    [aDb, runUuid(aDb)],
    [bDb, runUuid(bDb)],
  ] as const) {
    t.equal(
      sockspec(['export', uuid, '--db', all]).stdout,
      sockspec(['export', uuid, '--db', db]).stdout,
      `run ${uuid.slice(0, 8)} is carried over whole`,
    )
  }
  const again = sockspec(['merge', aDb, bDb, aDb, '--into', all])
  t.equal(again.code, 0)
  t.match(again.stdout, /0 new; 0 result\(s\) and 0 event\(s\) added/)
  t.same(counts(all), merged, 'merging the same runs again changes nothing')
  const self = sockspec(['merge', all, '--into', all])
  t.equal(self.code, 2, 'a store is not merged into itself')
})

t.test('compare labels runs that really differ; exit 1 on regression', async t => {
  const all = join(dir, 'all.db')
  const [ua, ub] = [runUuid(aDb), runUuid(bDb)]
  const text = sockspec(['compare', '--db', all, ua.slice(0, 8), ub.slice(0, 8)])
  t.equal(text.code, 1, 'a regression exits 1')
  t.match(text.stdout, /REGRESSION overflow\/expects-rst \[ipv4\]: pass -> fail/)
  t.match(text.stdout, /ERROR overflow\/blocking-recv \[ipv4\]: pass -> error/)
  t.match(text.stdout, /not counted as a regression/)
  const json = sockspec(['compare', '--db', all, ua, ub, '--reporter', 'json'])
  t.equal(json.code, 1)
  const doc = JSON.parse(json.stdout) as CompareDocument
  t.same(validateCompare(doc) ? [] : validateCompare.errors, [], 'valid against compare.schema.json')
  t.equal(doc.comparisons.length, 1)
  const c = doc.comparisons[0]!
  t.equal(c.a.uuid, ua)
  const pairs = byName(c.pairs)
  const labels = Object.fromEntries(Object.entries(pairs).map(([k, p]) => [k, p.label]))
  t.same(labels, {
    'only-a/gone [ipv4]': 'missing',
    'only-b/added [ipv4]': 'new',
    'overflow/blocking-recv [ipv4]': 'error',
    'overflow/einprogress [ipv4]': 'same',
    'overflow/einprogress [ipv6]': 'same',
    'overflow/expects-drop [ipv4]': 'fixed',
    'overflow/expects-rst [ipv4]': 'regression',
    'overflow/observe [ipv4]': 'differs',
    'overflow/wire-only [ipv4]': 'differs',
  })
  t.equal(doc.regression, true)
  t.same(doc.totals, { regression: 1, error: 1, flaky: 0, fixed: 1, differs: 2, expected: 0, new: 1, missing: 1, skip: 0, same: 2 })
  // the first differing event: C3 reset (baseline) vs C3 merely writable (host)
  const observe = pairs['overflow/observe [ipv4]']!.firstDifference!
  t.match(observe, { kind: 'event', actor: 'client' })
  t.match(observe.a!.event, { op: 'epoll_wait', ready: [{ h: 'C3', events: ['EPOLLERR', 'EPOLLHUP', 'EPOLLOUT'] }] })
  t.match(observe.b!.event, { op: 'epoll_wait', ready: [{ h: 'C3', events: ['EPOLLOUT'] }] })
  t.notOk('t0' in observe.a!.event! || 'seq' in observe.a!.event!, 'no timestamps, no sequence numbers')
  // the same normalised trace on both sides; the segments per direction differ
  const wire = pairs['overflow/wire-only [ipv4]']!
  t.equal(wire.firstDifference, null, 'no event differs')
  t.match(wire.facets, [{ key: 'packets', kind: 'packets', a: /← .*1 RST/, b: /^(?!.*RST)/ }])
  t.match(text.stdout, /segments on the wire \(SYN, SYN\|ACK, FIN, RST per direction\): \d+ change\(s\)/)
  const rst = pairs['overflow/expects-rst [ipv4]']!
  t.match(rst.firstDifference!.a!.event, { op: 'getsockopt', value_name: 'ECONNRESET' })
  t.match(rst.b!.failedChecks, [{ field: 'value', expected: 'ECONNRESET', observed: '0' }])
})

t.test('same kernel: no regression, traces normalise to the same', async t => {
  const all = join(dir, 'all.db')
  t.equal(sockspec(['merge', cDb, '--into', all]).code, 0)
  const [ub, uc] = [runUuid(bDb), runUuid(cDb)]
  const r = sockspec(['compare', '--db', all, '--baseline', ub, uc, '--reporter', 'json'])
  t.equal(r.code, 0, 'exit 0')
  const doc = JSON.parse(r.stdout) as CompareDocument
  t.same(validateCompare(doc) ? [] : validateCompare.errors, [], 'valid against compare.schema.json')
  t.equal(doc.regression, false)
  t.equal(doc.baseline?.uuid, ub)
  const pairs = doc.comparisons[0]!.pairs
  // blocking-recv errors on both sides (the kit's time limit): kept apart, not compared
  t.same(
    pairs.filter(p => p.label !== 'same').map(p => `${p.scenario}:${p.label}`),
    ['overflow/blocking-recv:error'],
  )
  t.ok(
    pairs.every(p => p.b!.attempts === 2 && !p.b!.flaky),
    'two attempts per pair on side b, aggregated, not flaky',
  )
  // what normalisation removed, on a real trace
  const db = new Database(all, { readonly: true })
  const resultId = pairs.find(p => p.scenario === 'overflow/einprogress')!.a!.resultId
  const events = db.prepare('SELECT * FROM events WHERE result_id = ? ORDER BY idx').all(resultId) as EventRow[]
  db.close()
  const norm = normaliseTrace(events)
  t.match(norm.find(e => e.op === 'socket')!.fields, { ret: 'fd', new: 'L' }, 'fd numbers become "fd"')
  t.match(norm.find(e => e.op === 'connect')!.fields, { addr: { port: 'P1' } }, 'the listener port is P1 wherever it appears')
  t.match(norm.find(e => e.op === 'getsockname')!.fields, { addr: { port: 'P1' } })
})

t.test('--baseline compares every other run; selectors pick runs by host, kernel, distro, arch', async t => {
  const all = join(dir, 'all.db')
  const ua = runUuid(aDb)
  const r = sockspec(['compare', '--db', all, '--baseline', ua, '--reporter', 'json'])
  t.equal(r.code, 1)
  const doc = JSON.parse(r.stdout) as CompareDocument
  t.same(doc.comparisons.map(c => c.b.uuid).sort(), [runUuid(bDb), runUuid(cDb)].sort())
  t.equal(doc.totals.regression, 2)
  const db = new Database(all, { readonly: true })
  const runs = db.prepare('SELECT * FROM runs ORDER BY started_at DESC, id DESC').all() as RunRow[]
  db.close()
  const kernel = runs[0]!.kernel_release
  const majorMinor = kernel.split('.').slice(0, 2).join('.')
  t.equal(selectBySelector(runs, `kernel:${majorMinor}`)?.matched, 3, 'kernel:MAJOR.MINOR matches')
  const short = kernel.slice(0, 3)
  t.equal(
    selectBySelector(runs, `kernel:${short}`)?.matched,
    short === majorMinor ? 3 : undefined,
    'a shorter version is not a prefix of a longer one (6.1 is not 6.18)',
  )
  t.equal(selectBySelector(runs, `kernel:${kernel}`)?.run.uuid, runs[0]!.uuid, 'the newest matching run')
  t.equal(selectBySelector(runs, `host:${runs[0]!.host},arch:${runs[0]!.arch}`)?.matched, 3)
  t.equal(selectBySelector(runs, 'kernel:0.0-none'), undefined)
  const bySelector = sockspec(['compare', '--db', all, '--baseline', `kernel:${kernel}`])
  t.match(bySelector.stderr, /matches 3 runs; using the newest/)
  t.equal(sockspec(['compare', '--db', all, ua]).code, 2, 'one run without --baseline is a usage error')
})

t.test('export -> import round trip; import is idempotent and validates', async t => {
  const all = join(dir, 'all.db')
  const ua = runUuid(aDb)
  const out = sockspec(['export', ua, '--db', all])
  t.equal(out.code, 0, out.stderr)
  const bundle = JSON.parse(out.stdout) as { results: Array<{ verdict: string; events: unknown[] }>; scenarios: Array<{ body: unknown }> }
  t.same(validateBundle(bundle) ? [] : validateBundle.errors, [], 'valid against run.schema.json')
  t.ok(
    bundle.scenarios.every(s => typeof s.body === 'object'),
    'scenario bodies are carried',
  )
  const file = join(dir, 'run.json')
  writeFileSync(file, out.stdout)
  const fresh = join(dir, 'imported.db')
  t.equal(sockspec(['import', file, '--db', fresh]).code, 0)
  t.equal(sockspec(['export', ua, '--db', fresh]).stdout, out.stdout, 'byte-identical after the round trip')
  const once = counts(fresh)
  t.match(sockspec(['import', file, '--db', fresh]).stdout, /already present; 0 result/)
  t.same(counts(fresh), once, 'importing twice changes nothing')
  bundle.results[0]!.verdict = 'maybe'
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(bundle))
  const bad = sockspec(['import', join(dir, 'bad.json'), '--db', fresh])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /invalid run bundle: \/results\/0\/verdict/)
})

t.test('stores of an unknown schema version are refused, target untouched', async t => {
  const future = join(dir, 'future.db')
  copyFileSync(aDb, future)
  const raw = new Database(future)
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  raw.close()
  const target = join(dir, 'refused.db')
  const r = sockspec(['merge', bDb, future, '--into', target])
  t.equal(r.code, 2)
  t.match(
    r.stderr,
    new RegExp(`future\\.db: unknown store schema version ${SCHEMA_VERSION + 1}; this sockspec reads versions 1 to ${SCHEMA_VERSION}`),
  )
  t.notOk(existsSync(target), 'nothing merged, not even the good store: the target was not created')
  const notStore = join(dir, 'empty.db')
  new Database(notStore).close()
  t.match(sockspec(['merge', notStore, '--into', target]).stderr, /not a sockspec trace store/)
})

t.test(
  'an older store is merged through a migrated snapshot, the file left as it was',
  { skip: SCHEMA_VERSION < 2 && 'only one schema version exists' },
  async t => {
    const old = join(dir, 'old.db')
    const raw = new Database(old)
    for (const sql of MIGRATIONS.slice(0, SCHEMA_VERSION - 1)) raw.exec(sql)
    raw.pragma(`user_version = ${SCHEMA_VERSION - 1}`)
    raw.close()
    const r = sockspec(['merge', old, '--into', join(dir, 'from-old.db')])
    t.equal(r.code, 0, r.stderr)
    const check = new Database(old, { readonly: true })
    t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION - 1, 'the source was not migrated in place')
    check.close()
  },
)

t.test('the kernels workflow: valid YAML, consistent job graph, its shell steps run here', async t => {
  const text = readFileSync(join(kitRoot, '.github', 'workflows', 'kernels.yml'), 'utf8')
  type Step = { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown> }
  const wf = parseYaml(text) as {
    concurrency?: { group: string; 'cancel-in-progress': string }
    jobs: Record<
      string,
      {
        needs?: string | string[]
        if?: string
        env?: Record<string, string>
        strategy?: { matrix: { include: Array<{ leg: string; image: string }> } }
        steps: Step[]
      }
    >
  }
  const run = wf.jobs['run']!
  const qemu = wf.jobs['qemu']!
  const compare = wf.jobs['compare']!
  const legs = run.strategy!.matrix.include.map(l => l.leg)
  t.ok(legs.length >= 2 && new Set(legs).size === legs.length, 'at least two legs, unique names')
  t.ok(legs.includes('ubuntu-22.04') && legs.includes('ubuntu-24.04'))
  t.same([compare.needs].flat(), ['run', 'qemu'], 'compare waits for every leg and the qemu matrix')
  t.match(compare.if, /!cancelled\(\)/, 'compare also runs when the qemu job was skipped')
  const upload = run.steps.find(s => s.uses?.startsWith('actions/upload-artifact'))!
  const download = compare.steps.find(s => s.uses?.startsWith('actions/download-artifact'))!
  t.equal(upload.with!['name'], 'traces-${{ matrix.leg }}')
  t.match(String(upload.with!['path']), /traces-\$\{\{ matrix\.leg \}\}\.db\*/)
  t.equal(download.with!['pattern'], 'traces-*', 'the download pattern matches every leg artifact')
  t.equal(qemu.steps.find(s => s.uses?.startsWith('actions/upload-artifact'))!.with!['name'], 'traces-qemu', 'and the qemu store')
  t.ok(run.steps.some(s => /sudo .*\bsockspec run --db "traces-\$LEG\.db" --reporter junit/.test(s.run ?? '')))
  t.notMatch(text, /npx sockspec/, "no npx: inside the clone it would copy the package into npm's cache and build it again")
  t.ok(
    qemu.steps.some(s => /npm run matrix/.test(s.run ?? '')),
    'a leg runs the qemu kernel matrix',
  )
  t.ok(legs.includes(compare.env!['BASELINE_LEG']!), 'the baseline is one of the legs')
  t.ok(
    compare.steps.some(s => s.uses?.startsWith('actions/upload-artifact') && (s.with!['path'] as string).includes('reports/')),
    'the report is published',
  )
  // every action pinned to a full commit SHA, with the tag beside it for the reader
  const uses = [...text.matchAll(/^\s*(?:- )?uses: (\S+)(.*)$/gm)]
  t.ok(uses.length >= 10)
  for (const [, action, rest] of uses) t.match(`${action}${rest}`, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, `${action} pinned`)
  t.match(wf.concurrency?.group, /github\.ref/, 'one run per branch at a time')
  t.match(String(wf.concurrency?.['cancel-in-progress']), /pull_request/, 'only pull requests are cancelled by a newer push')
  // the Debian packages the kit needs (.ci/run lists them with their reason) are installed by the legs that use them
  const ciNeeds = new Set([...readFileSync(join(kitRoot, '.ci', 'run'), 'utf8').matchAll(/need\+=\(([\w.+-]+)\)/g)].map(m => m[1]!))
  const installs = (steps: Step[]): string => steps.map(s => s.run ?? '').join('\n')
  for (const pkg of ['iproute2', 'nftables']) {
    t.ok(ciNeeds.has(pkg), `${pkg} is one the kit needs`)
    t.match(installs(run.steps), new RegExp(`apt-get install[^\n]*\\b${pkg}\\b`), `the legs install ${pkg}`)
  }
  for (const pkg of ['qemu-system-x86', 'busybox-static', 'debian-archive-keyring', 'iproute2', 'nftables']) {
    t.ok(ciNeeds.has(pkg), `${pkg} is one the kit needs`)
    t.match(installs(qemu.steps), new RegExp(`apt-get install[\\s\\S]*\\b${pkg}\\b`), `the qemu job installs ${pkg}`)
  }
  // history between workflow runs: restored every time, written by weekly runs only
  const restore = compare.steps.find(s => s.uses?.startsWith('actions/cache/restore'))!
  const save = compare.steps.find(s => s.uses?.startsWith('actions/cache/save'))!
  t.equal(restore.with!['path'], 'history')
  t.equal(save.with!['path'], 'history')
  t.equal(restore.with!['restore-keys'], 'kernels-history-', 'the newest history of any earlier run')
  t.equal(save.with!['key'], restore.with!['key'], 'a new key per workflow run (a cache entry cannot be overwritten)')
  t.match(save.if, /schedule/)
  t.notMatch(save.if, /pull_request|push/, 'a pull request never moves last week')
  // every sockspec command the workflow calls exists
  const runs = [run, qemu, compare].flatMap(j => j.steps.map(st => st.run ?? '')).join('\n')
  const commands = new Set([...runs.matchAll(/(?<![\w"/-])sockspec (\w+)/g)].map(m => m[1]!))
  t.ok(commands.has('run') && commands.has('compare'), 'the commands are found')
  for (const cmd of commands) t.equal(sockspec([cmd, '--help']).code, 0, `sockspec ${cmd} exists`)

  // run the compare job's shell steps, in order, with npx -> this build, on two leg stores and the
  // history a weekly run left a week ago: run a as last week's run of both legs
  const work = join(dir, 'workflow')
  mkdirSync(join(work, 'legs'), { recursive: true })
  mkdirSync(join(work, 'shim'))
  mkdirSync(join(work, 'history'))
  symlinkSync(join(kitRoot, '.github'), join(work, '.github'))
  const baselineLeg = compare.env!['BASELINE_LEG']!
  const otherLeg = legs.find(l => l !== baselineLeg)!
  copyFileSync(aDb, join(work, 'legs', `traces-${baselineLeg}.db`))
  copyFileSync(bDb, join(work, 'legs', `traces-${otherLeg}.db`))
  copyFileSync(aDb, join(work, 'history', 'history.db'))
  writeFileSync(
    join(work, 'history', 'legs.tsv'),
    `${otherLeg}\t${runUuid(aDb)}\n${baselineLeg}\t${runUuid(aDb)}\nretired-leg\t${randomUUID()}\n`,
  )
  const githubEnv = join(work, 'github-env')
  const summary = join(work, 'step-summary.md')
  writeFileSync(githubEnv, '')
  writeFileSync(summary, '')
  const runStep = (job: { env?: Record<string, string> }, step: Step, extraEnv: Record<string, string> = {}) => {
    t.notMatch(step.run!, /\$\{\{/, 'no expression expanded into a shell script')
    const fromSteps = Object.fromEntries(
      readFileSync(githubEnv, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
    return spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run!], {
      cwd: work,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        ...job.env,
        ...fromSteps,
        ...extraEnv,
        GITHUB_ENV: githubEnv,
        GITHUB_STEP_SUMMARY: summary,
        PATH: `${join(work, 'shim', 'bin')}:${process.env['PATH'] ?? ''}`,
      },
    })
  }
  // the job's own step puts this build on PATH as `sockspec` (run from the kit's root, as the job runs in its checkout)
  const onPath = compare.steps.find(s => s.name === 'sockspec on PATH')!
  t.ok(
    run.steps.some(s => s.name === 'sockspec on PATH'),
    'the legs put sockspec on PATH too',
  )
  const githubPath = join(work, 'github-path')
  const made = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', onPath.run!], {
    cwd: kitRoot,
    encoding: 'utf8',
    env: { ...process.env, RUNNER_TEMP: join(work, 'shim'), GITHUB_PATH: githubPath },
  })
  t.equal(made.status, 0, made.stderr)
  const binDir = readFileSync(githubPath, 'utf8').trim()
  t.equal(spawnSync(join(binDir, 'sockspec'), ['--version'], { encoding: 'utf8' }).status, 0, 'the sockspec it made runs')
  const steps = compare.steps.filter(s => s.run && s.run !== 'npm ci' && s !== onPath)
  const outcomes = steps.map(step => {
    const r = runStep(compare, step)
    return { name: step.name ?? step.run!, code: r.status ?? -1, stderr: r.stderr }
  })
  t.same(
    outcomes.map(o => `${o.name}: ${o.code}`),
    steps.map(s => `${s.name ?? s.run!}: ${/fails .*on regression/.test(s.name ?? '') ? 1 : 0}`),
    `every step succeeds but the gates, which fail on the regression: ${outcomes.map(o => o.stderr).join('')}`,
  )
  t.equal(counts(join(work, 'all.db'))['runs'], 2, "the baseline comparison sees this workflow run's legs only")
  const doc = JSON.parse(readFileSync(join(work, 'compare.json'), 'utf8')) as CompareDocument
  t.same(validateCompare(doc) ? [] : validateCompare.errors, [], 'valid against compare.schema.json')
  t.equal(doc.baseline?.uuid, runUuid(aDb), 'the baseline leg was found by its own store')
  t.match(readFileSync(join(work, 'compare.txt'), 'utf8'), /REGRESSION overflow\/expects-rst/)
  // week over week: the leg whose run changed is compared with last week's run of it
  const sinceLast = JSON.parse(readFileSync(join(work, `since-last-${otherLeg}.json`), 'utf8')) as CompareDocument
  t.equal(sinceLast.comparisons[0]?.a.uuid, runUuid(aDb), "last week's run")
  t.equal(sinceLast.comparisons[0]?.b.uuid, runUuid(bDb), "this week's run")
  t.ok(sinceLast.regression)
  t.notOk(existsSync(join(work, `since-last-${baselineLeg}.json`)), 'a leg whose run is the same has nothing to compare')
  const md = readFileSync(summary, 'utf8')
  t.match(md, /### legs against ubuntu-24\.04/)
  t.match(md, new RegExp(`### ${otherLeg.replace(/\./g, '\\.')} against last week`))
  t.match(
    md,
    /#### Regressions\n\n\| scenario \| kernels \| verdicts \| message \|\n[^]*overflow\/expects-rst &#91;ipv4&#93;[^\n]*pass → fail/,
  )
  t.match(md, /#### Differences/)
  // the weekly run became the history: this run of each leg, the retired leg kept
  const history = readFileSync(join(work, 'history', 'legs.tsv'), 'utf8')
  t.match(history, new RegExp(`^${otherLeg}\t${runUuid(bDb)}$`, 'm'))
  t.match(history, /^retired-leg\t/m)
  t.equal(counts(join(work, 'history', 'history.db'))['runs'], 2, 'both runs in the history store, once each')

  // a leg's own summary from its JUnit file, as the run job writes it
  const junit = sockspec([
    'run',
    join(fx, 'overflow', 'expects-rst.yaml'),
    join(fx, 'only-b'),
    '--db',
    join(work, 'leg.db'),
    '--reporter',
    'junit',
  ])
  t.equal(junit.code, 1, junit.stderr)
  writeFileSync(join(work, `junit-${otherLeg}.xml`), junit.stdout)
  writeFileSync(summary, '')
  const legSummary = run.steps.find(s => /step-summary\.mjs junit/.test(s.run ?? ''))!
  t.equal(legSummary.if, 'always()', 'the summary is written when scenarios fail too')
  const r = runStep(run, legSummary, { LEG: otherLeg })
  t.equal(r.status, 0, r.stderr)
  const legMd = readFileSync(summary, 'utf8')
  t.match(legMd, new RegExp(`^### sockspec on ${otherLeg.replace(/\./g, '\\.')}\n\n1 pass, 1 fail, 0 error, 0 skip`, 'm'))
  t.match(legMd, /\| FAIL \| overflow\/expects-rst ipv4 \|/)
  // a scenario title or message cannot inject markup into the summary
  const hostileXml = join(work, 'hostile.xml')
  writeFileSync(
    hostileXml,
    '<testsuites><testsuite><testcase classname="p" name="a | b &lt;img src=x&gt; [l](http://e)"><failure message="**bold**"/></testcase></testsuite></testsuites>',
  )
  const hostile = spawnSync(process.execPath, [join(kitRoot, '.github', 'workflows', 'step-summary.mjs'), 'junit', 'x', hostileXml], {
    encoding: 'utf8',
  })
  t.equal(hostile.status, 0, hostile.stderr)
  t.notMatch(hostile.stdout, /<img|\]\(|\*\*bold|a \| b/, 'escaped')
  t.match(hostile.stdout, /\| FAIL \| a &#124; b &#60;img/)
})

t.test(
  'TCP_INFO: two runs of the fastopen counterexample on one kernel compare as same',
  { skip: process.getuid?.() !== 0 && 'needs root: the scenario sets tcp_fastopen in a simulated host' },
  async t => {
    // In SYN_SENT with the SYN deferred, notsent_bytes is write_seq (a random ISN) - snd_nxt (0): it differed between runs
    const scenario = join(kitRoot, 'scenarios', 'seed-claims', 'claim-3-counter-fastopen.yaml')
    const [dbA, dbB, all] = ['fastopen-a.db', 'fastopen-b.db', 'fastopen-all.db'].map(f => join(dir, f)) as [string, string, string]
    const runs = await Promise.all(
      [dbA, dbB].map(db => runAsync([process.execPath, bin, 'run', scenario, '--db', db, '--reporter', 'json'])),
    )
    for (const r of runs) t.equal(r.code, 0, `run passes: ${r.stderr}`)
    t.equal(sockspec(['merge', dbA, dbB, '--into', all]).code, 0)
    const r = sockspec(['compare', '--db', all, runUuid(dbA), runUuid(dbB), '--reporter', 'json'])
    t.equal(r.code, 0, r.stderr)
    const pairs = (JSON.parse(r.stdout) as CompareDocument).comparisons[0]!.pairs
    t.same(
      pairs.map(p => `${p.scenario} [${p.variant}] ${p.label}`),
      ['ipv4', 'ipv6'].map(v => `seed-claims/claim-3-counter-fastopen [${v}] same`),
      JSON.stringify(pairs.map(p => p.firstDifference)),
    )
    // and normalisation keeps the counters but not the fill level, on the real SYN_SENT event
    const db = new Database(all, { readonly: true })
    const events = db.prepare('SELECT * FROM events WHERE result_id = ? ORDER BY idx').all(pairs[0]!.a!.resultId) as EventRow[]
    db.close()
    const info = normaliseTrace(events).find(e => e.fields['opt'] === 'TCP_INFO')!.fields['value'] as Record<string, unknown>
    t.match(info, { state: 'TCP_SYN_SENT', total_retrans: Number, unacked: Number })
    for (const dropped of ['notsent_bytes', 'rtt', 'rto', 'pacing_rate', 'last_data_sent', 'snd_cwnd'])
      t.notOk(dropped in info, `${dropped} not compared`)
  },
)

t.test('wait_blocked compares by the syscall it found: polls, pid and wait channel are timing and kernel naming', async t => {
  const row = (details: Record<string, unknown>): EventRow => ({
    idx: 1,
    actor: 'client',
    seq: 1,
    step: 's5',
    t_ns: 0,
    dur_ns: 0,
    op: 'wait_blocked',
    sockets: null,
    ret: 0,
    errno: null,
    mask: null,
    details: JSON.stringify({ seq: 1, step: 's5', op: 'wait_blocked', t0: 1, t1: 2, ret: 0, ...details }),
  })
  const key = (details: Record<string, unknown>): string => normaliseTrace([row(details)])[0]!.key
  const seen = { pid: 2750, polls: 1, value: { state: 'S', syscall: 'accept4', wchan: 'inet_csk_accept' } }
  t.equal(key(seen), key({ pid: 31, polls: 7, value: { state: 'D', syscall: 'accept4', wchan: 'inet_csk_wait_for_connect' } }), 'same call')
  t.not(key(seen), key({ ...seen, value: { ...seen.value, syscall: 'epoll_wait' } }), 'another call differs')
})

t.test('a hostile bundle cannot drive the terminal through runs, show or compare', async t => {
  const out = sockspec(['export', runUuid(bDb), '--db', bDb])
  t.equal(out.code, 0, out.stderr)
  type Bundle = {
    run: Record<string, unknown>
    scenarios: Array<Record<string, unknown>>
    results: Array<{ scenario: string; message: string; stderr: Record<string, string>; events: Array<{ actor: string }> }>
  }
  const bundle = JSON.parse(out.stdout) as Bundle
  const ESC = '\x1b]0;pwned\x07\x1b[2J\u202e'
  bundle.run['uuid'] = randomUUID()
  bundle.run['host'] = `host${ESC}`
  bundle.run['kernel_release'] = `6.0${ESC}\nforged line`
  const victim = bundle.results.find(r => r.scenario === 'overflow/einprogress')!
  victim.message = `message${ESC}`
  victim.stderr = { client: `stderr${ESC}\n` }
  for (const s of bundle.scenarios) if (s['scenario'] === victim.scenario) s['title'] = `title${ESC}`
  const file = join(dir, 'hostile.json')
  writeFileSync(file, JSON.stringify(bundle))
  const db = join(dir, 'hostile.db')
  const imported = sockspec(['import', file, '--db', db])
  t.equal(imported.code, 0, imported.stderr)
  t.equal(sockspec(['merge', bDb, '--into', db]).code, 0)
  const outputs = {
    runs: sockspec(['runs', '--db', db]),
    show: sockspec(['show', victim.scenario, '--db', db, '--run', String(bundle.run['uuid'])]),
    compare: sockspec(['compare', '--db', db, runUuid(bDb), String(bundle.run['uuid']), '--all']),
  }
  for (const [name, r] of Object.entries(outputs)) {
    t.ok(r.code === 0 || r.code === 1, `${name} ran: ${r.stderr}`)
    t.notOk(/[\x07\x1b\u202e]/.test(r.stdout + r.stderr), `${name}: no raw control character or bidi override`)
    t.match(r.stdout, /\\x1b\]0;pwned\\x07\\x1b\[2J\\u202e/, `${name}: shown escaped`)
    t.notMatch(r.stdout, /^forged line/m, `${name}: no forged line`)
  }
  t.match(outputs.show.stdout, /title\\x1b/)
  t.match(outputs.show.stdout, /stderr\\x1b/)
})

t.test('differences a scenario expects per kernel are labelled expected, others still differs', async t => {
  const { compareRuns } = await import('../harness/compare/compare-runs.js')
  const { signatureOfRows } = await import('../harness/compare/signature.js')
  // hand-made rows in the shape the probe writes and the store keeps (compareRuns is pure)
  const ev = (idx: number, step: string, op: string, ret: number, extra: Record<string, unknown> = {}): EventRow => ({
    idx,
    actor: 'app',
    seq: idx,
    step,
    t_ns: idx * 1000,
    dur_ns: 10,
    op,
    sockets: null,
    ret,
    errno: typeof extra['errno'] === 'string' ? (extra['errno'] as string) : null,
    mask: null,
    details: JSON.stringify({ seq: idx, step, op, h: 'U', t0: idx * 1000, t1: idx * 1000 + 10, ret, ...extra }),
  })
  const check = (idx: number, step: string, field: string, expected: string): CheckRow => ({
    idx,
    step,
    actor: 'app',
    field,
    expected,
    observed: expected,
    verdict: 'pass',
    claim: 0,
  })
  const old = {
    events: [ev(0, 's1', 'socket', 3), ev(1, 's2', 'getsockopt', -1, { errno: 'ENOPROTOOPT', level: 'SOL_SOCKET', opt: 'SO_RCVMARK' })],
    checks: [check(0, 's2', 'ret', '-1'), check(1, 's2', 'errno', 'ENOPROTOOPT')],
  }
  const now = {
    events: [ev(0, 's1', 'socket', 3), ev(1, 's2', 'getsockopt', 0, { level: 'SOL_SOCKET', opt: 'SO_RCVMARK', value: 0 })],
    checks: [check(0, 's2', 'ret', '0'), check(1, 's2', 'value', '0')],
  }
  const body = (range: string) => ({
    title: 't',
    steps: [
      { id: 's1', actor: 'app', do: 'socket', sock: 'U' },
      {
        id: 's2',
        actor: 'app',
        do: 'getsockopt',
        expect: {
          kernels: [
            { range, ret: 0, value: 0 },
            { range: '>=1', ret: -1, errno: 'ENOPROTOOPT' },
          ],
        },
      },
    ],
  })
  const traces = new Map<number, { events: EventRow[]; checks: CheckRow[] }>()
  const run = (id: number, release: string, version: string, trace: typeof old, verdict: 'pass' | 'fail' = 'pass'): RunTraces => {
    traces.set(id, trace)
    return {
      run: {
        id,
        uuid: `u${id}`,
        host: 'h',
        kernelRelease: release,
        kernelVersion: version,
        arch: 'x86_64',
        distro: null,
        startedAt: '',
        status: 'complete',
      },
      results: [
        {
          resultId: id,
          scenario: 'kc/rcvmark',
          hash: 'h1',
          title: 't',
          variant: 'default',
          attempt: 1,
          verdict,
          claim: null,
          message: '',
          signature: signatureOfRows(trace.events, trace.checks),
          failedChecks: [],
        },
      ],
    }
  }
  const read = (id: number) => traces.get(id)!
  const labelOf = (a: RunTraces, b: RunTraces, range: string, withBody = true) =>
    compareRuns(a, b, read, withBody ? { scenarioBody: () => body(range) } : {}).pairs[0]!.label

  const v510 = run(1, '5.10.0-46-cloud-amd64', '#1 SMP Debian 5.10.262-1 (2025-10-01)', old)
  const v72 = run(2, '7.2.13+deb14-cloud-amd64', '#1 SMP PREEMPT_DYNAMIC Debian 7.2.13-1 (2026-10-01)', now)
  t.equal(labelOf(v510, v72, '>=5.19'), 'expected', 'the step answers as its kernels entry says on each side')
  t.equal(labelOf(v510, v72, '>=5.19', false), 'differs', 'without the scenario nothing is known to be expected')
  t.equal(labelOf(v510, v72, '>=1 <2'), 'differs', 'a scenario whose expectation is the same on both kernels expects no difference')
  // one more step differs, and that one has no per-kernel expectation
  const extra = run(3, '7.2.13+deb14-cloud-amd64', '#1 SMP Debian 7.2.13-1', {
    events: [ev(0, 's1', 'socket', -1, { errno: 'EMFILE' }), ...now.events.slice(1)],
    checks: now.checks,
  })
  t.equal(labelOf(v510, extra, '>=5.19'), 'differs', 'an unexpected difference at another step keeps the pair differs')
  // same trace, checks differ only in what the kernels entry expected (TCP_INFO optlen is not in the normalised trace)
  const checksOnly = run(4, '7.2.13', '', {
    events: old.events,
    checks: [check(0, 's2', 'ret', '-1'), check(1, 's2', 'errno', 'EOPNOTSUPP')],
  })
  t.equal(labelOf(v510, checksOnly, '>=5.19'), 'expected', 'a check-only difference at an expected step is expected')
  // the same release string on both sides: the upstream version from uname -v decides (a 6.1.y backport)
  const early = run(5, '6.1.0-10-cloud-amd64', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-1 (2023-07-14)', old)
  const late = run(6, '6.1.0-56-cloud-amd64', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-1 (2026-01-01)', now)
  t.equal(labelOf(early, late, '>=6.1.90 <6.2'), 'expected', 'ranges resolve against the upstream 6.1.y the version string names')
  t.equal(
    labelOf(run(7, '6.1.0-56-cloud-amd64', '#1 SMP', old), run(8, '6.1.0-56-cloud-amd64', '#1 SMP', now), '>=6.1.90 <6.2'),
    'differs',
    'one kernel on both sides: nothing is expected to change',
  )
  t.equal(labelOf(v510, run(9, '7.2.13', '', now, 'fail'), '>=5.19'), 'regression', 'pass -> fail stays a regression')
})

t.test('answers compared as the atlas reads them: timer units, SYNs per direction, across groups', async t => {
  const { compareRuns } = await import('../harness/compare/compare-runs.js')
  const { signatureOfRows } = await import('../harness/compare/signature.js')
  const { renderComparison } = await import('../harness/compare/render-text.js')
  // hand-made rows in the shape the probe and the capture write (compareRuns is pure)
  const ev = (idx: number, actor: string, step: string, op: string, t_ns: number, extra: Record<string, unknown>): EventRow => ({
    idx,
    actor,
    seq: idx,
    step,
    t_ns,
    dur_ns: 10,
    op,
    sockets: null,
    ret: typeof extra['ret'] === 'number' ? (extra['ret'] as number) : null,
    errno: typeof extra['errno'] === 'string' ? (extra['errno'] as string) : null,
    mask: null,
    details: JSON.stringify({ seq: idx, step, op, t0: t_ns, t1: t_ns + 10, ...extra }),
  })
  const pass = (idx: number, step: string, field: string, expected: string, observed: string): CheckRow => ({
    idx,
    step,
    actor: 'client',
    field,
    expected,
    observed,
    verdict: 'pass',
    claim: 0,
  })
  // connect to a listener that never answers: ETIMEDOUT after the SYN retransmissions (6.1: 4 SYNs in 15 s; 6.5+: 8 in 19.5 s)
  const synTimeout = (ms: number, syns: number) => {
    const wire = Array.from({ length: syns }, (_, i) =>
      ev(2 + i, 'wire', '', 'packet', 1e6 + i * 1e6, {
        src: '10.0.0.1',
        sport: 40000 + i,
        dst: '10.0.0.2',
        dport: 80,
        tcp_flags: ['SYN'],
        len: 0,
      }),
    )
    return {
      events: [
        ev(0, 'client', 's1', 'socket', 0, { h: 'C', ret: 3 }),
        ev(1, 'client', 's2', 'connect', 1e6, { h: 'C', ret: -1, errno: 'ETIMEDOUT' }),
        ...wire,
        ev(2 + syns, 'client', 's2', 'connect', ms * 1e6, { h: 'C', ret: -1, errno: 'ETIMEDOUT' }),
      ].map((e, idx) => ({ ...e, idx })),
      checks: [pass(0, 's2', 'errno', 'ETIMEDOUT', 'ETIMEDOUT'), pass(1, 's2', 'time', '9000..31000 ms', `${ms.toFixed(1)} ms`)],
    }
  }
  const synBody = {
    title: 'SYN timeout',
    steps: [
      { id: 's1', actor: 'client', do: 'socket', sock: 'C' },
      {
        id: 's2',
        actor: 'client',
        do: 'connect',
        sock: 'C',
        expect: { errno: 'ETIMEDOUT', time: { timers_ms: [1000, 2000, 4000, 8000] } },
      },
    ],
  }
  const traces = new Map<number, { events: EventRow[]; checks: CheckRow[] }>()
  const run = (id: number, release: string, trace: { events: EventRow[]; checks: CheckRow[] }): RunTraces => {
    traces.set(id, trace)
    return {
      run: {
        id,
        uuid: `u${id}`,
        host: 'h',
        kernelRelease: release,
        kernelVersion: '',
        arch: 'x86_64',
        distro: null,
        startedAt: '',
        status: 'complete',
      },
      results: [
        {
          resultId: id,
          scenario: 'kc/syn',
          hash: 'h1',
          title: 't',
          variant: 'ipv4',
          attempt: 1,
          verdict: 'pass',
          claim: null,
          message: '',
          signature: signatureOfRows(trace.events, trace.checks),
          failedChecks: [],
        },
      ],
    }
  }
  const read = (id: number) => traces.get(id)!
  const v61 = run(1, '6.1.0', synTimeout(15_400, 4))
  const v618 = run(2, '6.18.0', synTimeout(19_500, 8))
  const v61again = run(3, '6.1.0', synTimeout(15_180, 4))
  t.equal(compareRuns(v61, v618, read).pairs[0]!.label, 'same', 'the normalised traces alone cannot see it (no TCP_INFO read)')
  const c = compareRuns(v61, v618, read, { scenarioBody: () => synBody })
  const p = c.pairs[0]!
  t.equal(p.label, 'differs', 'with the scenario: timer units and SYN counts are compared')
  t.same(
    p.facets.map(f => f.key),
    ['s2 time', 'packets'],
  )
  t.match(p.facets[0], { kind: 'time', a: /≈15 × 1 s \(15400 ms\)/, b: /≈20 × 1 s \(19500 ms\)/ })
  t.match(p.facets[1], { kind: 'packets', a: /→ 4 SYN/, b: /→ 8 SYN/ })
  const text = renderComparison(c)
  t.match(text, /what changed, by behaviour:/)
  t.match(text, /segments on the wire .*: 1 change\(s\)\n\s+differs kc\/syn \[ipv4\] packets\n\s+a: → 4 SYN/)
  t.equal(
    compareRuns(v61, v61again, read, { scenarioBody: () => synBody }).pairs[0]!.label,
    'same',
    '15.4 s and 15.2 s are the same 15 timer units on one kernel',
  )

  // exactly one of two waiters is woken; which one is the kernel's pick (across ... count: 1)
  const wait = (a: number, b: number) => ({
    events: [
      ev(0, 'w1', 'a', 'epoll_wait', 0, { ep: 'E1', ret: a, ready: a ? [{ h: 'L', events: ['EPOLLIN'] }] : [] }),
      ev(1, 'w2', 'b', 'epoll_wait', 0, { ep: 'E2', ret: b, ready: b ? [{ h: 'L2', events: ['EPOLLIN'] }] : [] }),
    ],
    checks: [],
  })
  const acrossBody = {
    title: 'exclusive',
    steps: [
      { id: 'a', actor: 'w1', do: 'epoll_wait', ep: 'E1', timeout_ms: 1500 },
      { id: 'b', actor: 'w2', do: 'epoll_wait', ep: 'E2', timeout_ms: 1500 },
    ],
    across: [
      { steps: ['a', 'b'], of: { ret: 1 }, count: 1 },
      { steps: ['a', 'b'], of: { ret: 0 }, count: 1 },
    ],
  }
  const opts = { scenarioBody: () => acrossBody }
  const first = run(11, '6.1.0', wait(1, 0))
  t.equal(compareRuns(first, run(12, '6.1.0', wait(0, 1)), read).pairs[0]!.label, 'differs', 'step by step, the other waiter answered')
  t.equal(compareRuns(first, run(13, '6.1.0', wait(0, 1)), read, opts).pairs[0]!.label, 'same', 'which waiter was woken is no difference')
  const both = compareRuns(first, run(14, '6.1.0', wait(1, 1)), read, opts).pairs[0]!
  t.equal(both.label, 'differs', 'how many were woken is')
  t.match(both.facets, [{ key: 'across a+b', a: /0 \(none ready\) \| 1 IN/, b: /1 IN \| 1 IN/ }])
})

t.test('compare --rerun: a regression reproduced on this kernel stands, one that is not is flaky', async t => {
  const all = join(dir, 'all.db')
  const [ua, ub] = [runUuid(aDb), runUuid(bDb)]
  // b ran on this machine's host settings: re-running its scenarios here reproduces it
  const kept = sockspec(['compare', '--db', all, ua, ub, '--rerun', '1', '--reporter', 'json'])
  t.equal(kept.code, 1, 'the regression is reproduced: exit 1')
  const k = byName((JSON.parse(kept.stdout) as CompareDocument).comparisons[0]!.pairs)
  t.match(k['overflow/expects-rst [ipv4]'], { label: 'regression', rerun: { runs: 1, asB: 1, verdicts: ['fail'] } })
  // the other way round, b is the namespace run with tcp_abort_on_overflow=1: the host cannot reproduce it
  const r = sockspec(['compare', '--db', all, ub, ua, '--rerun', '2', '--reporter', 'json'])
  t.equal(r.code, 0, 'not reproduced: flaky, no regression, exit 0')
  const doc = JSON.parse(r.stdout) as CompareDocument
  t.same(validateCompare(doc) ? [] : validateCompare.errors, [], 'valid against compare.schema.json')
  const pairs = byName(doc.comparisons[0]!.pairs)
  t.match(pairs['overflow/expects-drop [ipv4]'], { label: 'flaky', rerun: { runs: 2, asB: 0, asA: 2, verdicts: ['pass', 'pass'] } })
  t.equal(pairs['overflow/observe [ipv4]']!.label, 'flaky')
  t.equal(pairs['overflow/wire-only [ipv4]']!.label, 'flaky')
  t.equal(pairs['overflow/expects-rst [ipv4]']!.label, 'fixed', 'fixes are not re-run')
  t.equal(doc.totals.flaky, 3)
  t.equal(doc.totals.regression, 0)
  const text = sockspec(['compare', '--db', all, ub, ua, '--rerun', '1'])
  t.match(
    text.stdout,
    /flaky overflow\/expects-drop \[ipv4\]: pass -> fail\n(?:.*\n)*?\s+re-run 1x on b's kernel: 0 answered as b, 1 as a \(pass\): not reproduced every time/,
  )
  t.equal(sockspec(['compare', '--db', all, ub, ua, '--rerun', '0']).code, 2, 'a count of 0 is a usage error')
  t.match(pairs['overflow/expects-drop [ipv4]']!.rerun, { answered: 2 }, 'both re-runs answered')

  // a re-run that ended in a kit error says nothing of the kernel: a regression no re-run answered stands
  const { applyRerun } = await import('../harness/compare/rerun.js')
  const judged = (verdicts: Array<'pass' | 'fail' | 'error' | 'skip'>, answered: number, asB: number): string => {
    const c = { counts: { regression: 1, flaky: 0 } } as unknown as Comparison
    const p = { label: 'regression', rerun: null } as unknown as Pair
    applyRerun(c, p, { runs: verdicts.length, answered, asA: answered - asB, asB, verdicts })
    return `${p.label} ${JSON.stringify(c.counts)}`
  }
  t.equal(judged(['error', 'error'], 0, 0), 'regression {"regression":1,"flaky":0}', 'no re-run answered: stands')
  t.equal(judged(['error', 'fail'], 1, 1), 'regression {"regression":1,"flaky":0}', 'every answered re-run reproduced it')
  t.equal(judged(['error', 'pass'], 1, 0), 'flaky {"regression":0,"flaky":1}', 'an answered re-run did not')
})

t.test("a packet peer's segments compare by what the kernel decided: its TS clock and the set-up time are left out", async t => {
  const ports = new PortNames()
  const seg = (ts: number, skipped?: number): Record<string, unknown> => ({
    seq: 4,
    step: 'syn',
    op: 'packet_expect',
    h: 'P',
    t0: 10,
    t1: 20,
    ret: 1,
    ...(skipped !== undefined ? { skipped } : {}),
    value: { flags: 'SYN', seq: 0, ack: 0, win: 64240, len: 0, options: 'mss,sackOK,TS,nop,wscale', ts_val: ts, ts_ecr: 0, mss: 1460 },
  })
  const a = normaliseFields(seg(1715144813), 'packet_expect', ports)
  const b = normaliseFields(seg(91, 1), 'packet_expect', ports)
  t.same(a, b, 'a different TS value or a passed-over retransmission is the same behaviour')
  t.same((a['value'] as Record<string, unknown>)['flags'], 'SYN')
  const c = normaliseFields({ ...seg(1), value: { ...(seg(1)['value'] as object), wscale: 7 } }, 'packet_expect', ports)
  t.not(JSON.stringify(a), JSON.stringify(c), 'an option the kernel chose differently is a difference')
  t.same(
    normaliseFields({ seq: 1, op: 'tun_open', ready_us: 812, ret: 3, t0: 1 }, 'tun_open', ports),
    normaliseFields({ seq: 1, op: 'tun_open', ready_us: 20412, ret: 3, t0: 9 }, 'tun_open', ports),
  )
})

t.test('compare labels real matrix pairs by the answer summary the atlas reads', async t => {
  const { compareRuns } = await import('../harness/compare/compare-runs.js')
  const { signatureOfRows } = await import('../harness/compare/signature.js')
  // results read back from the 9-kernel Debian matrix store (see test/site.ts)
  const matrix = JSON.parse(readFileSync(join(kitRoot, 'test', 'fixtures', 'atlas-matrix.json'), 'utf8')) as {
    runs: Array<{ id: number; uuid: string; host: string; kernel: string; kernelVersion: string; arch: string; startedAt: string }>
    scenarios: Record<string, { doc: Record<string, unknown> }>
    results: Array<{
      id: number
      runId: number
      scenario: string
      variant: string
      verdict: 'pass'
      events: EventRow[]
      checks: CheckRow[]
    }>
  }
  const byId = new Map(matrix.results.map(r => [r.id, r]))
  const read = (id: number) => byId.get(id)!
  const side = (scenario: string, variant: string, kernel: string): RunTraces => {
    const run = matrix.runs.find(r => r.kernel.startsWith(kernel))!
    const r = matrix.results.find(x => x.scenario === scenario && x.variant === variant && x.runId === run.id)!
    return {
      run: {
        id: run.id,
        uuid: run.uuid,
        host: run.host,
        kernelRelease: run.kernel,
        kernelVersion: run.kernelVersion,
        arch: run.arch,
        distro: null,
        startedAt: run.startedAt,
        status: 'complete',
      },
      results: [
        {
          resultId: r.id,
          scenario,
          hash: scenario,
          title: scenario,
          variant,
          attempt: 1,
          verdict: r.verdict,
          claim: null,
          message: '',
          signature: signatureOfRows(r.events, r.checks),
          failedChecks: [],
        },
      ],
    }
  }
  const label = (scenario: string, variant: string, a: string, b: string) =>
    compareRuns(side(scenario, variant, a), side(scenario, variant, b), read, {
      scenarioBody: id => matrix.scenarios[byId.get(id)!.scenario]!.doc,
    }).pairs[0]!
  t.equal(label('seed-claims/claim-3-synsent', 'ipv4', '6.18.44', '7.2.13').label, 'same', 'a held handshake one retransmit shorter')
  t.equal(label('routes/via-gateway-forwards', 'ipv6', '6.12.118', '6.16.12').label, 'same', '4 against 6 SYNs while the path came up')
  const send = label('tcp-send/msg-dontwait-blocking-socket', 'ipv4', '6.1.0', '6.12.118')
  t.equal(send.label, 'same', '40960 and 49152 bytes both inside the bound the scenario gives')
  t.equal(label('tcp-peer/passive-handshake-accept', 'ipv4', '6.18.15', '6.18.44').label, 'same', 'window scale 7 against 10')
  t.equal(label('tcp-peer/mss-splits-a-write', 'ipv4', '5.10.0', '6.1.0').label, 'same', 'ACK against PSH|ACK, both allowed')
  const timeout = label('io-uring/connect-timeout', 'ipv4', '6.1.0', '6.12.118')
  t.equal(timeout.label, 'expected', 'the linear SYN timeouts of 6.5, as the per-kernel cases say')
  t.match(timeout.facets, [{ key: 'packets', a: /→ 2 SYN/, b: /→ 3 SYN/ }])
  const rdhup = label('io-uring/poll-refused', 'ipv4', '6.1.0', '6.12.118')
  t.equal(rdhup.label, 'differs', 'the RDHUP of 6.12.118 is a real difference')
  t.match(rdhup.facets, [{ key: 's9', a: /RDHUP/, b: /^(?!.*RDHUP)/ }])
})
