// The atlas's account of a change between two kernels: which per-kernel
// expectations of the scenario (its ranges and sources) explain it, and what
// none explains. The scenario is the packaged file, read by the kit's loader;
// the kernels are the Debian matrix's upstream versions. Then how the answer
// summary reads real results of that matrix (test/fixtures/atlas-matrix.json:
// results read back from the 9-kernel store with their stored scenario
// bodies and the runs' recorded sysctls) and of a run on this machine.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { answerSummary, changedFacets, schedulesAgree } from '../harness/compare/answer-summary.js'
import type { AnswerSummary } from '../harness/compare/answer-summary.js'
import { kitRoot } from '../harness/paths.js'
import { systemInfo } from '../harness/hosts/system-info.js'
import { loadScenarioFile } from '../harness/scenario/load.js'
import { atlasModel, explainChange, sysctlDifferences, sysctlsNamedBy } from '../harness/site/atlas.js'
import type { AtlasChange, AtlasKernel, AtlasRow } from '../harness/site/atlas.js'
import { loadReportData, traceSource } from '../harness/site/load.js'
import type { ReportResult, ReportRun, ReportScenario } from '../harness/site/model.js'
import { emptyCounts } from '../harness/site/palette.js'
import { renderAtlas } from '../harness/site/render-atlas.js'
import type { CheckRow, EventRow } from '../harness/store/store.js'
import { TraceStore } from '../harness/store/store.js'

const file = join(kitRoot, 'scenarios', 'mptcp', 'peer-reset-mask.yaml')
const loaded = loadScenarioFile(file)
const scenario: ReportScenario = { id: 'mptcp/peer-reset-mask', pack: 'mptcp', title: loaded.title, doc: loaded as ReportScenario['doc'] }
const k = (upstream: string): AtlasKernel => ({ key: `${upstream} x86_64`, release: upstream, arch: 'x86_64', upstream, hosts: ['vm'] })
// s12: the woken mask, s15: SO_ERROR; `packets` belongs to no step
const facets = [
  { key: 's12', step: 's12' },
  { key: 's15', step: 's15' },
  { key: 'packets', step: null },
]

t.test('a change the per-kernel cases describe carries their ranges and sources', async t => {
  const fixed = explainChange(scenario, k('6.18.15'), k('6.18.44'), facets)
  t.same(fixed.unexpected, [], 'every facet accounted for (the segment counts go with the steps)')
  t.same(
    fixed.expected.map(e => [e.step, e.fromRange, e.toRange]),
    [
      ['s12', '>=6.13 <6.18.30', null],
      ['s15', '>=6.13 <6.18.30', null],
    ],
    'the graceful case on 6.18.15, the default (the fix backported in 6.18.30) on 6.18.44',
  )
  t.match(fixed.expected[0]!.sources.join(' '), /f14d6e9c3678/, 'the source names the commit')
  const broke = explainChange(scenario, k('6.12.118'), k('6.16.12'), facets)
  t.same(
    broke.expected.map(e => [e.fromRange, e.toRange]),
    [
      [null, '>=6.13 <6.18.30'],
      [null, '>=6.13 <6.18.30'],
    ],
    'both directions: 6.12.118 has the backport (6.12.88), 6.16.12 never got it',
  )
})

t.test('a change inside one case is not expected', async t => {
  const same = explainChange(scenario, k('6.16.12'), k('6.17.13'), facets)
  t.same(same.expected, [], 'both kernels in the same case')
  t.same(same.unexpected, ['s12', 's15', 'packets'], 'every changed facet listed as not expected')
  const stepless = explainChange(scenario, k('7.2.13'), k('7.3.4'), [{ key: 'packets', step: null }])
  t.same(stepless.unexpected, ['packets'], 'segment counts alone, both kernels in one case: not expected')
  const counts = explainChange(scenario, k('6.12.118'), k('6.16.12'), [{ key: 'packets', step: null }])
  t.same(counts.unexpected, [], 'segment counts alone, the kernels in different cases: expected')
  t.same(
    counts.expected.map(e => e.step),
    ['s12', 's14', 's15', 's17', 's18'],
    'by every step whose cases put the kernels apart',
  )
  const noCases = explainChange(scenario, k('6.12.118'), k('6.16.12'), [{ key: 's9', step: 's9' }])
  t.same(noCases.unexpected, ['s9'], 'a step without per-kernel cases explains nothing')
  t.same(
    explainChange(undefined, k('6.1.192'), k('6.12.118'), facets).unexpected,
    ['s12', 's15', 'packets'],
    'an unknown scenario explains nothing',
  )
})

