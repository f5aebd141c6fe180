// `sockspec-probe capture`: the packet timeline against the real kernel.
// A real TCP connection on loopback (node:net, IPv4 and IPv6) must appear
// as its segments, each exactly once (at its sender, PACKET_OUTGOING), with
// CLOCK_MONOTONIC timestamps inside the test's own hrtime window and their
// TCP options decoded; ICMP errors appear with the ports they quote;
// start-up errors are one event and exit code 3.
import t from 'tap'
import type { Test } from 'tap'
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
import { SharedCapture, endCaptures, scenarioPackets, scenarioPorts, startCaptures, stopCaptures } from '../harness/probe/capture.js'
import dgram from 'node:dgram'
import { describePacketSpec, matchingPackets, optionMatches } from '../harness/expect/packets.js'
import type { PacketContext } from '../harness/expect/packets.js'
import { describePacket } from '../harness/reporters/timeline.js'

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
      // the options a default active open offers, and the answer (tcp_syn_options, tcp_synack_options)
      const o = (e: ProbeEvent | undefined): Record<string, unknown> => (e?.['opts'] ?? {}) as Record<string, unknown>
      t.match(o(syn[0]), { mss: family === 'inet' ? 65495 : 65476, sackOK: true, ts: true, tsecr: 0, wscale: Number }, 'SYN options')
      t.match(o(synack[0]), { mss: family === 'inet' ? 65495 : 65476, sackOK: true, ts: true, tsecr: o(syn[0])['tsval'], wscale: Number })
      const isn = syn[0]?.tcp_seq ?? 0
      const sisn = synack[0]?.tcp_seq ?? 0
      t.equal(synack[0]?.tcp_ack, (isn + 1) >>> 0, 'SYN|ACK acknowledges the SYN')
      // The handshake's final ACK: client, seq isn+1, ack sisn+1, no payload.
      const ack3 = segs.filter(
        e => fromClient(e) && flagsOf(e) === 'ACK' && e.len === 0 && e.tcp_seq === (isn + 1) >>> 0 && e.tcp_ack === (sisn + 1) >>> 0,
      )
      t.equal(ack3.length, 1, 'one final handshake ACK')
      t.same(Object.keys(o(ack3[0])), ['ts', 'tsval', 'tsecr'], 'established: the timestamp only')
      t.equal(o(ack3[0])['tsecr'], o(synack[0])['tsval'], "the final ACK echoes the SYN-ACK's tsval")
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

// as on this machine, and as in a guest: an ordinary probe told to capture, its windows timed by a sync (another clock)
for (const [kind, make] of [
  ['', () => new SharedCapture([probeBinary, 'capture', 'lo'], 'local', 50)],
  [
    ' (a probe told to capture, windows by sync)',
    () => new SharedCapture([probeBinary], 'local', 50, { command: ['capture', 'lo'], foreignClock: true }),
  ],
] as const)
  t.test(
    `one shared capture, one window per scenario: joined late sees nothing earlier${kind}`,
    { skip: !isRoot && 'needs CAP_NET_RAW (root)' },
    async t => {
      const shared = make()
      t.teardown(() => shared.close())
      const spec = { host: 'local', argv: [], shared }
      const a = await startCaptures([spec])
      t.same(a.problems, [])
      const portX = await converse('127.0.0.1', 'first')
      const b = await startCaptures([spec])
      t.equal(b.running[0]!.process, a.running[0]!.process, 'the second scenario joins the same process')
      const portY = await converse('::1', 'second')
      const both = new Set([portX, portY])
      const fromA = await stopCaptures(a.running, { tcp: both, udp: new Set() })
      const fromB = await stopCaptures(b.running, { tcp: both, udp: new Set() })
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

/** A probe on this machine answering one command at a time. */
async function probeCalls(t: Test): Promise<(command: string) => Promise<ProbeEvent>> {
  const p = new ProbeProcess([probeBinary], 'opts')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000), 'probe hello')
  let n = 0
  return async command => {
    const step = `c${++n}`
    p.send(step, command)
    const outcome = await p.waitStep(step, 5000)
    return outcome.events[outcome.events.length - 1]!
  }
}

