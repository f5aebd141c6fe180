/**
 * The whole site as a sequence of pages (path + HTML), built from the report
 * data and a trace reader. Decides pagination and caps so that no page grows
 * with the size of the store: the matrix is split by runs, scenario pages
 * show the latest runs only, claims the newest kernels only, diff pages
 * exist for the newest pairs of runs only (diff-pairs.ts).
 */
import { compareRuns } from '../compare/compare-runs.js'
import type { RunTraces, TraceRows } from '../compare/types.js'
import type { RunTraceSource } from './load-run-traces.js'
import { diffPairs, runSlugs } from './diff-pairs.js'
import type { DiffPair } from './diff-pairs.js'
import type { ReportData, ReportResult, ReportRun, ResultTrace, TraceSource } from './model.js'
import { kernelKey } from './model.js'
import { atlasModel } from './atlas.js'
import { renderAtlas } from './render-atlas.js'
import { ATLAS_PAGE } from './site-paths.js'
import { renderClaimsPage } from './render-claims.js'
import { renderDiffPage } from './render-diff.js'
import type { ClaimModel } from './render-claims.js'
import { renderIndex } from './render-index.js'
import type { DiffLink } from './render-index.js'
import { matrixRows, renderMatrix, rowKeyOf } from './render-matrix.js'
import type { MatrixColumn } from './render-matrix.js'
import { pager, shortDate } from './render-bits.js'
import { renderScenarioPage } from './render-scenario.js'
import { renderTracePage } from './render-trace.js'
import { CLAIMS_PAGE, diffPage, INDEX_PAGE, KERNELS_PAGE, matrixPage, resultAnchor, scenarioPage, tracePage } from './site-paths.js'

export interface SiteOptions {
  /** Runs per matrix page. */
  runsPerPage: number
  /** Timelines per scenario variant (latest runs). */
  latestPerScenario: number
  /** Verdict marks in a scenario page's history strip. */
  historyCap: number
  /** Kernel columns on the claims page. */
  claimKernels: number
  /** Scenarios per claim whose timelines the claims page shows (tests first). */
  claimScenarios: number
  /** Diff pages at most (newest runs first). */
  diffPages: number
  /**
   * Newest runs whose failing and errored results get a full trace page.
   * Older ones get one only where another page shows or diffs them (scenario
   * timelines, claims, diff pages); rendering every failure of every run was
   * most of the report's time on a large store.
   */
  traceRuns: number
  /** Run every run is also diffed against (`report --baseline`). */
  baselineRunId: number | null
}

export const DEFAULT_SITE_OPTIONS: SiteOptions = {
  runsPerPage: 50,
  latestPerScenario: 6,
  historyCap: 300,
  claimKernels: 6,
  claimScenarios: 3,
  diffPages: 100,
  traceRuns: 100,
  baselineRunId: null,
}

/** Reads runs' results as compare needs them, and the traces of the pairs that differ (the store is the I/O edge). */
export type { RunTraceSource } from './load-run-traces.js'