t.test('the atlas page says which changes are expected, with range and source, and which are not', async t => {
  const result: ReportResult = {
    id: 1,
    runId: 1,
    scenario: 'mptcp/peer-reset-mask',
    pack: 'mptcp',
    variant: 'ipv4',
    attempt: 1,
    verdict: 'pass',
    claim: null,
    message: '',
  }
  const change = (from: string, to: string): AtlasChange => {
    const why = explainChange(scenario, k(from), k(to), facets)
    return { from: k(from), to: k(to), facets: ['s12 epoll_wait', 's15 getsockopt SO_ERROR', 'packets'], ...why, sysctls: [] }
  }
  const row: AtlasRow = {
    key: 'mptcp/peer-reset-mask\u0000ipv4',
    scenario: 'mptcp/peer-reset-mask',
    pack: 'mptcp',
    variant: 'ipv4',
    title: scenario.title,
    cells: new Map(),
    changes: [change('6.12.118', '6.16.12'), change('6.16.12', '6.17.13')],
    sources: [],
  }
  const page = renderAtlas({
    kernels: ['6.12.118', '6.16.12', '6.17.13'].map(k),
    omittedKernels: 0,
    rows: [row],
    generatedAt: '2026-11-26T00:00:00.000Z',
    resultHref: () => `traces/${result.id}.html`,
  })
  const items = page.split('<li class="change"').slice(1)
  t.equal(items.length, 2, 'one item per change')
  t.match(items[0], /data-unexpected="0"/, 'the first change is fully expected')
  t.match(items[0], /expected by the scenario/)
  t.match(
    items[0],
    /s12: the default expectation on 6\.12\.118, &quot;&gt;=6\.13 &lt;6\.18\.30&quot; on 6\.16\.12/,
    'each side with its case',
  )
  t.match(items[0], /f14d6e9c3678/, 'and the source')
  t.match(items[1], /data-unexpected="3"/, 'the second is not expected')
  t.match(items[1], /not expected<\/span> by any per-kernel case: s12, s15, packets/)
  t.match(page, /data-unexpected="1"/, 'the row is marked')
  t.match(page, /<strong>0<\/strong> only where their per-kernel expectations say the kernels differ/, 'the summary counts it')
})

interface FixtureResult extends ReportResult {
  events: EventRow[]
  checks: CheckRow[]
}
const matrix = JSON.parse(readFileSync(join(kitRoot, 'test', 'fixtures', 'atlas-matrix.json'), 'utf8')) as {
  runs: Omit<ReportRun, 'counts'>[]
  scenarios: Record<string, ReportScenario>
  results: FixtureResult[]
}
const runs: ReportRun[] = matrix.runs.map(r => ({ ...r, counts: emptyCounts() }))
const runOf = (r: ReportResult): ReportRun => runs.find(x => x.id === r.runId)!
/** The fixture's result of a scenario and variant on the kernel whose release starts with `kernel`. */
function result(scenario: string, variant: string, kernel: string): FixtureResult {
  const r = matrix.results.find(x => x.scenario === scenario && x.variant === variant && runOf(x).kernel.startsWith(kernel))
  if (!r) throw new Error(`no fixture result ${scenario} ${variant} ${kernel}`)
  return r
}
function summary(r: FixtureResult, body = matrix.scenarios[r.scenario]!.doc, checks = r.checks): AnswerSummary {
  return answerSummary(body.steps, r.events, checks, body.across)
}
const facet = (s: AnswerSummary, key: string) => s.facets.find(f => f.key === key)!

