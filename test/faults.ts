// Runs under hostile conditions, with real `sockspec` processes on real
// stores: four writers into one store at once (plus an import and a merge
// into it), kill -9 mid-run, a stdout closed under a run and under readers,
// and a full disk (a small tmpfs this test mounts). No result may be lost,
// no run may stay `running`, nothing may end in a stack trace.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot } from '../harness/paths.js'
import { variantsOf } from '../harness/scenario/expand.js'
import { loadScenarios } from '../harness/scenario/load.js'
import { sockspecAsync } from './fixtures/cli.js'
import type { Outcome } from './fixtures/cli.js'

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-faults-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const root = process.getuid?.() === 0

// small and fast: 10 results per --repeat (unix scenarios and one refused connect)
const FAST = [join(kitRoot, 'scenarios', 'unix'), join(kitRoot, 'scenarios', 'tcp-refused', 'refused-fullerr.yaml')]
// a netns scenario that waits on SYN retransmits (about a second), so a run is caught mid-way
const SLOW = join(kitRoot, 'scenarios', 'netns', 'syn-timeout-exponential-syncnt1.yaml')

function sockspec(args: string[]): Outcome {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** One line on stderr, no stack frame. */
function oneLine(stderr: string): boolean {
  return !/\n\s+at /.test(stderr) && stderr.trim().split('\n').length <= 1
}

function query<T>(db: string, sql: string): T[] {
  const d = new Database(db, { readonly: true })
  try {
    return d.prepare(sql).all() as T[]
  } finally {
    d.close()
  }
}

function namespacesOf(token: string): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(l => l.includes(`.${token}-`))
}

/** Processes a run started (they inherit its token in the environment). */
function processesOf(token: string): number[] {
  const pids: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      if (readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`SOCKSPEC_RUN_TOKEN=${token}`)) pids.push(Number(p))
    } catch {
      // gone
    }
  }
  return pids
}

t.test('four runs, an import and a merge into one store at once: every result kept, every run complete', async t => {
  const db = join(dir, 'shared.db')
  // a bundle and a store to feed in while the runs write
  const seedDb = join(dir, 'seed.db')
  const one = ['--filter', 'refused-fullerr', '--reporter', 'json']
  t.equal(sockspec(['run', ...FAST, '--db', seedDb, ...one]).code, 0)
  const bundle = join(dir, 'seed.json')
  const exp = spawnSync('sh', ['-c', `"${process.execPath}" "${bin}" export latest --db "${seedDb}" > "${bundle}"`])
  t.equal(exp.status, 0)
  const otherDb = join(dir, 'other.db')
  t.equal(sockspec(['run', ...FAST, '--db', otherDb, ...one]).code, 0)

  const runs = Array.from({ length: 4 }, () => sockspecAsync(['run', ...FAST, '--db', db, '--repeat', '2', '--reporter', 'tap']))
  // let the writers start, then write from two more processes
  await new Promise(r => setTimeout(r, 300))
  const side = [sockspecAsync(['import', bundle, '--db', db]), sockspecAsync(['merge', otherDb, '--into', db])]
  const outcomes = await Promise.all([...runs, ...side])
  outcomes.forEach((o, i) => {
    t.equal(o.code, 0, `writer ${i} exit 0`)
    t.notMatch(o.stderr, /locked|internal error|\n\s+at /, `writer ${i}: no lock error, no stack trace`)
  })
  const rows = query<{ status: string; n: number }>(
    db,
    `SELECT r.status, (SELECT count(*) FROM results x WHERE x.run_id = r.id) AS n FROM runs r ORDER BY r.id`,
  )
  t.equal(rows.length, 6, 'four runs, one imported, one merged')
  t.same(
    rows.map(r => r.status),
    Array(6).fill('complete'),
  )
  // each writer ran every variant of FAST twice (--repeat 2); the import and the merge brought refused-fullerr's two
  const perRun = 2 * loadScenarios(FAST).reduce((n, s) => n + variantsOf(s).length, 0)
  t.equal(
    rows.reduce((n, r) => n + r.n, 0),
    4 * perRun + 2 * 2,
    `every result of every writer is in the store (${perRun} a run)`,
  )
})

