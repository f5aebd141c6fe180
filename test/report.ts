// The HTML report end to end: real scenarios (one of them hostile: markup in
// its title, notes and sources) run into a real store, `sockspec report`
// writes the site, and headless Chromium opens it from file://: no console
// error, no dialog, the hostile text stays text, matrix cells match the
// store, the timelines show the client's EPOLLOUT and the listener's EPOLLIN.
// The first run happens in a fresh network namespace with
// net.ipv4.tcp_abort_on_overflow=1, so an accept-queue overflow fixture really
// behaves differently in the two runs, and the diff page between them is
// checked against `sockspec compare --reporter json`.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { kitRoot, scenarioDir } from '../harness/paths.js'
import { overflowHeader, overflowSteps } from './fixtures/overflow.js'
import { writeReport } from '../harness/site/write.js'
import { parseScenario } from '../harness/scenario/load.js'
import { TraceStore } from '../harness/store/store.js'
import { upstreamVersion } from '../harness/site/atlas.js'

const CHROMIUM = '/usr/bin/chromium'
const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-report-'))
const shots = '/tmp/sockspec-shots'

const HOSTILE_TITLE = `<script>alert(1)</script><img src=x onerror=alert(2)> "hostile" & 'quoted'`
const HOSTILE_NOTE = `<img src=x onerror="alert(3)"></td></tr></table><script>alert(4)</script>`
const HOSTILE_DIFF_TITLE = `Overflow observed <script>alert(8)</script><img src=x onerror=alert(9)> & 'differs'`