t.test(
  'SYN and SYN|ACK by retransmission schedule: a hold that crossed one more RTO is no change, the 6.5 linear timeouts are',
  async t => {
    // claim 3 holds the client in SYN_SENT for 250 ms; the SYN and SYN|ACK timers (1 s) race the ungate
    const host = summary(result('seed-claims/claim-3-synsent', 'ipv4', '6.18.44'))
    const v72 = summary(result('seed-claims/claim-3-synsent', 'ipv4', '7.2.13'))
    t.match(facet(host, 'packets').text, /→ 2 SYN · ← 3 SYN\|ACK/, 'the counts are shown as captured')
    t.match(facet(v72, 'packets').text, /→ 1 SYN · ← 2 SYN\|ACK/)
    t.same(
      facet(host, 'packets').retransmits,
      [
        { key: '← local#1 SYN|ACK', units: ['1', '0'], open: true },
        { key: '→ local#1 SYN', units: ['1'], open: true },
      ],
      'the SYN|ACK timer after 1 s and an answer to the retransmitted SYN at once',
    )
    t.same(
      facet(v72, 'packets').retransmits?.map(r => r.units),
      [['1'], []],
    )
    t.match(facet(host, 'packets').detail, /retransmits in 1 s units: ← local#1 SYN\|ACK \+1, \+0; → local#1 SYN \+1/)
    t.same(changedFacets(host, v72), [], 'both handshakes completed: one schedule is a prefix of the other')
    const closed = (s: AnswerSummary) => facet(s, 'packets').retransmits!.map(r => ({ ...r, open: false }))
    t.notOk(schedulesAgree(closed(host), closed(v72)), 'had neither completed, the schedules would have to be equal')

    // connect to a blackhole: SYN retransmits until the connect times out (3 s); 6.5+ retransmits linearly
    for (const scenario of ['io-uring/connect-timeout', 'routes/router-blackhole']) {
      const v61 = summary(result(scenario, 'ipv4', '6.1.0'))
      const v612 = summary(result(scenario, 'ipv4', '6.12.118'))
      const syn = (s: AnswerSummary) => facet(s, 'packets').retransmits!.find(r => r.key.endsWith(' SYN'))!
      t.same(
        [syn(v61).units, syn(v61).open],
        [['1'], false],
        `${scenario} 6.1.192: one retransmit after 1 s, then the 2 s timer outlives the connect`,
      )
      t.same([syn(v612).units, syn(v612).open], [['1', '1'], false], `${scenario} 6.12.118: 1 s, 1 s (tcp_syn_linear_timeouts)`)
      t.same(changedFacets(v61, v612), ['packets'], `${scenario}: the schedule changed`)
    }

    // through a gateway, IPv6: the client's SYNs wait for the path (one or two retransmits), g forwards them at once
    const gw612 = summary(result('routes/via-gateway-forwards', 'ipv6', '6.12.118'))
    const gw616 = summary(result('routes/via-gateway-forwards', 'ipv6', '6.16.12'))
    t.same(
      facet(gw616, 'packets').retransmits!.map(r => [r.key, r.units.join(',')]),
      [
        ['← s#1 SYN|ACK', '0'],
        ['→ c#1 SYN', '1,1'],
        ['→ g#1 SYN', '0,0'],
      ],
      'each machine its own schedule',
    )
    t.equal(
      facet(gw612, 'packets')
        .retransmits!.find(r => r.key === '→ c#1 SYN')!
        .units.join(','),
      '1',
    )
    t.same(changedFacets(gw612, gw616), [], '4 against 6 SYNs captured: no change')
  },
)

t.test('a value bounded by a range compares by the bound it met; the number stays in the cell', async t => {
  const scenario = 'tcp-send/msg-dontwait-blocking-socket'
  const v61 = result(scenario, 'ipv4', '6.1.0')
  const v612 = result(scenario, 'ipv4', '6.12.118')
  const v616 = result(scenario, 'ipv4', '6.16.12')
  const sums = [v61, v612, v616].map(r => summary(r))
  t.same(
    sums.map(s => facet(s, 's10').text),
    ['s10 send: 40960', 's10 send: 49152', 's10 send: 47104'],
    'each kernel shows its count',
  )
  t.same(
    sums.map(s => facet(s, 's10').compared),
    ['⊨>=1', '⊨>=1', '⊨>=1'],
    'and compares the bound its check met',
  )
  t.same(changedFacets(sums[0]!, sums[1]!), [])
  t.same(changedFacets(sums[1]!, sums[2]!), [])
  // the same traces without their ret checks: no bound was met, the counts themselves are compared
  const unchecked = (r: FixtureResult) =>
    summary(
      r,
      undefined,
      r.checks.filter(c => c.field !== 'ret'),
    )
  t.same(changedFacets(unchecked(v61), unchecked(v612)), ['s10'], 'without a met bound the count is the answer')
  const failed = (r: FixtureResult) => r.checks.map(c => (c.step === 's10' && c.field === 'ret' ? { ...c, verdict: 'fail' } : c))
  t.equal(facet(summary(v61, undefined, failed(v61)), 's10').compared, '40960', 'a bound not met compares the value')
})

t.test('packet fields: only those the expectation names; window, scale and flags outside them are the machine', async t => {
  const scenario = 'tcp-peer/passive-handshake-accept'
  const v617 = summary(result(scenario, 'ipv4', '6.17.13'))
  const v618 = summary(result(scenario, 'ipv4', '6.18.15'))
  const host = summary(result(scenario, 'ipv4', '6.18.44'))
  t.same(
    [v617, v618, host].map(s => /"wscale":(\d+)/.exec(facet(s, 'synack').text)?.[1]),
    ['6', '7', '10'],
    'the SYN|ACK window scale follows rmem_max and tcp_rmem: 6.18 raised rmem_max, this machine sets tcp_rmem to 32 MiB',
  )
  t.same(
    [v617, v618, host].map(s => facet(s, 'synack').compared),
    Array(3).fill('1 value{flags=SYN|ACK seq=0 ack=1 len=0 options=mss,sackOK,TS,nop,wscale ts_ecr=700}'),
    'the segment the step waits for and the echoed timestamp: what the scenario asserts',
  )
  t.same([changedFacets(v617, v618), changedFacets(v618, host)], [[], []])
  const m510 = summary(result('tcp-peer/mss-splits-a-write', 'ipv4', '5.10.0'))
  const m61 = summary(result('tcp-peer/mss-splits-a-write', 'ipv4', '6.1.0'))
  t.match(facet(m510, 's12').text, /"flags":"ACK"/)
  t.match(facet(m61, 's12').text, /"flags":"PSH\|ACK"/)
  t.equal(facet(m61, 's12').compared, '1 value{seq=1001 ack=1 len=1000 flags⊨{"one_of":["ACK","PSH|ACK"]}}', 'flags bounded by one_of')
  t.same(changedFacets(m510, m61), [], 'PSH on the first of two MSS-sized segments is no change')

  // the runs' recorded sysctls: this machine's 32 MiB tcp_rmem is configuration, the guests' memory-sized maxima drift
  const sysctlsOf = (kernel: string) => runs.find(r => r.kernel.startsWith(kernel))!.sysctls
  const numeric = [{ kind: 'answer' as const, from: '1 value{wscale=7}', to: '1 value{wscale=10}' }]
  t.same(
    sysctlDifferences(sysctlsOf('6.18.15'), sysctlsOf('6.18.44'), numeric).map(d => d.name),
    ['net.ipv4.tcp_rmem'],
    'a number that changed follows the buffer sysctl that differs as configuration',
  )
  t.same(sysctlDifferences(sysctlsOf('6.17.13'), sysctlsOf('6.18.15'), numeric), [], 'two guests: tcp_rmem differs by a few percent only')
  // the buffer caps are recorded too (this machine's, here): a changed default explains a changed byte count or window scale
  const caps = systemInfo().sysctls
  t.match(caps, { 'net.core.rmem_max': /^\d+$/, 'net.core.wmem_max': /^\d+$/ }, 'a run records the buffer caps')
  t.same(
    sysctlDifferences(
      { ...sysctlsOf('6.17.13'), 'net.core.rmem_max': '212992', 'net.core.wmem_max': '212992' },
      { ...sysctlsOf('6.17.13'), 'net.core.rmem_max': '4194304', 'net.core.wmem_max': '4194304' },
      [{ kind: 'answer', from: '1 value{wscale=6}', to: '1 value{wscale=7}' }],
    ).map(d => d.name),
    ['net.core.rmem_max', 'net.core.wmem_max'],
    "6.18's 4 MiB caps: the window scale follows them",
  )
  t.same(
    sysctlDifferences(sysctlsOf('6.18.15'), sysctlsOf('6.18.44'), [
      { kind: 'answer', from: '28 C:ERR|HUP|OUT', to: '8220 C:ERR|HUP|OUT|RDHUP' },
    ]),
    [],
    'a mask follows no sysctl',
  )
  t.same(
    sysctlDifferences(sysctlsOf('6.1.0'), sysctlsOf('6.12.118'), [{ kind: 'packets', from: '→ ←', to: '→ ←1 RST' }]),
    [],
    'tcp_syn_linear_timeouts, absent before 6.5, is the kernel, not configuration',
  )
  const rst = [{ kind: 'packets' as const, from: '→ ←', to: '→ ←1 RST' }]
  t.same(
    sysctlDifferences(sysctlsOf('6.18.15'), sysctlsOf('6.18.44'), rst),
    [],
    'a queue sysctl counts only where the scenario fills a queue',
  )
  const named = sysctlsNamedBy({ description: 'the SYN queue holds tcp_max_syn_backlog requests' }, Object.keys(sysctlsOf('6.18.44')!))
  t.same([...named], ['net.ipv4.tcp_max_syn_backlog'], 'a scenario names the sysctls it depends on in its text')
  t.same(
    sysctlDifferences(sysctlsOf('6.18.15'), sysctlsOf('6.18.44'), rst, named).map(d => d.name),
    ['net.ipv4.tcp_max_syn_backlog'],
    'and then any change can follow them: 2048 here, 128 in the guests',
  )
})

t.test('the atlas of the matrix results: real changes stay, noise goes', async t => {
  const scenarios = new Map(Object.entries(matrix.scenarios))
  const results = [...matrix.results].sort((a, b) => b.runId - a.runId)
  const byId = new Map(matrix.results.map(r => [r.id, r]))
  const readTrace = (r: ReportResult) => ({
    result: r,
    run: runOf(r),
    events: byId.get(r.id)!.events,
    checks: byId.get(r.id)!.checks,
    stderr: {},
    invalid: [],
  })
  const m = atlasModel(
    [...runs].sort((a, b) => b.id - a.id),
    results,
    scenarios,
    readTrace,
    '2026-11-26T00:00:00.000Z',
  )
  const changes = Object.fromEntries(
    m.rows.map(r => [
      `${r.scenario} ${r.variant}`,
      r.changes.map(
        c =>
          `${c.from.upstream}->${c.to.upstream} ${c.expected.length ? `expected ${c.expected.map(e => e.step).join(',')}` : ''}${c.unexpected.length ? `not expected ${c.unexpected.join(',')}` : ''}`,
      ),
    ]),
  )
  t.same(
    changes,
    {
      'io-uring/connect-timeout ipv4': ['6.1.192->6.12.118 expected s9'],
      'io-uring/poll-refused ipv4': ['6.1.192->6.12.118 not expected s9 uring_wait', '6.12.118->6.16.12 not expected s9 uring_wait'],
      'routes/router-blackhole ipv4': ['6.1.192->6.12.118 expected s10'],
      'routes/via-gateway-forwards ipv6': [],
      'seed-claims/claim-3-synsent ipv4': [],
      'tcp-peer/mss-splits-a-write ipv4': [],
      'tcp-peer/passive-handshake-accept ipv4': [],
      'tcp-send/msg-dontwait-blocking-socket ipv4': [],
    },
    'the linear SYN timeouts expected by their cases; the RDHUP of 6.12.118 (located after this store was run) still not expected',
  )
  const page = renderAtlas({ ...m, resultHref: r => `traces/${r.id}.html` })
  t.match(page, /<strong>2<\/strong> only where their per-kernel expectations say the kernels differ/)
  t.match(page, /<strong>0<\/strong> otherwise only beside a difference of the runs' recorded sysctls/)
  t.match(page, /<strong>1<\/strong> with a change no per-kernel case accounts for/)
  // a change beside a configuration difference is said so, not "not expected"
  const row = m.rows.find(r => r.scenario === 'io-uring/poll-refused')!
  const configured = {
    ...row.changes[0]!,
    sysctls: [{ name: 'net.ipv4.tcp_rmem', from: '4096 131072 2674752', to: '4096 131072 33554432' }],
  }
  const both = renderAtlas({ ...m, rows: [{ ...row, changes: [configured] }], resultHref: () => '' })
  t.match(
    both,
    /follows a sysctl difference<\/span>: s9 uring_wait <span class="muted">\(no per-kernel case; the runs recorded net\.ipv4\.tcp_rmem 4096 131072 2674752 on 6\.1\.192, 4096 131072 33554432 on 6\.12\.118\)/,
  )
  t.notMatch(both, /not expected<\/span>/)
  t.match(both, /data-unexpected="0" data-sysctl="1"/)
})

t.test('SO_REUSEPORT listeners on this machine: which one the hash picked is no change, how many answered is', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-site-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = join(dir, 'reuse.db')
  const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
  // 2 x 12 connections: each listener is picked about half the time, both at least once but with odds of 2^-23 against
  const run = spawnSync(
    process.execPath,
    [bin, 'run', join(kitRoot, 'scenarios', 'bind', 'reuseport-listeners.yaml'), '--repeat', '12', '--db', db],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  )
  t.equal(run.status, 0, run.stderr + run.stdout)
  const store = TraceStore.open(db, { readonly: true, mustExist: true })
  t.teardown(() => store.close())
  const data = loadReportData(store)
  const read = traceSource(store, data)
  const body = data.scenarios.get('bind/reuseport-listeners')!.doc
  t.ok(body.across?.length, 'the scenario says it with across')
  const traces = data.results.map(read)
  const picked = (x: (typeof traces)[number]) => /\((p1|p2)\)/.exec(x.checks.find(c => c.step === 'across[0]')!.observed)![1]
  const p1 = traces.find(x => picked(x) === 'p1')!
  const p2 = traces.find(x => picked(x) === 'p2')!
  t.ok(p1 && p2, 'both listeners were picked')
  const sa = answerSummary(body.steps, p1.events, p1.checks, body.across)
  const sb = answerSummary(body.steps, p2.events, p2.checks, body.across)
  t.match(facet(sa, 'p1').text, /p1 poll: 1 P1:IN/)
  t.match(facet(sb, 'p1').text, /p1 poll: 0/)
  t.same(changedFacets(sa, sb), [], 'the across groups answered alike')
  const alone = (x: typeof p1) => answerSummary(body.steps, x.events, x.checks)
  t.same(changedFacets(alone(p1), alone(p2)), ['p1', 'p2', 'p1again', 'p2again'], 'step by step the other listener answered')
})

t.test('the atlas reads each result with the scenario version it ran; an edit between two runs is marked, not unexpected', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-site-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = join(dir, 'edit.db')
  const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
  const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 })
  const pack = join(dir, 'edit')
  mkdirSync(pack)
  const file = join(pack, 'so-error.yaml')
  const head = 'title: A fresh TCP socket has no pending error\nsources: [{ man: socket(7) SO_ERROR }]\nvariants: [ipv4]\nsteps:\n'
  const check = '  - { actor: client, do: getsockopt, sock: C, level: socket, opt: SO_ERROR, expect: { ret: 0, value: "0" } }\n'
  writeFileSync(file, `${head}  - { actor: client, do: socket, sock: C, expect: { ret: ">=0" } }\n${check}`)
  t.equal(cli(['run', pack, '--db', db]).status, 0)
  // the first version's run, as if made on another kernel: exported, given a 6.1 identity, imported
  const first = cli(['export', 'latest', '--db', db])
  t.equal(first.status, 0, first.stderr)
  const bundle = JSON.parse(first.stdout) as { run: Record<string, unknown> }
  Object.assign(bundle.run, {
    uuid: randomUUID(),
    kernel_release: '6.1.0-99-amd64',
    kernel_version: '#1 SMP Debian 6.1.100-1 (2026-01-01)',
  })
  writeFileSync(join(dir, 'b.json'), JSON.stringify(bundle))
  t.equal(cli(['import', join(dir, 'b.json'), '--db', db]).status, 0)
  // the second version: a step first, so every step id after it moves (s2 is now the socket, s3 the getsockopt)
  writeFileSync(
    file,
    `${head}  - { actor: client, do: socket, sock: D, type: dgram, expect: { ret: ">=0" } }\n  - { actor: client, do: socket, sock: C, expect: { ret: ">=0" } }\n${check}`,
  )
  t.equal(cli(['run', pack, '--db', db]).status, 0)

  const store = TraceStore.open(db, { readonly: true, mustExist: true })
  t.teardown(() => store.close())
  const data = loadReportData(store)
  const results = [...data.results].sort((a, b) => b.runId - a.runId)
  const model = (versions?: ReadonlyMap<number, ReportScenario>) =>
    atlasModel(
      [...data.runs].sort((a, b) => b.id - a.id),
      results,
      data.scenarios,
      traceSource(store, data),
      data.generatedAt,
      24,
      versions,
    )
  const row = (m: ReturnType<typeof model>) => m.rows.find(r => r.scenario === 'edit/so-error')!
  const old = row(model()).cells.get(model().kernels[0]!.key)!
  t.match(
    old.summary!.facets.map(f => f.text).join(' | '),
    /no answer/,
    "read with the newest version's steps, the 6.1 result has no answer",
  )
  const m = model(data.scenarioVersions)
  t.equal(m.kernels[0]!.upstream, '6.1.100')
  const cell = row(m).cells.get(m.kernels[0]!.key)!
  t.notMatch(cell.summary!.facets.map(f => f.text).join(' | '), /no answer/, 'read with the steps it ran, it answered')
  t.ok(row(m).changes.length > 0 && row(m).changes.every(c => c.scenarioEdited), 'the change is between two versions of the file')
  const html = renderAtlas({ ...m, resultHref: r => `r/${r.id}.html` })
  t.match(html, /scenario edited<\/span> between these runs/)
  t.notMatch(html, /data-unexpected="1"/, 'nothing is called not expected')
})

