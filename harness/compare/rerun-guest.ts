/**
 * compare --rerun for runs made in a qemu guest: b's differences are re-run
 * on the same kernel build, booted again. The build is pinned by the package
 * name the run recorded (`--kernel debian:linux-image-...`); when the kit
 * would now fetch another version of that package, it is a different build
 * and nothing is re-run. A boot costs 10-20 s under emulation, so each build
 * is booted once per compare: every pair to re-run on it, from every
 * comparison, goes into one temp pack and one child `sockspec run --kernel
 * ... --repeat N`. Each scenario file lists only the variants its pairs need.
 * The child's run must record the build b recorded (package, version, .deb
 * sha256, uname -r and -v) or its answers are not used. Pairs are then
 * decided as on the host (rerun.ts judgeReruns).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chooseKernel, parseKernelSpec } from '../hosts/vm/kernel-spec.js'
import type { DebianSpec } from '../hosts/vm/kernel-spec.js'
import { TraceStore } from '../store/store.js'
import type { RunRow } from '../store/store.js'
import { bodyOf } from './compare-runs.js'
import { RERUN_LABELS, applyRerun, hostFacts, judgeReruns, rerunResults, runChild } from './rerun.js'
import type { RerunContext } from './rerun.js'
import type { Comparison, Pair } from './types.js'

/** The kernel build a guest run booted, as the run recorded it. */
export interface GuestBuild {
  /** e.g. linux-image-6.1.0-56-cloud-amd64 */
  package: string
  /** Debian version, e.g. 6.1.192-2 */
  version: string
  /** sha256 of the .deb holding vmlinuz */
  sha256: string
  /** uname -r and -v of the guest */
  release: string
  kernelVersion: string
}

/**
 * The build of a run made in a guest; undefined for a run that was not, null
 * for a guest run that did not record its package (no build to pin).
 */
export function guestBuildOf(run: Pick<RunRow, 'hosts' | 'kernel_release' | 'kernel_version'>): GuestBuild | null | undefined {
  const vm = Object.values(hostFacts(run)).find(f => f['kind'] === 'vm')
  if (!vm) return undefined
  const { package: pkg, packageVersion: version, sha256 } = vm
  if (typeof pkg !== 'string' || typeof version !== 'string' || typeof sha256 !== 'string') return null
  return { package: pkg, version, sha256, release: run.kernel_release, kernelVersion: run.kernel_version }
}

/** The `--kernel` spec pinning a build by its package name; undefined when the name is not one `--kernel` accepts. */
export function pinnedSpec(build: Pick<GuestBuild, 'package'>): DebianSpec | undefined {
  try {
    const spec = parseKernelSpec(`debian:${build.package}`)
    return spec.kind === 'debian' && 'package' in spec ? spec : undefined
  } catch {
    return undefined
  }
}

/**
 * The version of the package the kit would fetch now: the one its Debian
 * indexes list (kernel-fetch.ts picks the same), or why it cannot tell
 * (offline: the child run and the check of what it booted decide).
 */
async function buildToFetch(spec: DebianSpec, log: (line: string) => void): Promise<{ version: string } | { unknown: string }> {
  // loaded only when a guest run is re-run: the apt and fetch modules are not compare's
  const [{ debianKernels }, { cacheRoot }] = await Promise.all([import('../hosts/vm/kernel-fetch.js'), import('../hosts/vm/cache-dir.js')])
  try {
    const k = chooseKernel(spec, await debianKernels(cacheRoot(), log))
    return k ? { version: k.version } : { unknown: `${spec.name} is not in the kit's Debian indexes` }
  } catch (err) {
    return { unknown: (err as Error).message }
  }
}

/** A run made in a guest whose differences are to be re-run. */
export interface GuestComparison {
  comparison: Comparison
  build: GuestBuild
  /** how the run is named in messages */
  name: string
}

export interface GuestRerunContext extends RerunContext {
  log: (line: string) => void
}

/** A guest boot under emulation is 10-20 s; the run boots once more when the first misses its limit, and after a panic. */
const BOOT_ALLOWANCE_MS = 180_000
/** Per result of the child, as if they ran one after another (they run side by side, one per vCPU). */
const PER_RESULT_MS = 20_000

interface Batch {
  build: GuestBuild
  spec: DebianSpec
  runs: string[]
  /** (scenario, hash) of b -> the scenario's file in the child, its id there and the variants wanted */
  scenarios: Map<string, { id: string; doc: Record<string, unknown>; variants: Set<string> }>
  pairs: Array<{ c: Comparison; p: Pair; id: string }>
}

const buildKey = (b: GuestBuild): string => `${b.package}=${b.version}=${b.sha256}`
const VARIANT_ORDER = ['ipv4', 'ipv6', 'default']

/** Group the pairs to re-run by kernel build, each (scenario, hash) once with the variants its pairs need. */
function batchesOf(items: readonly GuestComparison[], ctx: GuestRerunContext): Batch[] {
  const batches = new Map<string, Batch>()
  for (const { comparison: c, build, name } of items) {
    const spec = pinnedSpec(build)
    if (!spec) {
      ctx.log(`not re-run: ${name} booted ${build.package}, not a package name --kernel accepts; its differences stand as recorded`)
      continue
    }
    let batch = batches.get(buildKey(build))
    if (!batch) batches.set(buildKey(build), (batch = { build, spec, runs: [], scenarios: new Map(), pairs: [] }))
    batch.runs.push(name)
    const ids = new Set([...batch.scenarios.values()].map(s => s.id))
    for (const p of c.pairs) {
      if (!RERUN_LABELS.has(p.label) || !p.a || !p.b) continue
      const doc = ctx.scenarioBody(p.b.resultId)
      if (!doc || !bodyOf(ctx.scenarioBody, p.b.hash, p.b.resultId)) continue
      const key = `${p.scenario}\0${p.b.hash}`
      let s = batch.scenarios.get(key)
      if (!s) {
        // two bodies of one scenario (runs from different kit versions): the second gets an id of its own in the child
        const id = ids.has(p.scenario) ? `${p.scenario}--${p.b.hash.slice(0, 12)}` : p.scenario
        ids.add(id)
        batch.scenarios.set(key, (s = { id, doc, variants: new Set() }))
      }
      s.variants.add(p.variant)
      batch.pairs.push({ c, p, id: s.id })
    }
  }
  return [...batches.values()].filter(b => b.pairs.length > 0)
}

