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
