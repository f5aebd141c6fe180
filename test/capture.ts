// `sockspec-probe capture`: the packet timeline against the real kernel.
// A real TCP connection on loopback (node:net, IPv4 and IPv6) must appear
// as its segments, each exactly once (at its sender, PACKET_OUTGOING), with
// CLOCK_MONOTONIC timestamps inside the test's own hrtime window; start-up
// errors are one event and exit code 3.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { compileSchemaFile } from '../harness/deps/ajv.js'
import { probeBinary, schemaDir } from '../harness/paths.js'
import type { ProbeEvent } from '../harness/trace/event.js'
import { ProbeProcess } from '../harness/probe/process.js'
import { SharedCapture, startCaptures, stopCaptures } from '../harness/probe/capture.js'

const validate = compileSchemaFile(join(schemaDir, 'event.schema.json'))
const isRoot = process.getuid?.() === 0
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0

interface Capture {
  child: ChildProcessWithoutNullStreams
  events: ProbeEvent[]
  invalid: string[]
  stderr: () => string
  /** Resolves with the first event (hello, or the start-up error). */
  first: Promise<ProbeEvent>
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function startCapture(ifnames: string[], asNobody = false): Capture {
  const argv = [probeBinary, 'capture', ...ifnames]
  const child = asNobody
    ? spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv])
    : spawn(argv[0]!, argv.slice(1))
  const events: ProbeEvent[] = []
  const invalid: string[] = []
  let err = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (s: string) => {
    err += s
  })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  const first = new Promise<ProbeEvent>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.on('line', line => {
      let e: ProbeEvent
      try {
        e = JSON.parse(line) as ProbeEvent
      } catch {
        invalid.push(`not JSON: ${line}`)
        return
      }
      if (!validate(e)) invalid.push(`${line}: ${JSON.stringify(validate.errors)}`)
      events.push(e)
      if (events.length === 1) resolve(e)
    })
    void exit.then(x => reject(new Error(`capture exited before its first event: ${JSON.stringify(x)} ${err}`)))
  })
  first.catch(() => {})
  return { child, events, invalid, stderr: () => err, first, exit }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)
  })
  try {
    return await Promise.race([p, limit])
  } finally {
    clearTimeout(timer)
  }
}

/** One connection: connect, send payload, client half-closes, server echoes the close. */
async function converse(host: string, payload: string): Promise<number> {
  const server = net.createServer()
  const serverClosed = new Promise<void>(resolve => {
    server.on('connection', sock => {
      sock.on('data', () => {})
      sock.on('end', () => sock.end())
      sock.on('close', () => resolve())
    })
  })
  server.listen(0, host)
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  const client = net.connect({ host, port })
  await once(client, 'connect')
  client.end(payload)
  await Promise.all([once(client, 'close'), serverClosed])
  server.close()
  await once(server, 'close')
  return port
}

const flagsOf = (e: ProbeEvent): string => (e.tcp_flags ?? []).join('|')

