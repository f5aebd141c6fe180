// The atlas's account of a change between two kernels: which per-kernel
// expectations of the scenario (its ranges and sources) explain it, and what
// none explains. The scenario is the packaged file, read by the kit's loader;
// the kernels are the Debian matrix's upstream versions.
import t from 'tap'
import { join } from 'node:path'
import { kitRoot } from '../harness/paths.js'
import { loadScenarioFile } from '../harness/scenario/load.js'
import { explainChange } from '../harness/site/atlas.js'
import type { AtlasChange, AtlasKernel, AtlasRow } from '../harness/site/atlas.js'
import type { ReportResult, ReportScenario } from '../harness/site/model.js'
import { renderAtlas } from '../harness/site/render-atlas.js'

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
    return { from: k(from), to: k(to), facets: ['s12 epoll_wait', 's15 getsockopt SO_ERROR', 'packets'], ...why }
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
