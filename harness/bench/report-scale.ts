/**
 * Report and compare at scale: a temp store with 1,000 runs x 100 scenarios,
 * filled with copies of real results (the tcp-connect and seed-claims packs
 * run once on this kernel), a few percent turned into failures, errors and
 * skips, then `report` timed, and `compare --baseline` over every run timed
 * in a child process (its own peak RSS). Goals (issue 11): report <= 5 s,
 * compare --baseline <= 10 s and <= 300 MB.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { loopbackHost } from '../hosts/loopback.js'
import { systemInfo } from '../hosts/system-info.js'
import { kitVersion } from '../kit.js'
import { kitRoot, scenarioDir } from '../paths.js'
import { runPlan } from '../runner/run.js'
import { loadScenarios } from '../scenario/load.js'
import { decodeEvents, encodeChecks, TraceStore } from '../store/store.js'
import { signatureOfRows } from '../compare/signature.js'
import type { CheckRow } from '../store/store.js'
import type { ProbeEvent } from '../trace/event.js'
import { writeReport } from '../site/write.js'

export interface ReportScaleResult {
  runs: number
  scenarios: number
  seconds: number
  largestPageBytes: number
  /** `compare --baseline 1` over every other run, text to /dev/null: wall seconds and peak RSS of its process */
  compareSeconds: number
  compareMaxRssBytes: number
  /** with keep: the filled store and the site, for more measurements (the caller removes dir) */
  dir?: string
  store?: string
  largestPage?: string
  /** uuid of the first run in the store (a baseline for compare) */
  firstRun?: string
}

interface Template {
  scenario: { scenario: string; pack: string; title: string; sources: string; claim: number | null; body: string }
  result: { verdict: string; claim: string | null; message: string; duration_ms: number; variant: string; kernels: string }
  /** the seed result's events as the store holds them (schema 5: [actor, probe event, clock?]) */
  entries: EventEntry[]
  checks: CheckRow[]
}

type EventEntry = [string, ProbeEvent] | [string, ProbeEvent, string]

const KERNELS = ['6.18.44', '6.12.48', '6.6.104', '6.1.153', '5.15.190', '5.10.243', '5.4.299', '6.17.9']
const HOSTS = ['ci-amd64-1', 'ci-amd64-2', 'ci-arm64-1', 'laptop']

/** Real results to copy: one run of a few packs on this kernel. */
async function realTemplates(dir: string): Promise<Template[]> {
  const seed = TraceStore.open(join(dir, 'seed.db'))
  try {
    const scenarios = loadScenarios([join(scenarioDir, 'tcp-connect'), join(scenarioDir, 'seed-claims')])
    const system = systemInfo()
    const { id: runId } = seed.beginRun({
      host: system.hostname,
      hostKind: 'loopback',
      kernelRelease: system.kernelRelease,
      kernelVersion: system.kernelVersion,
      arch: system.arch,
      distro: system.distro,
      kitVersion: kitVersion(),
      kitCommit: undefined,
      sysctls: system.sysctls,
      argv: ['bench'],
    })
    await runPlan({ scenarios, host: loopbackHost(), system, store: seed, runId, jobs: os.availableParallelism(), repeat: 1 })
    const rows = seed.db
      .prepare(
        `SELECT r.id, r.verdict, r.claim, r.message, r.duration_ms, r.variant, r.kernels, s.scenario, s.pack, s.title, s.sources, s.claim AS claim_id, s.body
         FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE r.verdict != 'skip' ORDER BY s.scenario, r.variant`,
      )
      .all() as Array<
      Template['result'] & {
        id: number
        scenario: string
        pack: string
        title: string
        sources: string
        claim_id: number | null
        body: string
      }
    >
    return rows.map(r => ({
      scenario: { scenario: r.scenario, pack: r.pack, title: r.title, sources: r.sources, claim: r.claim_id, body: r.body },
      result: {
        verdict: r.verdict,
        claim: r.claim,
        message: r.message,
        duration_ms: r.duration_ms,
        variant: r.variant,
        kernels: r.kernels,
      },
      entries: JSON.parse(
        (seed.db.prepare(`SELECT events FROM traces WHERE result_id = ?`).get(r.id) as { events: string }).events,
      ) as EventEntry[],
      checks: seed.checks(r.id),
    }))
  } finally {
    seed.close()
  }
}