for (const [family, host] of [
  ['inet', '127.0.0.1'],
  ['inet6', '::1'],
] as const) {
  t.test(
    `a loopback connection, ${family}: every segment once, at its sender`,
    { skip: !isRoot && 'needs CAP_NET_RAW (root)' },
    async t => {
      const cap = startCapture(['lo'])
      t.teardown(() => {
        cap.child.kill('SIGKILL')
      })
      const hello = await withTimeout(cap.first, 5000, 'hello')
      t.match(hello, { seq: 0, op: 'hello', protocol: 1, capture: ['lo'] }, 'hello names the interfaces')

      const payload = 'sockspec capture test payload'
      const before = process.hrtime.bigint()
      const port = await converse(host, payload)
      const after = process.hrtime.bigint()
      // EOF ends the IPv4 run, "quit" the IPv6 one: both end cleanly.
      if (family === 'inet') cap.child.stdin.end()
      else cap.child.stdin.write('quit\n')
      const exit = await withTimeout(cap.exit, 5000, 'capture exit')
      t.same(exit, { code: 0, signal: null }, 'EOF/quit ends the capture with exit 0')
      t.same(cap.invalid, [], 'every line is JSON and validates against event.schema.json')

      const segs = cap.events.filter(e => e.op === 'packet' && (e.sport === port || e.dport === port))
      const fromClient = (e: ProbeEvent): boolean => e.dport === port
      t.ok(
        segs.every(e => e.family === family && e.if === 'lo' && e.src === host && e.dst === host),
        'family, interface and addresses',
      )
      t.ok(
        segs.every(e => e.step === undefined && e.ret === undefined),
        'packet events carry no step and no ret',
      )

      const syn = segs.filter(e => flagsOf(e) === 'SYN')
      const synack = segs.filter(e => flagsOf(e) === 'SYN|ACK')
      t.equal(syn.length, 1, 'one SYN')
      t.equal(synack.length, 1, 'one SYN|ACK')
      t.ok(syn[0] && fromClient(syn[0]), 'SYN from the client')
      t.ok(synack[0] && !fromClient(synack[0]), 'SYN|ACK from the server')
      const isn = syn[0]?.tcp_seq ?? 0
      const sisn = synack[0]?.tcp_seq ?? 0
      t.equal(synack[0]?.tcp_ack, (isn + 1) >>> 0, 'SYN|ACK acknowledges the SYN')
      // The handshake's final ACK: client, seq isn+1, ack sisn+1, no payload.
      const ack3 = segs.filter(
        e => fromClient(e) && flagsOf(e) === 'ACK' && e.len === 0 && e.tcp_seq === (isn + 1) >>> 0 && e.tcp_ack === (sisn + 1) >>> 0,
      )
      t.equal(ack3.length, 1, 'one final handshake ACK')
      const data = segs.filter(e => (e.len ?? 0) > 0)
      t.ok(data.length >= 1 && data.every(fromClient), 'data segments from the client')
      t.equal(
        data.reduce((n, e) => n + (e.len ?? 0), 0),
        payload.length,
        'payload bytes counted once',
      )
      const fins = segs.filter(e => e.tcp_flags?.includes('FIN'))
      t.equal(fins.filter(fromClient).length, 1, 'one FIN from the client')
      t.equal(fins.filter(e => !fromClient(e)).length, 1, 'one FIN from the server')
      t.ok(
        segs.every(e => !e.tcp_flags?.includes('RST')),
        'no RST',
      )
      // No segment twice (lo shows each one outgoing and again incoming).
      const keys = segs.map(e => [e.sport, e.tcp_seq, e.tcp_ack, flagsOf(e), e.len, e.win].join(' '))
      t.equal(new Set(keys).size, keys.length, 'no segment reported twice')

      // Order and clock: the kernel queue order is send order on lo.
      const order = [syn[0], synack[0], ack3[0], data[0], fins.find(fromClient)]
      t.ok(
        order.every((e, i) => e && (i === 0 || e.seq > order[i - 1]!.seq)),
        'SYN, SYN|ACK, ACK, data, FIN in that order',
      )
      const t0s = segs.map(e => BigInt(e.t0))
      t.ok(
        t0s.every((v, i) => i === 0 || v >= t0s[i - 1]!),
        'timestamps non-decreasing',
      )
      t.ok(
        t0s.every(v => v >= before && v <= after),
        `timestamps inside the test's hrtime window [${before}, ${after}]`,
      )
      t.ok(BigInt(hello.t0) <= before, 'hello precedes the traffic')
    },
  )
}

t.test('one clock: each segment falls inside the probe syscall that sent it', { skip: !isRoot && 'needs CAP_NET_RAW (root)' }, async t => {
  const cap = startCapture(['lo'])
  t.teardown(() => {
    cap.child.kill('SIGKILL')
  })
  await withTimeout(cap.first, 5000, 'hello')
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000), 'probe hello')
  let n = 0
  const call = async (command: string): Promise<ProbeEvent> => {
    const step = `c${++n}`
    p.send(step, command)
    const outcome = await p.waitStep(step, 5000)
    if (outcome.status !== 'done') throw new Error(`${command}: ${outcome.status}`)
    return outcome.events[outcome.events.length - 1]!
  }
  await call('socket L inet stream tcp')
  const port = (await call('bind L inet 127.0.0.1 0')).addr?.port ?? 0
  await call('listen L 8')
  await call('socket C inet stream tcp')
  // Blocking connect on lo: SYN, SYN|ACK and the final ACK are all sent
  // before connect() returns; send() and close() transmit synchronously.
  const connect = await call(`connect C inet 127.0.0.1 ${port}`)
  const send = await call('send C 10')
  const close = await call('close C')
  await p.stop()
  cap.child.stdin.end()
  t.same(await withTimeout(cap.exit, 5000, 'capture exit'), { code: 0, signal: null })
  const segs = cap.events.filter(e => e.op === 'packet' && (e.sport === port || e.dport === port))
  const within = (e: ProbeEvent | undefined, call: ProbeEvent): boolean => e !== undefined && e.t0 >= call.t0 && e.t0 <= call.t1!
  t.ok(
    within(
      segs.find(e => flagsOf(e) === 'SYN'),
      connect,
    ),
    'SYN inside connect()',
  )
  t.ok(
    within(
      segs.find(e => flagsOf(e) === 'SYN|ACK'),
      connect,
    ),
    'SYN|ACK inside connect()',
  )
  t.ok(
    within(
      segs.find(e => e.len === 10),
      send,
    ),
    'data inside send()',
  )
  t.ok(
    within(
      segs.find(e => e.tcp_flags?.includes('FIN') && e.dport === port),
      close,
    ),
    'FIN inside close()',
  )
})