export interface SitePage {
  path: string
  html: string
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function* buildSite(
  data: ReportData,
  readTrace: TraceSource,
  opts: SiteOptions = DEFAULT_SITE_OPTIONS,
  runTraces?: RunTraceSource,
): Generator<SitePage> {
  const runOrder = new Map(data.runs.map((r, i) => [r.id, i]))
  const runs = new Map(data.runs.map(r => [r.id, r]))
  // newest run first, then attempt
  const results = [...data.results].sort((a, b) => (runOrder.get(a.runId) ?? 0) - (runOrder.get(b.runId) ?? 0) || a.attempt - b.attempt)

  // per scenario, per variant (+attempt): history newest first and the results shown with timelines
  const byScenario = new Map<string, Map<string, ReportResult[]>>()
  for (const r of results) {
    const variants = byScenario.get(r.scenario) ?? new Map<string, ReportResult[]>()
    const key = r.attempt > 1 ? `${r.variant} #${r.attempt}` : r.variant
    const list = variants.get(key) ?? []
    list.push(r)
    variants.set(key, list)
    byScenario.set(r.scenario, variants)
  }
  const shownOnScenarioPage = new Set<number>()
  for (const variants of byScenario.values()) {
    for (const list of variants.values()) for (const r of list.slice(0, opts.latestPerScenario)) shownOnScenarioPage.add(r.id)
  }
  // diff pages: which pairs
  const diffs = runTraces ? diffPairs(data.runs, opts.baselineRunId, opts.diffPages) : []

  // which results get a trace page: decided before any page links to one
  const broken = (r: ReportResult): boolean => r.verdict === 'fail' || r.verdict === 'error'
  const traceRuns = new Set(data.runs.slice(0, opts.traceRuns).map(r => r.id))
  for (const p of diffs) traceRuns.add(p.a.id).add(p.b.id)
  const tracePaged = new Set<number>()
  for (const r of results) if (broken(r) && (traceRuns.has(r.runId) || shownOnScenarioPage.has(r.id))) tracePaged.add(r.id)
  const hasTracePage = (r: ReportResult): boolean => tracePaged.has(r.id)
  const hrefFrom =
    (root: string) =>
    (r: ReportResult): string => {
      if (hasTracePage(r)) return `${root}${tracePage(r.id)}`
      if (shownOnScenarioPage.has(r.id)) return `${root}${scenarioPage(r.scenario)}#${resultAnchor(r.id)}`
      const page = Math.floor((runOrder.get(r.runId) ?? 0) / opts.runsPerPage) + 1
      return `${root}${matrixPage(page)}#run-${r.runId}`
    }
  const fromRoot = hrefFrom('')

  // kernels, and the claims page's model (its timelines link to trace pages too)
  const kernels: string[] = []
  const kernelOf = new Map<number, string>()
  for (const run of data.runs) {
    const k = kernelKey(run)
    kernelOf.set(run.id, k)
    if (!kernels.includes(k)) kernels.push(k)
  }
  const claims = claimsModel(data, results, kernels, kernelOf, readTrace, opts, fromRoot)
  for (const c of claims.claims) for (const w of c.why) for (const t of w.traces) if (broken(t.result)) tracePaged.add(t.result.id)

  // links to the diff pages from the index and the matrix
  const slugs = runSlugs(data.runs)
  const diffPath = (p: DiffPair): string => diffPage(slugs.get(p.a.id)!, slugs.get(p.b.id)!)
  const diffLinks = new Map<number, DiffLink[]>()
  for (const p of diffs) {
    const links = diffLinks.get(p.b.id) ?? []
    links.push({
      href: diffPath(p),
      text: `diff vs ${p.reason === 'baseline' ? 'baseline ' : ''}#${p.a.id} ${p.a.kernel}`,
      reason: p.reason,
    })
    diffLinks.set(p.b.id, links)
  }

  yield { path: INDEX_PAGE, html: renderIndex(data, opts.runsPerPage, diffLinks) }

  // matrix by runs, paginated
  const rows = matrixRows(results)
  const pages = Math.max(1, Math.ceil(data.runs.length / opts.runsPerPage))
  const resultsByRun = new Map<number, ReportResult[]>()
  for (const r of results) {
    const list = resultsByRun.get(r.runId) ?? []
    list.push(r)
    resultsByRun.set(r.runId, list)
  }
  for (let page = 1; page <= pages; page++) {
    const pageRuns = data.runs.slice((page - 1) * opts.runsPerPage, page * opts.runsPerPage)
    const columns: MatrixColumn[] = pageRuns.map(run => ({
      key: String(run.id),
      label: `#${run.id} ${run.kernel}`,
      title: `run #${run.id} ${run.uuid.slice(0, 8)}, ${shortDate(run.startedAt)}, ${run.host}, kernel ${run.kernel} ${run.arch}`,
      anchor: `run-${run.id}`,
      diff: diffLinks.get(run.id)?.find(l => l.reason === 'previous') ?? diffLinks.get(run.id)?.[0],
    }))
    const cells = new Map<string, Map<string, ReportResult>>()
    for (const run of pageRuns) {
      for (const r of resultsByRun.get(run.id) ?? []) {
        const row = cells.get(rowKeyOf(r)) ?? new Map<string, ReportResult>()
        row.set(String(run.id), r)
        cells.set(rowKeyOf(r), row)
      }
    }
    const first = (page - 1) * opts.runsPerPage + 1
    yield {
      path: matrixPage(page),
      html: renderMatrix({
        kind: 'runs',
        heading: 'Matrix: scenarios × runs',
        intro: `Runs ${first}–${first + pageRuns.length - 1} of ${data.runs.length}, newest first. Each cell is one result; a failing or errored cell opens its full trace.`,
        columns,
        rows,
        cells,
        scenarios: data.scenarios,
        resultHref: fromRoot,
        pager: pager(page, pages, matrixPage),
        generatedAt: data.generatedAt,
      }),
    }
  }

  // matrix by kernels: latest result per row and kernel
  const latestByKernel = new Map<string, Map<string, ReportResult>>()
  for (const r of results) {
    const k = kernelOf.get(r.runId)
    if (k === undefined) continue
    const row = latestByKernel.get(rowKeyOf(r)) ?? new Map<string, ReportResult>()
    if (!row.has(k)) row.set(k, r)
    latestByKernel.set(rowKeyOf(r), row)
  }
  yield {
    path: KERNELS_PAGE,
    html: renderMatrix({
      kind: 'kernels',
      heading: 'Matrix: scenarios × kernels',
      intro: `${kernels.length} kernels, newest run first. Each cell is the latest result of the scenario on that kernel.`,
      columns: kernels.map(k => ({ key: k, label: k, title: `kernel ${k}`, anchor: `kernel-${k.replace(/[^A-Za-z0-9_.-]/g, '_')}` })),
      rows,
      cells: latestByKernel,
      scenarios: data.scenarios,
      resultHref: fromRoot,
      pager: pager(1, 1, matrixPage),
      generatedAt: data.generatedAt,
    }),
  }

  // scenario pages
  const fromSub = hrefFrom('../')
  const scenarioIds = [...byScenario.keys()].sort(cmp)
  for (const id of scenarioIds) {
    const scenario = data.scenarios.get(id)
    if (!scenario) continue
    const variants = [...byScenario.get(id)!.entries()]
      .sort(([a], [b]) => cmp(a, b))
      .map(([name, history]) => ({ name, history, shown: history.slice(0, opts.latestPerScenario).map(readTrace) }))
    yield {
      path: scenarioPage(id),
      html: renderScenarioPage({
        scenario,
        variants,
        runs,
        resultHref: fromSub,
        historyCap: opts.historyCap,
        generatedAt: data.generatedAt,
      }),
    }
  }

  // full traces of the failing and errored results chosen above
  for (const r of results) {
    if (hasTracePage(r))
      yield { path: tracePage(r.id), html: renderTracePage(readTrace(r), data.scenarios.get(r.scenario), data.generatedAt) }
  }

  yield { path: CLAIMS_PAGE, html: renderClaimsPage(claims) }
  yield {
    path: ATLAS_PAGE,
    html: renderAtlas({
      ...atlasModel(data.runs, results, data.scenarios, readTrace, data.generatedAt, undefined, data.scenarioVersions),
      resultHref: fromRoot,
    }),
  }

  if (runTraces) yield* diffSite(data, diffs, diffPath, runTraces)
}

/**
 * One page per pair; runs' results cached briefly (pairs come newest first,
 * so neighbours share runs). Traces are read only for the pairs whose
 * signatures differ, once per page.
 */
function* diffSite(
  data: ReportData,
  pairs: readonly DiffPair[],
  path: (p: DiffPair) => string,
  runTraces: RunTraceSource,
): Generator<SitePage> {
  const cache = new Map<number, RunTraces>()
  const load = (run: ReportRun): RunTraces => {
    let t = cache.get(run.id)
    if (t) {
      cache.delete(run.id)
    } else {
      t = runTraces.load(run)
      if (cache.size >= 6) cache.delete(cache.keys().next().value!)
    }
    cache.set(run.id, t)
    return t
  }
  for (const p of pairs) {
    const traces = new Map<number, TraceRows>()
    const read = (resultId: number): TraceRows => {
      let t = traces.get(resultId)
      if (!t) {
        t = runTraces.read(resultId)
        traces.set(resultId, t)
      }
      return t
    }
    // the timelines the page draws are those of pairs with a first difference: exactly the traces compareRuns read
    const comparison = compareRuns(load(p.a), load(p.b), read, { scenarioBody: runTraces.scenarioBody })
    yield {
      path: path(p),
      html: renderDiffPage({
        a: p.a,
        b: p.b,
        reason: p.reason,
        comparison,
        traces,
        scenarios: data.scenarios,
        generatedAt: data.generatedAt,
      }),
    }
  }
}

function claimsModel(
  data: ReportData,
  results: readonly ReportResult[],
  kernels: readonly string[],
  kernelOf: ReadonlyMap<number, string>,
  readTrace: TraceSource,
  opts: SiteOptions,
  resultHref: (r: ReportResult) => string,
): Parameters<typeof renderClaimsPage>[0] {
  const shownKernels = kernels.slice(0, opts.claimKernels)
  const claims = new Map<number | string, ClaimModel>()
  const rowsByKey = new Map<string, ClaimModel['rows'][number]>()
  for (const r of results) {
    const scenario = data.scenarios.get(r.scenario)
    const claim = scenario?.doc.claim
    if (!scenario || !claim) continue
    const model = claims.get(claim.id) ?? {
      id: claim.id,
      statement: claim.statement,
      source: claim.source,
      rows: [],
      why: [],
      whyOmitted: 0,
    }
    claims.set(claim.id, model)
    const key = `${r.scenario}\u0000${r.variant}`
    let row = rowsByKey.get(key)
    if (!row) {
      row = { scenario, variant: r.variant, byKernel: new Map() }
      rowsByKey.set(key, row)
      model.rows.push(row)
    }
    const k = kernelOf.get(r.runId)
    if (k !== undefined && shownKernels.includes(k) && !row.byKernel.has(k)) row.byKernel.set(k, r)
  }
  const role = (row: ClaimModel['rows'][number]): number => (row.scenario.doc.claim?.role === 'counterexample' ? 1 : 0)
  for (const model of claims.values()) {
    model.rows.sort((a, b) => role(a) - role(b) || cmp(a.scenario.id, b.scenario.id) || cmp(a.variant, b.variant))
    // one variant per scenario: the test and its counterexamples, each on every kernel shown
    const seen = new Set<string>()
    const why: ClaimModel['why'] = []
    for (const row of model.rows) {
      if (seen.has(row.scenario.id)) continue
      seen.add(row.scenario.id)
      if (why.length >= opts.claimScenarios) continue
      const traces: ResultTrace[] = []
      for (const k of shownKernels) {
        const r = row.byKernel.get(k)
        if (r) traces.push(readTrace(r))
      }
      why.push({ scenario: row.scenario.id, variant: row.variant, traces })
    }
    model.why = why
    model.whyOmitted = seen.size - why.length
  }
  return {
    claims: [...claims.values()].sort(byClaimId),
    kernels: shownKernels,
    resultHref,
    generatedAt: data.generatedAt,
  }
}

/** The seed note's numbered claims first, in order, then the named ones (man pages) by name. */
function byClaimId(a: { id: number | string }, b: { id: number | string }): number {
  if (typeof a.id === 'number' && typeof b.id === 'number') return a.id - b.id
  if (typeof a.id === 'number') return -1
  if (typeof b.id === 'number') return 1
  return cmp(a.id, b.id)
}