/** Deterministic, evenly spread 0..999 per (run, scenario). */
function dice(run: number, scenario: number): number {
  let x = (Math.imul(run + 1, 0x9e3779b1) ^ Math.imul(scenario + 1, 0x85ebca77)) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0
  return ((x ^ (x >>> 16)) >>> 0) % 1000
}

/** Unique in its first 8 hex digits, like real uuids (report pages are named by them): an odd multiplier is a bijection mod 2^32. */
function benchUuid(i: number): string {
  return `${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}-bench-run-${String(i).padStart(6, '0')}`
}

function fill(store: TraceStore, templates: readonly Template[], runs: number, scenarios: number): void {
  const db = store.db
  db.pragma('synchronous = OFF')
  const insertScenario = db.prepare(
    `INSERT INTO scenarios (scenario, hash, pack, title, sources, claim, body) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  )
  const insertRun = db.prepare(
    `INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, finished_at, status)
     VALUES (?, ?, 'loopback', ?, '#1 SMP', ?, 'Debian 13', '0.1.0', NULL, '{}', '["run"]', ?, ?, 'complete')`,
  )
  const insertResult = db.prepare(
    `INSERT INTO results (run_id, scenario_id, variant, attempt, verdict, claim, duration_ms, message, stderr, kernels, invalid, signature, failed_checks)
     VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, '[]', ?, ?)`,
  )
  const insertTrace = db.prepare(`INSERT INTO traces (result_id, checks, events) VALUES (?, ?, ?)`)
  // the store's own encoding and signature, computed once per distinct trace (most runs repeat the template's)
  const encoded = new Map<readonly EventEntry[], string>()
  const signatures = new Map<readonly EventEntry[], Map<readonly CheckRow[], string>>()
  const encode = (entries: readonly EventEntry[]): string => {
    let text = encoded.get(entries)
    if (text === undefined) {
      text = JSON.stringify(entries)
      encoded.set(entries, text)
    }
    return text
  }
  const signature = (entries: readonly EventEntry[], checks: readonly CheckRow[]): string => {
    const byChecks = signatures.get(entries) ?? new Map<readonly CheckRow[], string>()
    signatures.set(entries, byChecks)
    let sig = byChecks.get(checks)
    if (sig === undefined) {
      sig = signatureOfRows(decodeEvents(encode(entries)), checks)
      byChecks.set(checks, sig)
    }
    return sig
  }
  db.transaction(() => {
    const scenarioIds: number[] = []
    for (let k = 0; k < scenarios; k++) {
      const t = templates[k % templates.length]!.scenario
      const id = `${t.scenario}-${String(k).padStart(3, '0')}`
      const body = JSON.stringify({ ...(JSON.parse(t.body) as object), id })
      scenarioIds.push(Number(insertScenario.run(id, `bench-${k}`, t.pack, t.title, t.sources, t.claim, body).lastInsertRowid))
    }
    const start = Date.parse('2024-01-01T00:00:00Z')
    for (let i = 0; i < runs; i++) {
      const when = new Date(start + i * 3_600_000).toISOString()
      const runId = Number(
        insertRun.run(benchUuid(i), HOSTS[i % HOSTS.length]!, KERNELS[i % KERNELS.length]!, i % 4 === 2 ? 'aarch64' : 'x86_64', when, when)
          .lastInsertRowid,
      )
      for (let k = 0; k < scenarios; k++) {
        const t = templates[k % templates.length]!
        const roll = dice(i, k)
        const verdict = roll < 20 ? 'fail' : roll < 25 ? 'error' : roll < 45 ? 'skip' : t.result.verdict
        let events = t.entries
        let checks = t.checks
        let message = t.result.message
        let stderr = '{}'
        if (verdict === 'fail' && events.length) {
          // the kernel answered otherwise on the last checked call: a differing event and a failed check
          const at = events.length - 1
          events = events.map((e, idx): EventEntry =>
            idx === at ? [e[0], { ...e[1], ret: -1, errno: 'ECONNRESET', ready: undefined, revents: undefined }] : e,
          )
          checks = checks.map((c, idx) => (idx === checks.length - 1 ? { ...c, observed: 'ECONNRESET', verdict: 'fail' } : c))
          message = 'errno: expected 0, got ECONNRESET'
        } else if (verdict === 'error') {
          events = events.slice(0, Math.ceil(events.length / 2))
          checks = []
          message = 'probe for client exited (signal SIGABRT) before answering step s6'
          stderr = JSON.stringify({ client: 'sockspec-probe: abort requested\n' })
        } else if (verdict === 'skip') {
          events = []
          checks = []
          message = 'requires root'
        }
        const claim = t.result.claim && verdict !== 'error' && verdict !== 'skip' ? (roll % 7 === 0 ? 'refuted' : t.result.claim) : null
        const resultId = Number(
          insertResult.run(
            runId,
            scenarioIds[k]!,
            t.result.variant,
            verdict,
            claim,
            t.result.duration_ms,
            message,
            stderr,
            t.result.kernels,
            signature(events, checks),
            checks.filter(c => c.verdict === 'fail').length,
          ).lastInsertRowid,
        )
        insertTrace.run(resultId, encodeChecks(checks), encode(events))
      }
    }
  })()
}

/** `sockspec compare --baseline 1` on the store, in its own process: wall time and peak RSS. */
export function timeCompare(file: string): { seconds: number; maxRssBytes: number } {
  const cli = pathToFileURL(join(kitRoot, 'dist', 'harness', 'cli', 'compare.js')).href
  const script = `import { compareCommand } from ${JSON.stringify(cli)}
