/**
 * `npm run bench`: every figure of the performance goals, measured on this
 * machine in this run, printed next to its goal. Never asserted (timings
 * depend on the machine); the ratios compare against baselines measured in
 * the same run (a C driver of the same probe, a raw better-sqlite3 loop of
 * the same rows), so they need no other machine.
 *
 *   npm run bench [-- --only startup,probe,default,store,report] [--rounds N] [--matrix [all]]
 *
 * --rounds sets the probe round trip's rounds (default 9; `--only probe
 * --rounds 25` is the quick look at that figure alone).
 *
 * --matrix adds the kernel matrix (host + debian:6.1 + debian:6.12 in qemu,
 * minutes under software emulation), which is left out by default: without
 * it no guest boots. `--matrix all` runs every kernel of `npm run matrix`.
 * Each guest's boot and run times come from the run's own log lines.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openSqlite } from '../deps/sqlite.js'
import { spawnCounts, spawnLongLived } from '../deps/process.js'
import { loopbackHost } from '../hosts/loopback.js'
import { systemInfo } from '../hosts/system-info.js'
import { kitRoot, probeBinary, scenarioDir } from '../paths.js'
import { LineSplitter, ProbeProcess } from '../probe/process.js'
import { runPlan } from '../runner/run.js'
import type { ScenarioResult } from '../trace/result.js'
import { runInfoFor } from '../runner/run-info.js'
import { loadScenarios } from '../scenario/load.js'
import { TraceStore } from '../store/store.js'
import type { RunInfo } from '../store/store.js'
import type * as ReportScale from './report-scale.js'
import type * as Playwright from 'playwright-core'

type ReportScaleModule = typeof ReportScale
type PlaywrightModule = typeof Playwright

const SECTIONS = ['startup', 'probe', 'default', 'store', 'report', 'matrix'] as const
type Section = (typeof SECTIONS)[number]

const args = process.argv.slice(2)
const onlyArg = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const wanted = new Set<Section>(onlyArg ? (onlyArg.split(',') as Section[]) : SECTIONS.filter(s => s !== 'matrix'))
if (args.includes('--matrix')) wanted.add('matrix')
// `--matrix all`: every kernel of `npm run matrix` instead of host + 6.1 + 6.12
const matrixAll = args.includes('--matrix') && args[args.indexOf('--matrix') + 1] === 'all'
const roundsArg = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 9
if (!Number.isInteger(roundsArg) || roundsArg < 1) {
  process.stderr.write('bench: --rounds takes a positive integer\n')
  process.exit(2)
}
for (const s of wanted) {
  if (!SECTIONS.includes(s)) {
    process.stderr.write(`bench: unknown section '${s}' (${SECTIONS.join(', ')})\n`)
    process.exit(2)
  }
}

const work = mkdtempSync(join(tmpdir(), 'sockspec-bench-'))
const cli = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const nativeBuild = join(kitRoot, 'harness', 'native', 'build')

const line = (label: string, value: string): void => {
  process.stdout.write(`${label.padEnd(48)} ${value}\n`)
}

/** One row of the closing table: the figure, this run's value, the goal, and whether it is met. */
interface Figure {
  figure: string
  measured: string
  goal: string
  /** measured / goal limit, oriented so that <= 1 meets the goal */
  ratio: number | undefined
  note?: string
}
const figures: Figure[] = []
const figure = (f: Figure): void => {
  figures.push(f)
}
const notMeasured = (name: string, goal: string, why: string): void =>
  figure({ figure: name, measured: '-', goal, ratio: undefined, note: why })

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** CPU time of this process's main thread (the event loop), in seconds: utime + stime of /proc/self/task/PID. */
function mainThreadCpuS(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15, in USER_HZ (100 on Linux)
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// ---- start-up ---------------------------------------------------------------

/**
 * Launch to first scenario started, with the README's run command: the CLI
 * runs one quick loopback scenario (all packs are still loaded and
 * validated), and a preloaded hook notes when the run spawns its first
 * process (the scenario's first probe), in CLOCK_MONOTONIC like
 * process.hrtime here.
 */
function startup(): void {
  const hook = join(kitRoot, 'dist', 'harness', 'bench', 'first-spawn-hook.js')
  // an empty cache directory first (a fresh clone's first run), then the same one warm
  const cacheDir = join(work, 'cache')
  const db = join(work, 'startup.db')
  const times: number[] = []
  let first = ''
  for (let i = 0; i < 6; i++) {
    const mark = join(work, `first-spawn-${i}.json`)
    const t0 = process.hrtime.bigint()
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(hook).href,
        cli,
        'run',
        '--db',
        db,
        '--filter',
        'lt-listener-repeats',
        '--variant',
        'ipv4',
        '--reporter',
        'json',
      ],
      { env: { ...process.env, SOCKSPEC_BENCH_FIRST_SPAWN: mark, SOCKSPEC_CACHE_DIR: cacheDir }, encoding: 'utf8', timeout: 60_000 },
    )
    if (!existsSync(mark)) {
      notMeasured(
        'time from launch to the first scenario started',
        '<= 0.5 s',
        `the run spawned nothing (exit ${r.status}): ${r.stderr.slice(0, 200)}`,
      )
      return
    }
    const m = JSON.parse(readFileSync(mark, 'utf8')) as { ns: string; argv0: string }
    times.push(Number(BigInt(m.ns) - t0) / 1e6)
    first = m.argv0
  }
  const [cold, ...warm] = times as [number, ...number[]]
  const ms = median(warm)
  line(
    'start-up: launch -> first scenario started',
    `${ms.toFixed(0)} ms (median of ${warm.length}; first spawn: ${first.slice(first.lastIndexOf('/') + 1)})`,
  )
  line('  the first run of a clone (empty parse cache, new store)', `${cold.toFixed(0)} ms`)
  line('  command', '`node dist/harness/cli/bin.js run` (npx / npm exec add npm itself, about 1 s, and the first npx builds a copy)')
  figure({
    figure: 'time from launch to the first scenario started',
    measured: `${(ms / 1000).toFixed(2)} s`,
    goal: '<= 0.5 s',
    ratio: ms / 500,
    note: `first run of a clone ${(cold / 1000).toFixed(2)} s`,
  })
}

