/**
 * The atlas model: for each behaviour (scenario x variant), the latest
 * result on each kernel in kernel version order, its answer summary, which
 * cells answer differently from the kernel before, and the version ranges
 * where the answer changed. Pure apart from the trace reader it is given.
 */
import { answerSummary, changedFacets } from './answer-summary.js'
import type { AnswerSummary } from './answer-summary.js'
import type { ReportResult, ReportRun, ReportScenario, TraceSource } from './model.js'
import { kernelKey } from './model.js'

export interface AtlasKernel {
  key: string
  release: string
  arch: string
  /** Upstream version: Debian's from uname -v (`Debian 6.1.158-1` -> 6.1.158), else the release's leading numbers. */
  upstream: string
  /** Hosts the kernel ran on (a run's host name), for the column's tooltip. */
  hosts: string[]
}

export interface AtlasCell {
  result: ReportResult
  /** null: no answer to compare (skip, error). */
  summary: AnswerSummary | null
  /** Facet keys that differ from the previous kernel that answered. */
  changed: string[]
  /** The kernel this cell is compared with. */
  previous: AtlasKernel | null
}

export interface AtlasChange {
  from: AtlasKernel
  to: AtlasKernel
  facets: string[]
}

export interface AtlasRow {
  key: string
  scenario: string
  pack: string
  variant: string
  title: string
  cells: Map<string, AtlasCell>
  changes: AtlasChange[]
  /** Commits and per-kernel expectation sources the scenario names: where a reader looks for why. */
  sources: string[]
}

export interface AtlasModel {
  kernels: AtlasKernel[]
  /** Kernels left out (only the newest `maxKernels` by run are columns). */
  omittedKernels: number
  rows: AtlasRow[]
  generatedAt: string
}

/** Debian's kernel package version in uname -v names the upstream release; Ubuntu's does not. */
export function upstreamVersion(run: Pick<ReportRun, 'kernel' | 'kernelVersion'>): string {
  const debian = /\bDebian (\d+\.\d+(?:\.\d+)?)/.exec(run.kernelVersion)
  if (debian) return debian[1]!
  const release = /^(\d+\.\d+(?:\.\d+)?)/.exec(run.kernel)
  return release ? release[1]! : run.kernel
}

function versionParts(v: string): number[] {
  return v.split('.').map(n => (/^\d+$/.test(n) ? Number(n) : -1))
}

/** Oldest first by upstream version, then by release text and arch. */
export function compareKernels(a: Pick<AtlasKernel, 'upstream' | 'release' | 'arch'>, b: typeof a): number {
  const pa = versionParts(a.upstream)
  const pb = versionParts(b.upstream)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d) return d
  }
  return a.release < b.release ? -1 : a.release > b.release ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0
}

function sourcesOf(s: ReportScenario | undefined): string[] {
  if (!s) return []
  const out: string[] = []
  // the stored body is JSON the store holds, not a validated scenario: shapes are checked
  const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : [])
  for (const src of list(s.doc.sources)) if (src?.commit) out.push(`commit ${src.commit}`)
  for (const step of list(s.doc.steps))
    for (const e of [step?.expect, step?.claim]) for (const k of list(e?.kernels)) if (k?.source) out.push(`${k.range}: ${k.source}`)
  return [...new Set(out)]
}

const answered = (r: ReportResult): boolean => r.verdict === 'pass' || r.verdict === 'fail'

/**
 * `results` newest run first, then attempt (as site.ts sorts them); the first
 * attempt of the newest run on a kernel is that kernel's answer.
 */
export function atlasModel(
  runs: readonly ReportRun[],
  results: readonly ReportResult[],
  scenarios: ReadonlyMap<string, ReportScenario>,
  readTrace: TraceSource,
  generatedAt: string,
  maxKernels = 24,
): AtlasModel {
  const byKey = new Map<string, AtlasKernel>()
  const kernelOfRun = new Map<number, string>()
  for (const run of runs) {
    const key = kernelKey(run)
    kernelOfRun.set(run.id, key)
    const k = byKey.get(key)
    if (k) {
      if (!k.hosts.includes(run.host)) k.hosts.push(run.host)
    } else byKey.set(key, { key, release: run.kernel, arch: run.arch, upstream: upstreamVersion(run), hosts: [run.host] })
  }
  // runs come newest first: the kernels run most recently stay when there are too many
  const all = [...byKey.values()]
  const kernels = all.slice(0, maxKernels).sort(compareKernels)
  const shown = new Set(kernels.map(k => k.key))

  const rows = new Map<string, AtlasRow>()
  for (const r of results) {
    if (r.attempt !== 1) continue
    const k = kernelOfRun.get(r.runId)
    if (k === undefined || !shown.has(k)) continue
    const key = `${r.scenario}\u0000${r.variant}`
    let row = rows.get(key)
    if (!row) {
      const s = scenarios.get(r.scenario)
      row = {
        key,
        scenario: r.scenario,
        pack: r.pack,
        variant: r.variant,
        title: s?.title ?? r.scenario,
        cells: new Map(),
        changes: [],
        sources: sourcesOf(s),
      }
      rows.set(key, row)
    }
    if (row.cells.has(k)) continue
    let summary: AnswerSummary | null = null
    const s = scenarios.get(r.scenario)
    if (s && answered(r) && Array.isArray(s.doc.steps)) {
      const trace = readTrace(r)
      summary = answerSummary(s.doc.steps, trace.events, trace.checks, s.doc.across)
    }
    row.cells.set(k, { result: r, summary, changed: [], previous: null })
  }
  for (const row of rows.values()) {
    let prev: { kernel: AtlasKernel; summary: AnswerSummary } | null = null
    for (const kernel of kernels) {
      const cell = row.cells.get(kernel.key)
      if (!cell?.summary) continue
      if (prev) {
        cell.previous = prev.kernel
        cell.changed = changedFacets(prev.summary, cell.summary)
        if (cell.changed.length) {
          // named as the cell reads them (`s24 getsockopt SO_ERROR`), not by key alone
          const names = new Map([...prev.summary.facets, ...cell.summary.facets].map(f => [f.key, f.text.split(':')[0]!]))
          row.changes.push({ from: prev.kernel, to: kernel, facets: cell.changed.map(k => names.get(k) ?? k) })
        }
      }
      prev = { kernel, summary: cell.summary }
    }
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  return {
    kernels,
    omittedKernels: all.length - kernels.length,
    rows: [...rows.values()].sort((a, b) => cmp(a.pack, b.pack) || cmp(a.scenario, b.scenario) || cmp(a.variant, b.variant)),
    generatedAt,
  }
}
