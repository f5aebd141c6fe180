/**
 * The atlas model: for each behaviour (scenario x variant), the latest
 * result on each kernel in kernel version order, its answer summary, which
 * cells answer differently from the kernel before, and the version ranges
 * where the answer changed. Pure apart from the trace reader it is given.
 */
import { answerSummary, changedFacets } from './answer-summary.js'
import type { AnswerFacet, AnswerSummary } from './answer-summary.js'
import { kernelInRange } from '../scenario/kernel-range.js'
import type { Expectation } from '../scenario/types.js'
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
  /** The stored scenario version the result ran, when known: its own steps read its trace. */
  version?: number
}

/** A step whose per-kernel expectation puts the two kernels of a change in different cases: the scenario's account of it. */
export interface AtlasExpected {
  step: string
  /** The case in force on each side: its range, or null for the step's base expectation (no case matched). */
  fromRange: string | null
  toRange: string | null
  /** The `source` of each side's case. */
  sources: string[]
}

export interface AtlasChange {
  from: AtlasKernel
  to: AtlasKernel
  facets: string[]
  /** Changed steps the scenario expects to differ between these kernels. */
  expected: AtlasExpected[]
  /** Changed facets no per-kernel expectation accounts for: timing noise, or a change not located yet. */
  unexpected: string[]
  /**
   * Recorded sysctls that differ between the two runs and can move the
   * unexpected facets: when there are any, those facets follow the machines'
   * configuration as much as the kernel.
   */
  sysctls: SysctlDifference[]
  /**
   * The two results ran different versions of the scenario file: what changed
   * may be the scenario's edit, not the kernel, so nothing is called
   * unexpected.
   */
  scenarioEdited?: boolean
}