t.test(
  'options set before connect() show in the SYN: TCP_MAXSEG lowers the MSS, a small SO_RCVBUF gives wscale 0',
  { skip: !isRoot && 'needs CAP_NET_RAW (root)' },
  async t => {
    const cap = startCapture(['lo'])
    t.teardown(() => {
      cap.child.kill('SIGKILL')
    })
    await withTimeout(cap.first, 5000, 'hello')
    const call = await probeCalls(t)
    await call('socket L inet stream tcp')
    const port = (await call('bind L inet 127.0.0.1 0')).addr?.port ?? 0
    await call('listen L 8')
    await call('socket C inet stream tcp')
    t.equal((await call('setsockopt C tcp TCP_MAXSEG 1000')).ret, 0)
    t.equal((await call('setsockopt C socket SO_RCVBUF 8192')).ret, 0)
    t.equal((await call(`connect C inet 127.0.0.1 ${port}`)).ret, 0)
    cap.child.stdin.end()
    await withTimeout(cap.exit, 5000, 'capture exit')
    const syn = cap.events.find(e => e.op === 'packet' && e.dport === port && flagsOf(e) === 'SYN')
    const synack = cap.events.find(e => e.op === 'packet' && e.sport === port && flagsOf(e) === 'SYN|ACK')
    t.match(syn?.['opts'], { mss: 1000, wscale: 0, sackOK: true, ts: true }, "the SYN offers the user's MSS and shift 0")
    t.match(synack?.['opts'], { mss: 65495, wscale: Number }, 'the listener offers its own MSS')
    t.ok(Number((synack?.['opts'] as Record<string, unknown> | undefined)?.['wscale']) >= 1, 'and scales its own window')
    t.same(cap.invalid, [])
  },
)

t.test(
  'ICMP port unreachable for a UDP datagram to a closed port: one icmp event per family, filed under the quoted ports',
  { skip: !isRoot && 'needs CAP_NET_RAW (root)' },
  async t => {
    const shared = new SharedCapture([probeBinary, 'capture', 'lo'], 'local', 50)
    t.teardown(() => shared.close())
    const started = await startCaptures([{ host: 'local', argv: [], shared }])
    t.same(started.problems, [])
    const sent: Array<{ family: string; sport: number; dport: number }> = []
    for (const [type, addr] of [
      ['udp4', '127.0.0.1'],
      ['udp6', '::1'],
    ] as const) {
      // a port that was just free: bound, then closed
      const probe = dgram.createSocket(type)
      probe.bind(0, addr)
      await once(probe, 'listening')
      const closed = probe.address().port
      probe.close()
      const s = dgram.createSocket(type)
      s.on('error', () => {}) // the ICMP may come back as ECONNREFUSED on a later call
      s.bind(0, addr)
      await once(s, 'listening')
      await new Promise<void>((resolve, reject) => s.send('x', closed, addr, err => (err ? reject(err) : resolve())))
      sent.push({ family: type === 'udp4' ? 'inet' : 'inet6', sport: s.address().port, dport: closed })
      s.close()
    }
    const udpPorts = new Set(sent.map(x => x.sport))
    const seen = await endCaptures(started.running)
    // the same numbers as TCP ports (another scenario's sockets): an error quoting a UDP datagram is not theirs
    t.same(
      scenarioPackets(started.running, seen, { tcp: udpPorts, udp: new Set() }),
      [],
      'TCP ports of the same numbers keep no error quoting UDP',
    )
    const events = scenarioPackets(started.running, seen, { tcp: new Set(), udp: udpPorts })
    const icmp = events.filter(e => e.op === 'icmp')
    t.equal(icmp.length, 2, 'one error per datagram, nothing else kept')
    for (const [i, x] of sent.entries()) {
      t.match(icmp[i], {
        family: x.family,
        icmp: 'dest-unreach/port',
        icmp_type: x.family === 'inet' ? 3 : 1,
        icmp_code: x.family === 'inet' ? 3 : 4,
        orig_proto: 'udp',
        orig_sport: x.sport,
        orig_dport: x.dport,
        host: 'local',
      })
    }
    t.same(started.running[0]!.invalid, [], 'icmp events validate against event.schema.json')
  },
)

