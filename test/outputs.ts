// The machine outputs, each checked by its real consumer or its published schema: KTAP through tap-parser (strict)
// and the ktap.rst line grammar, JUnit through xmllint against Jenkins' junit-10.xsd, the results JSON and KCIDB v5
// through ajv, pcap through tcpdump, trace events by parsing. The run is real: a pack of a passing data exchange,
// a failing expectation and a skipped scenario on this kernel; an error result comes from an imported bundle.
import t from 'tap'
import type { Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { compileSchemaFile } from '../harness/deps/ajv.js'
import { kitRoot, schemaDir } from '../harness/paths.js'
import type { RunBundle } from '../harness/store/run-bundle.js'
import type { TraceEventDocument } from '../harness/reporters/trace-event.js'
import { bin, sockspecAsync } from './fixtures/cli.js'
import { answerSummary } from '../harness/compare/answer-summary.js'
import { TraceStore } from '../harness/store/store.js'

const require = createRequire(import.meta.url)
// tap-parser is tap's own parser (installed with tap)
const { Parser } = require('tap-parser') as {
  Parser: new (opts: { strict: boolean }) => NodeJS.EventEmitter & { end(text: string): void }
}

const fixtures = join(kitRoot, 'test', 'fixtures', 'formats')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-outputs-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const pack = join(dir, 'outpack')
mkdirSync(pack)
const db = join(dir, 'out.db')

const handshake = [
  '  - { actor: server, do: socket, sock: L }',
  '  - { actor: server, do: bind, sock: L }',
  '  - { actor: server, do: listen, sock: L, backlog: 4 }',
  '  - { actor: client, do: socket, sock: C }',
  '  - { actor: client, do: connect, sock: C, to: L, expect: { ret: 0 } }',
  '  - { actor: server, do: accept4, sock: L, new: S, expect: { ret: ">=0" } }',
]
writeFileSync(
  join(pack, 'data.yaml'),
  [
    'title: \'data <&> "quoted" # not a directive\'',
    'sources: [{ man: send(2) }]',
    'steps:',
    ...handshake,
    '  - { actor: client, do: send, sock: C, bytes: 5, expect: { ret: 5 } }',
    '  - { actor: server, do: recv, sock: S, bytes: 64, expect: { ret: 5 } }',
    '  - { actor: client, do: close, sock: C, expect: { ret: 0 } }',
    '',
  ].join('\n'),
)
writeFileSync(
  join(pack, 'wrong.yaml'),
  [
    'title: a send expected to return 4',
    'sources: [{ man: send(2) }]',
    'steps:',
    ...handshake,
    '  - { actor: client, do: send, sock: C, bytes: 5, expect: { ret: 4 } }',
    '',
  ].join('\n'),
)
writeFileSync(
  join(pack, 'future.yaml'),
  [
    'title: needs a kernel from the future',
    'sources: [{ man: socket(2) }]',
    'requires: { kernel: ">=99.0" }',
    'steps:',
    '  - { actor: client, do: socket, sock: C }',
    '',
  ].join('\n'),
)

interface ResultsDoc {
  format: string
  version: number
  run: Record<string, unknown> & { uuid: string; totals: Record<string, number> }
  results: Array<{ scenario: string; variant: string; verdict: string; message: string }>
}

const exec = (cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

// three real runs of the pack, one per live reporter (each run is a separate run in the store)
const live: Record<string, string> = {}
let jsonDoc: ResultsDoc
let errorRun: string

t.before(async () => {
  for (const [name, args] of [
    ['ktap', ['--reporter', 'ktap']],
    ['junit-gitlab', ['--reporter', 'junit', '--junit-flavour', 'gitlab']],
    ['json', ['--reporter', 'json']],
  ] as const) {
    const r = await sockspecAsync(['run', pack, '--db', db, ...args])
    if (r.code !== 1) throw new Error(`run --reporter ${name}: exit ${r.code}, expected 1 (one failure): ${r.stderr}`)
    live[name] = r.stdout
  }
  jsonDoc = JSON.parse(live['json']!) as ResultsDoc
  // an error result: the json run's bundle with one result turned into an error, imported as another run
  const exported = await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db])
  const bundle = JSON.parse(exported.stdout) as RunBundle
  errorRun = randomUUID()
  bundle.run.uuid = errorRun
  const victim = bundle.results.find(r => r.scenario === 'outpack/data' && r.variant === 'ipv6')!
  victim.verdict = 'error'
  victim.message = 'probe of client died <&> # with\u0000 NUL and\nnewline'
  victim.stderr = { client: 'segfault at 0 ip 0000 <&>\n' }
  const file = join(dir, 'error.json')
  writeFileSync(file, JSON.stringify(bundle))
  const imported = await sockspecAsync(['import', file, '--db', db])
  if (imported.code !== 0) throw new Error(`import: ${imported.stderr}`)
})