/** Why the child's run cannot stand for b's kernel, or undefined when it booted the very build b recorded. */
function notTheBuild(run: RunRow | undefined, want: GuestBuild, store: TraceStore): string | undefined {
  if (!run) return 'the re-run recorded no run'
  const results = store.db.prepare(`SELECT verdict, message FROM results WHERE run_id = ?`).all(run.id) as Array<{
    verdict: string
    message: string
  }>
  const noBoot = results.find(r => /did not boot/.test(r.message))
  if (results.length && results.every(r => r.verdict === 'error') && noBoot) return noBoot.message.slice(0, 300)
  const got = guestBuildOf(run)
  if (!got) return 'the re-run recorded no guest kernel package'
  const differ = (['package', 'version', 'sha256', 'release', 'kernelVersion'] as const).filter(k => got[k] !== want[k])
  if (differ.length)
    return `the guest booted ${got.package} ${got.version} (${got.release}), not the recorded build: ${differ.map(k => `${k} ${want[k]} -> ${got[k]}`).join(', ')}`
  return undefined
}

/** One child run for one build: every pair of the batch decided, or the reason none was. Returns the pairs re-run. */
function rerunBatch(batch: Batch, ctx: GuestRerunContext): number {
  const { build, spec } = batch
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-rerun-'))
  try {
    const files: string[] = []
    let n = 0
    for (const s of batch.scenarios.values()) {
      // the id comes from the body; the file's place only has to be a pack directory
      const pack = join(dir, 'scenarios', s.id.split('/')[0] ?? 'rerun')
      mkdirSync(pack, { recursive: true })
      const file = join(pack, `${++n}.json`)
      const variants = [...s.variants].sort((x, y) => VARIANT_ORDER.indexOf(x) - VARIANT_ORDER.indexOf(y))
      writeFileSync(file, JSON.stringify({ ...s.doc, id: s.id, variants }))
      files.push(file)
    }
    const results = [...batch.scenarios.values()].reduce((sum, s) => sum + s.variants.size, 0) * ctx.times
    const timeoutMs = BOOT_ALLOWANCE_MS + results * PER_RESULT_MS
    ctx.log(
      `re-running ${batch.pairs.length} pair(s) of ${batch.runs.join('; ')} in one guest: ${spec.name} (${build.version}), ${results / ctx.times} scenario variant(s) ${ctx.times}x each`,
    )
    const started = performance.now()
    const db = join(dir, 'rerun.db')
    const r = runChild([...files, '--kernel', spec.name, '--repeat', String(ctx.times)], db, timeoutMs)
    const secs = ((performance.now() - started) / 1000).toFixed(1)
    const booted = /booted in [\d.]+ s \(\w+\)/.exec(r.stderr)?.[0]
    const stand = `the differences of ${batch.runs.join('; ')} stand as recorded`
    if (r.status !== 0 && r.status !== 1) {
      const why =
        r.status === null
          ? `did not finish within ${Math.round(timeoutMs / 1000)} s (${r.signal})`
          : `exit ${r.status}: ${r.stderr.trim().split('\n').pop() ?? ''}`
      ctx.log(`not re-run on ${spec.name}: the guest run ${why}; ${stand}`)
      return 0
    }
    const store = TraceStore.open(db, { readonly: true, mustExist: true })
    try {
      const problem = notTheBuild(store.runs()[0], build, store)
      if (problem) {
        ctx.log(`not re-run on ${spec.name}: ${problem}; ${stand}`)
        return 0
      }
      let done = 0
      for (const { c, p, id } of batch.pairs) {
        const outcome = judgeReruns(p, rerunResults(store, id, p.variant), store, ctx)
        if (!outcome || outcome.runs < ctx.times) {
          ctx.log(`not re-run: ${p.scenario} [${p.variant}] on ${spec.name}: ${outcome?.runs ?? 0} of ${ctx.times} re-runs recorded`)
          continue
        }
        applyRerun(c, p, outcome)
        done++
      }
      ctx.log(`re-ran ${done} pair(s) on ${spec.name} in ${secs} s${booted ? ` (${booted})` : ''}`)
      return done
    } finally {
      store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Re-run the regressions and differences of runs made in guests, one boot
 * per kernel build, one guest at a time. Returns the pairs re-run.
 */
export async function rerunInGuests(items: readonly GuestComparison[], ctx: GuestRerunContext): Promise<number> {
  let n = 0
  for (const batch of batchesOf(items, ctx)) {
    const now = await buildToFetch(batch.spec, ctx.log)
    if ('unknown' in now)
      ctx.log(
        `which build of ${batch.build.package} the kit would fetch is not known (${now.unknown}): the build the re-run records decides`,
      )
    else if (now.version !== batch.build.version) {
      ctx.log(
        `not re-run: ${batch.runs.join('; ')} booted ${batch.build.package} ${batch.build.version}; the kit would now fetch ${now.version}, a different build, not the same kernel; ${batch.pairs.length} pair(s) stand as recorded`,
      )
      continue
    }
    n += rerunBatch(batch, ctx)
  }
  return n
}