t.test("a scenario's ports per transport: a UDP and a TCP socket bound by a real probe", async t => {
  const p = new ProbeProcess([probeBinary], 'app')
  t.teardown(() => p.stop())
  t.ok(await p.waitHello(5000))
  for (const [step, line] of [
    ['s1', 'socket U inet dgram udp 0'],
    ['s2', 'bind U inet 127.0.0.1 0'],
    ['s3', 'socket T inet stream tcp 0'],
    ['s4', 'bind T inet 127.0.0.1 0'],
  ] as const) {
    p.send(step, line)
    t.equal((await p.waitStep(step, 5000)).status, 'done')
  }
  const portOf = (h: string): number => Number(p.events.filter(e => e.h === h && e.op === 'getsockname').pop()?.addr?.port)
  const ports = scenarioPorts(p.events, new Set(['U']))
  t.same([...ports.udp], [portOf('U')], "the datagram socket's port is UDP's")
  t.same([...ports.tcp], [portOf('T')], 'the stream socket is TCP')
  t.same([...scenarioPorts(p.events).tcp].sort(), [portOf('U'), portOf('T')].sort(), 'without handles named, every port counts as TCP')
})

t.test('packet specs: options by value, comparison, presence and absence; ICMP by name or type; labels', async t => {
  const syn = {
    seq: 1,
    op: 'packet',
    t0: 10,
    sport: 5000,
    dport: 80,
    tcp_flags: ['SYN'],
    len: 0,
    opts: { mss: 1460, sackOK: true, ts: true, tsval: 7, tsecr: 0, wscale: 7, mptcp: ['MP_CAPABLE'], tfo: 'c0ffee00' },
  } as ProbeEvent
  const ack = {
    seq: 2,
    op: 'packet',
    t0: 20,
    sport: 5000,
    dport: 80,
    tcp_flags: ['ACK'],
    len: 0,
    opts: { ts: true, tsval: 8, tsecr: 9 },
  } as ProbeEvent
  const icmp = {
    seq: 3,
    op: 'icmp',
    t0: 30,
    icmp: 'dest-unreach/port',
    icmp_type: 3,
    icmp_code: 3,
    orig_sport: 5000,
    orig_dport: 80,
  } as ProbeEvent
  const ports: Record<string, number> = { C: 5000, L: 80 }
  const ctx: PacketContext = { step: 's', actor: 'a', claim: false, portOf: h => ports[h], stepStart: () => 0, packets: [syn, ack, icmp] }
  const seqs = (spec: Parameters<typeof matchingPackets>[0]): number[] | undefined => matchingPackets(spec, ctx)?.map(e => e.seq)
  t.same(seqs({ opts: { mss: 1460 } }), [1], 'a value')
  t.same(seqs({ opts: { wscale: '>=7' } }), [1], 'a comparison')
  t.same(seqs({ opts: { wscale: '>7' } }), [], 'a failed comparison')
  t.same(seqs({ opts: { mss: { one_of: [536, 1460] } } }), [1], 'one_of')
  t.same(seqs({ opts: { ts: true, mss: false } }), [2], 'present and absent')
  t.same(seqs({ opts: { sackOK: false } }), [2], 'absent only where absent')
  t.same(seqs({ opts: { mptcp: 'MP_CAPABLE' } }), [1], 'a subtype in the list')
  t.same(seqs({ opts: { mptcp: 'DSS' } }), [], 'a subtype not in it')
  t.same(seqs({ opts: { tfo: '' } }), [], 'a cookie is not a cookie request')
  t.same(seqs({}), [1, 2], 'a TCP spec never matches an ICMP error')
  t.same(seqs({ icmp: 'dest-unreach/port', to: 'C', from: 'L' }), [3], 'ICMP by name and the quoted ends')
  t.same(seqs({ icmp: 'dest-unreach' }), [3], 'the type alone: any code')
  t.same(seqs({ icmp: { one_of: ['dest-unreach/host', 'dest-unreach/port'] } }), [3], 'one_of names')
  t.same(seqs({ icmp: 'dest-unreach/port', to: 'L' }), [], 'about a packet from another port: no')
  t.same(seqs({ icmp: 'dest-unreach/host' }), [], 'another code: no')
  t.ok(optionMatches(false, undefined) && !optionMatches(true, undefined) && optionMatches('!=0', 3), 'optionMatches')
  t.equal(describePacketSpec({ flags: 'SYN', opts: { mss: 1460, sackOK: false } }), 'SYN opts {mss: 1460, sackOK: absent}')
  t.equal(describePacketSpec({ icmp: 'dest-unreach/port', from: 'L' }), 'ICMP dest-unreach/port about a packet to L')
  const owners = new Map([
    [5000, 'client'],
    [80, 'server'],
  ])
  const left = new Set(['client'])
  t.equal(
    describePacket(syn, left, owners),
    '──SYN <mss=1460 sackOK ts wscale=7 mptcp=MP_CAPABLE tfo=c0ffee00>──▶',
    "a SYN's options in full",
  )
  t.equal(describePacket(ack, left, owners), '──ACK──▶', 'the usual timestamp is left out')
  t.equal(describePacket(icmp, left, owners), '◀──ICMP unreach port──', 'an ICMP error goes back to the sender of what it quotes')
})