/** KTAP's version line is the one line TAP 14 does not have (ktap.rst allows `TAP version 14` in its place). */
function parseKtapAsTap(
  text: string,
): Promise<{ ok: boolean; count: number; failures: Array<Record<string, unknown>>; children: Array<Record<string, number>> }> {
  return new Promise(resolve => {
    const p = new Parser({ strict: true })
    const children: Array<Record<string, number>> = []
    p.on('child', (c: NodeJS.EventEmitter) => c.on('complete', (r: Record<string, number>) => children.push(r)))
    p.on('complete', (r: { ok: boolean; count: number; failures: Array<Record<string, unknown>> }) => resolve({ ...r, children }))
    p.end(text.replace(/^( *)KTAP version 1$/gm, '$1TAP version 14'))
  })
}

/** Each line is one of ktap.rst's four kinds, indented by whole subtest levels. */
function ktapGrammar(t: Test, text: string): void {
  const lines = text.trimEnd().split('\n')
  t.equal(lines[0], 'KTAP version 1', 'the first line is the version line')
  for (const line of lines) {
    const indent = /^ */.exec(line)![0].length
    const body = line.slice(indent)
    t.equal(indent % 4, 0, `indent of ${JSON.stringify(line)}`)
    const kind = /^KTAP version 1$/.test(body)
      ? 'version'
      : /^1\.\.\d+$/.test(body)
        ? 'plan'
        : /^(ok|not ok) [1-9]\d*( [^#\n]+)?( # (SKIP)( .*)?)?$/.test(body)
          ? 'result'
          : /^#( .*)?$/.test(body)
            ? 'diagnostic'
            : undefined
    if (!kind) t.fail(`not a KTAP line: ${JSON.stringify(line)}`)
  }
  // every subtest block (indented) opens with its version line and a plan before its results
  const blocks = text.split(/^(?=    KTAP version 1$)/m).slice(1)
  t.ok(blocks.length > 0)
  for (const b of blocks) t.match(b, /^ {4}KTAP version 1\n {4}# Subtest: \S+\n {4}1\.\.\d+\n/)
}

t.test('KTAP: kselftest layout, strict TAP underneath, counts and the closing Totals line', async t => {
  const stored = await sockspecAsync(['export', errorRun, '--db', db, '--format', 'ktap'])
  t.equal(stored.code, 0, stored.stderr)
  for (const [label, text, want] of [
    ['run --reporter ktap', live['ktap']!, { pass: 2, fail: 2, skip: 2, error: 0 }],
    ['export --format ktap (with an error result)', stored.stdout, { pass: 1, fail: 2, skip: 2, error: 1 }],
  ] as const) {
    await t.test(label, async t => {
      ktapGrammar(t, text)
      const r = await parseKtapAsTap(text)
      t.same(
        r.failures.filter(f => Boolean(f['tapError'])),
        [],
        'no parse errors in strict mode',
      )
      t.equal(r.count, 1, 'one pack, one top-level test')
      t.equal(r.children.length, 1)
      const child = r.children[0]!
      t.equal(child['count'], 6, 'six results in the pack: 3 scenarios x 2 variants')
      t.equal(child['pass'], want.pass + want.skip, 'TAP counts a skip as a pass')
      t.equal(child['fail'], want.fail + want.error)
      t.equal(child['skip'], want.skip)
      t.match(text, /^ {4}ok \d+ future ipv4 # SKIP .*kernel.*99/m, 'the skip carries its reason')
      t.match(text, /^not ok 1 outpack$/m, 'the pack fails')
      const last = text.trimEnd().split('\n').at(-1)
      t.equal(last, `# Totals: pass:${want.pass} fail:${want.fail} xfail:0 xpass:0 skip:${want.skip} error:${want.error}`)
      if (want.error) {
        t.match(text, /^ {4}# error: probe of client died <&> # with/m, 'the error message as a diagnostic')
        t.notMatch(text, /\u0000/, 'no NUL')
        t.match(text, /\\x00 NUL and\\x0anewline/, 'controls escaped, the message stays one line')
      }
    })
  }
})

t.test('JUnit: valid against junit-10.xsd (xmllint), run facts on the suite, the gitlab flavour not (by design)', async t => {
  const xsd = join(fixtures, 'junit-10.xsd')
  const jenkins = await sockspecAsync(['export', errorRun, '--db', db, '--format', 'junit'])
  t.equal(jenkins.code, 0, jenkins.stderr)
  const file = join(dir, 'jenkins.xml')
  writeFileSync(file, jenkins.stdout)
  const lint = exec('xmllint', ['--noout', '--schema', xsd, file])
  t.equal(lint.status, 0, lint.stderr)
  t.match(lint.stderr, /validates/)
  const xml = jenkins.stdout
  const uname = exec('uname', ['-r']).stdout.trim()
  t.match(
    xml,
    /<testsuite name="outpack" tests="6" failures="2" errors="1" skipped="2" time="[\d.]+" timestamp="\d{4}-\d\d-\d\dT[^"]+" hostname="[^"]+"/,
  )
  t.match(xml, new RegExp(`<property name="kernel_release" value="${uname.replace(/[.+]/g, '\\$&')}"/>`))
  t.match(xml, `<property name="run_uuid" value="${errorRun}"/>`)
  t.notMatch(xml, /<testcase[^>]*>\s*<properties>/, 'no properties inside a testcase')
  t.match(
    xml,
    /<testcase classname="outpack" name="wrong ipv4" time="[\d.]+">\s*<failure type="fail" message="[^"]+">[^<]*ret: expected 4, got 5/,
  )
  t.match(xml, /<skipped message="[^"]*99[^"]*"\/>/)
  t.match(
    xml,
    /<error type="error" message="probe of client died &lt;&amp;&gt; # with NUL and\nnewline">client: segfault at 0 ip 0000 &lt;&amp;&gt;/,
  )
  // the timeline in system-out: the syscalls and the captured segments between them
  t.match(
    xml,
    /<testcase classname="outpack" name="data ipv4"[^]*?<system-out>data &lt;&amp;&gt; &quot;quoted&quot; # not a directive\n\n[^<]*connect C[^<]*SYN[^<]*<\/system-out>/,
  )

  const gitlab = live['junit-gitlab']!
  t.match(
    gitlab,
    /<testcase classname="outpack" name="data ipv4" time="[\d.]+" file="[^"]*outpack\/data\.yaml">/,
    'file on testcase for GitLab',
  )
  const gfile = join(dir, 'gitlab.xml')
  writeFileSync(gfile, gitlab)
  const glint = exec('xmllint', ['--noout', '--schema', xsd, gfile])
  t.not(glint.status, 0, 'junit-10.xsd does not allow file on testcase')
  t.match(glint.stderr, /attribute 'file' is not allowed/)
  t.notMatch(
    glint.stderr
      .split('\n')
      .filter(l => /error/.test(l) && !/attribute 'file'/.test(l))
      .join('\n'),
    /\S/,
    'file is its only departure',
  )
})

t.test('results JSON: the published schema (ajv), the bundle names, and a schema that can refuse', async t => {
  const validate = compileSchemaFile(join(schemaDir, 'results.schema.json'))
  const stored = await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db, '--format', 'json'])
  t.equal(stored.code, 0, stored.stderr)
  const fromStore = JSON.parse(stored.stdout) as ResultsDoc
  for (const doc of [jsonDoc, fromStore]) t.ok(validate(doc), JSON.stringify(validate.errors))
  t.equal(jsonDoc.format, 'sockspec-results')
  t.equal(jsonDoc.version, 1)
  t.same(jsonDoc.run.totals, { pass: 2, fail: 2, error: 0, skip: 2, holds: 0, refuted: 0 })
  t.same(fromStore.results, jsonDoc.results, 'the stored run gives the same results as the live reporter')
  // every run field carries the bundle's name and value
  const bundle = JSON.parse((await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db])).stdout) as RunBundle
  for (const [k, v] of Object.entries(jsonDoc.run)) {
    if (k === 'interrupted' || k === 'totals' || k === 'finished_at') continue
    t.same(v, (bundle.run as unknown as Record<string, unknown>)[k], `run.${k} as in the bundle`)
  }
  const camel = structuredClone(jsonDoc) as unknown as { results: Array<Record<string, unknown>> }
  camel.results[0]!['durationMs'] = camel.results[0]!['duration_ms']
  delete camel.results[0]!['duration_ms']
  t.notOk(validate(camel), 'a camelCase field is refused')
})