t.test('an unknown interface: one error event, exit 3', async t => {
  const cap = startCapture(['nosuchif0'])
  t.teardown(() => {
    cap.child.kill('SIGKILL')
  })
  const exit = await withTimeout(cap.exit, 5000, 'capture exit')
  t.same(exit, { code: 3, signal: null })
  t.same(cap.invalid, [])
  t.equal(cap.events.length, 1, 'exactly one line')
  // Unprivileged, if_nametoindex still runs first: ENODEV either way.
  t.match(cap.events[0], { seq: 0, op: 'capture', if: 'nosuchif0', errno: 'ENODEV', error: String })
})

t.test('a duplicate interface and no interface are start-up errors', async t => {
  for (const args of [['lo', 'lo'], []]) {
    const cap = startCapture(args)
    t.teardown(() => {
      cap.child.kill('SIGKILL')
    })
    const exit = await withTimeout(cap.exit, 5000, 'capture exit')
    t.equal(exit.code, 3, `capture ${args.join(' ')}: exit 3`)
    t.same(cap.invalid, [])
    t.match(cap.events, [{ seq: 0, op: 'capture', error: String }])
  }
})

t.test('without CAP_NET_RAW: EPERM event, exit 3', { skip: isRoot && !hasSetpriv && 'root without setpriv' }, async t => {
  const cap = startCapture(['lo'], isRoot)
  t.teardown(() => {
    cap.child.kill('SIGKILL')
  })
  const exit = await withTimeout(cap.exit, 5000, 'capture exit')
  t.same(exit, { code: 3, signal: null }, cap.stderr())
  t.same(cap.invalid, [])
  t.equal(cap.events.length, 1, 'exactly one line')
  t.match(cap.events[0], { seq: 0, op: 'capture', if: 'lo', errno: 'EPERM', error: /CAP_NET_RAW/ })
})

t.test('a closed stdout ends the capture even without traffic', { skip: !isRoot && 'needs CAP_NET_RAW (root)' }, async t => {
  const cap = startCapture(['lo'])
  t.teardown(() => {
    cap.child.kill('SIGKILL')
  })
  await withTimeout(cap.first, 5000, 'hello')
  cap.child.stdout.destroy()
  await sleep(10)
  const exit = await withTimeout(cap.exit, 5000, 'capture exit after stdout closed')
  t.equal(exit.signal, null, 'no signal (SIGPIPE ignored)')
  t.not(exit.code, 0, 'exits non-zero: nobody reads the timeline')
})

t.test(
  'TOKEN sync: every segment sent before the line is reported before its answer',
  { skip: !isRoot && 'needs CAP_NET_RAW (root)' },
  async t => {
    const p = new ProbeProcess([probeBinary, 'capture', 'lo'], 'wire')
    t.teardown(() => p.kill())
    t.ok(await p.waitHello(5000), 'hello')
    for (let round = 1; round <= 3; round++) {
      const port = await converse('127.0.0.1', `round ${round}`)
      p.send(`k${round}`, 'sync')
      const outcome = await p.waitStep(`k${round}`, 5000)
      t.equal(outcome.status, 'done', `round ${round}: answered`)
      const segs = p.events.filter(e => e.op === 'packet' && (e.sport === port || e.dport === port))
      t.ok(
        segs.some(e => flagsOf(e) === 'SYN') && segs.some(e => e.len === 7) && segs.filter(e => e.tcp_flags?.includes('FIN')).length === 2,
        `round ${round}: SYN, data and both FINs already read (${segs.length} segments)`,
      )
    }
    p.send('k9', 'bogus')
    await p.endCapture()
    t.ok(
      p.events.some(e => e.op === 'capture' && /TOKEN sync/.test(String(e.error))),
      'another line is an error event, the capture goes on to its end',
    )
    t.ok(
      p.events.some(e => e.op === 'capture_end'),
      'capture_end',
    )
    t.same(p.invalid, [], 'every line valid')
  },
)