/** IPv4 header + payload (checksums are not checked by the decoder). */
function ip4(proto: number, payload: Buffer, src = [10, 0, 0, 1], dst = [10, 0, 0, 2]): Buffer {
  const h = Buffer.alloc(20)
  h[0] = 0x45
  h.writeUInt16BE(20 + payload.length, 2)
  h.writeUInt16BE(0x4000, 6)
  h[8] = 64
  h[9] = proto
  Buffer.from(src).copy(h, 12)
  Buffer.from(dst).copy(h, 16)
  return Buffer.concat([h, payload])
}

function ip6(nexthdr: number, payload: Buffer, src = 1, dst = 2): Buffer {
  const h = Buffer.alloc(40)
  h.writeUInt32BE(0x60000000, 0)
  h.writeUInt16BE(payload.length, 4)
  h[6] = nexthdr
  h[7] = 64
  h.writeUInt16BE(0xfd00, 8)
  h[23] = src
  h.writeUInt16BE(0xfd00, 24)
  h[39] = dst
  return Buffer.concat([h, payload])
}

function tcp(options: number[], flags = 0x10, sport = 1234, dport = 80, len = 0): Buffer {
  const o = [...options]
  while (o.length % 4) o.push(0)
  const h = Buffer.alloc(20 + o.length + len)
  h.writeUInt16BE(sport, 0)
  h.writeUInt16BE(dport, 2)
  h.writeUInt32BE(1, 4)
  h.writeUInt32BE(2, 8)
  h[12] = ((20 + o.length) / 4) << 4
  h[13] = flags
  h.writeUInt16BE(100, 14)
  Buffer.from(o).copy(h, 20)
  return h
}

const icmpHeader = (type: number, code: number, rest = 0): Buffer => {
  const b = Buffer.alloc(8)
  b[0] = type
  b[1] = code
  b.writeUInt32BE(rest, 4)
  return b
}