t.test('KCIDB v5: valid against the schema transcribed from kcidb-io, ids, paths, statuses, environment', async t => {
  const schema = JSON.parse(readFileSync(join(fixtures, 'kcidb-v05_03.schema.json'), 'utf8')) as Record<string, unknown>
  const ajv = new Ajv2020({ allErrors: true, strict: true })
  // the formats kcidb-io's schema names (jsonschema checks them with its format checker)
  ajv.addFormat('date-time', s => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(s) && !Number.isNaN(Date.parse(s)))
  ajv.addFormat('uri', s => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s))
  ajv.addFormat('email', s => /^[^@\s]+@[^@\s]+$/.test(s))
  const validate = ajv.compile(schema)
  const r = await sockspecAsync(['export', errorRun, '--db', db, '--format', 'kcidb'])
  t.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as {
    version: { major: number; minor: number }
    checkouts: Array<{ id: string }>
    builds: Array<{ id: string; checkout_id: string; architecture: string }>
    tests: Array<{
      id: string
      build_id: string
      path: string
      status: string
      duration: number
      start_time: string
      environment: { misc: Record<string, string> }
    }>
  }
  t.ok(validate(doc), JSON.stringify(validate.errors, null, 1))
  t.same(doc.version, { major: 5, minor: 3 })
  t.equal(doc.tests.length, 6)
  t.ok(
    doc.tests.every(x => x.id.startsWith('sockspec:') && doc.builds.some(b => b.id === x.build_id)),
    'origin-prefixed ids, each test on a build',
  )
  t.ok(
    doc.builds.every(b => doc.checkouts.some(c => c.id === b.checkout_id)),
    'each build on a checkout',
  )
  t.same(doc.tests.map(x => `${x.path} ${x.status}`).sort(), [
    'outpack.data.ipv4 PASS',
    'outpack.data.ipv6 ERROR',
    'outpack.future.ipv4 SKIP',
    'outpack.future.ipv6 SKIP',
    'outpack.wrong.ipv4 FAIL',
    'outpack.wrong.ipv6 FAIL',
  ])
  const uname = exec('uname', ['-r']).stdout.trim()
  t.ok(doc.tests.every(x => x.environment.misc['kernel_release'] === uname && x.environment.misc['host']))
  t.ok(doc.tests.every(x => x.duration >= 0))
  // the schema can refuse: a path with a slash, a null, an id without its origin
  const bad = structuredClone(doc)
  bad.tests[0]!.path = 'outpack/data'
  t.notOk(validate(bad))
  const bad2 = structuredClone(doc) as unknown as { tests: Array<Record<string, unknown>> }
  bad2.tests[0]!['comment'] = null
  t.notOk(validate(bad2))
  const bad3 = structuredClone(doc)
  bad3.tests[0]!.id = 'no-origin'
  t.notOk(validate(bad3))
})

