// The trace store on a real SQLite file: migrations, round trip of a result
// with its events and checks, refusal of unknown schema versions, STRICT
// typing, and atomic per-result writes.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot } from '../harness/paths.js'
import { thisLiveness } from '../harness/store/liveness.js'
import { TraceStore } from '../harness/store/store.js'
import { exportRunBundle } from '../harness/store/export-bundle.js'
import { checkRunBundle, importRunBundle } from '../harness/store/import-bundle.js'
import type { RunBundle } from '../harness/store/run-bundle.js'
import { loadRunTraces } from '../harness/compare/load-run.js'
import { firstDifference } from '../harness/compare/first-difference.js'
import { lineKey, signatureOf, signatureOfRows } from '../harness/compare/signature.js'
import { normaliseFields, PortNames } from '../harness/compare/normalise.js'
import { MIGRATIONS, SCHEMA_VERSION } from '../harness/store/migrations.js'
import { parseScenario } from '../harness/scenario/load.js'
import type { ScenarioResult } from '../harness/trace/result.js'
import type { ProbeEvent } from '../harness/trace/event.js'
import { keepRawLine, rawLineOf } from '../harness/trace/raw-line.js'
import type { SockspecError } from '../harness/errors.js'
import { sockspecAsync } from './fixtures/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'sockspec-store-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const scenario = parseScenario(
  JSON.stringify({
    title: 'store <test>',
    sources: [{ man: 'connect(2)' }],
    steps: [
      { actor: 'client', do: 'socket', sock: 'C' },
      { actor: 'client', do: 'connect', sock: 'C', port: 1, expect: { errno: 'ECONNREFUSED' } },
    ],
  }),
  join(dir, 'pack', 'store-test.json'),
)
const runInfo = {
  host: 'h',
  hostKind: 'loopback',
  kernelRelease: '6.18.0',
  kernelVersion: '#1',
  arch: 'x86_64',
  distro: 'Debian',
  kitVersion: '0.0.0',
  kitCommit: undefined,
  sysctls: { 'net.core.somaxconn': '4096' },
  argv: ['run'],
}

function result(verdict: ScenarioResult['verdict']): ScenarioResult {
  return {
    scenario,
    variant: 'ipv4',
    attempt: 1,
    verdict,
    claim: undefined,
    message: verdict === 'fail' ? 'errno differs' : '',
    durationMs: 12.5,
    events: [
      { actor: 'client', event: { seq: 1, step: 's1', op: 'socket', t0: 5_000, t1: 6_000, ret: 3, new: 'C' } },
      {
        actor: 'client',
        event: {
          seq: 2,
          step: 's2',
          op: 'connect',
          t0: 9_000,
          t1: 9_500,
          ret: -1,
          errno: 'ECONNREFUSED',
          h: 'C',
          addr: { family: 'inet', addr: '127.0.0.1', port: 1 },
        },
      },
      {
        actor: 'client',
        event: {
          seq: 3,
          step: 's3',
          op: 'epoll_wait',
          t0: 10_000,
          t1: 11_000,
          ret: 1,
          ready: [{ h: 'C', events: ['EPOLLOUT', 'EPOLLHUP'] }],
        },
      },
    ],
    invalid: [{ actor: 'client', raw: '{oops', problem: 'not JSON' }],
    checks: [{ step: 's2', actor: 'client', field: 'errno', expected: 'ECONNREFUSED', observed: 'ECONNREFUSED', ok: true, claim: false }],
    stderr: { client: 'warning\n' },
    kernels: { client: '6.18.0' },
  }
}

t.test('a new store is migrated to the current version, in WAL mode', async t => {
  const file = join(dir, 'new.db')
  const store = TraceStore.open(file)
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.equal(store.db.pragma('journal_mode', { simple: true }), 'wal')
  store.close()
  const again = TraceStore.open(file)
  t.equal(again.db.pragma('user_version', { simple: true }), SCHEMA_VERSION, 're-opening does not migrate twice')
  again.close()
})

t.test('round trip: run, result, events, checks', async t => {
  const store = TraceStore.open(join(dir, 'rt.db'))
  const { id: runId, uuid } = store.beginRun(runInfo)
  const resultId = store.recordResult(runId, result('pass'))
  store.finishRun(runId, 'complete')
  const run = store.run(uuid.slice(0, 8))
  t.equal(run?.status, 'complete')
  t.same(JSON.parse(run!.sysctls), runInfo.sysctls)
  const [row] = store.results(runId)
  t.match(row, { id: resultId, scenario: 'pack/store-test', title: 'store <test>', variant: 'ipv4', verdict: 'pass', duration_ms: 12.5 })
  t.same(JSON.parse(row!.invalid), [{ actor: 'client', raw: '{oops', problem: 'not JSON' }], 'invalid lines are kept raw')
  const events = store.events(resultId)
  t.equal(events.length, 3)
  t.match(events[1], { op: 'connect', sockets: 'C', ret: -1, errno: 'ECONNREFUSED', t_ns: 4_000, dur_ns: 500 })
  t.equal(events[2]?.mask, 'C:EPOLLOUT|EPOLLHUP')
  t.same(JSON.parse(events[1]!.details).addr, { family: 'inet', addr: '127.0.0.1', port: 1 })
  t.match(store.checks(resultId), [{ step: 's2', field: 'errno', verdict: 'pass', claim: 0 }])
  // the same scenario content maps to one scenario row
  store.recordResult(runId, { ...result('fail'), attempt: 2 })
  t.equal((store.db.prepare('SELECT count(*) AS n FROM scenarios').get() as { n: number }).n, 1)
  t.equal(store.lastDurations().get('pack/store-test'), 12.5)
  store.close()
})