t.test('the decoder on packets no kernel sends here: every option kind, ICMP errors of both families, what is skipped', async t => {
  const be = (n: number): number[] => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
  const packets: Array<[string, Buffer, Record<string, unknown> | undefined]> = [
    [
      'SACK blocks, experimental Fast Open, MPTCP, an unknown kind',
      ip4(
        6,
        tcp([
          1,
          1,
          5,
          18,
          ...be(100),
          ...be(200),
          ...be(300),
          ...be(400),
          254,
          8,
          0xf9,
          0x89,
          0xaa,
          0xbb,
          0xcc,
          0xdd,
          30,
          4,
          0x20,
          0,
          99,
          4,
          0,
          0,
        ]),
      ),
      {
        opts: {
          sack: [
            [100, 200],
            [300, 400],
          ],
          tfo_exp: 'aabbccdd',
          mptcp: ['DSS'],
          unknown: [99],
        },
      },
    ],
    [
      'MP_CAPABLE, a Fast Open cookie request, MD5',
      ip4(6, tcp([30, 12, 0x01, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 34, 2, 19, 18, ...Array<number>(16).fill(0)], 0x02)),
      { opts: { mptcp: ['MP_CAPABLE'], tfo: '', md5: true } },
    ],
    ['an option running past the header stops the walk', ip4(6, tcp([2, 4, 5, 0xb4, 3, 9], 0x02)), { opts: { mss: 1460, bad: 'length' } }],
    ['EOL ends the list', ip4(6, tcp([0, 2, 4, 5, 0xb4])), { opts: {} }],
    ['no options: no opts key', ip4(6, tcp([])), { opts: undefined }],
    [
      'IPv6 behind a hop-by-hop header',
      ip6(0, Buffer.concat([Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]), tcp([2, 4, 5, 0xa0], 0x02)])),
      { family: 'inet6', opts: { mss: 1440 } },
    ],
    [
      'ICMP frag needed quoting a TCP segment: the MTU and the quoted ports',
      ip4(
        1,
        Buffer.concat([icmpHeader(3, 4, 1400), ip4(6, tcp([]).subarray(0, 8), [10, 0, 0, 2], [10, 0, 0, 9])]),
        [10, 0, 0, 7],
        [10, 0, 0, 2],
      ),
      {
        op: 'icmp',
        icmp: 'dest-unreach/frag-needed',
        icmp_type: 3,
        icmp_code: 4,
        mtu: 1400,
        orig_proto: 'tcp',
        orig_src: '10.0.0.2',
        orig_sport: 1234,
        orig_dport: 80,
        orig_tcp_seq: 1,
      },
    ],
    [
      'ICMPv6 packet too big',
      ip6(58, Buffer.concat([icmpHeader(2, 0, 1280), ip6(6, tcp([]).subarray(0, 8), 2, 9)])),
      { op: 'icmp', family: 'inet6', icmp: 'packet-too-big', mtu: 1280, orig_dst: 'fd00::9', orig_sport: 1234 },
    ],
    [
      'ICMPv6 address unreachable is dest-unreach/host, as in IPv4',
      ip6(58, Buffer.concat([icmpHeader(1, 3), ip6(17, Buffer.from([0x30, 0x39, 0, 53, 0, 8, 0, 0]), 2, 9)])),
      { op: 'icmp', icmp: 'dest-unreach/host', icmp_type: 1, icmp_code: 3, orig_proto: 'udp', orig_sport: 12345, orig_dport: 53 },
    ],
    ['an echo request is not an error: skipped', ip4(1, Buffer.concat([icmpHeader(8, 0), Buffer.alloc(8)])), undefined],
    ['an error quoting ICMP: skipped', ip4(1, Buffer.concat([icmpHeader(3, 1), ip4(1, icmpHeader(8, 0))])), undefined],
    ['UDP itself: skipped', ip4(17, Buffer.from([0, 1, 0, 2, 0, 8, 0, 0])), undefined],
  ]
  const r = spawnSync(probeBinary, ['capture', '--decode', ...packets.map(p => p[1].toString('hex'))], { encoding: 'utf8', timeout: 5000 })
  t.equal(r.status, 0, r.stderr)
  const events = r.stdout
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as ProbeEvent)
  t.ok(
    events.every(e => validate(e)),
    'every event validates against event.schema.json',
  )
  let i = 0
  for (const [what, , want] of packets) {
    if (!want) continue
    const e = events[i++]
    if ('opts' in want && want['opts'] === undefined) t.notOk(e && 'opts' in e, what)
    else if (want['opts']) t.same(e?.['opts'], want['opts'], what)
    else t.match(e, want, what)
  }
  t.equal(events.length, i, 'the skipped ones wrote nothing')
  const bad = spawnSync(probeBinary, ['capture', '--decode', 'abc'], { encoding: 'utf8', timeout: 5000 })
  t.equal(bad.status, 3, 'an odd number of digits: exit 3')
  t.match(JSON.parse(bad.stdout) as ProbeEvent, { op: 'capture', errno: 'EINVAL' })
})