t.test('pcap: tcpdump reads every captured segment with its flags, sequence numbers, options and correct checksums', async t => {
  const bundle = JSON.parse((await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db])).stdout) as RunBundle
  const tcpdumpFlags: Record<string, string> = { FIN: 'F', SYN: 'S', RST: 'R', PSH: 'P', URG: 'U', ECE: 'E', CWR: 'W' }
  for (const variant of ['ipv4', 'ipv6']) {
    const result = bundle.results.find(r => r.scenario === 'outpack/data' && r.variant === variant)!
    const segments = result.events.filter(e => e.op === 'packet').map(e => e.details as Record<string, unknown>)
    t.ok(segments.length >= 4, `${variant}: handshake and data captured (${segments.length})`)
    const file = join(dir, `data-${variant}.pcap`)
    const r = await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db, '--pcap', 'outpack/data', '--variant', variant, '--out', file])
    t.equal(r.code, 0, r.stderr)
    const dump = exec('tcpdump', ['-nn', '-S', '-vv', '-r', file])
    t.equal(dump.status, 0, dump.stderr)
    t.match(dump.stderr, /link-type RAW/)
    const lines = dump.stdout.split('\n').filter(l => / Flags \[/.test(l))
    t.equal(lines.length, segments.length, 'one line per segment')
    segments.forEach((s, i) => {
      const flags = s['tcp_flags'] as string[]
      const want =
        flags
          .filter(f => f !== 'ACK')
          .map(f => tcpdumpFlags[f] ?? '')
          .join('') + (flags.includes('ACK') ? '.' : '')
      const line = lines[i] ?? ''
      const len = Number(s['len'])
      t.match(
        line,
        `${String(s['src'])}.${String(s['sport'])} > ${String(s['dst'])}.${String(s['dport'])}: Flags [${want}]`,
        `segment ${i} flags`,
      )
      const seq = Number(s['tcp_seq'])
      t.match(
        line,
        len > 0 || flags.includes('SYN') || flags.includes('FIN') ? `seq ${seq}` : `ack ${Number(s['tcp_ack'])}`,
        `segment ${i} seq/ack`,
      )
      t.match(line, `length ${len}`)
      // the options are rebuilt from their decoded form: tcpdump reads back the same values
      const opts = s['opts'] as Record<string, number | boolean> | undefined
      if (!opts) t.notMatch(line, /options \[/, `segment ${i}: no options`)
      if (opts?.['mss'] !== undefined) t.match(line, `options [mss ${opts['mss']}`, `segment ${i} mss`)
      if (opts?.['sackOK']) t.match(line, 'sackOK', `segment ${i} sackOK`)
      if (opts?.['ts']) t.match(line, `TS val ${opts['tsval']} ecr ${opts['tsecr']}`, `segment ${i} timestamps`)
      if (opts?.['wscale'] !== undefined) t.match(line, `wscale ${opts['wscale']}`, `segment ${i} wscale`)
      if (flags.includes('SYN')) t.ok(opts?.['mss'], `segment ${i}: a SYN carries options`)
      t.notMatch(line, /incorrect/, `segment ${i} checksums`)
      t.match(line, /cksum 0x[0-9a-f]+ \(correct\)/)
    })
  }
})

