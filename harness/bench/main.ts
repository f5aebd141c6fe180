/**
 * `npm run bench`: the kit's performance figures, printed, never asserted.
 *  1. probe protocol round trip per step vs the same syscall in a plain C loop
 *  2. wall time of the default run vs its longest scenario (timer overlap)
 *  3. events stored per second (one transaction per result)
 *  4. report rendering at scale, when the report module is present
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loopbackHost } from '../hosts/loopback.js'
import { systemInfo } from '../hosts/system-info.js'
import { kitRoot, probeBinary, scenarioDir } from '../paths.js'
import { ProbeProcess } from '../probe/process.js'
import { runPlan } from '../runner/run.js'
import { loadScenarios } from '../scenario/load.js'
import { TraceStore } from '../store/store.js'
import type { RunInfo } from '../store/store.js'
import { runInfoFor } from '../runner/run-info.js'

const work = mkdtempSync(join(tmpdir(), 'sockspec-bench-'))
const line = (label: string, value: string): void => {
  process.stdout.write(`${label.padEnd(44)} ${value}\n`)
}

async function probeRoundTrip(): Promise<void> {
  const n = 5000
  const p = new ProbeProcess([probeBinary], 'bench')
  await p.waitHello(5000)
  p.send('b0', 'socket C inet stream tcp 0')
  await p.waitStep('b0', 5000)
  let t0 = performance.now()
  for (let i = 1; i <= n; i++) {
    p.send(`b${i}`, 'getsockopt C socket SO_TYPE')
    await p.waitStep(`b${i}`, 5000)
  }
  const sequentialUs = ((performance.now() - t0) * 1000) / n
  t0 = performance.now()
  for (let i = 1; i <= n; i++) p.send(`p${i}`, 'getsockopt C socket SO_TYPE')
  await p.waitStep(`p${n}`, 30_000)
  const pipelinedUs = ((performance.now() - t0) * 1000) / n
  // the probe's own view: t1 - t0 of the syscall inside the probe
  const inside = p.events.filter(e => e.op === 'getsockopt').map(e => (e.t1 ?? e.t0) - e.t0)
  const insideNs = inside.reduce((a, b) => a + b, 0) / inside.length
  await p.stop()
  const cLoopNs = Number(
    execFileSync(join(kitRoot, 'harness', 'native', 'build', 'syscall-loop'), ['1000000'], { encoding: 'utf8' }).trim(),
  )
  line('probe step round trip (sequential)', `${sequentialUs.toFixed(1)} us/step over ${n} steps`)
  line('probe step, pipelined', `${pipelinedUs.toFixed(1)} us/step`)
  line('syscall as timed inside the probe', `${insideNs.toFixed(0)} ns`)
  line('same syscall in a plain C loop', `${cLoopNs.toFixed(0)} ns`)
  line('ratio round trip / plain C syscall', `${((sequentialUs * 1000) / cLoopNs).toFixed(0)}x`)
}

const runInfo = (): RunInfo => runInfoFor(systemInfo(), 'loopback', undefined, ['bench'])

async function timedRun(scenarios: ReturnType<typeof loadScenarios>, jobs: number | undefined, file: string) {
  const store = TraceStore.open(join(work, file))
  const { id: runId } = store.beginRun(runInfo())
  const t0 = performance.now()
  const outcome = await runPlan({ scenarios, host: loopbackHost(), system: systemInfo(), store, runId, jobs, repeat: 1 })
  const wallMs = performance.now() - t0
  store.close()
  return { results: outcome.results, wallMs, jobs: outcome.jobs }
}

async function defaultRun(): Promise<void> {
  const scenarios = loadScenarios([scenarioDir])
  const cores = os.availableParallelism()
  let results: Awaited<ReturnType<typeof timedRun>>['results'] = []
  // undefined: the default, sized by runPlan from the suite's estimates
  for (const asked of [cores, undefined]) {
    const run = await timedRun(scenarios, asked, `run-${asked ?? 'default'}.db`)
    const jobs = run.jobs
    results = run.results
    const longest = results.reduce((a, b) => (b.durationMs > a.durationMs ? b : a))
    const sum = results.reduce((s, r) => s + r.durationMs, 0)
    const bad = results.filter(r => r.verdict === 'fail' || r.verdict === 'error').length
    line(
      `default run, --jobs ${jobs}${asked === undefined ? ' (the default)' : ' (= cores)'}`,
      `${results.length} results (${bad} fail/error)`,
    )
    line('  wall time', `${(run.wallMs / 1000).toFixed(2)} s`)
    line('  longest scenario', `${(longest.durationMs / 1000).toFixed(2)} s (${longest.scenario.id} [${longest.variant}])`)
    line('  sum of scenario durations', `${(sum / 1000).toFixed(2)} s`)
    line('  wall / longest', `${(run.wallMs / longest.durationMs).toFixed(2)}`)
    line('  overlap (sum / wall)', `${(sum / run.wallMs).toFixed(2)}x`)
  }

  // 3. store throughput: the same real results written again into a fresh store
  const copies = 20
  const target = TraceStore.open(join(work, 'store.db'))
  const { id: benchRun } = target.beginRun(runInfo())
  let events = 0
  const s0 = performance.now()
  for (let c = 1; c <= copies; c++) {
    for (const r of results) {
      target.recordResult(benchRun, { ...r, attempt: c })
      events += r.events.length
    }
  }
  const storeS = (performance.now() - s0) / 1000
  line(
    'store: events per second',
    `${Math.round(events / storeS)} (${events} events in ${results.length * copies} results, ${storeS.toFixed(2)} s)`,
  )
  target.close()
}

async function reportScale(): Promise<void> {
  const module = join(kitRoot, 'dist', 'harness', 'bench', 'report-scale.js')
  if (!existsSync(module)) {
    line('report at scale', 'skipped (no report module)')
    return
  }
  const { benchReportScale } = (await import(module)) as {
    benchReportScale: () => Promise<{ runs: number; scenarios: number; seconds: number; largestPageBytes: number }>
  }
  const r = await benchReportScale()
  line(
    'report at scale',
    `${r.runs} runs x ${r.scenarios} scenarios in ${r.seconds.toFixed(2)} s, largest page ${(r.largestPageBytes / 1e6).toFixed(2)} MB`,
  )
}

try {
  await probeRoundTrip()
  await defaultRun()
  await reportScale()
} finally {
  rmSync(work, { recursive: true, force: true })
}