export interface SysctlDifference {
  name: string
  from: string
  to: string
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

type BodyStep = { id?: unknown; expect?: Expectation; claim?: Expectation }

/** Index of the first kernel case matching `kernel` (-1: the base expectation); a range that cannot be read never matched in a run either. */
function caseIndex(e: Expectation | undefined, kernel: string): number {
  const list = Array.isArray(e?.kernels) ? e.kernels : []
  return list.findIndex(k => {
    try {
      return typeof k?.range === 'string' && kernelInRange(kernel, k.range)
    } catch {
      return false
    }
  })
}

/** The step's expectation (or claim) whose kernel cases put the two kernels apart, as the atlas shows it; undefined when none does. */
function differingCase(st: BodyStep | undefined, step: string, from: string, to: string): AtlasExpected | undefined {
  for (const e of [st?.expect, st?.claim]) {
    const a = caseIndex(e, from)
    const b = caseIndex(e, to)
    if (a === b) continue
    const cases = e?.kernels ?? []
    const side = (i: number): { range: string | null; source?: string } =>
      i < 0 ? { range: null } : { range: cases[i]!.range, ...(cases[i]!.source ? { source: cases[i]!.source } : {}) }
    const [x, y] = [side(a), side(b)]
    return { step, fromRange: x.range, toRange: y.range, sources: [...new Set([x.source, y.source].filter((v): v is string => !!v))] }
  }
  return undefined
}

/**
 * Which changed facets the scenario's per-kernel expectations account for:
 * a facet of a step whose expectation (or claim) resolves to different
 * cases on the two kernels. A facet of no step (the segment counts) goes
 * with the steps: expected when some step's cases put the two kernels
 * apart (a changed step's, else any step's: the SYN schedule of 6.5
 * changes how many SYNs a timer-bound wait sees, not its time).
 */
export function explainChange(
  s: ReportScenario | undefined,
  from: Pick<AtlasKernel, 'upstream'>,
  to: Pick<AtlasKernel, 'upstream'>,
  facets: readonly Pick<AnswerFacet, 'key' | 'step'>[],
): { expected: AtlasExpected[]; unexpected: string[] } {
  const steps: BodyStep[] = Array.isArray(s?.doc.steps) ? (s.doc.steps as BodyStep[]) : []
  const byId = new Map<string, BodyStep>()
  steps.forEach((st, i) => byId.set(typeof st?.id === 'string' ? st.id : `s${i + 1}`, st))
  const expected = new Map<string, AtlasExpected>()
  const unexpected: string[] = []
  const stepless: string[] = []
  for (const f of facets) {
    const st = f.step === null ? undefined : byId.get(f.step)
    if (f.step === null) {
      stepless.push(f.key)
      continue
    }
    const hit = differingCase(st, f.step, from.upstream, to.upstream)
    if (hit) expected.set(f.step, expected.get(f.step) ?? hit)
    else unexpected.push(f.key)
  }
  if (stepless.length && !expected.size) {
    // segment counts follow from the steps: any step whose cases differ between the two kernels accounts for them
    steps.forEach((st, i) => {
      const id = typeof st?.id === 'string' ? st.id : `s${i + 1}`
      const hit = differingCase(st, id, from.upstream, to.upstream)
      if (hit) expected.set(id, hit)
    })
    if (!expected.size) unexpected.push(...stepless)
  }
  return { expected: [...expected.values()], unexpected }
}

const answered = (r: ReportResult): boolean => r.verdict === 'pass' || r.verdict === 'fail'

/**
 * Sysctls that rule SYN and SYN|ACK retransmits and timers: what segment
 * counts and times can follow. The accept-queue ones (tcp_abort_on_overflow,
 * tcp_max_syn_backlog, somaxconn, syncookies) matter only to a scenario
 * that fills a queue: they count where the scenario names them.
 */
const HANDSHAKE_SYSCTLS: ReadonlySet<string> = new Set([
  'net.ipv4.tcp_syn_retries',
  'net.ipv4.tcp_synack_retries',
  'net.ipv4.tcp_syn_linear_timeouts',
  'net.ipv4.tcp_fin_timeout',
])
/** Buffer sizes and their maxima: what byte counts, windows and window scales follow. */
const BUFFER_SYSCTLS: ReadonlySet<string> = new Set(['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem', 'net.core.rmem_max', 'net.core.wmem_max'])

/**
 * Two recorded values differ as configuration: a sysctl present on one
 * kernel only is the kernel's (tcp_syn_linear_timeouts came in 6.5), and
 * the memory-sized maxima of tcp_rmem/tcp_wmem drift a few percent between
 * guests of one size (tcp_init sizes them from free pages), so numbers
 * count only when some field is twice the other or more.
 */
function configDiffers(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a === b) return false
  const na = a.split(' ').map(Number)
  const nb = b.split(' ').map(Number)
  if (na.length !== nb.length || [...na, ...nb].some(n => !Number.isFinite(n))) return true
  return na.some((x, i) => {
    const y = nb[i]!
    const [lo, hi] = x < y ? [x, y] : [y, x]
    return lo <= 0 ? hi !== lo : hi / lo >= 2
  })
}

/** One changed facet as each side compared it. */
export interface FacetDelta {
  kind: AnswerFacet['kind']
  from: string | null
  to: string | null
}

/**
 * The sysctls a changed facet can follow: any the scenario names (its text
 * mentions `tcp_abort_on_overflow`); segment counts and times the SYN timer
 * sysctls; an answer that changed in its numbers only (a byte count, a
 * window, a window scale) the buffer sysctls; any other answer (an errno, a
 * mask) no other.
 */
function relevantSysctl(d: FacetDelta, name: string, named: ReadonlySet<string>): boolean {
  if (named.has(name)) return true
  if (d.kind === 'packets' || d.kind === 'time') return HANDSHAKE_SYSCTLS.has(name)
  const shape = (t: string | null): string | null => (t === null ? null : t.replace(/-?\d+/g, '#'))
  return d.from !== null && d.to !== null && shape(d.from) === shape(d.to) && BUFFER_SYSCTLS.has(name)
}

/** Recorded sysctls whose name (its last part) the scenario's text mentions. */
export function sysctlsNamedBy(doc: unknown, sysctls: Iterable<string>): Set<string> {
  const text = JSON.stringify(doc ?? null)
  return new Set([...sysctls].filter(name => text.includes(name.slice(name.lastIndexOf('.') + 1))))
}