const t0 = performance.now()
compareCommand([], { db: ${JSON.stringify(file)}, baseline: '1', reporter: 'text' })
process.stderr.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssBytes: process.resourceUsage().maxRSS * 1024 }))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 600_000,
  })
  if (r.status !== 0 && r.status !== 1) throw new Error(`bench: compare failed (${r.status ?? r.signal}): ${r.stderr.slice(-500)}`)
  return JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{'))) as { seconds: number; maxRssBytes: number }
}

export async function benchReportScale(opts: { runs?: number; scenarios?: number; keep?: boolean } = {}): Promise<ReportScaleResult> {
  const runs = opts.runs ?? 1000
  const scenarios = opts.scenarios ?? 100
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-bench-report-'))
  try {
    const templates = await realTemplates(dir)
    if (!templates.length) throw new Error('bench: the seed run produced no results to copy')
    const file = join(dir, 'scale.db')
    const store = TraceStore.open(file)
    try {
      fill(store, templates, runs, scenarios)
    } finally {
      store.close()
    }
    const stats = writeReport(file, join(dir, 'site'))
    const compare = timeCompare(file)
    return {
      runs,
      scenarios,
      seconds: stats.seconds,
      largestPageBytes: stats.largestPage.bytes,
      compareSeconds: compare.seconds,
      compareMaxRssBytes: compare.maxRssBytes,
      ...(opts.keep ? { dir, store: file, largestPage: join(dir, 'site', stats.largestPage.path), firstRun: benchUuid(0) } : {}),
    }
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true })
  }
}

/** One line per figure, with its goal. */
export function reportScaleLines(r: ReportScaleResult): string[] {
  return [
    `report: ${r.runs} runs x ${r.scenarios} scenarios       ${r.seconds.toFixed(2)} s (goal <= 5 s), largest page ${(r.largestPageBytes / 1e6).toFixed(2)} MB`,
    `compare --baseline over ${r.runs} runs          ${r.compareSeconds.toFixed(2)} s (goal <= 10 s), peak RSS ${Math.round(r.compareMaxRssBytes / 1e6)} MB (goal <= 300 MB)`,
  ]
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchReportScale({ keep: process.argv.includes('--keep') })
  process.stdout.write(`${reportScaleLines(r).join('\n')}\n${r.dir ? `kept: ${r.dir}\n` : ''}`)
}