t.test('trace events: parsed, in time order, every stored event once, a process per actor and a thread per handle', async t => {
  const bundle = JSON.parse((await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db])).stdout) as RunBundle
  const result = bundle.results.find(r => r.scenario === 'outpack/data' && r.variant === 'ipv4')!
  const r = await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db, '--trace-event', 'data', '--variant', 'ipv4'])
  t.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as TraceEventDocument
  const timed = doc.traceEvents.filter(e => e.ph !== 'M')
  t.same(
    timed.map(e => e.args['idx']).sort((a, b) => Number(a) - Number(b)),
    result.events.map(e => e.idx),
    'every event exactly once',
  )
  t.ok(
    timed.every((e, i) => i === 0 || e.ts! >= timed[i - 1]!.ts!),
    'ts never goes back',
  )
  t.ok(timed.every(e => (e.ph === 'X' ? e.dur! >= 0 : e.ph === 'i')))
  const names = new Map(doc.traceEvents.filter(e => e.name === 'process_name').map(e => [e.pid, String(e.args['name'])]))
  t.same([...names.values()].sort(), [...new Set(result.events.map(e => e.actor))].sort(), 'one process per actor')
  for (const e of timed) {
    const src = result.events.find(x => x.idx === e.args['idx'])!
    t.equal(names.get(e.pid), src.actor)
    t.equal(e.ts, Math.round(src.t_ns) / 1000, 'µs from the trace start')
  }
  const threads = doc.traceEvents.filter(e => e.name === 'thread_name').map(e => `${names.get(e.pid)}/${String(e.args['name'])}`)
  t.ok(threads.includes('client/C') && threads.includes('server/L') && threads.includes('server/S'), threads.join(' '))
})