function sockspec(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** `sockspec run` in a fresh network namespace with tcp_abort_on_overflow=1. */
function sockspecAbortOnOverflow(args: string[]) {
  const netns = process.getuid?.() === 0 ? ['-n'] : ['-Urn']
  const cmd = `ip link set lo up && sysctl -qw net.ipv4.tcp_abort_on_overflow=1 && exec ${[process.execPath, bin, ...args].map(quote).join(' ')}`
  const r = spawnSync('unshare', [...netns, 'sh', '-c', cmd], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function overflowFixtures(): string {
  const overflowDir = join(dir, 'packs', 'overflow')
  mkdirSync(overflowDir, { recursive: true })
  // passes with the RST (run 1, in the namespace), fails without (run 2): a regression
  writeFileSync(
    join(overflowDir, 'expects-rst.yaml'),
    overflowHeader('Overflowing final ACK is answered with a RST') +
      overflowSteps +
      '  - { actor: client, do: getsockopt, sock: C3, level: socket, opt: SO_ERROR, expect: { value: ECONNRESET } }\n',
  )
  // runs in the namespace only: a skip with its reason on the host run
  writeFileSync(
    join(overflowDir, 'needs-abort.yaml'),
    'title: Needs tcp_abort_on_overflow\nsources: [{ man: tcp(7) }]\nvariants: [ipv4]\nrequires: { sysctl: { net.ipv4.tcp_abort_on_overflow: 1 } }\nsteps:\n  - { actor: client, do: socket, sock: C, expect: { ret: ">=0" } }\n',
  )
  // no expectation on the outcome: same verdict, different trace (differs)
  writeFileSync(
    join(overflowDir, 'observe.yaml'),
    overflowHeader(HOSTILE_DIFF_TITLE) + overflowSteps + '  - { actor: client, do: epoll_wait, ep: EC, timeout_ms: 0 }\n',
  )
  return overflowDir
}

function fixtures(): { hostile: string; listener: string } {
  const hostileDir = join(dir, 'packs', 'hostile')
  const claimDir = join(dir, 'packs', 'seed-claims')
  mkdirSync(hostileDir, { recursive: true })
  mkdirSync(claimDir, { recursive: true })
  const hostile = join(hostileDir, 'markup.json')
  writeFileSync(
    hostile,
    JSON.stringify({
      title: HOSTILE_TITLE,
      description: `</p><script>alert(5)</script>`,
      sources: [{ url: 'javascript:alert(6)', quote: `</blockquote><svg onload=alert(7)>` }],
      steps: [
        { actor: 'server', do: 'socket', sock: 'L', nonblock: true },
        { actor: 'server', do: 'bind', sock: 'L' },
        { actor: 'server', do: 'listen', sock: 'L', backlog: 4 },
        { actor: 'client', do: 'socket', sock: 'C', nonblock: true, note: HOSTILE_NOTE },
        // fails on purpose: a non-blocking connect gives EINPROGRESS, so the report has a failing cell and trace page
        { actor: 'client', do: 'connect', sock: 'C', to: 'L', expect: { ret: 0, why: '<b>wrong</b> on purpose' } },
      ],
    }),
  )
  const listener = join(claimDir, 'listener-readable.yaml')
  writeFileSync(
    listener,
    `title: The listener reports EPOLLIN once a client's handshake completes
claim: { id: 5, statement: "The listening socket becomes readable (EPOLLIN) when the handshake finishes <i>after</i> the final ACK", role: test }
sources:
  - man: accept(2)
steps:
  - { actor: server, do: socket, sock: L, nonblock: true }
  - { actor: server, do: bind, sock: L }
  - { actor: server, do: listen, sock: L, backlog: 4 }
  - { actor: server, do: epoll_create1, ep: EL }
  - { actor: server, do: epoll_ctl, ep: EL, op: add, sock: L, events: [in] }
  - { actor: client, do: socket, sock: C, nonblock: true }
  - { actor: client, do: connect, sock: C, to: L, expect: { ret: -1, errno: EINPROGRESS } }
  - { actor: server, do: epoll_wait, ep: EL, timeout_ms: 2000, expect: { ret: 1 }, claim: { ready: { L: IN } } }
  - { actor: server, do: accept4, sock: L, new: S, expect: { ret: ">=0" } }
`,
  )
  return { hostile, listener }
}

const haveChromium = existsSync(CHROMIUM)

t.test(
  'the report site in headless Chromium',
  { skip: haveChromium ? false : `${CHROMIUM} is missing (apt-get install chromium)` },
  async t => {
    const { hostile, listener } = fixtures()
    const db = join(dir, 'traces.db')
    const einprogress = join(scenarioDir, 'tcp-connect', 'einprogress.yaml')
    const overflow = overflowFixtures()
    // two runs, so scenario pages put results side by side; the first in a namespace
    // where an overflowing final ACK is reset, the second on the host where it is dropped
    for (let i = 0; i < 2; i++) {
      const args = ['run', einprogress, hostile, listener, overflow, '--db', db, '--reporter', 'json']
      const run = i === 0 ? sockspecAbortOnOverflow(args) : sockspec(args)
      t.equal(run.code, 1, `the hostile scenario fails on purpose: ${run.stderr}`)
    }
    const site = join(dir, 'site')
    const report = sockspec(['report', '--db', db, '--out', site])
    t.equal(report.code, 0, report.stderr)
    t.match(report.stdout, /report: \d+ pages/)

    const store = new Database(db, { readonly: true })
    const verdicts = new Map(
      (store.prepare('SELECT id, verdict FROM results').all() as Array<{ id: number; verdict: string }>).map(r => [r.id, r.verdict]),
    )
    const byVerdict = store.prepare('SELECT verdict, count(*) AS n FROM results GROUP BY verdict').all() as Array<{
      verdict: string
      n: number
    }>
    store.close()

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
    t.teardown(() => browser.close())
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    const problems: string[] = []
    const dialogs: string[] = []
    const open = async (file: string): Promise<Page> => {
      const page = await context.newPage()
      page.on('console', m => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${file}: console ${m.type()}: ${m.text()}`)
      })
      page.on('pageerror', e => problems.push(`${file}: ${e.message}`))
      page.on('dialog', d => {
        dialogs.push(`${file}: ${d.message()}`)
        void d.dismiss()
      })
      page.on('request', r => {
        if (!r.url().startsWith('file://')) problems.push(`${file}: network request ${r.url()}`)
      })
      await page.goto(pathToFileURL(join(site, file)).href, { waitUntil: 'load' })
      return page
    }

    const diffFiles = readdirSync(join(site, 'diff')).map(f => `diff/${f}`)
    const files = [
      'index.html',
      'matrix.html',
      'kernels.html',
      'claims.html',
      ...readdirSync(join(site, 'scenarios')).map(f => `scenarios/${f}`),
      ...diffFiles,
    ]
    const pages = new Map<string, Page>()
    for (const f of files) pages.set(f, await open(f))

    // matrix cells match the store, one cell per result
    const matrix = pages.get('matrix.html')!
    const cells = await matrix.$$eval('table[data-matrix=runs] td[data-verdict]', tds =>
      tds.map(td => ({ id: Number(td.getAttribute('data-result')), verdict: td.getAttribute('data-verdict'), symbol: td.textContent })),
    )
    t.equal(cells.length, verdicts.size, 'one cell per stored result')
    t.same(
      cells.filter(c => verdicts.get(c.id) !== c.verdict),
      [],
      'every cell shows its result’s stored verdict',
    )
    for (const { verdict, n } of byVerdict) t.equal(cells.filter(c => c.verdict === verdict).length, n, `${verdict}: ${n} cells`)
    const symbols: Record<string, string> = { pass: '✓', fail: '✗', error: '!', skip: '–' }
    t.ok(
      cells.every(c => symbols[c.verdict ?? ''] === c.symbol),
      'each cell carries its symbol',
    )

    // the in-place filter: only rows with a failing cell stay visible
    await matrix.selectOption('select[name=verdict]', 'fail')
    const visible = await matrix.$$eval('table[data-matrix=runs] tr[data-row]', trs =>
      trs.filter(tr => !tr.hasAttribute('hidden')).map(tr => tr.querySelectorAll('td[data-verdict=fail]').length),
    )
    t.ok(visible.length > 0 && visible.every(n => n > 0), 'verdict filter keeps exactly the rows with a failure')
    await matrix.selectOption('select[name=verdict]', '')
    await mkdirAndShoot(matrix, 'matrix.png')

    // the hostile scenario stays text everywhere
    const hostilePage = pages.get('scenarios/hostile--markup.html')!
    t.equal(await hostilePage.textContent('h1'), HOSTILE_TITLE, 'hostile title shown as text')
    t.match(await hostilePage.textContent('table.steps'), HOSTILE_NOTE, 'hostile step note shown as text')
    t.equal(
      await hostilePage.$$eval('main img, main script, main [onerror], main [onload]', els => els.length),
      0,
      'no element was injected',
    )
    t.equal(await hostilePage.$$eval('a[href^="javascript:"]', els => els.length), 0, 'a javascript: source stays text')
    const matrixTitle = await matrix.getAttribute('tr[data-row^="hostile/markup"] th.row', 'title')
    t.equal(matrixTitle, HOSTILE_TITLE, 'hostile title intact in the matrix tooltip')

    // a failing cell links to the full trace with the helper's stderr
    const failHref = await matrix.getAttribute('tr[data-row^="hostile/markup"] td[data-verdict=fail] a', 'href')
    t.match(failHref, /^traces\/\d+\.html$/)
    const trace = await open(failHref!)
    t.match(await trace.textContent('main'), 'Helper stderr')
    t.match(await trace.textContent('svg.timeline g.ev.failed'), 'EINPROGRESS', 'the failing connect is marked on the timeline')
    t.equal(await trace.textContent('h1'), HOSTILE_TITLE)

    // the handshake timeline shows the client's EPOLLOUT...
    const connect = pages.get('scenarios/tcp-connect--einprogress.html')!
    const clientWaits = await connect.$$eval('svg.timeline g.lane[data-actor=client] g.ev[data-op=epoll_wait]', gs =>
      gs.map(g => g.textContent ?? ''),
    )
    t.ok(
      clientWaits.length >= 2 && clientWaits.every(s => s.includes('C:EPOLLOUT')),
      `client epoll_wait shows C:EPOLLOUT: ${clientWaits.join(' | ')}`,
    )
    t.equal(
      await connect.$$eval('svg.timeline g.lane[data-actor=wire]', gs => gs.length),
      await connect.$$eval('svg.timeline', s => s.length),
      'every timeline has a wire lane',
    )
    const svg = connect.locator('svg.timeline').first()
    await svg.scrollIntoViewIfNeeded()
    await mkdirAndShoot(connect, 'timeline.png', svg)

    // ...and the listener's EPOLLIN, on the scenario page and the seed-claims page
    const listenerPage = pages.get('scenarios/seed-claims--listener-readable.html')!
    const serverWaits = await listenerPage.$$eval('svg.timeline g.lane[data-actor=server] g.ev[data-op=epoll_wait]', gs =>
      gs.map(g => g.textContent ?? ''),
    )
    t.ok(
      serverWaits.length >= 2 && serverWaits.every(s => s.includes('L:EPOLLIN')),
      `listener epoll_wait shows L:EPOLLIN: ${serverWaits.join(' | ')}`,
    )
    const claims = pages.get('claims.html')!
    t.match(await claims.textContent('#claim-5 blockquote'), 'finishes <i>after</i> the final ACK', 'claim statement escaped')
    t.ok(
      (await claims.$$eval('#claim-5 td[data-claim]', tds => tds.map(td => td.getAttribute('data-claim')))).includes('holds'),
      'claim 5 holds on this kernel',
    )
    t.ok(
      (await claims.$$eval('#claim-5 svg.timeline g.lane[data-actor=server]', gs => gs.map(g => g.textContent ?? ''))).some(s =>
        s.includes('L:EPOLLIN'),
      ),
      'the claim timeline shows why',
    )

    // the diff page of the two runs: named by uuid prefixes, linked from the index and the matrix
    const uuidStore = new Database(db, { readonly: true })
    const uuids = (uuidStore.prepare('SELECT uuid FROM runs ORDER BY started_at, id').all() as Array<{ uuid: string }>).map(r => r.uuid)
    uuidStore.close()
    t.equal(uuids.length, 2)
    const diffFile = `diff/${uuids[0]!.slice(0, 8)}-${uuids[1]!.slice(0, 8)}.html`
    t.same(diffFiles, [diffFile], 'one diff page: the second run against the first')
    const index = pages.get('index.html')!
    const indexLink = index.locator(`tr[data-run] td.diff-links a[href="${diffFile}"]`)
    t.equal(await indexLink.count(), 1, 'the index links the diff page from the newer run’s row')
    t.match(await indexLink.textContent(), /^diff vs #\d+/)
    t.equal(await matrix.locator(`thead th.col a.diff[href="${diffFile}"]`).count(), 1, 'the matrix column header links it too')
    await indexLink.click()
    await index.waitForURL(/\/diff\//)
    t.match(await index.textContent('h1'), /^Diff: run #\d+ → run #\d+$/, 'the index link opens the diff page')

    const diff = pages.get(diffFile)!
    const compared = sockspec(['compare', '--db', db, '--reporter', 'json', uuids[0]!, uuids[1]!])
    t.equal(compared.code, 1, 'compare sees the regression')
    const doc = JSON.parse(compared.stdout) as {
      comparisons: Array<{ counts: Record<string, number>; pairs: Array<{ scenario: string; label: string }> }>
    }
    const expectedCounts = doc.comparisons[0]!.counts
    const shownCounts = Object.fromEntries(
      await diff.$$eval('ul.label-counts li[data-label]', lis =>
        lis.map(li => [li.getAttribute('data-label')!, Number(li.getAttribute('data-count'))] as const),
      ),
    )
    t.same(shownCounts, expectedCounts, 'label counts match `sockspec compare --reporter json`')
    t.ok(expectedCounts['regression']! >= 1 && expectedCounts['differs']! >= 1, `the runs really differ: ${JSON.stringify(expectedCounts)}`)
    const rows = await diff.$$eval('table.diff-pairs tbody tr[data-label]', trs =>
      trs.map(tr => `${tr.getAttribute('data-scenario')}:${tr.getAttribute('data-label')}`),
    )
    t.same(
      rows.sort(),
      doc.comparisons[0]!.pairs.filter(p => p.label !== 'same')
        .map(p => `${p.scenario}:${p.label}`)
        .sort(),
      'one row per pair that is not the same',
    )
    t.match(
      await diff.textContent('tr[data-scenario="overflow/expects-rst"] td:nth-child(3)'),
      /^✗ regression/,
      'the regression carries its symbol',
    )
    // the first differing event: fields side by side with the changed ones marked, and marked on both timelines
    for (const scenario of ['overflow/expects-rst', 'overflow/observe']) {
      const detail = diff.locator(`section.pair-detail[data-scenario="${scenario}"]`)
      t.equal(await detail.count(), 1, `${scenario}: first difference shown`)
      const changed = await detail.locator('table.diff-fields tr[data-changed]').count()
      t.ok(changed >= 1, `${scenario}: ${changed} changed field(s) highlighted`)
      const bg = await detail
        .locator('table.diff-fields tr[data-changed] td')
        .first()
        .evaluate(
          td =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(td).backgroundColor,
        )
      t.equal(bg, 'rgb(240, 228, 66)', `${scenario}: changed fields in the diff yellow`)
      const marked = await detail.locator('section.trace-card svg.timeline g.ev.differs').count()
      t.equal(marked, 2, `${scenario}: the first differing event is marked on both timelines`)
    }
    const observe = diff.locator('section.pair-detail[data-scenario="overflow/observe"]')
    t.match(
      await observe.locator('section.trace-card[data-side=a] g.ev.differs').textContent(),
      'epoll_wait',
      'the differing event is the epoll_wait that sees the RST',
    )
    // the hostile title stays text
    t.equal(await diff.textContent('tr[data-scenario="overflow/observe"] .pair-title'), HOSTILE_DIFF_TITLE, 'hostile title shown as text')
    t.equal(
      await diff.$$eval('main img, main script, main [onerror], main [onload]', els => els.length),
      0,
      'no element was injected into the diff page',
    )
    const shotFile = join(dir, 'diff.png')
    await diff.screenshot({ path: shotFile, fullPage: true })
    mkdirSync(shots, { recursive: true })
    copyFileSync(shotFile, join(shots, 'diff.png'))

    // skip reasons: in the matrix (cell tooltip and the list under it), the kernels matrix and the diff page
    const skipReason = await matrix.getAttribute('tr[data-row^="overflow/needs-abort"] td[data-verdict=skip]', 'title')
    t.match(skipReason, /needs sysctl net\.ipv4\.tcp_abort_on_overflow = 1 \(it is 0\)/, 'a skipped cell says why')
    t.match(
      await matrix.textContent('ul.skip-reasons'),
      /needs sysctl net\.ipv4\.tcp_abort_on_overflow = 1 \(it is 0\)/,
      'the matrix lists its skip reasons',
    )
    t.match(await pages.get('kernels.html')!.textContent('ul.skip-reasons'), /needs sysctl net\.ipv4\.tcp_abort_on_overflow/)
    t.match(
      await diff.textContent('tr[data-scenario="overflow/needs-abort"] .skip-note'),
      /needs sysctl net\.ipv4\.tcp_abort_on_overflow = 1 \(it is 0\)/,
      'the diff page shows the skip reason',
    )

    // the claims page opens with one line per claim and its outcome per kernel
    t.equal(
      await claims.getAttribute('table.claim-summary tr[data-claim-id="5"] td[data-outcome]', 'data-outcome'),
      'holds',
      'claims summary: claim 5 holds',
    )
    t.ok(
      (await claims.$$eval('main > *', els => els.map(e => e.tagName))).indexOf('TABLE') === 1,
      'the summary table comes right after the heading',
    )

    // the atlas: the two runs relabelled as two kernels (export, edit the bundle's kernel, import)
    const atlasDb = join(dir, 'atlas.db')
    const relabelled = { kernel_release: '6.1.158-relabelled', kernel_version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-10-01)' }
    for (const [i, uuid] of uuids.entries()) {
      const exported = sockspec(['export', uuid, '--db', db])
      t.equal(exported.code, 0, exported.stderr)
      const bundle = JSON.parse(exported.stdout) as { run: Record<string, unknown> }
      // the namespace run (tcp_abort_on_overflow=1) plays the older kernel
      if (i === 0) Object.assign(bundle.run, relabelled)
      const file = join(dir, `atlas-${i}.json`)
      writeFileSync(file, JSON.stringify(bundle))
      const imported = sockspec(['import', file, '--db', atlasDb])
      t.equal(imported.code, 0, imported.stderr)
    }
    const atlasSite = join(dir, 'atlas-site')
    t.equal(sockspec(['report', '--db', atlasDb, '--out', atlasSite]).code, 0)
    const runsDb = new Database(db, { readonly: true })
    const hostRun = runsDb
      .prepare('SELECT kernel_release AS kernel, kernel_version AS kernelVersion, arch FROM runs WHERE uuid = ?')
      .get(uuids[1]) as { kernel: string; kernelVersion: string; arch: string }
    runsDb.close()
    const hostUpstream = upstreamVersion(hostRun)
    t.equal(upstreamVersion({ kernel: relabelled.kernel_release, kernelVersion: relabelled.kernel_version }), '6.1.158')
    t.equal(
      await index.goto(pathToFileURL(join(site, 'index.html')).href).then(() => index.locator('main a[href="atlas.html"]').count()),
      1,
      'the index links the atlas',
    )
    const atlasUrl = pathToFileURL(join(atlasSite, 'atlas.html')).href
    const atlas = await open(join('..', 'atlas-site', 'atlas.html'))
    t.same(
      await atlas.$$eval('table.atlas thead th.kernel strong', ths => ths.map(th => th.textContent)),
      ['6.1.158', hostUpstream],
      'one column per kernel, in version order, named by the upstream version',
    )
    const rstRow = atlas.locator('tr[data-scenario="overflow/expects-rst"]')
    t.equal(await rstRow.getAttribute('data-differs'), '1', 'the overflow behaviour differs between the kernels')
    t.equal(
      (await rstRow.locator('li.change').textContent())
        ?.replace(/\s+/g, ' ')
        .trim()
        .replace(/ \(.*$/, ''),
      `≠ changed between 6.1.158 and ${hostUpstream}`,
      'the range where the answer changed',
    )
    const changedCell = rstRow.locator('td.atlas-cell.changed')
    t.equal(await changedCell.count(), 1, 'one cell marked')
    t.equal(await changedCell.getAttribute('data-kernel'), `${hostRun.kernel} ${hostRun.arch}`, 'on the newer kernel')
    t.match(await changedCell.locator('.change-mark').textContent(), '≠ vs 6.1.158', 'the marked cell carries the symbol')
    t.equal(
      await changedCell
        .locator('li.facet.changed')
        .first()
        .evaluate(
          li =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(li).backgroundColor,
        ),
      'rgb(240, 228, 66)',
      'the changed facet in the diff yellow',
    )
    const older = await rstRow.locator('td.atlas-cell[data-kernel^="6.1.158-relabelled"]').textContent()
    t.match(older, 'value=ECONNRESET', 'the older kernel answered ECONNRESET')
    t.notMatch(await changedCell.textContent(), 'value=ECONNRESET', 'the newer one did not')
    t.match(await rstRow.locator('.atlas-title').textContent(), 'Overflowing final ACK is answered with a RST')
    // the skip shows its reason and is not a difference
    t.match(
      await atlas.textContent('tr[data-scenario="overflow/needs-abort"] td.no-answer'),
      /skip: needs sysctl net\.ipv4\.tcp_abort_on_overflow = 1 \(it is 0\)/,
      'the atlas shows the skip reason',
    )
    t.equal(await atlas.getAttribute('tr[data-scenario="overflow/needs-abort"]', 'data-differs'), '0', 'a skip is not an answer')
    // hostile text stays text
    t.equal(
      await atlas.textContent('tr[data-scenario="overflow/observe"] .atlas-title'),
      HOSTILE_DIFF_TITLE,
      'hostile title shown as text in the atlas',
    )
    t.equal(
      await atlas.$$eval('main img, main script, main [onerror], main [onload]', els => els.length),
      0,
      'nothing injected into the atlas',
    )

    // "only behaviours that differ" is on by default; its state and the search live in the URL
    const visibleRows = (p: Page) =>
      p.$$eval('table.atlas tr[data-row]', trs => trs.filter(tr => !tr.hidden).map(tr => tr.getAttribute('data-scenario')))
    const differing = await atlas.$$eval('table.atlas tr[data-differs="1"]', trs => trs.map(tr => tr.getAttribute('data-scenario')))
    t.same(await visibleRows(atlas), differing, 'by default only the behaviours that differ are shown')
    t.ok(differing.includes('overflow/expects-rst') && !differing.includes('tcp-connect/einprogress'))
    await atlas.uncheck('input[name=differs]')
    await atlas.fill('input[name=q]', 'einprogress')
    const filtered = await visibleRows(atlas)
    t.ok(filtered.length > 0 && filtered.every(s => s!.includes('einprogress')), `search filters rows: ${filtered.join(', ')}`)
    const shared = atlas.url()
    t.match(new URL(shared).hash, /^#(?=.*q=einprogress)(?=.*differs=0)/, `filter state in the URL: ${shared}`)
    await atlas.reload()
    t.equal(await atlas.inputValue('input[name=q]'), 'einprogress', 'the search survives a reload')
    t.equal(await atlas.isChecked('input[name=differs]'), false, 'the differs filter survives a reload')
    t.same(await visibleRows(atlas), filtered, 'the same rows after the reload')
    const sharedPage = await context.newPage()
    await sharedPage.goto(shared)
    t.same(await visibleRows(sharedPage), filtered, 'a shared URL opens the same filtered view')
    await sharedPage.close()
    // the matrix keeps its filters in the URL too
    await matrix.selectOption('select[name=verdict]', 'fail')
    t.match(new URL(matrix.url()).hash, /verdict=fail/)
    await matrix.reload()
    t.equal(await matrix.inputValue('select[name=verdict]'), 'fail', 'the matrix verdict filter survives a reload')
    await matrix.selectOption('select[name=verdict]', '')
    t.equal(new URL(matrix.url()).hash, '', 'an unfiltered view has no state in the URL')
    await atlas.goto(atlasUrl)
    await mkdirAndShoot(atlas, 'atlas.png')

    // dark mode: the page's own colours switch, the verdict colours stay
    const dark = await browser.newContext({ colorScheme: 'dark', viewport: { width: 1400, height: 900 } })
    const darkAtlas = await dark.newPage()
    await darkAtlas.goto(atlasUrl)
    const colours = (p: Page, sel: string) =>
      p
        .locator(sel)
        .first()
        .evaluate(el => {
          const cs = (
            globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string; color: string } }
          ).getComputedStyle(el)
          return { bg: cs.backgroundColor, fg: cs.color }
        })
    t.same(await colours(darkAtlas, 'body'), { bg: 'rgb(22, 24, 27)', fg: 'rgb(232, 232, 232)' }, 'dark page under colorScheme dark')
    t.same(await colours(atlas, 'body'), { bg: 'rgb(255, 255, 255)', fg: 'rgb(26, 26, 26)' }, 'light page otherwise')
    t.same(await colours(darkAtlas, '.badge.v-pass'), await colours(atlas, '.badge.v-pass'), 'verdict badges keep their colours')
    await darkAtlas.screenshot({ path: join(dir, 'atlas-dark.png') })
    copyFileSync(join(dir, 'atlas-dark.png'), join(shots, 'atlas-dark.png'))
    await dark.close()

    // readable without JavaScript: the filter form stays hidden, the cells are there
    const noJs = await browser.newContext({ javaScriptEnabled: false })
    const plain = await noJs.newPage()
    await plain.goto(pathToFileURL(join(site, 'matrix.html')).href)
    t.equal(await plain.isHidden('#filters'), true, 'filter form hidden without JS')
    t.equal(await plain.$$eval('td[data-verdict]', tds => tds.length), verdicts.size, 'all cells present without JS')
    await noJs.close()

    t.same(problems, [], 'no console errors, page errors or network requests')
    t.same(dialogs, [], 'no dialog fired')
    for (const f of files) t.ok(statSync(join(site, f)).size < 3e6, `${f} under 3 MB`)
  },
)

async function mkdirAndShoot(page: Page, name: string, locator?: ReturnType<Page['locator']>): Promise<void> {
  const file = join(dir, name)
  if (locator) await locator.screenshot({ path: file })
  else await page.screenshot({ path: file, fullPage: true })
  mkdirSync(shots, { recursive: true })
  copyFileSync(file, join(shots, name))
}

// Output hygiene: no two scenarios share a page, and text from a store never
// carries NUL or bidi overrides into a page, control characters to a
// terminal, a forged TAP line or a character XML forbids.
t.test('untrusted text in pages, terminals, TAP and JUnit', async t => {
  const { scenarioSlug } = await import('../harness/site/site-paths.js')
  const { escapeHtml, html } = await import('../harness/site/escape.js')
  const { terminalText, terminalLines } = await import('../harness/reporters/terminal-text.js')
  const { tapDescription } = await import('../harness/reporters/tap.js')
  const { escapeXml } = await import('../harness/reporters/junit.js')

  t.test('scenario slugs are injective', async t => {
    t.equal(scenarioSlug('tcp-connect/einprogress'), 'tcp-connect--einprogress', 'ordinary ids stay readable')
    const ids = ['a/b', 'a--b', 'a-/b', 'a/-b', 'a_2f_b', 'A/b', 'a/B', 'a.b', 'a b', 'a\u202eb', 'a\u0000b', 'a/b/c', 'a--b/c', 'a/b--c']
    for (let i = 0; i < 40; i++) ids.push(`p/${'x'.repeat(i * 5)}`, `p/${'x'.repeat(i * 5)}é`)
    const slugs = ids.map(scenarioSlug)
    t.equal(new Set(slugs).size, ids.length, 'one slug per id')
    // also on a case-insensitive file system, and within file name limits
    t.equal(new Set(slugs.map(s => s.toLowerCase())).size, ids.length, 'one slug per id, case folded')
    for (const s of slugs) t.match(s, /^[a-z0-9_~-]{1,200}$/, `file-name-safe: ${s}`)
  })

  t.test('pages carry no NUL and no bidi override', async t => {
    t.equal(escapeHtml('a\u0000b\u202ec\u2066d\u2069e<'), 'abcde&lt;')
    t.equal(html`<p title="${'x\u202ey'}">${'\u0000z\u202d'}</p>`.value, '<p title="xy">z</p>')
    t.equal(escapeHtml('tab\tnewline\né ✓ 🙂'), 'tab\tnewline\né ✓ 🙂', 'ordinary text unchanged')
  })

  t.test('terminal text shows control characters as escapes', async t => {
    t.equal(terminalText('\x1b]0;title\x07\x1b[2J\r\nx\u202ey\x7f\x9b'), '\\x1b]0;title\\x07\\x1b[2J\\x0d\\x0ax\\u202ey\\x7f\\x9b')
    t.equal(terminalText('connect C 127.0.0.1:4242 = -1 EINPROGRESS é ✓ ─▶ 🙂'), 'connect C 127.0.0.1:4242 = -1 EINPROGRESS é ✓ ─▶ 🙂')
    t.equal(terminalLines('line 1\n\tline 2\x1b[K'), 'line 1\n\tline 2\\x1b[K')
  })

  t.test('a name cannot forge a TAP line or break XML', async t => {
    const forged = tapDescription('x\nok 2 - forged # SKIP \\')
    t.notMatch(forged, /\n/)
    t.equal(forged, 'x\\\\x0aok 2 - forged \\# SKIP \\\\')
    t.equal(escapeXml('a\u0000b\u0008c<&"🙂\ud800'), 'abc&lt;&amp;&quot;🙂')
  })

  t.test('two ids differing only in what a slug drops get two pages; hostile titles are stripped', async t => {
    const pack = join(dir, 'packs', 'slugs')
    mkdirSync(pack, { recursive: true })
    const steps = [{ actor: 'server', do: 'socket', sock: 'L', expect: { ret: '>=0' } }]
    const titles = ['First \u202eevil\u202c title\u0000 one', 'Second \u2066isolated\u2069 title\u0000 two']
    writeFileSync(join(pack, 'one.json'), JSON.stringify({ id: 'slugs/a-/b', title: titles[0], steps }))
    writeFileSync(join(pack, 'two.json'), JSON.stringify({ id: 'slugs/a/-b', title: titles[1], steps }))
    const db = join(dir, 'slugs.db')
    const run = sockspec(['run', pack, '--db', db, '--variant', 'ipv4', '--reporter', 'json'])
    t.equal(run.code, 0, run.stderr)
    const site = join(dir, 'slug-site')
    const report = sockspec(['report', '--db', db, '--out', site])
    t.equal(report.code, 0, report.stderr)
    const pages = readdirSync(join(site, 'scenarios'))
    t.equal(pages.length, 2, `two scenario pages: ${pages.join(', ')}`)
    const texts = pages.map(p => readFileSync(join(site, 'scenarios', p), 'utf8'))
    t.ok(
      texts.some(x => x.includes('First evil title one')) && texts.some(x => x.includes('Second isolated title two')),
      'each title on its page',
    )
    for (const f of readdirSync(site, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.html'))) {
      const text = readFileSync(join(site, f), 'utf8')
      t.notOk(/[\u0000\u202a-\u202e\u2066-\u2069]/.test(text), `${f}: no NUL, no bidi override`)
    }
  })
})

t.test('trace pages for the newest runs and the runs other pages show, and no link to a page that was not written', async t => {
  const db = join(dir, 'trace-cap.db')
  const scenario = parseScenario(
    JSON.stringify({
      title: 'cap',
      sources: [{ man: 'connect(2)' }],
      steps: [{ actor: 'client', do: 'socket', sock: 'C', expect: { ret: '>=0' } }],
    }),
    join(dir, 'cap', 'cap.json'),
  )
  const store = TraceStore.open(db)
  const failing = new Map<number, number>()
  for (let i = 0; i < 4; i++) {
    const { id } = store.beginRun({
      host: 'h',
      hostKind: 'loopback',
      kernelRelease: `6.${i}.0`,
      kernelVersion: '#1',
      arch: 'x86_64',
      distro: undefined,
      kitVersion: '0',
      kitCommit: undefined,
      sysctls: {},
      argv: [],
      startedAt: `2026-01-0${i + 1}T00:00:00Z`,
    })
    const resultId = store.recordResult(id, {
      scenario,
      variant: 'default',
      attempt: 1,
      verdict: 'fail',
      claim: undefined,
      message: 'ret differs',
      durationMs: 1,
      events: [{ actor: 'client', event: { seq: 1, step: 's1', op: 'socket', t0: 1, t1: 2, ret: -1, errno: i ? 'EMFILE' : 'ENFILE' } }],
      invalid: [],
      checks: [{ step: 's1', actor: 'client', field: 'ret', expected: '>=0', observed: '-1', ok: false, claim: false }],
      stderr: {},
      kernels: {},
    })
    failing.set(id, resultId)
    store.finishRun(id, 'complete')
  }
  store.close()
  const site = join(dir, 'trace-cap')
  // the newest run by itself, one diff page (newest against the one before), one timeline per scenario variant
  writeReport(db, site, { traceRuns: 1, diffPages: 1, latestPerScenario: 1, claimKernels: 1 })
  const traced = readdirSync(join(site, 'traces')).sort()
  const page = (runId: number) => `${failing.get(runId)}.html`
  t.same(traced, [page(3), page(4)].sort(), 'the newest run, and the older side of its diff page; not runs 1 and 2')
  let links = 0
  for (const dirName of ['.', 'scenarios', 'traces', 'diff']) {
    for (const f of readdirSync(join(site, dirName)).filter(f => f.endsWith('.html'))) {
      const html = readFileSync(join(site, dirName, f), 'utf8')
      for (const m of html.matchAll(/href="([^"#]*traces\/[^"#]+)"/g)) {
        links++
        t.ok(existsSync(join(site, dirName, m[1]!)), `${dirName}/${f} links ${m[1]}: the page exists`)
      }
    }
  }
  t.ok(links >= 2, `${links} links to trace pages checked`)
})

// The answer summary the atlas shows, straight from the real traces of the
// two overflow runs (the first test's store), and from hand-made checks for
// the timer units; the packet expectations of a packaged scenario as the
// steps table reads them; the palette's contrast in both colour schemes.
t.test('answer summaries, packet expectations, contrast', async t => {
  const { answerSummary, changedFacets } = await import('../harness/site/answer-summary.js')
  const { expectationLines } = await import('../harness/site/render-scenario.js')
  const palette = await import('../harness/site/palette.js')
  const db = join(dir, 'traces.db')

  t.test(
    'from real traces: the overflow answers of the two runs',
    { skip: existsSync(db) ? false : 'the browser test made no store' },
    async t => {
      const store = TraceStore.open(db, { readonly: true, mustExist: true })
      t.teardown(() => store.close())
      const rows = store.db
        .prepare(
          `SELECT r.id, r.run_id, s.body FROM results r JOIN scenarios s ON s.id = r.scenario_id
         WHERE s.scenario = 'overflow/expects-rst' ORDER BY r.run_id`,
        )
        .all() as Array<{ id: number; run_id: number; body: string }>
      t.equal(rows.length, 2)
      const [a, b] = rows.map(r => {
        const doc = JSON.parse(r.body) as { steps: Parameters<typeof answerSummary>[0] }
        const trace = store.trace(r.id)
        return answerSummary(doc.steps, trace.events, trace.checks)
      })
      const last = `s${(JSON.parse(rows[0]!.body) as { steps: unknown[] }).steps.length}`
      const soError = (x: typeof a) => x!.facets.find(f => f.key === last)
      t.match(soError(a)?.text, /getsockopt SO_ERROR: 0 value=ECONNRESET$/, 'the namespace run read ECONNRESET')
      t.notMatch(soError(b)?.compared, 'ECONNRESET', 'the host run did not')
      t.ok(changedFacets(a!, b!).includes(last), 'the SO_ERROR answer is a change')
      t.same(changedFacets(a!, a!), [], 'a summary equals itself')
      const connects = a!.facets.filter(f => f.kind === 'answer' && /connect: -1 EINPROGRESS$/.test(f.text))
      t.equal(connects.length, 3, 'each non-blocking connect: -1 EINPROGRESS')
      t.ok(
        a!.facets.some(f => f.kind === 'answer' && /epoll_wait: 1 L:IN$/.test(f.text)),
        'the listener wait with its mask',
      )
      const packets = a!.facets.find(f => f.kind === 'packets')
      if (process.getuid?.() === 0) t.match(packets?.text, /^→ 3 SYN/, 'three SYNs towards the listener, counted from the capture')
    },
  )

  t.test('timer-bound steps in timer units; unknown is no difference', async t => {
    const steps = [
      { id: 'connect', actor: 'client', do: 'connect', expect: { ret: -1 } },
      {
        actor: 'client',
        do: 'epoll_wait',
        expect: {
          time: { since: 'connect', timers_ms: [1000, 1000, 1000] },
          kernels: [{ range: '<6.5', time: { timers_ms: [1000, 2000] } }],
        },
      },
    ]
    const ev = (idx: number, step: string, op: string, details: Record<string, unknown>) => ({
      idx,
      actor: 'client',
      seq: idx,
      step,
      t_ns: idx * 1000,
      dur_ns: 10,
      op,
      sockets: null,
      ret: (details['ret'] as number) ?? null,
      errno: (details['errno'] as string) ?? null,
      mask: null,
      details: JSON.stringify({ op, step, ...details }),
    })
    const events = [
      ev(0, 'connect', 'connect', { ret: -1, errno: 'EINPROGRESS' }),
      ev(1, 's2', 'epoll_wait', { ret: 1, ready: [{ h: 'C', events: ['EPOLLOUT', 'EPOLLERR'] }] }),
    ]
    const check = (observed: string) => [
      { idx: 0, step: 's2', actor: 'client', field: 'time', expected: '2940..3517 ms', observed, verdict: 'pass', claim: 0 },
    ]
    const at3 = answerSummary(steps, events, check('3020.6 ms'))
    const late = answerSummary(steps, events, check('3249.9 ms'))
    const at7 = answerSummary(steps, events, check('7117 ms'))
    const time = (x: typeof at3) => x.facets.find(f => f.key === 's2 time')
    t.equal(time(at3)?.text, 's2 time: ≈3 × 1 s')
    t.equal(time(at3)?.detail, '3020.6 ms')
    t.same(changedFacets(at3, late), [], 'a late timer is the same answer')
    t.same(changedFacets(at3, at7), ['s2 time'], '7 units instead of 3 is a change')
    t.equal(at3.facets.find(f => f.key === 's2')?.text, 's2 epoll_wait: 1 C:ERR|OUT', 'masks sorted and short')
    const unmeasured = answerSummary(steps, events, [])
    t.equal(time(unmeasured)?.compared, null)
    t.same(changedFacets(at3, unmeasured), [], 'not measured is not a difference')
    const noAnswer = answerSummary(steps, events.slice(0, 1), [])
    t.same(changedFacets(at3, noAnswer), ['s2'], 'a wait that never answered is a difference')
  })

  t.test('packet expectations in the steps table', async t => {
    const scenario = parseScenario(
      readFileSync(join(scenarioDir, 'seed-claims', 'claim-5-final-ack.yaml'), 'utf8'),
      join(scenarioDir, 'seed-claims', 'claim-5-final-ack.yaml'),
    )
    const lines = scenario.steps.flatMap(s => [
      ...(s.expect ? expectationLines(s.expect) : []),
      ...(s.claim ? expectationLines(s.claim) : []),
    ])
    t.ok(lines.includes('after a segment SYN|ACK from L'), 'after_packet')
    t.ok(lines.includes('packets: 2 × SYN|ACK from L since connect'), 'packet count')
    t.ok(lines.includes('after the 2nd segment ACK to L 0 bytes'), 'nth and len')
  })

  t.test('contrast holds in both colour schemes (WCAG 2)', async t => {
    const lum = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map(i => {
        const c = parseInt(hex.slice(i, i + 2), 16) / 255
        return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
      })
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
    }
    const ratio = (a: string, b: string) => {
      const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x)
      return (hi! + 0.05) / (lo! + 0.05)
    }
    for (const [name, ui] of [
      ['light', palette.LIGHT_UI],
      ['dark', palette.DARK_UI],
    ] as const) {
      for (const [fg, bg] of [
        ['ink', 'bg'],
        ['ink', 'bgAlt'],
        ['muted', 'bg'],
        ['muted', 'bgAlt'],
        ['link', 'bg'],
        ['errText', 'lane'],
        ['maskText', 'lane'],
        ['markPass', 'lane'],
        ['packet', 'wire'],
      ] as const) {
        const r = ratio(ui[fg], ui[bg])
        t.ok(r >= 4.5, `${name}: ${fg} on ${bg} ${r.toFixed(2)}:1`)
      }
    }
    // badges and marked cells carry black text on their colour in both schemes
    const fills = [...Object.values(palette.VERDICT_COLOUR), ...Object.values(palette.CLAIM_COLOUR), ...Object.values(palette.LABEL_COLOUR)]
    for (const c of fills) t.ok(ratio('#000000', c) >= 4.5, `black on ${c}: ${ratio('#000000', c).toFixed(2)}:1`)
  })
})