t.test('kill -9 mid-run: the run is marked aborted, its results stay, cleanup leaves nothing', { skip: !root && 'needs root' }, async t => {
  const db = join(dir, 'killed.db')
  const out = join(dir, 'killed.tap')
  const child = spawn(
    'sh',
    ['-c', `exec "${process.execPath}" "${bin}" run "${SLOW}" ${FAST.join(' ')} --db "${db}" -j 2 --repeat 3 --reporter tap > "${out}"`],
    {
      stdio: 'ignore',
    },
  )
  const exited = new Promise(r => child.on('exit', r))
  // kill once a result is recorded and more are in flight
  for (let i = 0; i < 300 && !(existsSync(out) && /^ok /m.test(readFileSync(out, 'utf8'))); i++) await new Promise(r => setTimeout(r, 50))
  const [{ beacon }] = query<{ beacon: string }>(db, `SELECT beacon FROM runs`) as [{ beacon: string }]
  t.match(beacon, /^[0-9a-f]+$/, 'the run recorded its beacon token')
  child.kill('SIGKILL')
  await exited
  const recorded = query<{ n: number }>(db, `SELECT count(*) AS n FROM results`)[0]!.n
  t.ok(recorded >= 1, `results written before the kill: ${recorded}`)

  const runs = sockspec(['runs', '--db', db])
  t.equal(runs.code, 0)
  t.match(runs.stdout, /\taborted\t/, 'the next open marks the dead run aborted')
  t.match(runs.stdout, /the run process died/, 'with the reason')
  const show = sockspec(['show', '--db', db])
  t.equal(show.code, 0, 'earlier results are readable')
  const exp = sockspec(['export', 'latest', '--db', db])
  t.equal(exp.code, 0)
  const bundle = JSON.parse(exp.stdout) as { run: { status: string; reason: string }; results: unknown[] }
  t.equal(bundle.run.status, 'aborted')
  t.equal(bundle.results.length, recorded, 'the export carries every recorded result')

  const clean = sockspec(['cleanup', '--db', db])
  t.equal(clean.code, 0)
  t.same(namespacesOf(beacon), [], 'no namespace of the killed run is left')
  // a probe blocked in a syscall may take a moment to see its killed parent
  for (let i = 0; i < 40 && processesOf(beacon).length; i++) await new Promise(r => setTimeout(r, 50))
  t.same(processesOf(beacon), [], 'no probe of the killed run is left')
  t.notOk(existsSync(join(tmpdir(), `sockspec-run-${beacon}`)), 'its temp dir is gone')
  t.equal(query<{ status: string }>(db, `SELECT status FROM runs`)[0]!.status, 'aborted')
})

t.test('a stdout closed under a run stops it cleanly', async t => {
  const db = join(dir, 'pipe.db')
  const args = ['run', ...(root ? [SLOW] : []), ...FAST, '--db', db, '--repeat', '3', '--reporter', 'tap']
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  // a reader that takes one line and closes, like `| head -n 1`
  child.stdout.once('data', () => child.stdout.destroy())
  const code = await new Promise<number | null>(r => child.on('close', c => r(c)))
  t.ok(code === 0 || code === 1, `exit code of what was recorded (${code})`)
  t.equal(stderr, '', 'quiet: no stack trace, no message')
  const [run] = query<{ status: string; reason: string; beacon: string }>(db, `SELECT status, reason, beacon FROM runs`)
  t.equal(run?.status, 'aborted')
  t.match(run?.reason, /stdout was closed/)
  t.same(namespacesOf(run!.beacon), [], 'its namespaces are removed')
  t.same(processesOf(run!.beacon), [], 'its probes are gone')
  const n = query<{ n: number }>(db, `SELECT count(*) AS n FROM results`)[0]!.n
  t.ok(n < 30 + (root ? 6 : 0), `it stopped early (${n} results)`)

  // readers: a closed stdout ends them quietly with their usual exit code
  for (const cmd of [['runs'], ['show'], ['export', 'latest']]) {
    const c = spawn(process.execPath, [bin, ...cmd, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] })
    c.stdout.destroy()
    let err = ''
    c.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const rc = await new Promise<number | null>(r => c.on('close', x => r(x)))
    t.equal(rc, 0, `${cmd[0]} into a closed pipe: exit 0`)
    t.equal(err, '', `${cmd[0]} into a closed pipe: nothing on stderr`)
  }
})

t.test(
  'a full disk: one line, exit 2, the run marked aborted, earlier results kept',
  { skip: !root && 'needs root (mounts a tmpfs)' },
  async t => {
    const mnt = join(dir, 'small')
    mkdirSync(mnt)
    t.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'sockspec-test', mnt]).status, 0, 'tmpfs mounted')
    t.teardown(() => void spawnSync('umount', [mnt]))
    const db = join(mnt, 'full.db')
    const r = await sockspecAsync(['run', ...FAST, '--db', db, '--repeat', '30', '--reporter', 'json'])
    t.equal(r.code, 2, 'exit 2')
    t.match(r.stderr, /full\.db: disk full/, 'names the store and the cause')
    t.ok(oneLine(r.stderr), `one line, no stack trace: ${JSON.stringify(r.stderr.slice(0, 300))}`)
    // room again: the next open can mark the run if the failing one could not
    t.equal(spawnSync('mount', ['-o', 'remount,size=16m', mnt]).status, 0)
    const runs = sockspec(['runs', '--db', db])
    t.equal(runs.code, 0)
    t.match(runs.stdout, /\taborted\t\d+ pass/, 'aborted, with the results written before the disk filled')
    t.notMatch(runs.stdout, /\trunning\t/)
  },
)

t.test('an internal error mid-run: one line, exit 2, the run marked aborted with the message', async t => {
  // a kernel range the runner cannot read (if validation learns to refuse it, the run never starts: still one line, exit 2)
  const file = join(dir, 'bad-range.yaml')
  writeFileSync(
    file,
    'title: kernel range the runner chokes on\nsources: [{ man: socket(2) }]\nrequires: { kernel: "6.x" }\nsteps:\n  - { actor: client, do: socket, sock: C }\n',
  )
  const db = join(dir, 'internal.db')
  const r = sockspec(['run', file, '--db', db, '--reporter', 'json'])
  t.equal(r.code, 2)
  t.ok(oneLine(r.stderr), `one line: ${r.stderr}`)
  const runs = existsSync(db) ? query<{ status: string; reason: string | null }>(db, `SELECT status, reason FROM runs`) : []
  for (const run of runs) {
    t.equal(run.status, 'aborted', 'never left running')
    t.match(run.reason, /6\.x/, 'the reason carries the message')
  }
})