t.test('schema 5: events stored as the probe wrote them, read back with the derived columns, in the events view too', async t => {
  const store = TraceStore.open(join(dir, 'lines.db'))
  const { id: runId } = store.beginRun(runInfo)
  // a line in the probe's own field order, kept as parsed (probe/process.ts does this for every event)
  const line = '{"seq":1,"step":"s1","op":"socket","new":"C","t0":5000,"t1":6000,"ret":3}'
  const socket = keepRawLine(JSON.parse(line) as ProbeEvent, line)
  t.throws(() => ((socket as { ret: number }).ret = 4), TypeError, 'a kept event cannot change under its line')
  const base = result('pass')
  const guest = { seq: 7, step: 's3', op: 'poll', t0: 70, t1: 75, ret: 1, revents: [{ h: 'C', events: ['POLLHUP', 'POLLIN'] }] }
  const resultId = store.recordResult(runId, {
    ...base,
    events: [
      { actor: 'client', event: socket },
      base.events[1]!,
      { actor: 'server', event: guest, clock: 'guest' },
      { actor: 'client', event: { seq: 4, op: 'close', t0: 12_000, h: 'C', ret: 0 } },
    ],
  })
  const text = (store.db.prepare('SELECT events FROM traces WHERE result_id = ?').get(resultId) as { events: string }).events
  t.ok(text.startsWith(`[["client",${line}],`), 'the line itself is stored, after its actor')
  t.ok(text.includes(',"guest"]'), "an event off this machine's clock names its clock")
  const events = store.events(resultId)
  t.same(
    events.map(({ details: _d, ...e }) => e),
    [
      { idx: 0, actor: 'client', seq: 1, step: 's1', t_ns: 0, dur_ns: 1000, op: 'socket', sockets: 'C', ret: 3, errno: null, mask: null },
      {
        idx: 1,
        actor: 'client',
        seq: 2,
        step: 's2',
        t_ns: 4000,
        dur_ns: 500,
        op: 'connect',
        sockets: 'C',
        ret: -1,
        errno: 'ECONNREFUSED',
        mask: null,
      },
      {
        idx: 2,
        actor: 'server',
        seq: 7,
        step: 's3',
        t_ns: 0,
        dur_ns: 5,
        op: 'poll',
        sockets: null,
        ret: 1,
        errno: null,
        mask: 'C:POLLIN|POLLHUP',
      },
      { idx: 3, actor: 'client', seq: 4, step: null, t_ns: 7000, dur_ns: null, op: 'close', sockets: 'C', ret: 0, errno: null, mask: null },
    ],
    't_ns counts from the first event of the same clock; sockets, mask and duration derived as schema 4 stored them',
  )
  t.same(JSON.parse(events[0]!.details), JSON.parse(line))
  const view = store.db.prepare('SELECT * FROM events WHERE result_id = ? ORDER BY idx').all(resultId) as Array<Record<string, unknown>>
  t.same(
    view.map(({ result_id: _r, details, mask, ...e }) => ({ ...e, details: JSON.parse(details as string) as unknown, mask })),
    events.map(e => ({
      ...e,
      details: JSON.parse(e.details) as unknown,
      mask: e.mask === 'C:POLLIN|POLLHUP' ? 'C:POLLHUP|POLLIN' : e.mask,
    })),
    "the events view reads the same rows (a mask's flags in the probe's order)",
  )
  t.equal(store.trace(resultId).events.length, 4)
  store.close()
})

t.test('run references: ids, uuid prefixes (also all-digit ones), latest', async t => {
  const store = TraceStore.open(join(dir, 'refs.db'))
  const first = store.beginRun({ ...runInfo, uuid: '20000000-0000-4000-8000-000000000000', startedAt: '2026-01-01T00:00:00Z' })
  const second = store.beginRun({ ...runInfo, uuid: '12345678-0000-4000-8000-000000000000', startedAt: '2026-01-02T00:00:00Z' })
  t.equal(store.run('2')?.id, second.id, 'a short number is a run id, not the uuid starting with 2')
  t.equal(store.run('12345678')?.uuid, second.uuid, 'an all-digit uuid prefix still finds its run')
  t.equal(store.run('2000')?.id, undefined, 'no run 2000, and 4 digits are not a uuid prefix')
  t.equal(store.run('latest')?.id, second.id)
  t.equal(store.run(first.uuid.slice(0, 8))?.id, first.id)
  store.close()
})