t.test('trace diff: the exact alignment on what differs, a bounded one past MAX_ALIGN_CELLS', async t => {
  const { commonIndices, MAX_ALIGN_CELLS } = await import('../harness/site/trace-diff.js')
  t.same([...commonIndices(['a', 'x', 'b', 'c'], ['a', 'b', 'y', 'c'])].sort(), [0, 2, 3], 'a longest common subsequence')
  // two long lanes of one scenario that differ in one event: prefix and suffix match, the middle is one cell
  const long = Array.from({ length: 200_000 }, (_, i) => `e${i % 7}`)
  const other = [...long]
  other[100_000] = 'changed'
  const kept = commonIndices(long, other)
  t.equal(kept.size, long.length - 1)
  t.notOk(kept.has(100_000), 'the changed event differs')
  // a middle too large to align exactly (3000 x 3000 cells > the bound) counts as differing, prefix and suffix stay matched
  const side = Math.ceil(Math.sqrt(MAX_ALIGN_CELLS)) + 1000
  const a = ['same', ...Array.from({ length: side }, (_, i) => `a${i}`), 'end']
  const b = ['same', ...Array.from({ length: side }, (_, i) => `a${(i + 1) % side}`), 'end']
  t.same(
    [...commonIndices(a, b)].sort((x, y) => x - y),
    [0, side + 1],
    'only the common prefix and suffix',
  )
})