// ---- probe round trip ----------------------------------------------------------

/** One pipelined batch of the harness, bracketed by C driver runs. */
interface PipeSample {
  pipeUs: number
  /** CPU of this process per pipelined step (all threads, so the collector too): what the machine's load does not change much */
  pipeCpuUs: number
  /** C pipelined over pipes: the mean of the run just before the harness's batch and the one just after, so both sides meet the same load */
  cPipeUs: number
  /** C pipelined over a socketpair, the probe's stdio as Node gives it (libuv's stdio 'pipe' is a socketpair) */
  cSockPipeUs: number
}

interface RoundTrip {
  cSeqUs: number
  nodeFloorUs: number
  /** Node's floor pipelined: every command in one write, the answers' bytes only counted for done frames */
  nodeFloorPipeUs: number
  nodeFloorPipeCpuUs: number
  /** the C pipelined run just before the floor's, which it is compared with */
  floorCPipeUs: number
  seqUs: number
  pipes: PipeSample[]
}

/** Pipelined batches per round: each is short (tens of ms), so a round takes several and the median sees more of them. */
const PIPE_BATCHES = 3

/** C driver: [sequential, pipelined] ns per step over pipes or a socketpair; sequential 0 when only pipelined. */
function cRound(n: number, transport: 'pipe' | 'socketpair', pipelinedOnly: boolean): [number, number] {
  const argv = [probeBinary, String(n), transport, ...(pipelinedOnly ? ['pipelined'] : [])]
  return execFileSync(join(nativeBuild, 'pipe-rtt'), argv, { encoding: 'utf8' }).trim().split(' ').map(Number) as [number, number]
}

/**
 * The least Node can do per step: write the line, wake on the answer, find
 * the done frame. No parsing. Then pipelined: every command in one write,
 * each chunk of answers only searched for done frames.
 */
