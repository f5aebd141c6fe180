// The HTML report end to end: real scenarios (one of them hostile: markup in
// its title, notes and sources) run into a real store, `sockspec report`
// writes the site, and headless Chromium opens it from file://: no console
// error, no dialog, the hostile text stays text, matrix cells match the
// store, the timelines show the client's EPOLLOUT and the listener's EPOLLIN.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { kitRoot, scenarioDir } from '../harness/paths.js'

const CHROMIUM = '/usr/bin/chromium'
const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-report-'))
const shots = '/tmp/sockspec-shots'

const HOSTILE_TITLE = `<script>alert(1)</script><img src=x onerror=alert(2)> "hostile" & 'quoted'`
const HOSTILE_NOTE = `<img src=x onerror="alert(3)"></td></tr></table><script>alert(4)</script>`

function sockspec(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
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

t.test('the report site in headless Chromium', { skip: haveChromium ? false : `${CHROMIUM} is missing (apt-get install chromium)` }, async t => {
  const { hostile, listener } = fixtures()
  const db = join(dir, 'traces.db')
  const einprogress = join(scenarioDir, 'tcp-connect', 'einprogress.yaml')
  // two runs, so scenario pages put results side by side
  for (let i = 0; i < 2; i++) {
    const run = sockspec(['run', einprogress, hostile, listener, '--db', db, '--reporter', 'json'])
    t.equal(run.code, 1, 'the hostile scenario fails on purpose')
  }
  const site = join(dir, 'site')
  const report = sockspec(['report', '--db', db, '--out', site])
  t.equal(report.code, 0, report.stderr)
  t.match(report.stdout, /report: \d+ pages/)

  const store = new Database(db, { readonly: true })
  const verdicts = new Map((store.prepare('SELECT id, verdict FROM results').all() as Array<{ id: number; verdict: string }>).map(r => [r.id, r.verdict]))
  const byVerdict = store.prepare('SELECT verdict, count(*) AS n FROM results GROUP BY verdict').all() as Array<{ verdict: string; n: number }>
  store.close()

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
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

  const files = ['index.html', 'matrix.html', 'kernels.html', 'claims.html', ...readdirSync(join(site, 'scenarios')).map(f => `scenarios/${f}`)]
  const pages = new Map<string, Page>()
  for (const f of files) pages.set(f, await open(f))

  // matrix cells match the store, one cell per result
  const matrix = pages.get('matrix.html')!
  const cells = await matrix.$$eval('table[data-matrix=runs] td[data-verdict]', tds => tds.map(td => ({ id: Number(td.getAttribute('data-result')), verdict: td.getAttribute('data-verdict'), symbol: td.textContent })))
  t.equal(cells.length, verdicts.size, 'one cell per stored result')
  t.same(
    cells.filter(c => verdicts.get(c.id) !== c.verdict),
    [],
    'every cell shows its result’s stored verdict',
  )
  for (const { verdict, n } of byVerdict) t.equal(cells.filter(c => c.verdict === verdict).length, n, `${verdict}: ${n} cells`)
  const symbols: Record<string, string> = { pass: '✓', fail: '✗', error: '!', skip: '–' }
  t.ok(cells.every(c => symbols[c.verdict ?? ''] === c.symbol), 'each cell carries its symbol')

  // the in-place filter: only rows with a failing cell stay visible
  await matrix.selectOption('select[name=verdict]', 'fail')
  const visible = await matrix.$$eval('table[data-matrix=runs] tr[data-row]', trs => trs.filter(tr => !tr.hasAttribute('hidden')).map(tr => tr.querySelectorAll('td[data-verdict=fail]').length))
  t.ok(visible.length > 0 && visible.every(n => n > 0), 'verdict filter keeps exactly the rows with a failure')
  await matrix.selectOption('select[name=verdict]', '')
  await mkdirAndShoot(matrix, 'matrix.png')

  // the hostile scenario stays text everywhere
  const hostilePage = pages.get('scenarios/hostile--markup.html')!
  t.equal(await hostilePage.textContent('h1'), HOSTILE_TITLE, 'hostile title shown as text')
  t.match(await hostilePage.textContent('table.steps'), HOSTILE_NOTE, 'hostile step note shown as text')
  t.equal(await hostilePage.$$eval('main img, main script, main [onerror], main [onload]', els => els.length), 0, 'no element was injected')
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
  const clientWaits = await connect.$$eval('svg.timeline g.lane[data-actor=client] g.ev[data-op=epoll_wait]', gs => gs.map(g => g.textContent ?? ''))
  t.ok(clientWaits.length >= 2 && clientWaits.every(s => s.includes('C:EPOLLOUT')), `client epoll_wait shows C:EPOLLOUT: ${clientWaits.join(' | ')}`)
  t.equal(await connect.$$eval('svg.timeline g.lane[data-actor=wire]', gs => gs.length), await connect.$$eval('svg.timeline', s => s.length), 'every timeline has a wire lane')
  const svg = connect.locator('svg.timeline').first()
  await svg.scrollIntoViewIfNeeded()
  await mkdirAndShoot(connect, 'timeline.png', svg)

  // ...and the listener's EPOLLIN, on the scenario page and the seed-claims page
  const listenerPage = pages.get('scenarios/seed-claims--listener-readable.html')!
  const serverWaits = await listenerPage.$$eval('svg.timeline g.lane[data-actor=server] g.ev[data-op=epoll_wait]', gs => gs.map(g => g.textContent ?? ''))
  t.ok(serverWaits.length >= 2 && serverWaits.every(s => s.includes('L:EPOLLIN')), `listener epoll_wait shows L:EPOLLIN: ${serverWaits.join(' | ')}`)
  const claims = pages.get('claims.html')!
  t.match(await claims.textContent('#claim-5 blockquote'), 'finishes <i>after</i> the final ACK', 'claim statement escaped')
  t.ok((await claims.$$eval('#claim-5 td[data-claim]', tds => tds.map(td => td.getAttribute('data-claim')))).includes('holds'), 'claim 5 holds on this kernel')
  t.ok((await claims.$$eval('#claim-5 svg.timeline g.lane[data-actor=server]', gs => gs.map(g => g.textContent ?? ''))).some(s => s.includes('L:EPOLLIN')), 'the claim timeline shows why')

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
})

async function mkdirAndShoot(page: Page, name: string, locator?: ReturnType<Page['locator']>): Promise<void> {
  const file = join(dir, name)
  if (locator) await locator.screenshot({ path: file })
  else await page.screenshot({ path: file, fullPage: true })
  mkdirSync(shots, { recursive: true })
  copyFileSync(file, join(shots, name))
}