t.test('a result is written whole or not at all', async t => {
  const store = TraceStore.open(join(dir, 'atomic.db'))
  const { id: runId } = store.beginRun(runInfo)
  store.recordResult(runId, result('pass'))
  // same (run, scenario, variant, attempt) violates the UNIQUE key after events were inserted
  t.throws(() => store.recordResult(runId, result('pass')))
  t.equal((store.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 3, 'no partial events left behind')
  store.close()
})

t.test('STRICT tables reject mistyped values', async t => {
  const store = TraceStore.open(join(dir, 'strict.db'))
  t.throws(
    () =>
      store.db
        .prepare(
          `INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, kit_version, sysctls, argv, started_at, status) VALUES ('u', 'h', 'l', 'k', 'v', 'a', 'x', '{}', '[]', 's', 'running')`,
        )
        .run() && store.db.prepare(`UPDATE runs SET id = 'not a number'`).run(),
  )
  store.close()
})

t.test('unknown schema versions and foreign files are refused', async t => {
  const future = join(dir, 'future.db')
  const raw = new Database(future)
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  raw.close()
  const e = t.throws(() => TraceStore.open(future)) as unknown as SockspecError
  t.match(e.message, /newer than this kit understands/)
  const foreign = join(dir, 'foreign.db')
  const f = new Database(foreign)
  f.exec('CREATE TABLE x (a)')
  f.close()
  t.throws(() => TraceStore.open(foreign), /not a sockspec trace store/)
})

// ---- hostile conditions: old stores, dead writers, damage, hostile bundles, read-only files

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')

function sockspec(args: string[], opts: { input?: string; uid?: string } = {}) {
  // env -i: tap's process-info hook (injected into spawned node processes) writes under the checkout, which another user may not
  const argv = opts.uid
    ? [
        'env',
        '-i',
        `PATH=${process.env['PATH'] ?? '/usr/bin:/bin'}`,
        'setpriv',
        `--reuid=${opts.uid}`,
        `--regid=${opts.uid}`,
        '--clear-groups',
        process.execPath,
      ]
    : [process.execPath]
  const r = spawnSync(argv[0]!, [...argv.slice(1), bin, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
    input: opts.input,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function oneLine(stderr: string): boolean {
  return !/\n\s+at /.test(stderr) && stderr.trim().split('\n').length === 1
}

/** A real store with one real run (two results), made once and copied for each damage. */
const realDb = join(dir, 'real.db')
const made = sockspec(['run', join(kitRoot, 'scenarios', 'tcp-refused', 'refused-fullerr.yaml'), '--db', realDb, '--reporter', 'json'])

/** A store as a kit of schema 2 left it: one complete run with one result. */
function makeV2(file: string): void {
  const raw = new Database(file)
  raw.exec(MIGRATIONS[0]!)
  raw.exec(MIGRATIONS[1]!)
  raw.pragma('user_version = 2')
  raw.exec(`INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, kit_version, sysctls, argv, started_at, status)
            VALUES ('00000000-0000-4000-8000-000000000002', 'h', 'loopback', 'k', 'v', 'a', '0', '{}', '[]', '2026-01-01', 'complete')`)
  const { file: _f, stepPositions: _p, hash: _h, pack: _k, ...body } = scenario
  raw
    .prepare(`INSERT INTO scenarios (scenario, hash, pack, title, sources, claim, body) VALUES ('p/s', 'x', 'p', 't', '[]', NULL, ?)`)
    .run(JSON.stringify({ ...body, id: 'p/s' }))
  raw.exec(`INSERT INTO results (run_id, scenario_id, variant, attempt, verdict, duration_ms, message, stderr, kernels, invalid)
            VALUES (1, 1, 'ipv4', 1, 'pass', 1, '', '{}', '{}', '[]')`)
  const event = raw.prepare(
    `INSERT INTO events (result_id, idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask, details) VALUES (1, ?, 'client', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  for (const e of V2_EVENTS) event.run(e.idx, e.seq, e.step, e.t_ns, e.dur_ns, e.op, e.sockets, e.ret, e.errno, e.mask, e.details)
  raw.exec(`INSERT INTO checks (result_id, idx, step, actor, field, expected, observed, verdict, claim)
            VALUES (1, 0, 's2', 'client', 'errno', 'ECONNREFUSED', 'ECONNREFUSED', 'pass', 0)`)
  raw.close()
}

/** Events as schema 2 stored them: one row each, details as JSON text (one of them damaged). */
const V2_EVENTS = [
  {
    idx: 0,
    actor: 'client',
    seq: 1,
    step: 's1',
    t_ns: 0,
    dur_ns: 1000,
    op: 'socket',
    sockets: 'C',
    ret: 3,
    errno: null,
    mask: null,
    details: '{"seq":1,"step":"s1","op":"socket","t0":5000,"t1":6000,"ret":3,"new":"C"}',
  },
  {
    idx: 1,
    actor: 'client',
    seq: 2,
    step: 's2',
    t_ns: 4000,
    dur_ns: null,
    op: 'connect',
    sockets: 'C',
    ret: -1,
    errno: 'ECONNREFUSED',
    mask: null,
    details:
      '{"seq":2,"step":"s2","op":"connect","t0":9000,"ret":-1,"errno":"ECONNREFUSED","h":"C","addr":{"family":"inet","addr":"127.0.0.1","port":41234}}',
  },
]

t.test('a store of schema 2 opens: runs and results are kept, a run can be aborted', async t => {
  const file = join(dir, 'v2.db')
  makeV2(file)
  const store = TraceStore.open(file)
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.equal(store.results(1).length, 1, 'the rebuilt runs table keeps its results (no cascade)')
  t.equal(store.run('1')?.status, 'complete')
  // schema 4 moved events and checks into one traces row per result: the same rows read back
  t.same(store.events(1), V2_EVENTS, 'events survive the move into traces, details text unchanged')
  t.same(
    store.db.prepare('SELECT * FROM events ORDER BY idx').all(),
    V2_EVENTS.map(e => ({ result_id: 1, ...e })),
    'the events view',
  )
  t.same(store.checks(1), [
    { idx: 0, step: 's2', actor: 'client', field: 'errno', expected: 'ECONNREFUSED', observed: 'ECONNREFUSED', verdict: 'pass', claim: 0 },
  ])
  t.equal((store.db.prepare('SELECT count(*) AS n FROM checks').get() as { n: number }).n, 1, 'the checks view')
  t.equal((store.db.prepare('SELECT signature FROM results WHERE id = 1').get() as { signature: null }).signature, null)
  const [loaded] = loadRunTraces(store, store.run('1')!).results
  t.equal(loaded?.signature, signatureOfRows(V2_EVENTS, store.checks(1)), 'an old result gets its signature computed when read')
  store.abortRun(store.beginRun(runInfo).id, 'test')
  t.equal(store.run('latest')?.status, 'aborted')
  t.same(store.db.pragma('foreign_key_check'), [])
  store.close()
  // the old store still shows, exports and compares (a second run to compare with, written by this kit)
  const w = TraceStore.open(file)
  const runId = w.beginRun({ ...runInfo, uuid: '00000000-0000-4000-8000-000000000003' }).id
  w.recordResult(runId, { ...result('pass'), scenario: { ...scenario, id: 'p/s', hash: 'x' } })
  w.finishRun(runId, 'complete')
  w.close()
  const shown = sockspec(['show', '1', '--run', '1', '--db', file])
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /connect/, 'show prints the old events')
  const exp = sockspec(['export', '1', '--db', file])
  t.equal(exp.code, 0, exp.stderr)
  t.same((JSON.parse(exp.stdout) as { results: Array<{ events: unknown[] }> }).results[0]!.events.length, 2)
  const cmp = sockspec(['compare', '1', String(runId), '--db', file, '--reporter', 'json'])
  t.equal(cmp.code, 0, cmp.stderr)
  const doc = JSON.parse(cmp.stdout) as { comparisons: Array<{ pairs: Array<{ label: string; firstDifference: unknown }> }> }
  t.match(doc.comparisons[0]!.pairs, [{ label: 'differs' }], 'an old result against a new one: the traces differ (3 events against 2)')
})

t.test('signatures: equal exactly where compare finds no difference, the same written and read back', async t => {
  const store = TraceStore.open(join(dir, 'sig.db'))
  const { id: runId } = store.beginRun(runInfo)
  const base = result('pass')
  // other timestamps, another ephemeral port, the ready list in another order: the same behaviour
  const same: ScenarioResult = {
    ...base,
    attempt: 2,
    events: base.events.map(({ actor, event }) => ({
      actor,
      event: {
        ...event,
        t0: event.t0 + 777,
        t1: (event.t1 ?? 0) + 999,
        seq: event.seq + 10,
        ...(event.addr ? { addr: { ...event.addr, port: 40000 } } : {}),
        ...(event.ready ? { ready: [{ h: 'C', events: ['EPOLLHUP', 'EPOLLOUT'] }] } : {}),
      },
    })),
  }
  const other: ScenarioResult = {
    ...base,
    attempt: 3,
    events: base.events.map(({ actor, event }) => ({ actor, event: event.op === 'connect' ? { ...event, errno: 'ETIMEDOUT' } : event })),
  }
  const checkOnly: ScenarioResult = { ...base, attempt: 4, checks: base.checks.map(c => ({ ...c, ok: false })) }
  const ids = [base, same, other, checkOnly].map(r => store.recordResult(runId, r))
  const stored = ids.map(id => (store.db.prepare('SELECT signature FROM results WHERE id = ?').get(id) as { signature: string }).signature)
  ids.forEach((id, i) => t.equal(signatureOfRows(store.events(id), store.checks(id)), stored[i], `result ${i}: read back, the same`))
  const traces = ids.map(id => ({ events: store.events(id), checks: store.checks(id) }))
  // signatures are compared across runs and stores: the digest of this result is pinned (computed by the kit before
  // the store fed its signature while writing; any change to it needs a new SIGNATURE_VERSION)
  t.equal(stored[0], 'n2:SCh2gEalGYJBpKF+RKC0MQ4qrCU=', 'the signature of a known result is the one older kits wrote')
  t.equal(stored[1], stored[0], 'same behaviour, same signature')
  t.equal(firstDifference(traces[0]!, traces[1]!), null, '... and compare finds no difference')
  t.not(stored[2], stored[0], 'another errno, another signature')
  t.ok(firstDifference(traces[0]!, traces[2]!))
  t.not(stored[3], stored[0], 'another check verdict, another signature')
  t.match(firstDifference(traces[0]!, traces[3]!), { kind: 'check' })
  store.close()
})

t.test('signatures cut from the probe lines equal the object path on the packaged scenarios, run for real', async t => {
  const { loadScenarios } = await import('../harness/scenario/load.js')
  const { runPlan } = await import('../harness/runner/run.js')
  const { loopbackHost } = await import('../harness/hosts/loopback.js')
  const { systemInfo } = await import('../harness/hosts/system-info.js')
  const { runInfoFor } = await import('../harness/runner/run-info.js')
  const { scenarioDir } = await import('../harness/paths.js')
  // packs whose events carry every member rule: addresses, ready lists, TCP_INFO, mib, wait_blocked,
  // packet_expect, tun_open, share/pidfd (simulated hosts need root; without it those scenarios skip)
  const packs = ['tcp-peer', 'shared', 'seed-claims', 'poll-parity', 'udp', 'man-pages', 'io-uring']
  const store = TraceStore.open(join(dir, 'real-sig.db'))
  const { id: runId } = store.beginRun(runInfoFor(systemInfo(), 'loopback', undefined, ['test']))
  const { results } = await runPlan({
    scenarios: loadScenarios(packs.map(p => join(scenarioDir, p))),
    host: loopbackHost(),
    system: systemInfo(),
    store,
    runId,
    repeat: 1,
  })
  store.finishRun(runId, 'complete')
  let cut = 0
  let events = 0
  const ops = new Set<string>()
  for (const r of results) {
    const ports = [new PortNames(), new PortNames()] as const
    for (const { actor, event } of r.events) {
      if (actor === 'wire') continue
      events++
      const line = rawLineOf(event)
      const key = line === undefined ? undefined : lineKey(line, event, ports[1])
      const old = JSON.stringify(normaliseFields(event, event.op, ports[0]))
      if (key === undefined) JSON.stringify(normaliseFields(event, event.op, ports[1]))
      else {
        cut++
        ops.add(event.op)
        if (key !== old) t.equal(key, old, `${r.scenario.id} [${r.variant}] ${event.op}: the key cut from the line`)
      }
    }
    const old = signatureOf(
      r.events.map(e => ({ actor: e.actor, op: e.event.op, raw: e.event })),
      r.checks.map(c => ({ ...c, verdict: c.ok ? 'pass' : 'fail' })),
    )
    const row = store.db
      .prepare(
        'SELECT r.signature, t.checks FROM results r JOIN scenarios s ON s.id = r.scenario_id JOIN traces t ON t.result_id = r.id WHERE s.scenario = ? AND r.variant = ?',
      )
      .get(r.scenario.id, r.variant) as { signature: string; checks: string }
    if (row.signature !== old) t.equal(row.signature, old, `${r.scenario.id} [${r.variant}]: the stored signature`)
    const checks = JSON.stringify(
      r.checks.map((c, i) => [i, c.step, c.actor, c.field, c.expected, c.observed, c.ok ? 'pass' : 'fail', c.claim ? 1 : 0]),
    )
    if (row.checks !== checks) t.equal(row.checks, checks, `${r.scenario.id} [${r.variant}]: the stored checks`)
  }
  store.close()
  t.ok(results.length > 100, `${results.length} results`)
  t.ok(cut > 0.95 * events, `${cut} of ${events} events cut from their line`)
  for (const op of ['socket', 'connect', 'epoll_wait', 'poll', 'getsockopt', 'accept4'])
    t.ok(ops.has(op), `${op} events cut from their line`)
  if (process.getuid?.() === 0) for (const op of ['tun_open', 'packet_expect', 'mib']) t.ok(ops.has(op), `${op} events cut from their line`)
})

t.test('signature lines that would not re-encode as they stand take the object path, with the same key', async t => {
  const lines = [
    // escapes, a 64-bit number, -0, a fraction, an exponent, whitespace, a key repeated, keys starting with a digit
    '{"seq":1,"op":"recv","h":"S","data":"a\\u0001\\n","t0":5,"ret":3}',
    '{"seq":1,"op":"getsockopt","h":"C","opt":"SO_MAX_PACING_RATE","value":18446744073709551615,"t0":5,"ret":0}',
    '{"seq":1,"op":"getsockopt","h":"C","opt":"X","value":-0,"t0":5,"ret":0}',
    '{"seq":1,"op":"getsockopt","h":"C","opt":"X","value":1.50,"t0":5,"ret":0}',
    '{"seq":1,"op":"getsockopt","h":"C","opt":"X","value":{"a":1e3},"t0":5,"ret":0}',
    '{"seq":1,"op":"socket","new":"C", "t0":5,"ret":3}',
    '{"seq":1,"op":"socket","new":"C","new":"D","t0":5,"ret":3}',
    '{"seq":1,"op":"getsockopt","h":"C","opt":"X","value":{"b":1,"2":3,"a":[{"c":1,"c":2}]},"t0":5,"ret":0}',
    '{"seq":1,"1":2,"op":"socket","t0":5,"ret":3}',
    // and lines that are cut: every member rule
    '{"seq":1,"step":"s1","op":"socket","new":"L","t0":5,"t1":6,"ret":3}',
    '{"seq":2,"step":"s2","op":"connect","h":"C","addr":{"family":"inet","addr":"127.0.0.1","port":40000},"t0":5,"ret":-1,"errno":"EINPROGRESS"}',
    '{"seq":2,"step":"s2","op":"bind","h":"C","addr":{"family":"unix","path":"/tmp/sockspec-abcdef/s"},"t0":5,"ret":0}',
    '{"seq":3,"op":"epoll_wait","h":"E","ready":[{"h":"S","events":["EPOLLOUT","EPOLLHUP"]},{"h":"C","events":[]}],"t0":5,"ret":2}',
    '{"seq":4,"op":"getsockopt","h":"C","opt":"TCP_INFO","value":{"optlen":280,"state":"TCP_ESTABLISHED","rtt":17,"bytes_acked":1,"max_pacing_rate":18446744073709551615},"t0":5,"ret":0}',
    '{"seq":5,"op":"share","h":"L","fd":3,"ino":6594643,"t0":5,"ret":0}',
    '{"seq":6,"op":"wait_blocked","pid":9,"polls":3,"value":{"state":"S","syscall":"epoll_wait","wchan":"do_epoll_wait"},"t0":5,"ret":0}',
    '{"seq":7,"op":"mib","mark":"after","value":{"TcpExtTCPAbortOnData":1,"IpInReceives":9,"Icmp6OutDestUnreachs":1},"t0":5,"ret":399}',
    '{"seq":8,"op":"packet_expect","h":"P","value":{"flags":"SYN","ts_val":77,"len":0},"skipped":1,"t0":5,"ret":1}',
    '{"seq":9,"op":"tun_open","ready_us":217,"new":"P","addr":{"family":"inet","addr":"198.18.0.2","port":8080},"t0":5,"ret":3}',
    '{"seq":10,"op":"epoll_ctl","h":"E","ctl":"EPOLL_CTL_ADD","target":"S","events":["EPOLLIN"],"t0":5,"t1":6,"ret":0}',
  ]
  const cut: boolean[] = []
  for (const line of lines) {
    const event = keepRawLine(JSON.parse(line) as ProbeEvent, line)
    const key = lineKey(line, event, new PortNames())
    cut.push(key !== undefined)
    t.equal(
      key ?? JSON.stringify(normaliseFields(event, event.op, new PortNames())),
      JSON.stringify(normaliseFields(event, event.op, new PortNames())),
      line,
    )
  }
  t.same(
    cut.slice(0, 9),
    Array(9).fill(false),
    'refused: escapes, 64-bit numbers, -0, fractions, exponents, whitespace, repeated and digit keys',
  )
  t.same(cut.slice(9), Array(lines.length - 9).fill(true), 'cut: every member rule')
})

t.test('queued results: committed at once when idle, within the window, by a full batch, and at finish, abort, close and exit', async t => {
  const file = join(dir, 'queue.db')
  const store = TraceStore.open(file)
  const reader = new Database(file, { readonly: true })
  t.teardown(() => reader.close())
  const count = () => (reader.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n
  const { id: runId } = store.beginRun(runInfo)
  let attempt = 0
  const queue = () => store.queueResult(runId, { ...result('pass'), attempt: ++attempt })
  queue()
  t.equal(count(), 1, 'the first result after a quiet spell is committed at once')
  queue()
  t.equal(count(), 1, 'the next one within the window waits')
  for (let i = 0; i < 100 && count() < 2; i++) await new Promise(r => setTimeout(r, 20))
  t.equal(count(), 2, 'the window ends: committed without another call')
  queue()
  for (let i = 1; i < TraceStore.BATCH_RESULTS; i++) queue()
  t.ok(count() >= 2 + TraceStore.BATCH_RESULTS - 1, 'a full batch is committed at once')
  queue()
  store.finishRun(runId, 'complete')
  t.equal(count(), attempt, 'finishRun commits what is queued first')
  const second = store.beginRun({ ...runInfo, uuid: '00000000-0000-4000-8000-0000000000aa' }).id
  const before = count()
  store.queueResult(second, { ...result('pass'), attempt: 1 })
  store.queueResult(second, { ...result('pass'), attempt: 2 })
  store.abortRun(second, 'test')
  t.equal(count(), before + 2, 'abortRun commits what is queued before marking')
  const third = store.beginRun({ ...runInfo, uuid: '00000000-0000-4000-8000-0000000000ab' }).id
  store.queueResult(third, { ...result('pass'), attempt: 1 })
  store.queueResult(third, { ...result('pass'), attempt: 2 })
  store.close()
  t.equal(count(), before + 4, 'close commits what is queued')

  // a process that exits without finishing its run keeps what it queued
  const script = join(dir, 'exit.mjs')
  writeFileSync(
    script,
    `import { TraceStore } from ${JSON.stringify(join(kitRoot, 'dist', 'harness', 'store', 'store.js'))}
const store = TraceStore.open(process.argv[2])
const run = JSON.parse(process.argv[3])
const result = JSON.parse(process.argv[4])
const { id } = store.beginRun(run)
for (let a = 1; a <= 5; a++) store.queueResult(id, { ...result, attempt: a })
process.exit(0)
`,
  )
  const exitDb = join(dir, 'exit.db')
  const r = spawnSync(process.execPath, [script, exitDb, JSON.stringify(runInfo), JSON.stringify(result('pass'))], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const d = new Database(exitDb, { readonly: true })
  t.equal((d.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n, 5, 'process.exit: every queued result is in the store')
  d.close()
})

t.test('checks with quotes, escapes and non-ASCII text: stored and signed as JSON.stringify writes them', async t => {
  const store = TraceStore.open(join(dir, 'checks-text.db'))
  const { id: runId } = store.beginRun(runInfo)
  const base = result('fail')
  const odd = ['say "hi"', 'back\\slash', 'tab\tnew\nline\u0001', 'ümlaut → ✓', 'lone \ud800 surrogate', '']
  const checks = odd.map((text, i) => ({
    step: `s${i}`,
    actor: text,
    field: 'errno',
    expected: text,
    observed: `${text}!`,
    ok: i % 2 === 0,
    claim: i === 1,
  }))
  const id = store.recordResult(runId, { ...base, checks })
  const row = store.db
    .prepare('SELECT r.signature, t.checks FROM results r JOIN traces t ON t.result_id = r.id WHERE r.id = ?')
    .get(id) as {
    signature: string
    checks: string
  }
  t.equal(
    row.checks,
    JSON.stringify(checks.map((c, i) => [i, c.step, c.actor, c.field, c.expected, c.observed, c.ok ? 'pass' : 'fail', c.claim ? 1 : 0])),
  )
  const signed = signatureOf(
    base.events.map(e => ({ actor: e.actor, op: e.event.op, raw: e.event })),
    checks.map(c => ({ ...c, verdict: c.ok ? 'pass' : 'fail' })),
  )
  t.equal(row.signature, signed, 'the signature of the object path')
  t.same(
    store.checks(id).map(c => c.observed),
    checks.map(c => c.observed),
  )
  store.close()
})

t.test('a burst of results is checkpointed by the worker while the run goes on, and close leaves no WAL', async t => {
  const file = join(dir, 'burst.db')
  const store = TraceStore.open(file)
  const { id: runId } = store.beginRun(runInfo)
  const data = 'x'.repeat(4000)
  const base = result('pass')
  // about 12 MB: three times the worker's step, far below the writer's own checkpoint (64 MB)
  for (let attempt = 1; attempt <= 3000; attempt++) {
    const events = base.events.map(({ actor, event }, i) => {
      const line = JSON.stringify({ ...event, ...(i === 0 ? { data } : {}) })
      return { actor, event: keepRawLine(JSON.parse(line) as ProbeEvent, line) }
    })
    store.queueResult(runId, { ...base, attempt, events })
  }
  store.finishRun(runId, 'complete')
  // the writer's own checkpoint moved out to 64 MB: what reaches the database file before close, the worker copied
  t.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 16384, 'the writer left its checkpoints to the worker')
  const reader = new Database(file, { readonly: true })
  t.equal((reader.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n, 3000, 'a reader sees every result meanwhile')
  reader.close()
  const size = () => statSync(file).size
  for (let i = 0; i < 100 && size() < 4 << 20; i++) await new Promise(r => setTimeout(r, 50))
  t.ok(size() >= 4 << 20, `the database file holds what was checkpointed before close (${size()} bytes)`)
  store.close()
  t.notOk(existsSync(`${file}-wal`), 'the last close checkpointed the rest and removed the WAL')
  const again = TraceStore.open(file, { readonly: true })
  t.equal(again.results(runId).length, 3000)
  t.equal(JSON.parse(again.events(again.results(runId)[1500]!.id)[0]!.details).data, data)
  again.close()
})

t.test('a running run whose beacon is gone is marked aborted on open; live, foreign and old runs are not', async t => {
  const file = join(dir, 'reap.db')
  const store = TraceStore.open(file)
  const here = thisLiveness()!
  const liveToken = `${process.pid.toString(16)}cafe`
  const beacon = createServer(s => s.destroy())
  await new Promise<void>(resolve => beacon.listen({ path: `\0sockspec-run-${liveToken}` }, resolve))
  t.teardown(() => beacon.close())
  const add = (uuid: string, token: string | null, boot: string | null) => {
    const id = store.beginRun({ ...runInfo, uuid }).id
    store.db.prepare(`UPDATE runs SET beacon = ?, boot_id = ?, net_ns = ? WHERE id = ?`).run(token, boot, here.netNs, id)
    return id
  }
  const dead = add('00000000-0000-4000-8000-00000000000d', 'deadbeef01', here.bootId)
  const live = add('00000000-0000-4000-8000-00000000000e', liveToken, here.bootId)
  const otherBoot = add('00000000-0000-4000-8000-00000000000f', 'deadbeef02', '11111111-2222-3333-4444-555555555555')
  const old = add('00000000-0000-4000-8000-000000000010', null, null)
  store.close()
  // a read-only open marks it too (through a short write connection)
  const ro = TraceStore.open(file, { readonly: true, mustExist: true })
  t.same(ro.aborted, [dead])
  const status = (id: number) => ro.run(String(id))
  t.match(status(dead), { status: 'aborted', reason: /process died/ })
  t.equal(status(live)?.status, 'running', 'a live beacon keeps its run running')
  t.equal(status(otherBoot)?.status, 'running', 'a run of another boot (or machine) is never judged')
  t.equal(status(old)?.status, 'running', 'a run without a beacon (older kit) is never judged')
  ro.close()
})

t.test(
  'damaged stores: every read command prints one line naming the file and exits 2',
  { skip: made.code !== 0 && made.stderr },
  async t => {
    const damage: Record<string, (file: string) => void> = {
      truncated: file => truncateSync(file, 6000),
      garbage: file => writeFileSync(file, randomBytes(20_000)),
      'missing table': file => {
        const d = new Database(file)
        d.exec('DROP TABLE traces')
        d.close()
      },
      'non-JSON column': file => {
        const d = new Database(file)
        d.exec(`UPDATE traces SET events = '{oops', checks = '[{'; UPDATE runs SET sysctls = 'nope'; UPDATE results SET stderr = '['`)
        d.close()
      },
      'JSON of the wrong shape': file => {
        const d = new Database(file)
        // every event's details an array instead of an object (inside the result's traces row: [actor, event] since
        // schema 5, [idx, ..., details] before)
        d.exec(
          `UPDATE traces SET events = (SELECT json_group_array(json_set(e.value, CASE json_type(e.value, '$[0]') WHEN 'integer' THEN '$[11]' ELSE '$[1]' END, json('[1]')))
                                       FROM json_each(traces.events) e)`,
        )
        d.close()
      },
    }
    for (const [name, hurt] of Object.entries(damage)) {
      const file = join(dir, `damaged-${name.replace(/ /g, '-')}.db`)
      copyFileSync(realDb, file)
      hurt(file)
      const all: Record<string, string[]> = {
        runs: ['runs', '--db', file],
        show: ['show', '--db', file],
        export: ['export', 'latest', '--db', file],
        compare: ['compare', '--baseline', '1', '--db', file],
        report: ['report', '--db', file, '--out', join(dir, `rep-${name.replace(/ /g, '-')}`)],
        merge: ['merge', file, '--into', join(dir, `into-${name.replace(/ /g, '-')}.db`)],
      }
      // runs and compare read no JSON column; a trace of the wrong shape only export and merge must refuse
      const which = {
        truncated: Object.keys(all),
        garbage: ['runs', 'export'],
        'missing table': Object.keys(all),
        'non-JSON column': ['show', 'export', 'report', 'merge'],
        'JSON of the wrong shape': ['export', 'merge'],
      }[name]!
      const outcomes = await Promise.all(which.map(cmd => sockspecAsync(all[cmd]!)))
      for (const [i, cmd] of which.entries()) {
        const r = outcomes[i]!
        t.equal(r.code, 2, `${name}: ${cmd} exits 2`)
        t.ok(oneLine(r.stderr), `${name}: ${cmd}: one line, no stack trace: ${JSON.stringify(r.stderr.slice(0, 300))}`)
        t.match(r.stderr, file, `${name}: ${cmd} names the file`)
        if (cmd === 'export') t.equal(r.stdout, '', `${name}: export writes no bundle`)
      }
    }
    // import into a damaged store
    const bundleFile = join(dir, 'real.json')
    writeFileSync(bundleFile, sockspec(['export', 'latest', '--db', realDb]).stdout)
    const target = join(dir, 'damaged-import.db')
    writeFileSync(target, randomBytes(20_000))
    const r = sockspec(['import', bundleFile, '--db', target])
    t.equal(r.code, 2)
    t.ok(oneLine(r.stderr), `import into garbage: one line: ${r.stderr}`)
  },
)

t.test('hostile bundles are refused with one line and exit 2, the store unchanged', { skip: made.code !== 0 && made.stderr }, async t => {
  const good = JSON.parse(sockspec(['export', 'latest', '--db', realDb]).stdout) as {
    results: Array<{ events: Array<{ t_ns: number; idx: number; details: unknown }> }>
    scenarios: Array<{ body: unknown }>
  }
  t.ok(good.results[0]!.events.length >= 2)
  const hostile: Record<string, (b: typeof good) => string> = {
    't_ns of 1e300': b => {
      b.results[0]!.events[0]!.t_ns = 1e300
      return JSON.stringify(b)
    },
    'duplicated event index': b => {
      b.results[0]!.events[1]!.idx = b.results[0]!.events[0]!.idx
      return JSON.stringify(b)
    },
    'a body nested 100,000 deep': b =>
      JSON.stringify(b).replace('"body":{', `"body":{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)},`),
  }
  const target = join(dir, 'hostile.db')
  for (const [name, make] of Object.entries(hostile)) {
    const file = join(dir, `hostile-${name.replace(/[ ,]/g, '-')}.json`)
    writeFileSync(file, make(structuredClone(good)))
    const r = sockspec(['import', file, '--db', target])
    t.equal(r.code, 2, `${name}: exit 2`)
    t.ok(oneLine(r.stderr), `${name}: one line: ${JSON.stringify(r.stderr.slice(0, 300))}`)
    t.match(r.stderr, file, `${name}: names the bundle`)
  }
  t.notOk(existsSync(target) && new Database(target).prepare(`SELECT count(*) AS n FROM runs`).pluck().get(), 'nothing was imported')
})

t.test(
  'import writes schema-5 entries when the events read back the same from them, else the rows as they are',
  { skip: made.code !== 0 && made.stderr },
  async t => {
    const source = TraceStore.open(realDb, { readonly: true })
    const bundle = exportRunBundle(source.db, source.run('latest')!)
    source.close()
    t.ok(bundle.results.every(r => r.events.length > 2))
    const roundTrip = (name: string, b: RunBundle): { firsts: unknown[]; back: RunBundle; clocks: number } => {
      const store = TraceStore.open(join(dir, `import-${name}.db`))
      importRunBundle(store.db, checkRunBundle(structuredClone(b), name))
      const rows = store.db.prepare('SELECT events FROM traces ORDER BY result_id').all() as Array<{ events: string }>
      const entries = rows.map(r => JSON.parse(r.events) as unknown[][])
      const back = exportRunBundle(store.db, store.run('latest')!)
      store.close()
      return { firsts: entries.map(e => e[0]![0]), back, clocks: entries.flat().filter(e => typeof e[2] === 'string').length }
    }
    const plain = roundTrip('plain', bundle)
    t.ok(
      plain.firsts.every(f => typeof f === 'string'),
      'an exported bundle is imported as schema-5 entries',
    )
    t.same(plain.back, bundle, 'and exported again unchanged')
    t.equal(JSON.stringify(plain.back), JSON.stringify(bundle), 'byte for byte')

    // an event on a clock of its own (a guest's): a second clock in the entries, the same rows back
    const guest = structuredClone(bundle)
    const last = guest.results[0]!.events.at(-1)!
    last.t_ns = 0
    const two = roundTrip('clocks', guest)
    t.equal(typeof two.firsts[0], 'string')
    t.equal(two.clocks, 1, 'one event names its clock')
    t.same(two.back, guest)

    // rows no entry can give back (a gap in idx, a t_ns its event does not yield, a mask that is not its event's)
    const odd = structuredClone(bundle)
    const [a, b, c] = odd.results
    a!.events.forEach((e, i) => (e.idx = i * 2))
    b!.events[1]!.t_ns += 5
    if (c) c.events[0]!.mask = 'X:EPOLLIN'
    const kept = roundTrip('odd', odd)
    t.same(kept.firsts.slice(0, 2), [0, 0], 'written as schema-4 rows')
    t.same(kept.back, odd, 'and read back as they were')
  },
)

t.test('show of a result with 200,000 events', async t => {
  const file = join(dir, 'huge.db')
  const store = TraceStore.open(file)
  const { id: runId } = store.beginRun(runInfo)
  const events = Array.from({ length: 200_000 }, (_, i) => ({
    actor: i % 2 ? 'server' : 'client',
    event: { seq: i, step: 's2', op: 'epoll_wait', t0: 1000 + i, t1: 1001 + i, ret: 0 },
  }))
  store.recordResult(runId, { ...result('pass'), events })
  store.finishRun(runId, 'complete')
  store.close()
  const r = sockspec(['show', '--db', file])
  t.equal(r.code, 0, r.stderr)
  t.ok(r.stdout.split('\n').length > 200_000, 'every event is printed')
})

t.test(
  'read-only stores can be read',
  { skip: (process.getuid?.() !== 0 || made.code !== 0) && 'needs root and a real store' },
  async t => {
    // a 0444 file in a directory the reader cannot write: no -shm can be made next to it
    const roDir = join(dir, 'ro')
    mkdirSync(roDir)
    copyFileSync(realDb, join(roDir, 'store.db'))
    chmodSync(join(roDir, 'store.db'), 0o444)
    makeV2(join(roDir, 'old.db'))
    chmodSync(join(roDir, 'old.db'), 0o444)
    chmodSync(roDir, 0o555)
    chmodSync(dir, 0o755)
    const asNobody = sockspec(['runs', '--db', join(roDir, 'store.db')], { uid: '65534' })
    t.equal(asNobody.code, 0, asNobody.stderr)
    t.match(asNobody.stdout, /\tcomplete\t2 pass/)
    const exp = sockspec(['export', 'latest', '--db', join(roDir, 'store.db')], { uid: '65534' })
    t.equal(exp.code, 0, exp.stderr)
    const old = sockspec(['runs', '--db', join(roDir, 'old.db')], { uid: '65534' })
    t.equal(old.code, 0, `an older schema is read through a migrated copy: ${old.stderr}`)
    t.match(old.stdout, /\tcomplete\t1 pass/)
    t.same(readdirSync(roDir).sort(), ['old.db', 'store.db'], 'nothing was written next to them')
    // a read-only mount, read by root
    const mnt = join(dir, 'ro-mount')
    mkdirSync(mnt)
    t.equal(spawnSync('mount', ['--bind', '-o', 'ro', roDir, mnt]).status, 0)
    t.teardown(() => void spawnSync('umount', [mnt]))
    spawnSync('mount', ['-o', 'remount,ro,bind', mnt])
    const onRo = sockspec(['show', '--db', join(mnt, 'store.db')])
    t.equal(onRo.code, 0, onRo.stderr)
    t.match(onRo.stdout, /refused-fullerr/)
  },
)