async function nodeFloor(n: number): Promise<{ seqUs: number; pipeUs: number; pipeCpuUs: number }> {
  const child = spawnLongLived([probeBinary])
  let want = ''
  let wake: (() => void) | undefined
  let buf = ''
  /** pipelined: done frames still to come; the answers are then counted, not kept */
  let frames = 0
  /** the end of the last chunk, in case a frame's start is split across two */
  let tail = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (c: string) => {
    if (frames > 0) {
      const text = tail + c
      for (let i = text.indexOf('{"done"'); i >= 0; i = text.indexOf('{"done"', i + 7)) frames--
      tail = text.slice(-6)
      if (frames <= 0) wake!()
      return
    }
    buf += c
    if (wake && buf.includes(want)) {
      buf = ''
      const w = wake
      wake = undefined
      w()
    }
  })
  const wait = (step: string): Promise<void> =>
    new Promise(resolve => {
      want = `{"done":"${step}"`
      if (buf.includes(want)) {
        buf = ''
        resolve()
      } else wake = resolve
    })
  child.stdin.write('b0 socket C inet stream tcp 0\n')
  await wait('b0')
  let t0 = performance.now()
  for (let i = 1; i <= n; i++) {
    child.stdin.write(`b${i} getsockopt C socket SO_TYPE\n`)
    await wait(`b${i}`)
  }
  const seqUs = ((performance.now() - t0) * 1000) / n
  let commands = ''
  for (let i = 1; i <= n; i++) commands += `p${i} getsockopt C socket SO_TYPE\n`
  const cpu0 = process.cpuUsage()
  t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench: the pipelined floor got no answer in 30 s')), 30_000)
    wake = () => {
      clearTimeout(timer)
      resolve()
    }
    frames = n
    child.stdin.write(commands)
  })
  const pipeUs = ((performance.now() - t0) * 1000) / n
  const cpu = process.cpuUsage(cpu0)
  child.stdin.end()
  await child.exited
  return { seqUs, pipeUs, pipeCpuUs: (cpu.user + cpu.system) / n }
}

async function probeRound(n: number): Promise<RoundTrip> {
  const [cSeqNs, cPipeNs] = cRound(n, 'pipe', false)
  const floor = await nodeFloor(n)
  const p = new ProbeProcess([probeBinary], 'bench')
  await p.waitHello(5000)
  p.send('b0', 'socket C inet stream tcp 0')
  await p.waitStep('b0', 5000)
  const t0 = performance.now()
  for (let i = 1; i <= n; i++) {
    p.send(`b${i}`, 'getsockopt C socket SO_TYPE')
    await p.waitStep(`b${i}`, 5000)
  }
  const seqUs = ((performance.now() - t0) * 1000) / n
  const pipes: PipeSample[] = []
  let cBefore = cRound(n, 'pipe', true)[1]
  for (let k = 0; k < PIPE_BATCHES; k++) {
    const cpu0 = process.cpuUsage()
    const t1 = performance.now()
    for (let i = 1; i <= n; i++) p.send(`p${k}.${i}`, 'getsockopt C socket SO_TYPE')
    const o = await p.waitStep(`p${k}.${n}`, 30_000)
    const pipeUs = ((performance.now() - t1) * 1000) / n
    const cpu = process.cpuUsage(cpu0)
    if (o.status !== 'done') throw new Error(`bench: the pipelined batch ended with ${o.status}`)
    p.detach() // the next batch starts from an empty record, as the next result would
    const cAfter = cRound(n, 'pipe', true)[1]
    const cSock = cRound(n, 'socketpair', true)[1]
    pipes.push({ pipeUs, pipeCpuUs: (cpu.user + cpu.system) / n, cPipeUs: (cBefore + cAfter) / 2000, cSockPipeUs: cSock / 1000 })
    cBefore = cAfter
  }
  await p.stop()
  if (p.invalid.length) throw new Error(`bench: the probe wrote invalid lines: ${p.invalid[0]!.problem}`)
  return {
    cSeqUs: cSeqNs / 1000,
    nodeFloorUs: floor.seqUs,
    nodeFloorPipeUs: floor.pipeUs,
    nodeFloorPipeCpuUs: floor.pipeCpuUs,
    floorCPipeUs: cPipeNs / 1000,
    seqUs,
    pipes,
  }
}

