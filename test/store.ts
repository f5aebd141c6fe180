// The trace store on a real SQLite file: migrations, round trip of a result
// with its events and checks, refusal of unknown schema versions, STRICT
// typing, and atomic per-result writes.
import t from 'tap'
import Database from 'better-sqlite3'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TraceStore } from '../harness/store/store.js'
import { SCHEMA_VERSION } from '../harness/store/migrations.js'
import { parseScenario } from '../harness/scenario/load.js'
import type { ScenarioResult } from '../harness/runner/result.js'
import type { SockspecError } from '../harness/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'sockspec-store-'))
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