/** The recorded sysctls that differ as configuration between two runs and can move every one of these changed facets. */
export function sysctlDifferences(
  from: Readonly<Record<string, string>> | undefined,
  to: Readonly<Record<string, string>> | undefined,
  deltas: readonly FacetDelta[],
  /** sysctls the scenario names: relevant to any facet */
  named: ReadonlySet<string> = new Set(),
): SysctlDifference[] {
  if (!from || !to || !deltas.length) return []
  const differing = Object.keys(from)
    .filter(name => configDiffers(from[name], to[name]))
    .sort()
  // each changed facet needs a sysctl that can move it; the ones named are those that can
  const per = deltas.map(d => differing.filter(name => relevantSysctl(d, name, named)))
  if (per.some(list => !list.length)) return []
  return [...new Set(per.flat())].sort().map(name => ({ name, from: from[name]!, to: to[name]! }))
}

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
  /** Every stored scenario version by id (ReportData.scenarioVersions): a result is read with the steps it ran. */
  versions?: ReadonlyMap<number, ReportScenario>,
): AtlasModel {
  const byKey = new Map<string, AtlasKernel>()
  const kernelOfRun = new Map<number, string>()
  const runById = new Map(runs.map(r => [r.id, r]))
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
    // the version the result ran: an older body's steps read an older trace (the newest one's would find no answer)
    const ran = r.scenarioVersion !== undefined ? versions?.get(r.scenarioVersion) : undefined
    const s = ran ?? scenarios.get(r.scenario)
    if (s && answered(r) && Array.isArray(s.doc.steps)) {
      const trace = readTrace(r)
      summary = answerSummary(s.doc.steps, trace.events, trace.checks, s.doc.across)
    }
    row.cells.set(k, { result: r, summary, changed: [], previous: null, ...(ran ? { version: r.scenarioVersion } : {}) })
  }
  for (const row of rows.values()) {
    let prev: { kernel: AtlasKernel; summary: AnswerSummary; result: ReportResult; version?: number } | null = null
    for (const kernel of kernels) {
      const cell = row.cells.get(kernel.key)
      if (!cell?.summary) continue
      if (prev) {
        cell.previous = prev.kernel
        cell.changed = changedFacets(prev.summary, cell.summary)
        if (cell.changed.length) {
          // named as the cell reads them (`s24 getsockopt SO_ERROR`), not by key alone
          const all = new Map([...prev.summary.facets, ...cell.summary.facets].map(f => [f.key, f]))
          const name = (k: string): string => all.get(k)?.text.split(':')[0] ?? k
          const why = explainChange(
            scenarios.get(row.scenario),
            prev.kernel,
            kernel,
            cell.changed.map(k => all.get(k) ?? { key: k, step: null }),
          )
          const [before, after] = [prev.summary, cell.summary]
          const edited = prev.version !== undefined && cell.version !== undefined && prev.version !== cell.version
          const sysctls =
            why.unexpected.length && !edited
              ? sysctlDifferences(
                  runById.get(prev.result.runId)?.sysctls,
                  runById.get(cell.result.runId)?.sysctls,
                  why.unexpected.map(k => {
                    const facet = (x: AnswerSummary): string | null => x.facets.find(f => f.key === k)?.compared ?? null
                    return { kind: all.get(k)?.kind ?? 'packets', from: facet(before), to: facet(after) }
                  }),
                  sysctlsNamedBy(scenarios.get(row.scenario)?.doc, Object.keys(runById.get(cell.result.runId)?.sysctls ?? {})),
                )
              : []
          row.changes.push({
            from: prev.kernel,
            to: kernel,
            facets: cell.changed.map(name),
            expected: why.expected,
            unexpected: why.unexpected.map(name),
            sysctls,
            ...(edited ? { scenarioEdited: true } : {}),
          })
        }
      }
      prev = { kernel, summary: cell.summary, result: cell.result, version: cell.version }
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