/** Line splitting and event validation alone, per event (no I/O). */
function parseCost(): { splitValidateUs: number } {
  const lineText =
    '{"seq":5,"step":"b1","op":"getsockopt","h":"C","level":"socket","opt":"SO_TYPE","t0":123456789,"t1":123457000,"ret":0,"value":1}\n{"done":"b1","events":1}\n'
  const chunk = Buffer.from(lineText.repeat(100))
  let lines = 0
  const splitter = new LineSplitter(() => lines++)
  const n = 500
  const t0 = performance.now()
  for (let i = 0; i < n; i++) splitter.push(chunk)
  const splitUs = ((performance.now() - t0) * 1000) / (n * 200)
  return { splitValidateUs: splitUs }
}

async function probeRoundTrip(): Promise<void> {
  // Rounds alternate the C driver and Node, so load on the machine hits both sides alike; medians of the per-round
  // (pipelined: per-batch) ratios.
  const n = 5000
  const rounds: RoundTrip[] = []
  await probeRound(1000) // warm-up, not counted: the JIT compiles the hot path on the first steps
  for (let r = 0; r < roundsArg; r++) rounds.push(await probeRound(n))
  const seqRatio = median(rounds.map(r => r.seqUs / r.cSeqUs))
  const pipes = rounds.flatMap(r => r.pipes)
  const pipeRatios = pipes.map(x => x.pipeUs / x.cPipeUs)
  const pipeRatio = median(pipeRatios)
  const sockRatio = median(pipes.map(x => x.pipeUs / x.cSockPipeUs))
  const transportRatio = median(pipes.map(x => x.cSockPipeUs / x.cPipeUs))
  const floorRatio = median(rounds.map(r => r.nodeFloorUs / r.cSeqUs))
  const floorPipeRatio = median(rounds.map(r => r.nodeFloorPipeUs / r.floorCPipeUs))
  type Scalar = Exclude<keyof RoundTrip, 'pipes'>
  const m = (k: Scalar): string => median(rounds.map(r => r[k])).toFixed(1)
  const mp = (k: keyof PipeSample): string => median(pipes.map(x => x[k])).toFixed(1)
  const quartiles = (xs: number[]): string => {
    const q = [...xs].sort((a, b) => a - b)
    return `${q[Math.floor((q.length - 1) / 4)]!.toFixed(2)}-${q[Math.ceil(((q.length - 1) * 3) / 4)]!.toFixed(2)}x`
  }
  line(
    'probe step round trip, sequential (harness)',
    `${m('seqUs')} us/step (median of ${rounds.length} rounds x ${n} steps, after a warm-up round)`,
  )
  line('  raw C pipe round trip, same probe and step', `${m('cSeqUs')} us/step`)
  line("  Node's floor (write, wake, find the frame)", `${m('nodeFloorUs')} us/step = ${floorRatio.toFixed(2)}x C`)
  line('  ratio harness / C', `${seqRatio.toFixed(2)}x (per round: ${rounds.map(r => (r.seqUs / r.cSeqUs).toFixed(2)).join(' ')})`)
  line('probe step, pipelined (harness)', `${mp('pipeUs')} us/step (median of ${pipes.length} batches, ${PIPE_BATCHES} a round)`)
  line('  raw C, pipelined', `${mp('cPipeUs')} us/step (mean of the runs just before and just after each batch)`)
  line(
    '  raw C, pipelined over a socketpair',
    `${mp('cSockPipeUs')} us/step = ${transportRatio.toFixed(2)}x the pipes (Node's child stdio)`,
  )
  line(
    "  Node's floor, pipelined (count frames only)",
    `${m('nodeFloorPipeUs')} us/step = ${floorPipeRatio.toFixed(2)}x C, CPU ${m('nodeFloorPipeCpuUs')} us/step`,
  )
  line('  harness CPU per pipelined step', `${mp('pipeCpuUs')} us (the probe runs beside it on another core when one is free)`)
  line('  ratio harness / C', `${pipeRatio.toFixed(2)}x (middle half of the batches ${quartiles(pipeRatios)})`)
  line('    per batch', pipeRatios.map(x => x.toFixed(2)).join(' '))
  line(
    '  ratio harness / C over a socketpair',
    `${sockRatio.toFixed(2)}x (middle half ${quartiles(pipes.map(x => x.pipeUs / x.cSockPipeUs))})`,
  )
  const { splitValidateUs } = parseCost()
  line('  line splitting alone', `${(splitValidateUs * 1000).toFixed(0)} ns/line`)
  // the plain syscall, for scale: what a step costs inside the kernel
  const cLoopNs = Number(execFileSync(join(nativeBuild, 'syscall-loop'), ['1000000'], { encoding: 'utf8' }).trim())
  line('  the same syscall in a plain C loop', `${cLoopNs.toFixed(0)} ns`)
  figure({
    figure: 'probe step round trip, sequential / raw C pipe',
    measured: `${m('seqUs')} / ${m('cSeqUs')} us = ${seqRatio.toFixed(2)}x`,
    goal: '<= 3x',
    ratio: seqRatio / 3,
    note: `Node's own floor here: ${floorRatio.toFixed(2)}x`,
  })
  figure({
    figure: 'same, pipelined',
    measured: `${mp('pipeUs')} / ${mp('cPipeUs')} us = ${pipeRatio.toFixed(2)}x`,
    goal: '<= 1.2x',
    ratio: pipeRatio / 1.2,
    note: `middle half of ${pipes.length} batches ${quartiles(pipeRatios)}; C over a socketpair as Node's stdio: ${sockRatio.toFixed(2)}x, the transport alone ${transportRatio.toFixed(2)}x`,
  })
}