t.test(
  'one shared capture, one window per scenario: joined late sees nothing earlier',
  { skip: !isRoot && 'needs CAP_NET_RAW (root)' },
  async t => {
    const shared = new SharedCapture([probeBinary, 'capture', 'lo'], 'local', 50)
    t.teardown(() => shared.close())
    const spec = { host: 'local', argv: [], shared }
    const a = await startCaptures([spec])
    t.same(a.problems, [])
    const portX = await converse('127.0.0.1', 'first')
    const b = await startCaptures([spec])
    t.equal(b.running[0]!.process, a.running[0]!.process, 'the second scenario joins the same process')
    const portY = await converse('::1', 'second')
    const both = new Set([portX, portY])
    const fromA = await stopCaptures(a.running, both)
    const fromB = await stopCaptures(b.running, both)
    const ports = (segs: ProbeEvent[]): number[] =>
      [...new Set(segs.map(e => (both.has(Number(e.sport)) ? Number(e.sport) : Number(e.dport))))].sort()
    t.same(ports(fromA), [portX, portY].sort(), 'the first window saw both conversations')
    t.same(ports(fromB), [portY], 'the second window starts when it joined')
    const key = (e: ProbeEvent): string => `${e.sport}>${e.dport} ${flagsOf(e)} ${e.tcp_seq} ${e.len}`
    t.equal(new Set(fromA.map(key)).size, fromA.length, 'each segment once')
    t.ok(
      fromA.every(e => e.host === 'local'),
      'segments carry the host',
    )
    t.same([a.running[0]!.invalid, b.running[0]!.invalid], [[], []])
    const first = a.running[0]!.process
    for (let i = 0; i < 50 && !first.exit; i++) await sleep(20)
    t.same(first.exit, { code: 0, signal: undefined }, 'stopped once idle, cleanly')
    const c = await startCaptures([spec])
    t.not(c.running[0]!.process, first, 'a later scenario starts a new one')
    await shared.close()
    t.ok(c.running[0]!.process.exit, 'close() stops it')
  },
)

t.test('NS:IFNAME captures inside another namespace, beside this one', { skip: !isRoot && 'needs root' }, async t => {
  const ns = `sockspec-captest-${process.pid}`
  t.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0, 'namespace made')
  t.teardown(() => {
    spawnSync('ip', ['netns', 'del', ns])
  })
  spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  const cap = startCapture([`${ns}:lo`, 'lo'])
  t.teardown(() => {
    cap.child.kill('SIGKILL')
  })
  const hello = await withTimeout(cap.first, 5000, 'hello')
  t.same(hello.capture, [`${ns}:lo`, 'lo'])
  // a probe inside the namespace talks to itself; node talks on this namespace's lo
  const p = new ProbeProcess([probeBinary], 'inside')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000))
  let n = 0
  const call = async (command: string): Promise<ProbeEvent> => {
    const step = `c${++n}`
    p.send(step, command)
    const outcome = await p.waitStep(step, 5000)
    return outcome.events[outcome.events.length - 1]!
  }
  t.equal((await call(`netns ${ns}`)).ret, 0, 'probe joined')
  await call('socket L inet stream tcp')
  const inner = (await call('bind L inet 127.0.0.1 0')).addr?.port ?? 0
  await call('listen L 8')
  await call('socket C inet stream tcp')
  await call(`connect C inet 127.0.0.1 ${inner}`)
  await p.stop()
  const outer = await converse('127.0.0.1', 'outside')
  cap.child.stdin.end()
  t.same(await withTimeout(cap.exit, 5000, 'capture exit'), { code: 0, signal: null })
  const on = (port: number): string[] => [
    ...new Set(cap.events.filter(e => e.op === 'packet' && (e.sport === port || e.dport === port)).map(e => String(e.if))),
  ]
  t.same(on(inner), [`${ns}:lo`], "the namespace's segments, named by namespace")
  t.same(on(outer), ['lo'], "this namespace's segments")
  t.same(cap.invalid, [])
})

t.test('NS:IFNAME of a namespace that does not exist: one error event, exit 3', async t => {
  const cap = startCapture(['sockspec-no-such-ns:lo'])
  t.teardown(() => {
    cap.child.kill('SIGKILL')
  })
  t.same(await withTimeout(cap.exit, 5000, 'capture exit'), { code: 3, signal: null })
  t.match(cap.events, [{ op: 'capture', if: 'sockspec-no-such-ns:lo', error: 'unknown network namespace', errno: 'ENOENT' }])
})