t.test("ICMP: a packet peer's errors are in the pcap (tcpdump decodes them) and in the trace events, on the quoted flow", async t => {
  // real runs of two packaged tcp-peer scenarios: port unreachable in SYN_SENT, and frag-needed / packet-too-big with an MTU
  const idb = join(dir, 'icmp.db')
  const scen = ['icmp-port-unreachable-syn-sent', 'icmp-frag-needed-pmtu'].map(n => join(kitRoot, 'scenarios', 'tcp-peer', `${n}.yaml`))
  const run = await sockspecAsync(['run', ...scen, '--db', idb, '--reporter', 'json'])
  t.equal(run.code, 0, run.stderr)
  const uuid = (JSON.parse(run.stdout) as ResultsDoc).run.uuid
  const bundle = JSON.parse((await sockspecAsync(['export', uuid, '--db', idb])).stdout) as RunBundle
  const want: Record<string, RegExp> = {
    'port ipv4': /^ {4}198\.18\.0\.2 > 198\.18\.0\.1: ICMP 198\.18\.0\.2 tcp port (\d+) unreachable, length 36$/m,
    'port ipv6': /\[icmp6 sum ok\] ICMP6, destination unreachable, unreachable port, \S+ tcp port (\d+)$/m,
    'frag ipv4': /ICMP 198\.18\.0\.2 unreachable - need to frag \(mtu (\d+)\), length 36$/m,
    'frag ipv6': /\[icmp6 sum ok\] ICMP6, packet too big, mtu (\d+)$/m,
  }
  for (const [label, re] of Object.entries(want)) {
    const [kind, variant] = label.split(' ') as [string, string]
    const scenario = kind === 'port' ? 'icmp-port-unreachable' : 'icmp-frag-needed'
    const result = bundle.results.find(r => r.scenario.includes(scenario) && r.variant === variant)!
    const icmp = result.events.filter(e => e.op === 'icmp').map(e => e.details as Record<string, unknown>)
    t.equal(icmp.length, 1, `${label}: the peer's error is a wire event`)
    const file = join(dir, `icmp-${kind}-${variant}.pcap`)
    const r = await sockspecAsync(['export', uuid, '--db', idb, '--pcap', scenario, '--variant', variant, '--out', file])
    t.equal(r.code, 0, r.stderr)
    const dump = exec('tcpdump', ['-nn', '-vv', '-r', file])
    t.equal(dump.status, 0, dump.stderr)
    const m = re.exec(dump.stdout)
    t.ok(m, `${label}: tcpdump shows the ICMP message\n${dump.stdout}`)
    // the quoted port is the peer's listening port; the MTU is the one the peer sent
    t.equal(Number(m?.[1]), kind === 'port' ? Number(icmp[0]!['orig_dport']) : Number(icmp[0]!['mtu']), `${label}: port or MTU`)
    t.notMatch(dump.stdout, /wrong icmp cksum|bad cksum|incorrect/, `${label}: checksums`)
    t.equal(
      dump.stdout.split('\n').filter(l => / Flags \[/.test(l)).length,
      result.events.filter(e => e.op === 'packet').length,
      'and every segment',
    )

    const te = await sockspecAsync(['export', uuid, '--db', idb, '--trace-event', scenario, '--variant', variant])
    const doc = JSON.parse(te.stdout) as TraceEventDocument
    const entry = doc.traceEvents.find(e => e.cat === 'icmp')
    t.match(entry, {
      ph: 'i',
      name: `ICMP ${String(icmp[0]!['icmp'])}`,
      args: { type: icmp[0]!['icmp_type'], code: icmp[0]!['icmp_code'] },
    })
    const threads = new Map(doc.traceEvents.filter(e => e.name === 'thread_name').map(e => [e.tid, String(e.args['name'])]))
    const q = icmp[0]!
    t.equal(
      threads.get(entry?.tid ?? -1),
      `${String(q['orig_dst'])}:${String(q['orig_dport'])} > ${String(q['orig_src'])}:${String(q['orig_sport'])}`,
      `${label}: on the flow back to the quoted packet's sender`,
    )
  }
  // GitLab's file on an exported testcase: a store keeps no paths, the packaged scenario of the id is the file
  const gitlab = await sockspecAsync(['export', uuid, '--db', idb, '--format', 'junit', '--junit-flavour', 'gitlab'])
  t.equal(gitlab.code, 0, gitlab.stderr)
  t.match(
    gitlab.stdout,
    /<testcase classname="tcp-peer" name="icmp-frag-needed-pmtu ipv4" time="[\d.]+" file="[^"]*scenarios\/tcp-peer\/icmp-frag-needed-pmtu\.yaml">/,
  )
  const outpack = await sockspecAsync(['export', jsonDoc.run.uuid, '--db', db, '--format', 'junit', '--junit-flavour', 'gitlab'])
  t.notMatch(outpack.stdout, / file="/, 'a scenario that is not packaged has no file to name')
  // the atlas's packets facet counts the errors by type, so a kernel sending another one is a difference
  const store = TraceStore.open(idb, { readonly: true, mustExist: true })
  t.teardown(() => store.close())
  const rows = store.db
    .prepare(`SELECT r.id, s.body, s.scenario FROM results r JOIN scenarios s ON s.id = r.scenario_id ORDER BY s.scenario, r.variant`)
    .all() as Array<{ id: number; body: string; scenario: string }>
  const facets = rows.map(r => {
    const trace = store.trace(r.id)
    const summary = answerSummary((JSON.parse(r.body) as { steps: Parameters<typeof answerSummary>[0] }).steps, trace.events, trace.checks)
    return summary?.facets.find(f => f.kind === 'packets')
  })
  t.equal(facets.length, 4)
  for (const [i, f] of facets.entries()) {
    const name = rows[i]!.scenario.includes('frag') ? /packet-too-big|dest-unreach\/frag-needed/ : /dest-unreach\/port/
    t.match(f?.text, /^→ 1 SYN.* · ICMP 1 /, `${rows[i]!.scenario}: one SYN, one ICMP error`)
    t.match(f?.text, name)
    t.match(f?.compared, / ICMP 1 /)
  }
})

t.test('a closed stdout: each new output ends quietly with the code it would have had', async t => {
  const closed = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      // the reader goes away before the first byte: every write meets EPIPE
      child.stdout.destroy()
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
      child.on('error', reject)
      child.on('close', code => {
        clearTimeout(timer)
        resolve({ code, stderr })
      })
    })
  const cases: Array<[string[], number]> = [
    [['export', errorRun, '--db', db, '--format', 'ktap'], 0],
    [['export', errorRun, '--db', db, '--format', 'junit'], 0],
    [['export', errorRun, '--db', db, '--format', 'json'], 0],
    [['export', errorRun, '--db', db, '--format', 'kcidb'], 0],
    [['export', jsonDoc.run.uuid, '--db', db, '--pcap', 'data'], 0],
    [['export', jsonDoc.run.uuid, '--db', db, '--trace-event', 'data'], 0],
    [['run', pack, '--db', join(dir, 'epipe.db'), '--reporter', 'ktap'], 1],
  ]
  for (const [args, code] of cases) {
    const r = await closed(args)
    t.equal(r.code, code, `${args.slice(0, 5).join(' ')}: exit ${code}`)
    t.equal(r.stderr, '', 'quiet')
  }
})