// ---- the default run ---------------------------------------------------------

const runInfo = (): RunInfo => runInfoFor(systemInfo(), 'loopback', undefined, ['bench'])

let defaultResults: ScenarioResult[] = []

async function defaultRun(): Promise<void> {
  const scenarios = loadScenarios([scenarioDir])
  const store = TraceStore.open(join(work, 'default.db'))
  const { id: runId } = store.beginRun(runInfo())
  spawnCounts(true)
  const cpu0 = mainThreadCpuS()
  const proc0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  // jobs left unset: runPlan sizes them from the suite, as `sockspec run` does
  const { results, jobs, probes } = await runPlan({ scenarios, host: loopbackHost(), system: systemInfo(), store, runId, repeat: 1 })
  const wallMs = performance.now() - t0
  const elu = performance.eventLoopUtilization(elu0)
  const cpuS = mainThreadCpuS() - cpu0
  const proc = process.cpuUsage(proc0)
  const spawns = spawnCounts(true)
  store.close()
  defaultResults = results

  const longest = results.reduce((a, b) => (b.durationMs > a.durationMs ? b : a))
  const sum = results.reduce((s, r) => s + r.durationMs, 0)
  const bad = results.filter(r => r.verdict === 'fail' || r.verdict === 'error')
  const skipped = results.filter(r => r.verdict === 'skip').length
  const bound = 1.2 * longest.durationMs + 2000
  line(`default run, --jobs ${jobs} (the default)`, `${results.length} results: ${bad.length} fail/error, ${skipped} skip`)
  for (const r of bad.slice(0, 5)) line(`  ${r.verdict}`, `${r.scenario.id} [${r.variant}]: ${r.message.slice(0, 100)}`)
  line('  wall time', `${(wallMs / 1000).toFixed(2)} s`)
  line('  longest scenario', `${(longest.durationMs / 1000).toFixed(2)} s (${longest.scenario.id} [${longest.variant}])`)
  line('  overlap (sum of durations / wall)', `${(sum / wallMs).toFixed(2)}x`)
  line('  wall / (1.2 x longest + 2 s)', `${(wallMs / bound).toFixed(2)}`)
  const total = [...spawns.values()].reduce((a, b) => a + b, 0)
  const by = [...spawns].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`)
  line('  processes spawned', `${total} (${by.join(', ') || 'none'})`)
  line(
    '  probe pool',
    `${probes.spawned} probes started for ${probes.spawned + probes.reused} actor slots (${probes.reused} reused, ${probes.discarded} stopped unfit)`,
  )
  line(
    '  Node main-thread CPU',
    `${cpuS.toFixed(2)} CPU-s (whole process ${((proc.user + proc.system) / 1e6).toFixed(2)} CPU-s; event loop busy ${(elu.active / 1000).toFixed(1)} s of ${(wallMs / 1000).toFixed(1)} s)`,
  )
  figure({
    figure: 'default suite wall / (1.2 x longest scenario + 2 s)',
    measured: `${(wallMs / 1000).toFixed(1)} s / ${(bound / 1000).toFixed(1)} s = ${(wallMs / bound).toFixed(2)}`,
    goal: '<= 1.0',
    ratio: wallMs / bound,
    note: `${results.length} results, ${bad.length} fail/error`,
  })
  figure({
    figure: 'processes spawned per default run',
    measured: String(total),
    goal: '<= 250',
    ratio: total / 250,
    note: by.slice(0, 4).join(', '),
  })
  figure({ figure: 'Node main-thread CPU per default run', measured: `${cpuS.toFixed(2)} CPU-s`, goal: '<= 4 CPU-s', ratio: cpuS / 4 })
}

// ---- store ------------------------------------------------------------------

async function storeThroughput(): Promise<void> {
  // the store path as runs use it (batched commits) against a raw better-sqlite3 loop of the same rows, in one run
  const { benchStoreScale } = await import('./store-scale.js')
  const r = await benchStoreScale({ results: defaultResults })
  line('store: events per second', `${Math.round(r.kitEventsPerSecond)} (${r.events} events in ${r.results} results)`)
  line('  raw better-sqlite3 loop, same rows', `${Math.round(r.rawEventsPerSecond)} events/s`)
  line('  store / raw', `${r.ratio.toFixed(2)}x (per CPU-second ${(r.kitEventsPerCpuSecond / r.rawEventsPerCpuSecond).toFixed(2)}x)`)
  figure({
    figure: 'events stored per second',
    measured: `${Math.round(r.kitEventsPerSecond / 1000)}k`,
    goal: '>= 200k',
    ratio: 200_000 / r.kitEventsPerSecond,
  })
  figure({
    figure: 'events stored / raw insert loop of the same rows',
    measured: `${r.ratio.toFixed(2)}x`,
    goal: '>= 1.5x',
    ratio: 1.5 / r.ratio,
  })
}

// ---- report and compare at scale ---------------------------------------------------

/** `compare --baseline` over the scale store, as the CLI runs it, in a child: wall time and peak RSS. */
function compareAtScale(storeFile: string, baseline: string): { seconds: number; rssMb: number; exit: number | null } {
  const t0 = performance.now()
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%M', process.execPath, cli, 'compare', '--db', storeFile, '--baseline', baseline, '--reporter', 'json'],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 600_000,
    },
  )
  const seconds = (performance.now() - t0) / 1000
  const kb = Number(r.stderr.trim().split('\n').pop())
  return { seconds, rssMb: kb / 1024, exit: r.status }
}

/** Load the largest page in headless Chromium: ms from navigation start until the page has painted after load. */
async function paintMs(page: string): Promise<number | string> {
  const chromium = '/usr/bin/chromium'
  if (!existsSync(chromium)) return `${chromium} is missing`
  let pw: PlaywrightModule
  try {
    pw = await import('playwright-core')
  } catch {
    return 'playwright-core is not installed (a dev dependency)'
  }
  const browser = await pw.chromium.launch({ executablePath: chromium, args: ['--no-sandbox'] })
  try {
    const tab = await browser.newPage()
    await tab.goto(pathToFileURL(page).href, { waitUntil: 'load', timeout: 60_000 })
    // a string, evaluated in the page (this program's lib has no DOM types)
    return (await tab.evaluate(
      'new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now()))))',
    )) as number
  } finally {
    await browser.close()
  }
}

async function reportScale(): Promise<void> {
  const module = join(kitRoot, 'dist', 'harness', 'bench', 'report-scale.js')
  const { benchReportScale } = (await import(module)) as ReportScaleModule
  const r = await benchReportScale({ keep: true })
  try {
    line(
      'report at scale',
      `${r.runs} runs x ${r.scenarios} scenarios in ${r.seconds.toFixed(2)} s, largest page ${(r.largestPageBytes / 1e6).toFixed(2)} MB`,
    )
    figure({
      figure: `report on ${r.runs} runs x ${r.scenarios} scenarios`,
      measured: `${r.seconds.toFixed(1)} s`,
      goal: '<= 5 s',
      ratio: r.seconds / 5,
    })
    const paint = await paintMs(r.largestPage!)
    if (typeof paint === 'number') {
      line('  largest page painted in Chromium', `${paint.toFixed(0)} ms`)
      figure({
        figure: 'largest report page painted in Chromium',
        measured: `${(paint / 1000).toFixed(2)} s`,
        goal: '< 1 s',
        ratio: paint / 1000,
      })
    } else notMeasured('largest report page painted in Chromium', '< 1 s', paint)
    const c = compareAtScale(r.store!, r.firstRun!)
    line(`compare --baseline over ${r.runs} runs`, `${c.seconds.toFixed(1)} s, peak RSS ${c.rssMb.toFixed(0)} MB (exit ${c.exit})`)
    figure({
      figure: `compare --baseline over ${r.runs} runs: time`,
      measured: `${c.seconds.toFixed(1)} s`,
      goal: '<= 10 s',
      ratio: c.seconds / 10,
    })
    figure({
      figure: `compare --baseline over ${r.runs} runs: peak RSS`,
      measured: `${c.rssMb.toFixed(0)} MB`,
      goal: '<= 300 MB',
      ratio: c.rssMb / 300,
    })
  } finally {
    rmSync(r.dir!, { recursive: true, force: true })
  }
}

// ---- kernel matrix (opt-in) ---------------------------------------------------------

/** What a guest said on stderr about its boot and its run (run-kernels.ts log lines). */
function guestTimes(stderr: string): Array<{ kernel: string; bootS?: number; runS?: number; tally?: string }> {
  const out = new Map<string, { kernel: string; bootS?: number; runS?: number; tally?: string }>()
  const of = (k: string): { kernel: string; bootS?: number; runS?: number; tally?: string } =>
    out.get(k) ?? (out.set(k, { kernel: k }), out.get(k)!)
  for (const l of stderr.split('\n')) {
    const boot = /kernel (\S+): \S+ booted in ([\d.]+) s/.exec(l)
    if (boot) of(boot[1]!).bootS ??= Number(boot[2])
    const run = /kernel (\S+): \S+: (\d+ pass, \d+ fail, \d+ error, \d+ skip) in ([\d.]+) s/.exec(l)
    if (run) Object.assign(of(run[1]!), { tally: run[2], runS: Number(run[3]) })
  }
  return [...out.values()]
}

/**
 * `--matrix`: host + debian:6.1 + debian:6.12 (goal <= 120 s, no `within`
 * errors); `--matrix all`: every kernel of `npm run matrix` (goal < 10 min).
 */
function kernelMatrix(all: boolean): void {
  const db = join(work, 'matrix.db')
  const kernels = all ? ['all'] : ['host', 'debian:6.1', 'debian:6.12']
  const name = all ? 'kernel matrix, all kernels' : 'kernel matrix host + 6.1 + 6.12'
  const goalS = all ? 600 : 120
  const goal = all ? '< 600 s, 0 fail, 0 error' : '<= 120 s, 0 within errors'
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [cli, 'run', '--db', db, ...kernels.flatMap(k => ['--kernel', k]), '--reporter', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 1_800_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  const seconds = (performance.now() - t0) / 1000
  process.stderr.write(r.stderr ?? '')
  if (!existsSync(db)) {
    notMeasured(name, goal, `the run wrote no store (exit ${r.status})`)
    return
  }
  const store = openSqlite(db, { readonly: true })
  // the verdict a result ended with: a `within` error run again and passed counts as its pass
  const last = `SELECT * FROM results r WHERE attempt = (SELECT max(attempt) FROM results x
    WHERE x.run_id = r.run_id AND x.scenario_id = r.scenario_id AND x.variant = r.variant)`
  const within = (
    store.prepare(`SELECT count(*) AS n FROM (${last}) WHERE verdict = 'error' AND message LIKE '%needs it within%'`).get() as { n: number }
  ).n
  const bad = (store.prepare(`SELECT count(*) AS n FROM (${last}) WHERE verdict IN ('fail', 'error')`).get() as { n: number }).n
  const runs = store
    .prepare(`SELECT kernel_release AS k, count(*) AS n FROM runs JOIN results ON results.run_id = runs.id GROUP BY runs.id`)
    .all() as Array<{ k: string; n: number }>
  // which ones, so a bench that saw them says what to look at
  const badOnes = store
    .prepare(
      `SELECT runs.kernel_release AS k, s.scenario AS id, b.variant AS v, b.verdict AS verdict, b.message AS message
       FROM (${last}) b JOIN runs ON runs.id = b.run_id JOIN scenarios s ON s.id = b.scenario_id WHERE b.verdict IN ('fail', 'error')`,
    )
    .all() as Array<{ k: string; id: string; v: string; verdict: string; message: string }>
  store.close()
  line(
    name,
    `${seconds.toFixed(0)} s, ${bad} fail or error, ${within} within errors (exit ${r.status}; ${runs.map(x => `${x.k}: ${x.n}`).join(', ')})`,
  )
  for (const g of guestTimes(r.stderr ?? ''))
    line(`  ${g.kernel}`, `boot ${g.bootS?.toFixed(1) ?? '-'} s, run ${g.runS?.toFixed(1) ?? '-'} s (${g.tally ?? 'no tally'})`)
  for (const b of badOnes) line(`  ${b.verdict} on ${b.k}`, `${b.id} [${b.v}]: ${b.message.slice(0, 160)}`)
  figure({ figure: name, measured: `${seconds.toFixed(0)} s`, goal: all ? '< 600 s' : '<= 120 s', ratio: seconds / goalS })
  figure({ figure: `${name}: fail + error`, measured: String(bad), goal: '0', ratio: bad ? Infinity : 0 })
  if (!all) figure({ figure: 'kernel matrix: within errors', measured: String(within), goal: '0', ratio: within ? Infinity : 0 })
}

// ---- the table -------------------------------------------------------------------

function printTable(): void {
  process.stdout.write('\n| figure | this run | goal | ratio to goal (<= 1 meets it) |\n| --- | --- | --- | --- |\n')
  for (const f of figures) {
    const ratio =
      f.ratio === undefined ? 'not measured' : `${f.ratio === Infinity ? 'inf' : f.ratio.toFixed(2)} ${f.ratio <= 1 ? 'met' : 'NOT met'}`
    process.stdout.write(`| ${f.figure} | ${f.measured}${f.note ? ` (${f.note})` : ''} | ${f.goal} | ${ratio} |\n`)
  }
}

try {
  line(
    'machine',
    `${systemInfo().kernelRelease}, ${(await import('node:os')).availableParallelism()} cores, load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
  )
  if (wanted.has('startup')) startup()
  if (wanted.has('probe')) await probeRoundTrip()
  if (wanted.has('default')) await defaultRun()
  if (wanted.has('store')) await storeThroughput()
  if (wanted.has('report')) await reportScale()
  if (wanted.has('matrix')) kernelMatrix(matrixAll)
  else notMeasured('kernel matrix host + 6.1 + 6.12', '<= 120 s, 0 within errors', 'opt-in: npm run bench -- --matrix (minutes in qemu)')
  printTable()
} finally {
  rmSync(work, { recursive: true, force: true })
}
