// The probe protocol against the real helper on the real kernel: hello,
// events per syscall with errno and mask names, completion frames, gates,
// bad input answered without crashing, and crash/hang detection.
import t from 'tap'
import type { Test } from 'tap'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { compileSchemaFile, validatorFile, validatorOrigin } from '../harness/deps/ajv.js'
import { offsetOf, parseUncached, parseWithPositions } from '../harness/deps/yaml.js'
import type { OffsetTree } from '../harness/deps/yaml.js'
import type { CommandContext } from '../harness/ops/format.js'
import type { Scenario, Step } from '../harness/scenario/types.js'
import { probeBinary, probeStaticBinary, scenarioDir, schemaDir } from '../harness/paths.js'
import { LineSplitter, ProbeProcess } from '../harness/probe/process.js'
import { learnSharedFds } from '../harness/runner/answer.js'
import type { ProbeEvent, SockAddr } from '../harness/trace/event.js'
import { checkedHash } from '../harness/scenario/checked-cache.js'
import { contentHash, findScenarioFiles, parseScenario } from '../harness/scenario/load.js'
import { canonicalJson } from '../harness/trace/canonical-json.js'
import { extendEvent, keepRawLine, rawLineOf } from '../harness/trace/raw-line.js'

let n = 0
async function call(p: ProbeProcess, command: string, limit = 5000): Promise<ProbeEvent[]> {
  const step = `t${++n}`
  p.send(step, command)
  const outcome = await p.waitStep(step, limit)
  if (outcome.status !== 'done') throw new Error(`${command}: ${outcome.status}`)
  return outcome.events
}
const last = (events: ProbeEvent[]): ProbeEvent => events[events.length - 1]!

/** Two probes 'a' and 'b' that said hello, killed at the test's end. */
async function twoProbes(t: Test): Promise<[ProbeProcess, ProbeProcess]> {
  const a = new ProbeProcess([probeBinary], 'a')
  const b = new ProbeProcess([probeBinary], 'b')
  t.teardown(() => {
    a.kill()
    b.kill()
  })
  await Promise.all([a.waitHello(5000), b.waitHello(5000)])
  return [a, b]
}

for (const [name, binary] of [
  ['dynamic', probeBinary],
  ['static', probeStaticBinary],
] as const) {
  t.test(`hello and a loopback handshake (${name} build)`, async t => {
    const p = new ProbeProcess([binary], 'solo')
    t.teardown(() => p.kill())
    t.ok(await p.waitHello(5000), 'hello arrives')
    t.equal(p.hello?.protocol, 1)
    t.match(p.hello?.uname?.release, /^\d+\.\d+/)
    t.match(last(await call(p, 'socket L inet stream tcp nonblock')), { op: 'socket', new: 'L', ret: Number })
    const bind = await call(p, 'bind L inet 127.0.0.1 0')
    t.same(
      bind.map(e => e.op),
      ['bind', 'getsockname'],
      'bind reports the getsockname it makes',
    )
    const port = last(bind).addr?.port ?? 0
    t.ok(port > 0, 'kernel chose a port')
    await call(p, 'listen L 8')
    await call(p, 'socket C inet stream tcp nonblock')
    await call(p, 'epoll_create1 E cloexec')
    await call(p, 'epoll_ctl E add C in|out|rdhup')
    const fresh = last(await call(p, 'epoll_wait E 8 0'))
    t.same(fresh.ready, [{ h: 'C', events: ['EPOLLOUT', 'EPOLLHUP'] }], 'a fresh TCP socket reports OUT|HUP (tcp_poll, TCP_CLOSE)')
    const connect = last(await call(p, `connect C inet 127.0.0.1 ${port}`))
    t.match(connect, { op: 'connect', h: 'C', ret: -1, errno: 'EINPROGRESS' })
    t.ok(connect.t1! >= connect.t0, 'monotonic timestamps')
    const wait = last(await call(p, 'epoll_wait E 8 2000'))
    t.same(wait.ready, [{ h: 'C', events: ['EPOLLOUT'] }])
    t.match(last(await call(p, `connect C inet 127.0.0.1 ${port}`)), { ret: 0 })
    t.match(last(await call(p, `connect C inet 127.0.0.1 ${port}`)), { ret: -1, errno: 'EISCONN' })
    const accepted = last(await call(p, 'accept4 L S nonblock'))
    t.match(accepted, { op: 'accept4', h: 'L', new: 'S', addr: { family: 'inet', addr: '127.0.0.1' } })
    t.match(last(await call(p, 'sendstr C hello')), { ret: 5 })
    t.match(last(await call(p, 'recv S 100')), { ret: 5, data: 'hello' })
    const info = last(await call(p, 'getsockopt C tcp TCP_INFO'))
    t.match(info, { value: { state: 'TCP_ESTABLISHED' } })
    // the kernel's own struct size (232 on 5.4-6.1, more since): the probe offers room beyond its headers' struct
    t.ok(((info.value as { optlen?: number }).optlen ?? 0) >= 232, 'TCP_INFO reports the optlen the kernel returned')
    t.match(last(await call(p, 'accept4 L S2 0')), { ret: -1, errno: 'EAGAIN' })
    await p.stop()
    t.equal(p.exit?.code, 0, 'EOF on stdin: clean exit')
    t.same(p.invalid, [], 'every line was a valid event')
  })
}

t.test('bad input gets error events and the probe keeps going', async t => {
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  await p.waitHello(5000)
  t.match(last(await call(p, 'frobnicate X')), { error: String })
  t.match(last(await call(p, 'close NOPE')), { error: /NOPE|handle/ })
  t.match(last(await call(p, 'socket')), { error: String })
  t.match(last(await call(p, 'socket X inet stream tcp nonblock|bogus')), { error: String })
  t.match(last(await call(p, `socket ${'X'.repeat(40)} inet stream`)), { error: String })
  t.match(last(await call(p, `sendstr X ${'y'.repeat(5000)}`)), { error: String })
  t.match(last(await call(p, 'socket OK inet stream tcp')), { ret: Number, new: 'OK' })
  await p.stop()
  t.equal(p.exit?.code, 0)
})

t.test('gates: a listener that drops pure ACKs stays unreadable while the client is writable', async t => {
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  await p.waitHello(5000)
  await call(p, 'socket L inet6 stream tcp nonblock')
  const port = last(await call(p, 'bind L inet6 ::1 0')).addr?.port
  await call(p, 'listen L 8')
  t.match(last(await call(p, 'gate L ack')), { op: 'setsockopt', opt: 'SO_ATTACH_FILTER', gate: ['ack'], ret: 0 })
  await call(p, 'epoll_create1 E 0')
  await call(p, 'epoll_ctl E add L in')
  await call(p, 'socket C inet6 stream tcp nonblock')
  await call(p, 'epoll_create1 F 0')
  await call(p, 'epoll_ctl F add C out')
  await call(p, `connect C inet6 ::1 ${port}`)
  t.same(last(await call(p, 'epoll_wait F 4 2000')).ready, [{ h: 'C', events: ['EPOLLOUT'] }], 'client writable after SYN-ACK')
  t.same(last(await call(p, 'epoll_wait E 4 300')).ready, [], 'listener not readable: final ACK dropped')
  t.match(last(await call(p, 'accept4 L S nonblock')), { errno: 'EAGAIN' })
  await call(p, 'ungate L')
  // the SYN-ACK retransmit (about 1 s) brings a new ACK
  const late = last(await call(p, 'epoll_wait E 4 3000'))
  t.same(late.ready, [{ h: 'L', events: ['EPOLLIN'] }])
  await p.stop()
})

t.test('sendfd/recvfd: a listener handed to a second probe over a unix socket is the same socket there', async t => {
  const [a, b] = await twoProbes(t)
  const name = `@sockspec-test-${process.pid}`
  await call(a, 'socket L inet stream tcp nonblock')
  const port = last(await call(a, 'bind L inet 127.0.0.1 0')).addr?.port
  await call(a, 'listen L 8')
  await call(a, 'socket U unix stream 0')
  await call(a, `bind U unix ${name}`)
  await call(a, 'listen U 1')
  await call(b, 'socket W unix stream 0')
  t.match(last(await call(b, `connect W unix ${name}`)), { ret: 0 })
  await call(a, 'accept4 U UA 0')
  t.match(last(await call(a, 'sendfd UA NOPE')), { error: /NOPE/ }, 'an unknown handle to pass is refused before any syscall')
  t.match(last(await call(a, 'sendfd UA L')), { op: 'sendmsg', h: 'UA', pass: ['L'], ret: 1 })
  t.match(last(await call(b, 'recvfd W W')), { error: /already exists/ }, 'a taken name is refused')
  const got = last(await call(b, 'recvfd W L2'))
  t.match(got, { op: 'recvmsg', h: 'W', new: 'L2', ret: 1, data: 'F', cmsg: [{ level: 'SOL_SOCKET', type_name: 'SCM_RIGHTS', fds: 1 }] })
  // The received descriptor reaches the same listener: a client of A's port is accepted by B.
  await call(a, 'socket C inet stream tcp 0')
  t.match(last(await call(a, `connect C inet 127.0.0.1 ${port}`)), { ret: 0 })
  t.match(last(await call(b, 'accept4 L2 S 0')), { ret: Number, new: 'S' })
  t.match(last(await call(a, 'accept4 L S 0')), { ret: -1, errno: 'EAGAIN' }, 'the child was taken through the other descriptor')
  // A plain byte carries no descriptor: recvfd reports it and creates nothing.
  await call(a, 'sendstr UA x')
  const plain = last(await call(b, 'recvfd W L3'))
  t.match(plain, { ret: 1, data: 'x', cmsg: [] })
  t.notOk('new' in plain, 'no handle without SCM_RIGHTS')
  t.match(last(await call(b, 'close L3')), { error: /L3/ })
  // recvmsg does not keep descriptors: it closes what arrives and says so.
  await call(a, 'sendfd UA L')
  t.match(last(await call(b, 'recvmsg W 16')), { ret: 1, data: 'F', closed_fds: 1, cmsg: [{ type_name: 'SCM_RIGHTS', fds: 1 }] })
  await Promise.all([a.stop(), b.stop()])
  t.same([...a.invalid, ...b.invalid], [], 'every line was a valid event')
})

t.test("share/pidfd_getfd: a second probe holds the same open file; a close in one leaves the other's open", async t => {
  const [a, b] = await twoProbes(t)
  const pidA = a.hello!.pid!
  await call(a, 'socket L inet stream tcp nonblock')
  const port = last(await call(a, 'bind L inet 127.0.0.1 0')).addr?.port
  await call(a, 'listen L 8')
  t.match(last(await call(a, 'share NOPE')), { error: /NOPE/ }, 'an unknown handle is refused before any syscall')
  const shared = last(await call(a, 'share L'))
  t.match(shared, { op: 'share', h: 'L', ret: 0, fd: Number, ino: Number })
  const fd = shared['fd'] as number
  const got = await call(b, `pidfd_getfd L ${pidA} ${fd}`)
  t.same(
    got.map(e => e.op),
    ['pidfd_open', 'pidfd_getfd'],
    'one event per syscall',
  )
  t.match(got[0], { pid: pidA, ret: Number })
  t.match(last(got), { op: 'pidfd_getfd', fd, new: 'L', ret: Number })
  t.equal(last(got)['ino'], shared['ino'], 'the same inode from both probes: one socket')
  t.match(last(await call(b, `pidfd_getfd L ${pidA} ${fd}`)), { error: /already exists/ }, 'a taken name is refused')
  // the file, not a copy: the flag a set is b's too, and a connection queued on a's listener is accepted through b's
  t.match(last(await call(b, 'fcntl L getfl')), { ret: Number, flags: ['O_NONBLOCK', 'O_RDWR'] }, "O_NONBLOCK set by a's socket()")
  await call(a, 'socket C inet stream tcp 0')
  t.match(last(await call(a, `connect C inet 127.0.0.1 ${port}`)), { ret: 0 })
  // a drops its descriptor: the listener stays open through b's
  t.match(last(await call(a, 'close L')), { ret: 0 })
  t.match(last(await call(b, 'accept4 L S 0')), { ret: Number, new: 'S' }, "b accepts after a's close")
  t.match(last(await call(b, 'getsockopt L socket SO_ACCEPTCONN')), { ret: 0, value: 1 }, 'still listening')
  // errors are the kernel's: a descriptor a does not have, a process that is gone
  t.match(last(await call(b, `pidfd_getfd X ${pidA} ${fd}`)), { op: 'pidfd_getfd', ret: -1, errno: 'EBADF' }, "a's fd is closed")
  const gone = await call(b, 'pidfd_getfd X 4194304 3')
  t.match(last(gone), { op: 'pidfd_open', ret: -1, errno: 'ESRCH' }, 'no such process: pidfd_open fails, no pidfd_getfd')
  t.equal(gone.length, 1)
  await Promise.all([a.stop(), b.stop()])
  t.same([...a.invalid, ...b.invalid], [], 'every line was a valid event')
})

t.test('a shared epoll instance: a registration made by another probe is named after the same-named handle here', async t => {
  const [a, b] = await twoProbes(t)
  const pidA = a.hello!.pid!
  await call(a, 'socket L inet stream tcp nonblock')
  await call(a, 'bind L inet 127.0.0.1 0')
  await call(a, 'listen L 8')
  await call(a, 'socket M inet stream tcp nonblock')
  await call(a, 'epoll_create1 E 0')
  await call(a, 'epoll_ctl E add L in')
  await call(a, 'epoll_ctl E add M out')
  const fdOf = async (h: string): Promise<number> => last(await call(a, `share ${h}`))['fd'] as number
  await call(b, `pidfd_getfd E ${pidA} ${await fdOf('E')}`)
  await call(b, `pidfd_getfd L ${pidA} ${await fdOf('L')}`)
  // b has L (the same socket) but no M: M's registration has no name here
  const seen = last(await call(b, 'epoll_fdinfo E'))
  t.same(
    (seen.registered ?? []).map(r => r.h.replace(/^#\d+$/, '#n')).sort(),
    ['#n', 'L'],
    'L by its name; M, which b does not hold, as #<slot,gen>',
  )
  const own = last(await call(a, 'epoll_fdinfo E'))
  t.same((own.registered ?? []).map(r => r.h).sort(), ['L', 'M'], "a's own tokens: its own handles")
  const waited = last(await call(b, 'epoll_wait E 8 0'))
  t.same(
    waited.ready?.map(r => r.h.replace(/^#\d+$/, '#n')),
    ['#n'],
    'a fresh TCP socket is writable (M): reported, unnamed in b',
  )
})

t.test('a probe that dies mid-step and one that hangs are reported, not awaited forever', async t => {
  const p = new ProbeProcess([probeBinary], 'solo')
  await p.waitHello(5000)
  p.send('x1', 'sleep 10000')
  const hang = await p.waitStep('x1', 200)
  t.equal(hang.status, 'timeout')
  p.kill()
  const dead = await p.waitStep('x2', 5000)
  t.equal(dead.status, 'exit')
  t.equal(p.exit?.signal, 'SIGKILL')
})

t.test('readiness ops: select sets and EBADF, ppoll NVAL, fdinfo names registrations, a dup keeps one alive', async t => {
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000), 'hello')
  await call(p, 'socket L inet stream tcp nonblock')
  await call(p, 'bind L inet 127.0.0.1 0')
  const port = (await call(p, 'getsockname L')).at(-1)?.addr?.port
  await call(p, 'listen L 8')
  await call(p, 'socket C inet stream tcp')
  t.match(last(await call(p, `connect C inet 127.0.0.1 ${port}`)), { ret: 0 })
  t.match(last(await call(p, 'select 2000 L:read|write|except C:write')), {
    op: 'select',
    ret: 2,
    sets: [
      { h: 'L', sets: ['read'] },
      { h: 'C', sets: ['write'] },
    ],
  })
  await call(p, 'accept4 L S 0')
  await call(p, 'epoll_create1 E')
  await call(p, 'epoll_ctl E add S in|rdhup')
  await call(p, 'dup S S2')
  t.match(last(await call(p, 'close_keep S')), { op: 'close', h: 'S', kept: 1, ret: 0 })
  t.match(last(await call(p, 'epoll_fdinfo E')), {
    op: 'epoll_fdinfo',
    ret: 1,
    registered: [{ h: 'S', events: ['EPOLLIN', 'EPOLLERR', 'EPOLLHUP', 'EPOLLRDHUP'] }],
  })
  await call(p, 'sendstr C hi')
  t.match(last(await call(p, 'epoll_pwait2 E 4 2000')), { op: 'epoll_pwait2', ret: 1, ready: [{ h: 'S', events: ['EPOLLIN'] }] })
  t.match(last(await call(p, 'ppoll 0 S:in S2:in')), {
    ret: 2,
    revents: [
      { h: 'S', events: ['POLLNVAL'] },
      { h: 'S2', events: ['POLLIN'] },
    ],
  })
  t.match(last(await call(p, 'select 0 S:read S2:read')), { op: 'select', ret: -1, errno: 'EBADF' })
  t.match(last(await call(p, 'select 0 S2:bogus')), { error: /bogus/ })
  t.match(last(await call(p, 'open F relative.txt')), { error: /absolute/ })
  t.match(last(await call(p, 'drop_cap CAP_SYS_ADMIN')), { error: /CAP_SYS_ADMIN/ })
  t.match(last(await call(p, 'mib M9 nosuch')), { error: /no mib mark 'nosuch'/ })
})

t.test('mib: the namespace counters, and what changed since a mark (a datagram to a closed port counts UdpNoPorts)', async t => {
  const p = new ProbeProcess([probeBinary], 'a')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000), 'hello')
  const first = last(await call(p, 'mib A'))
  t.match(first, { op: 'mib', mark: 'A' })
  t.ok((first.ret ?? 0) > 50, `counters read (${first.ret})`)
  t.notOk('value' in first, 'a first mark reports no deltas')
  // a datagram to a port nobody holds, on loopback: __udp4_lib_rcv counts UDP_MIB_NOPORTS
  const sock = createSocket('udp4')
  await new Promise<void>(r => sock.bind(0, '127.0.0.1', () => r()))
  const port = sock.address().port
  sock.close()
  const sender = createSocket('udp4')
  await new Promise<void>((r, j) => sender.send('x', port, '127.0.0.1', e => (e ? j(e) : r())))
  sender.close()
  await new Promise(r => setTimeout(r, 50))
  const delta = last(await call(p, 'mib B A'))
  t.match(delta, { op: 'mib', mark: 'B', since: 'A' })
  const value = delta.value as Record<string, number>
  t.ok((value['UdpNoPorts'] ?? 0) >= 1, `UdpNoPorts grew (${JSON.stringify(value)})`)
  t.ok(
    Object.values(value).every(v => v !== 0),
    'only changed counters are listed',
  )
})

t.test('every op of the op table, sent to the real probe, answers with the event op the table says', async t => {
  const { OP_DEFS, buildCommand } = await import('../harness/ops/table.js')
  const { PEER_OPS } = await import('../harness/ops/peer.js')
  const tmpDir = mkdtempSync(join(tmpdir(), 'sockspec-optable-'))
  t.teardown(() => rmSync(tmpDir, { recursive: true, force: true }))
  const addresses = new Map<string, SockAddr>()
  const ctx: CommandContext = {
    variant: { name: 'ipv4', family: 'inet', loopback: '127.0.0.1' },
    addresses,
    families: new Map(),
    tmpDir,
    uniqueSuffix: `t${process.pid}`,
    owners: new Map(),
    passing: [],
    // wait_blocked's target is a sleeping process; pidfd_getfd takes a descriptor from this very probe ('a')
    probePid: target => (target === 'b' ? sleeper.pid : target === 'a' ? p.hello?.pid : undefined),
    sharedFds: new Map(),
  }
  // wait_blocked's target: a process asleep in nanosleep
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' })
  t.teardown(() => void sleeper.kill())
  // One sample step per op, in an order where each finds what it needs.
  // A new op needs its sample here: the loop below fails for an op without one.
  const a = { actor: 'a' }
  const samples: Array<Step & { id: string }> = [
    { do: 'socket', sock: 'L', nonblock: true },
    { do: 'bind', sock: 'L' },
    { do: 'listen', sock: 'L', backlog: 8 },
    { do: 'socket', sock: 'C' },
    { do: 'connect', sock: 'C', to: 'L' },
    { do: 'accept4', sock: 'L', new: 'A' },
    { do: 'send', sock: 'C', bytes: 3 },
    { do: 'recv', sock: 'A', bytes: 1, flags: ['dontwait'] },
    { do: 'recvfrom', sock: 'A', bytes: 1, flags: ['dontwait'] },
    { do: 'recvmsg', sock: 'A', bytes: 1, flags: ['dontwait'] },
    { do: 'ioctl', sock: 'A', cmd: 'SIOCINQ' },
    { do: 'ioctl', sock: 'C', cmd: 'SIOCOUTQNSD' },
    { do: 'take_sigpipe' },
    { do: 'getsockopt', sock: 'C', level: 'mptcp', opt: 'MPTCP_INFO' },
    { do: 'socket', sock: 'D', type: 'dgram', proto: 'udp' },
    { do: 'bind', sock: 'D' },
    { do: 'sendto', sock: 'D', to: 'D', bytes: 1 },
    { do: 'connect_unspec', sock: 'D' },
    { do: 'socketpair', sock: 'PA', new: 'PB', type: 'seqpacket' },
    { do: 'socket', sock: 'UL', family: 'unix' },
    { do: 'bind', sock: 'UL', path: 'u.sock' },
    { do: 'listen', sock: 'UL', backlog: 1 },
    { do: 'socket', sock: 'UC', family: 'unix' },
    { do: 'connect', sock: 'UC', path: 'u.sock' },
    { do: 'accept4', sock: 'UL', new: 'US' },
    { do: 'send_fd', sock: 'UC', pass: 'D' },
    { do: 'recv_fd', sock: 'US', new: 'D2' },
    { do: 'getsockname', sock: 'C' },
    { do: 'getpeername', sock: 'C' },
    { do: 'fcntl', sock: 'C' },
    { do: 'setsockopt', sock: 'C', level: 'tcp', opt: 'TCP_NODELAY', value: 1 },
    { do: 'getsockopt', sock: 'C', level: 'socket', opt: 'SO_ERROR' },
    { do: 'getsockopt', sock: 'C', level: 'tcp', opt: 'TCP_RTO_MAX_MS' },
    { do: 'epoll_create1', ep: 'E' },
    { do: 'ioctl', sock: 'E', cmd: 'EPIOCGPARAMS' },
    { do: 'epoll_ctl', ep: 'E', op: 'add', sock: 'C', events: ['in'] },
    { do: 'epoll_wait', ep: 'E', timeout_ms: 0 },
    { do: 'poll', fds: { C: ['in'] }, timeout_ms: 0 },
    { do: 'ppoll', fds: { C: ['in'] }, timeout_ms: 0 },
    { do: 'select', sets: { C: ['read', 'write'] }, timeout_ms: 0 },
    { do: 'epoll_pwait2', ep: 'E', timeout_ms: 0 },
    { do: 'epoll_fdinfo', ep: 'E' },
    { do: 'dup', sock: 'C', new: 'C2' },
    { do: 'close_keep', sock: 'C2' },
    { do: 'open', sock: 'F', path: 'plain.txt' },
    { do: 'drop_cap', cap: 'CAP_BLOCK_SUSPEND' },
    { do: 'setrlimit', resource: 'NOFILE', limit: 1024 },
    { do: 'mib', mark: 'M0' },
    { do: 'mib', mark: 'M1', since: 'M0' },
    { do: 'uring_setup', ring: 'R', entries: 4 },
    { do: 'uring_poll_add', ring: 'R', sock: 'A', events: ['in'], user_data: 'P' },
    { do: 'uring_wait', ring: 'R', user_data: 'P', timeout_ms: 0 },
    { do: 'uring_poll_remove', ring: 'R', target: 'P', user_data: 'RM' },
    { do: 'uring_recv', ring: 'R', sock: 'A', bytes: 1, user_data: 'V' },
    { do: 'uring_cancel', ring: 'R', target: 'V', user_data: 'X' },
    { do: 'uring_accept', ring: 'R', sock: 'L', new: 'UA', user_data: 'AC' },
    { do: 'uring_connect', ring: 'R', sock: 'D', to: 'L', user_data: 'K' },
    { do: 'uring_wait', ring: 'R', timeout_ms: 0 },
    { do: 'gate', sock: 'L', drop: ['syn'] },
    { do: 'ungate', sock: 'L' },
    { do: 'sleep', ms: 1 },
    { do: 'wait_blocked', target: 'b', timeout_ms: 2000 },
    { do: 'socket', sock: 'D3', type: 'dgram', proto: 'udp' },
    { do: 'bind', sock: 'D3', like: 'D' },
    { do: 'share', sock: 'L', with: ['b'] },
    { do: 'pidfd_getfd', target: 'a', sock: 'L', new: 'L3' },
    { do: 'shutdown', sock: 'C', how: 'wr' },
    { do: 'close', sock: 'C' },
  ].map((s, i) => ({ ...a, id: `o${i + 1}`, ...s }) as Step & { id: string })
  const p = new ProbeProcess([probeBinary], 'a')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000), 'hello')
  const answered = new Set<string>()
  // one sample step sent as the harness would: done, taken by the probe (no error event)
  const sendSample = async (step: Step & { id: string }) => {
    const def = OP_DEFS.find(d => d.name === step.do)!
    const command = buildCommand(step, ctx)
    p.send(step.id, command)
    const outcome = await p.waitStep(step.id, 5000)
    t.equal(outcome.status, 'done', `${step.do}: done`)
    t.notOk(
      outcome.events.some(e => e.error !== undefined),
      `${step.do}: the probe took the command (${JSON.stringify(outcome.events.find(e => e.error))})`,
    )
    return { def, command, outcome }
  }
  for (const step of samples) {
    const { def, command, outcome } = await sendSample(step)
    t.ok(
      def.commands?.some(c => command === c.name || command.startsWith(`${c.name} `)),
      `${step.do}: sent as one of its own commands (${command})`,
    )
    t.ok(
      outcome.events.some(e => e.op === def.answers),
      `${step.do} answers with '${def.answers}' (got ${outcome.events.map(e => e.op).join(', ')})`,
    )
    for (const e of outcome.events) if (e.op === 'getsockname' && e.ret === 0 && e.h && e.addr) addresses.set(e.h, e.addr)
    learnSharedFds(step.actor, outcome.events, ctx.sharedFds!)
    answered.add(step.do)
  }
  // The packet peer's ops need a TUN device routed to the peer, so they run
  // in a namespace of their own: the probe joins it (netns), and a client
  // socket there connects to the peer so each op has a segment to work on.
  if (process.getuid?.() === 0) {
    const { buildTopology } = await import('../harness/hosts/netns.js')
    const { runCommand } = await import('../harness/deps/process.js')
    const scenario = { hosts: { a: {}, p: { packet: 'a' } } } as unknown as Scenario
    const topo = await buildTopology(scenario, runCommand, `${process.pid}.optable`)
    if ('skip' in topo) throw new Error(topo.skip)
    t.teardown(() => topo.destroy())
    const nsOf = topo.plan.hosts.find(h => h.name === 'a')!
    const peerHost = topo.plan.hosts.find(h => h.name === 'p')!
    t.equal(last(await call(p, `netns ${nsOf.ns}`)).ret, 0, 'the probe joins the namespace of the packet host')
    ctx.defaultAddress = (actor, family) => (actor === 'peer' ? (family === 'inet6' ? peerHost.inet6 : peerHost.inet) : nsOf.inet)
    const peerSamples: Array<Step & { id: string }> = [
      { actor: 'peer', id: 'q1', do: 'tun_open', sock: 'P', port: 8080 },
      { actor: 'a', id: 'q2', do: 'socket', sock: 'K', nonblock: true },
      { actor: 'a', id: 'q3', do: 'connect', sock: 'K', to: 'P' },
      { actor: 'peer', id: 'q4', do: 'packet_expect', sock: 'P', within_ms: 2000, segment: { flags: 'SYN' } },
      { actor: 'peer', id: 'q5', do: 'packet_send', sock: 'P', segment: { flags: 'SYN|ACK', ack: 1, win: 1000, options: ['mss 1000'] } },
      { actor: 'peer', id: 'q6', do: 'packet_expect', sock: 'P', within_ms: 2000, skip_retransmits: true, segment: { flags: 'ACK' } },
      { actor: 'peer', id: 'q7', do: 'icmp_send', sock: 'P', icmp: 'port' },
    ]
    for (const step of peerSamples) {
      const { def, outcome } = await sendSample(step)
      t.ok(
        outcome.events.some(e => e.op === def.answers && (step.do === 'connect' || (e.ret ?? -1) >= 0)),
        `${step.do} answers with '${def.answers}' and succeeds (got ${JSON.stringify(outcome.events)})`,
      )
      for (const e of outcome.events) if (e.op === 'tun_open' && e.new && e.addr) addresses.set(e.new, e.addr)
      answered.add(step.do)
    }
    // the crafted segments and the ICMP error reached the kernel: the SYN-ACK
    // completed the connection, and the port unreachable quoting the ACK
    // that answered it is kept as the socket's soft error
    t.match(last(await call(p, 'getsockopt K tcp TCP_INFO')), { value: { state: 'TCP_ESTABLISHED' } })
    t.match(last(await call(p, 'getsockopt K socket SO_ERROR')), { value_name: 'ECONNREFUSED' })
  } else {
    t.comment('packet peer ops not sent: a TUN device in a namespace needs root')
    for (const d of OP_DEFS) if (PEER_OPS.has(d.name)) answered.add(d.name)
  }
  // abort: the probe dies on purpose, no answer; the harness ops never reach it
  p.send('oabort', buildCommand({ actor: 'a', do: 'abort' }, ctx))
  t.not((await p.waitStep('oabort', 5000)).status, 'done', 'abort: the probe is gone')
  t.equal(p.exit?.signal, 'SIGABRT')
  answered.add('abort')
  for (const d of OP_DEFS.filter(d => d.runBy === 'harness')) {
    t.throws(
      () => buildCommand({ actor: 'a', do: d.name }, ctx),
      /run by the harness, not the probe/,
      `${d.name}: run by the harness, never sent`,
    )
    answered.add(d.name)
  }
  t.same(
    OP_DEFS.map(d => d.name).filter(n => !answered.has(n)),
    [],
    'every op of the table was checked',
  )
})

t.test('wait_blocked: an idle probe (reading its next command) is not blocked; one in accept4 is, with its syscall and wchan', async t => {
  const waiter = new ProbeProcess([probeBinary], 'waiter')
  const target = new ProbeProcess([probeBinary], 'target')
  t.teardown(() => {
    waiter.kill()
    target.kill()
  })
  t.ok((await waiter.waitHello(5000)) && (await target.waitHello(5000)), 'both say hello')
  const pid = target.hello?.pid
  t.type(pid, 'number', 'the hello names the pid')
  const idle = last(await call(waiter, `wait_blocked ${pid} 100`))
  t.match(idle, { op: 'wait_blocked', pid, ret: -1, errno: 'ETIMEDOUT', value: { state: 'S', syscall: 'read' } }, 'idle in read(0)')
  t.ok(Number(idle.polls) >= 2, `polled more than once (${String(idle.polls)})`)
  await call(target, 'socket L inet stream')
  await call(target, 'bind L inet 127.0.0.1 0')
  await call(target, 'listen L 4')
  target.send('blocked', 'accept4 L S')
  const seen = last(await call(waiter, `wait_blocked ${pid} 2000`))
  t.match(seen, { ret: 0, value: { state: 'S', syscall: 'accept4' } }, 'asleep in accept4')
  t.match(String((seen.value as { wchan?: string }).wchan), /^(?!0$).+/, `a wait channel is named (${JSON.stringify(seen.value)})`)
  t.equal((await target.waitStep('blocked', 300)).status, 'timeout', 'and it is still blocked')
  t.match(last(await call(waiter, 'wait_blocked 4194304 100')), { ret: -1, errno: 'ENOENT' }, 'no such process: the open of its stat fails')
  t.match(last(await call(waiter, `wait_blocked ${waiter.hello?.pid} 100`)), { error: /itself/ }, 'not itself')
})

t.test('line splitter: lines across chunks, UTF-8 split mid-character, CRLF, a last line without newline, an overlong line', async t => {
  const lines: string[] = []
  const overlong: string[] = []
  const s = new LineSplitter(
    l => lines.push(l),
    head => overlong.push(head),
    16,
  )
  const euro = Buffer.from('€') // 3 bytes
  s.push(Buffer.from('{"a":1}\n{"b"'))
  s.push(Buffer.concat([Buffer.from(':"x'), euro.subarray(0, 1)]))
  s.push(Buffer.concat([euro.subarray(1), Buffer.from('"}\r\n\n')]))
  s.push(Buffer.from('0123456789abcdefXYZ'))
  s.push(Buffer.from('more\nafter\ntail'))
  s.end()
  t.same(lines, ['{"a":1}', '{"b":"x€"}', '', 'after', 'tail'])
  // whole chunks (ending in '\n') decode in one step; a split character after them still joins up
  lines.length = 0
  const t2 = new LineSplitter(l => lines.push(l))
  t2.push(Buffer.from('é€\n'))
  t2.push(Buffer.concat([Buffer.from('x'), euro.subarray(0, 2)]))
  t2.push(Buffer.concat([euro.subarray(2), Buffer.from('\n')]))
  t2.push(Buffer.from([0xff, 0x41, 0x0a]))
  t2.end()
  t.same(lines, ['é€', 'x€', '\ufffdA'])
  t.same(overlong, ['0123456789abcdefXYZ'], 'the overlong line is reported once (its head), then dropped up to its newline')
})

t.test('pipelined: answers find their steps in order, also steps that are escaped, repeated or never sent', async t => {
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  await p.waitHello(5000)
  // awaited before it is sent: the step exists before the probe answers it
  const early = p.waitStep('e5', 5000)
  const sent: Array<[string, string]> = [
    ['e1', 'socket L inet stream tcp 0'],
    ['e2', 'bind L inet 127.0.0.1 0'], // two events: bind and its getsockname
    ['q"1', 'getsockopt L socket SO_TYPE'], // the probe escapes '"' in both lines
    ['b\\2', 'getsockopt L socket SO_TYPE'],
    ['d\x7f3', 'getsockopt L socket SO_TYPE'], // not printable: escaped as \u007f (non-ASCII steps do not come back: bytes are escaped one by one)
    ['e4', 'nosuchop'], // an error event, no syscall
    ['rep', 'getsockopt L socket SO_TYPE'],
    ['rep', 'getsockopt L socket SO_RCVBUF'], // the same token twice: one step with both answers, as before
    ['e5', 'getsockopt L socket SO_TYPE'],
  ]
  for (const [step, command] of sent) p.send(step, command)
  const never = p.waitStep('never-sent', 200)
  const outcomes = await Promise.all([...new Set(sent.map(([s]) => s))].map(async s => [s, await p.waitStep(s, 5000)] as const))
  for (const [step, o] of outcomes) {
    t.equal(o.status, 'done', `${step}: done`)
    t.ok(
      o.events.every(e => e.step === step),
      `${step}: only its own events`,
    )
  }
  const of = new Map(outcomes)
  t.same(
    of.get('e2')!.events.map(e => e.op),
    ['bind', 'getsockname'],
  )
  t.match(of.get('e4')!.events, [{ op: 'nosuchop', error: String }])
  t.match(of.get('rep')!.events, [{ opt: 'SO_TYPE' }, { opt: 'SO_RCVBUF' }])
  for (const s of ['q"1', 'b\\2', 'd\x7f3', 'e5']) t.match(of.get(s)!.events, [{ op: 'getsockopt', value: 1 }], `${s}: its answer`)
  t.equal((await early).status, 'done', 'a wait begun before the send')
  t.equal((await never).status, 'timeout', 'a step never sent is never done')
  t.same(
    p.events.map(e => e.step),
    ['e1', 'e2', 'e2', 'q"1', 'b\\2', 'd\x7f3', 'e4', 'rep', 'rep', 'e5'],
    'every event once, in the order written',
  )
  // a result's record taken in the middle: what follows is matched afresh
  p.detach()
  t.match(last(await call(p, 'getsockopt L socket SO_TYPE')), { value: 1 })
  t.same(p.invalid, [])
  await p.stop()
})

t.test('bench baseline: the C driver runs the probe over pipes or a socketpair; a harness probe talks over sockets', async t => {
  const rtt = join(dirname(probeBinary), 'pipe-rtt')
  for (const transport of ['pipe', 'socketpair']) {
    const [seq, pipelined] = execFileSync(rtt, [probeBinary, '200', transport], { encoding: 'utf8', timeout: 10_000 })
      .trim()
      .split(' ')
      .map(Number)
    t.ok(seq! > 0 && pipelined! > 0, `${transport}: ns per step, sequential and pipelined`)
    const only = execFileSync(rtt, [probeBinary, '200', transport, 'pipelined'], { encoding: 'utf8', timeout: 10_000 }).trim().split(' ')
    t.equal(only[0], '0', `${transport}: only the pipelined figure when asked`)
  }
  t.equal(spawnSync(rtt, [probeBinary, '10', 'carrier-pigeon']).status, 2, 'an unknown transport is a usage error')
  // what the socketpair figure stands for: Node (libuv) gives a child's stdio 'pipe' as AF_UNIX sockets
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  await p.waitHello(5000)
  t.match(readlinkSync(`/proc/${p.pid}/fd/0`), /^socket:/)
  t.match(readlinkSync(`/proc/${p.pid}/fd/1`), /^socket:/)
  await p.stop()
})

const strace = '/usr/bin/strace'
t.test(
  'one write per answer: a command with two events and its done frame leave the probe in one write()',
  { skip: existsSync(strace) ? false : `${strace} is missing` },
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'sockspec-test-writes-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const log = join(dir, 'trace')
    const r = spawnSync(strace, ['-o', log, '-e', 'trace=write', '-e', 'signal=none', probeBinary], {
      input: 's1 socket L inet stream tcp 0\ns2 bind L inet 127.0.0.1 0\ns3 getsockopt L socket SO_TYPE\n\ns4 nosuchop\n',
      encoding: 'utf8',
      timeout: 10_000,
    })
    t.equal(r.status, 0)
    const writes = readFileSync(log, 'utf8')
      .split('\n')
      .filter(l => l.startsWith('write(1,'))
    // hello, then one write per command (s1, s2 with bind + getsockname + done, s3, s4's error + done)
    t.equal(writes.length, 5, writes.join('\n'))
    const out = r.stdout.split('\n').filter(Boolean)
    t.equal(out.length, 1 + 2 + 3 + 2 + 2, 'every event and frame is still written')
    // the write sizes are the bytes of exactly each command's lines
    const sizes = writes.map(w => Number(/= (\d+)$/.exec(w)?.[1]))
    const bytes = (from: number, to: number): number => out.slice(from, to).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)
    t.same(sizes, [bytes(0, 1), bytes(1, 3), bytes(3, 6), bytes(6, 8), bytes(8, 10)])
    t.match(
      out.slice(3, 6),
      [/"op":"bind"/, /"op":"getsockname"/, /^\{"done":"s2","events":2\}$/],
      'bind, getsockname and the done frame in one write',
    )
  },
)

t.test('raw lines: a kept event is frozen and gives its line; a copy is not trusted; an extended event gets its line extended', async t => {
  const line = '{"seq":3,"op":"packet","t0":7,"if":"lo"}'
  const kept = keepRawLine(JSON.parse(line) as ProbeEvent, line)
  t.ok(Object.isFrozen(kept))
  t.equal(rawLineOf(kept), line)
  t.throws(() => {
    ;(kept as { seq: number }).seq = 4
  }, TypeError)
  t.same(Object.keys(kept), ['seq', 'op', 't0', 'if'], 'the line is no key of the event')
  t.equal(JSON.stringify(kept), line)
  const copy = { ...kept, if: 'eth0' }
  t.equal(rawLineOf(copy), undefined, 'a changed copy is encoded again, not stored as the old line')
  t.equal(rawLineOf(JSON.parse(line) as ProbeEvent), undefined)
  const extended = extendEvent(kept, { host: 'a' })
  t.equal(rawLineOf(extended), '{"seq":3,"op":"packet","t0":7,"if":"lo","host":"a"}')
  t.same(JSON.parse(rawLineOf(extended)!), extended)
})

t.test('deadlines: one timer serves steps with different limits; a done step is not timed out', async t => {
  const p = new ProbeProcess([probeBinary], 'solo')
  t.teardown(() => p.kill())
  await p.waitHello(5000)
  const order: string[] = []
  const watch = (step: string, ms: number) =>
    p.waitStep(step, ms).then(o => {
      order.push(`${step}:${o.status}`)
      return o
    })
  // never sent: only their deadlines end them, in deadline order whatever the call order
  const waits = [watch('late', 300), watch('early', 30), watch('mid', 120)]
  p.send('quick', 'socket C inet stream tcp 0')
  const quick = await watch('quick', 10_000)
  t.equal(quick.status, 'done')
  await Promise.all(waits)
  t.same(
    order.filter(o => o !== 'quick:done'),
    ['early:timeout', 'mid:timeout', 'late:timeout'],
  )
  p.send('nap', 'sleep 150')
  t.equal((await p.waitStep('nap', 10)).status, 'timeout', 'a limit shorter than the command')
  t.equal((await p.waitStep('nap', 10_000)).status, 'done', 'waiting again for the same step')
  await p.stop()
  t.equal(p.exit?.code, 0)
})

const eventSchema = join(schemaDir, 'event.schema.json')
t.test(
  'validators: the precompiled one is used when it matches the schema, a changed schema is compiled',
  { skip: existsSync(validatorFile(eventSchema)) ? false : 'no precompiled validators (npm run build makes them)' },
  async t => {
    const v = compileSchemaFile(eventSchema)
    t.equal(validatorOrigin.get(eventSchema), 'precompiled')
    t.ok(v({ seq: 1, op: 'socket', t0: 5, new: 'C', ret: 3 }))
    t.notOk(v({ seq: -1, op: 'socket', t0: 5 }), 'a negative seq is refused')
    t.match(v.errors?.[0], { instancePath: '/seq', keyword: 'minimum' })
    t.notOk(v({ seq: 1, op: 'Bad Op', t0: 5 }), 'an op outside the pattern is refused')

    // the same schema under another path, one property tightened: the precompiled code must not be used
    const dir = mkdtempSync(join(tmpdir(), 'sockspec-test-schema-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const schema = JSON.parse(readFileSync(eventSchema, 'utf8')) as { $id: string; properties: { seq: { maximum?: number } } }
    schema.$id = 'https://sockspec.dev/schemas/test-changed/event.schema.json'
    schema.properties.seq.maximum = 10
    const changed = join(dir, 'event.schema.json')
    writeFileSync(changed, JSON.stringify(schema))
    const w = compileSchemaFile(changed)
    t.equal(validatorOrigin.get(changed), 'compiled')
    t.notOk(w({ seq: 11, op: 'socket', t0: 5 }), 'the changed schema is the one enforced')
    t.ok(v({ seq: 11, op: 'socket', t0: 5 }))
  },
)

t.test('parse cache: every position of every packaged scenario is the one the CST gives, from the cache too', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'sockspec-test-cache-'))
  const saved = process.env['SOCKSPEC_CACHE_DIR']
  process.env['SOCKSPEC_CACHE_DIR'] = dir
  t.teardown(() => {
    if (saved === undefined) delete process.env['SOCKSPEC_CACHE_DIR']
    else process.env['SOCKSPEC_CACHE_DIR'] = saved
    rmSync(dir, { recursive: true, force: true })
  })
  const paths = (tree: OffsetTree, prefix: Array<string | number>, out: Array<Array<string | number>>): void => {
    out.push(prefix, [...prefix, 'no-such-key'])
    if ('map' in tree)
      for (const [k, v] of Object.entries(tree.map)) v.value ? paths(v.value, [...prefix, k], out) : out.push([...prefix, k])
    else if ('seq' in tree) tree.seq.forEach((item, i) => paths(item, [...prefix, i], out))
  }
  const files = findScenarioFiles([scenarioDir])
  t.ok(files.length > 50)
  let compared = 0
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const fresh = parseUncached(text)
    const first = parseWithPositions(text) // fills the cache
    const cached = parseWithPositions(text) // answers from it
    t.same(cached.value, fresh.value, `${file}: value`)
    const all: Array<Array<string | number>> = []
    paths(fresh.tree!, [], all)
    for (const path of all) {
      for (const key of [false, true]) {
        const want = fresh.positionOf(path, key)
        if (
          JSON.stringify(cached.positionOf(path, key)) !== JSON.stringify(want) ||
          JSON.stringify(first.positionOf(path, key)) !== JSON.stringify(want)
        ) {
          t.fail(`${file}: ${path.join('.')} (key ${key})`, { want, got: cached.positionOf(path, key) })
        }
        compared++
      }
    }
    t.equal(offsetOf(fresh.tree!, []), fresh.tree!.at)
  }
  t.ok(compared > 1000, `${compared} positions compared`)
  // a damaged entry is parsed again, not trusted
  const entry = execFileSync('ls', [join(dir, 'parsed')], { encoding: 'utf8' }).split('\n')[0]!
  writeFileSync(join(dir, 'parsed', entry), '{not json')
  t.ok(files.every(f => parseWithPositions(readFileSync(f, 'utf8')).value !== undefined))
})

t.test(
  'checked cache: a text that passed the schema is not validated again; its hash is the one computed; failures are never kept',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'sockspec-test-checked-'))
    const saved = process.env['SOCKSPEC_CACHE_DIR']
    process.env['SOCKSPEC_CACHE_DIR'] = dir
    t.teardown(() => {
      if (saved === undefined) delete process.env['SOCKSPEC_CACHE_DIR']
      else process.env['SOCKSPEC_CACHE_DIR'] = saved
      rmSync(dir, { recursive: true, force: true })
    })
    const file = findScenarioFiles([scenarioDir]).find(f => f.endsWith('.yaml'))!
    const text = readFileSync(file, 'utf8')
    const entries = (): string[] => (existsSync(join(dir, 'checked')) ? readdirSync(join(dir, 'checked')) : [])
    t.equal(checkedHash(text), undefined, 'not seen yet')
    const first = parseScenario(text, file)
    t.equal(first.hash, contentHash(parseUncached(text).value), 'the hash of a miss is computed')
    t.equal(checkedHash(text), first.hash, 'kept after it passed')
    t.equal(entries().length, 1)
    const again = parseScenario(text, file)
    t.equal(again.hash, first.hash, 'a hit gives the same hash')
    t.same(again, first, 'and the same scenario')
    // another text is another key, even when only a comment differs
    t.equal(checkedHash(`${text}\n# edited\n`), undefined)
    // a damaged entry is not trusted: checked again and rewritten
    writeFileSync(join(dir, 'checked', entries()[0]!), 'not a hash')
    t.equal(checkedHash(text), undefined)
    t.equal(parseScenario(text, file).hash, first.hash)
    t.equal(checkedHash(text), first.hash)
    // a text failing the schema reports its position every time and is never kept
    const bad = text.replace(/^title:/m, 'titel:')
    t.not(bad, text)
    for (let i = 0; i < 2; i++) t.throws(() => parseScenario(bad, file), { code: 'E_SCHEMA' }, `the schema error, load ${i + 1}`)
    t.equal(checkedHash(bad), undefined)
    t.equal(entries().length, 1)
  },
)

t.test('canonical JSON: key order does not matter, undefined members drop, the text parses back to the value', async t => {
  fc.assert(
    fc.property(fc.jsonValue(), value => {
      const text = canonicalJson(value)
      const shuffled = JSON.parse(JSON.stringify(value), (_k, v: unknown) =>
        v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
      ) as unknown
      return text === canonicalJson(shuffled) && isDeepStrictEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)))
    }),
    { numRuns: 300 },
  )
  t.equal(canonicalJson({ b: [1, undefined, 'x'], a: { d: undefined, c: null } }), '{"a":{"c":null},"b":[1,null,"x"]}')
  t.equal(canonicalJson(undefined), 'null')
})

t.test('socketpair: two connected handles in one call; records keep their boundaries', async t => {
  const p = new ProbeProcess([probeBinary], 'pair')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000))
  const run = async (id: string, line: string) => {
    p.send(id, line)
    const o = await p.waitStep(id, 5000)
    return o.events[o.events.length - 1]!
  }
  t.match(await run('p1', 'socketpair A B seqpacket nonblock'), { op: 'socketpair', ret: 0, new: 'A', new2: 'B' })
  t.match(await run('p2', 'sendstr A one'), { ret: 3 })
  t.match(await run('p3', 'sendstr A two'), { ret: 3 })
  t.match(await run('p4', 'recv B 100'), { ret: 3, data: 'one' })
  t.match(await run('p5', 'recv B 100'), { ret: 3, data: 'two' })
  t.match(await run('p6', 'recv B 100'), { ret: -1, errno: 'EAGAIN' }, 'nonblock reached both ends')
  t.match(await run('p7', 'socketpair A C dgram'), { error: /A/ }, 'a name in use is refused before the call')
  t.match(await run('p8', 'socketpair X X dgram'), { error: /two different/ })
  t.match(await run('p9', 'socketpair X Y raw'), { error: /raw/ })
})

t.test('reset: a probe closes what the scenario left, goes back to its namespace, counts events from 1 again', async t => {
  const p = new ProbeProcess([probeBinary], 'a')
  t.teardown(() => p.kill())
  t.ok(await p.waitHello(5000))
  const first = await call(p, 'socket C inet stream tcp 0')
  t.equal(first[0]!.seq, 1)
  const fd = first[0]!.ret
  await call(p, 'epoll_create1 E')
  await call(p, 'epoll_ctl E add C in')
  await call(p, 'gate C syn')
  await call(p, 'open F /dev/null')
  // state outside the handle table: a mib mark, a ring, a pending SIGPIPE
  await call(p, 'mib M')
  t.match(last(await call(p, 'uring_setup R 4')), { op: 'io_uring_setup', ret: Number }, 'a ring')
  await call(p, 'socketpair A B stream')
  await call(p, 'close B')
  t.match(last(await call(p, 'send A 1')), { ret: -1, errno: 'EPIPE' }, 'SIGPIPE raised and left pending')
  await call(p, 'close A')
  const netns = process.getuid?.() === 0 ? `sockspec-test-reset-${process.pid}` : undefined
  if (netns) {
    execFileSync('ip', ['netns', 'add', netns])
    t.teardown(() => spawnSync('ip', ['netns', 'del', netns]))
    t.equal(last(await call(p, `netns ${netns}`)).ret, 0)
  }
  const reset = last(await call(p, 'reset')) as ProbeEvent & { closed: number; stray: number; netns: string; fds: number }
  t.match(reset, { op: 'reset', ret: 0, closed: 4, stray: 0, fds: 0, netns: netns ? 'back' : 'home' }, 'clean, every handle closed')
  const pid = p.pid!
  t.same(
    execFileSync('ls', [`/proc/${pid}/fd`], { encoding: 'utf8' })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter(n => n > 2 && n < 1000),
    [],
    'no descriptor of the scenario left (the namespace handle sits at 1000 and up)',
  )
  t.equal(
    execFileSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }),
    execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }),
    'back in the namespace it started in',
  )
  const again = await call(p, 'socket C inet stream tcp 0')
  t.match(again[0], { seq: 1, ret: fd, new: 'C' }, 'seq and descriptor numbers as on a fresh probe; the name is free again')
  t.match(last(await call(p, 'take_sigpipe')), { ret: -1, errno: 'EAGAIN' }, "the last result's SIGPIPE was taken by the reset")
  t.match(last(await call(p, 'mib M2 M')), { error: /no mib mark 'M'/ }, 'mib marks are forgotten')
  t.match(last(await call(p, 'uring_wait R 0 0')), { error: /R/ }, 'the ring is gone with its handle')
  await p.stop()
})

t.test('ProbePool: a clean probe is reused, a busy or dead one is stopped', async t => {
  const { ProbePool } = await import('../harness/probe/pool.js')
  const pool = new ProbePool()
  t.teardown(() => pool.close())
  const a = pool.take([probeBinary], 'a')
  t.ok(await a.waitHello(5000))
  await call(a, 'socket C inet stream tcp 0')
  const record = await pool.give(a, true)
  t.equal(record.events.length, 1, "the result's record keeps its events, not the reset's")
  t.equal(pool.take([probeBinary], 'b'), a, 'reused, now as actor b')
  t.equal(a.actor, 'b')
  t.equal(a.events.length, 0, 'starts the result empty')
  // a step still blocked at the end of its result: stopped at once, not reset
  a.send('s1', 'sleep 5000')
  const busy = await pool.give(a, true)
  t.ok(busy.exit, 'stopped')
  t.same(pool.discardReasons, ['busy'])
  const c = pool.take([probeBinary], 'c')
  t.not(c, a, 'a new probe after the busy one was stopped')
  t.ok(await c.waitHello(5000))
  c.send('s1', 'abort')
  await c.waitStep('s1', 5000)
  await pool.give(c, true)
  t.same(pool.discardReasons, ['busy', 'exited'])
  t.same(pool.counts, { spawned: 2, reused: 1, discarded: 2 })
  t.equal(pool.idleProbes().length, 0)
})

t.test("reset DIR: a guest port's scratch dir emptied, its stderr log truncated; a path elsewhere is refused", async t => {
  const dir = `/tmp/sockspec-vm-test-${process.pid}`
  rmSync(dir, { recursive: true, force: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true })
  writeFileSync(join(dir, 'sock-path'), '')
  writeFileSync(join(dir, 'sub', 'deeper', 'f'), 'x')
  // a link is removed, never followed
  const outside = mkdtempSync(join(tmpdir(), 'sockspec-keep-'))
  t.teardown(() => rmSync(outside, { recursive: true, force: true }))
  writeFileSync(join(outside, 'kept'), 'x')
  symlinkSync(outside, join(dir, 'link'))
  // the guest's per-port log: the probe's stderr is a regular file with an earlier session's lines
  const log = join(outside, 'err.log')
  writeFileSync(log, 'an earlier session wrote this\n')
  const fd = openSync(log, 'r+')
  const r = spawnSync(probeBinary, [], {
    input: `r1 reset ${dir}\nr2 reset /tmp/elsewhere-${process.pid}\nr3 reset ${dir}/../etc\nr4 reset\n`,
    stdio: ['pipe', 'pipe', fd],
    encoding: 'utf8',
  })
  closeSync(fd)
  const events = r.stdout
    .split('\n')
    .filter(l => l.startsWith('{"seq"'))
    .map(l => JSON.parse(l) as ProbeEvent & { emptied?: number })
  t.match(events[1], { op: 'reset', ret: 0, emptied: 5 }, 'five entries removed: the path, the link, sub, deeper, f')
  t.same(readdirSync(dir), [], 'the dir is empty')
  t.same(readdirSync(outside).sort(), ['err.log', 'kept'], 'what the link pointed to stays')
  t.equal(statSync(log).size, 0, 'the stderr log starts empty again')
  t.match(events[2], { op: 'reset', ret: -1, errno: 'EPERM' }, 'a dir that is no guest scratch dir is refused')
  t.match(events[3], { op: 'reset', ret: -1, errno: 'EPERM' }, 'so is one that climbs out of it')
  t.match(events[4], { op: 'reset', ret: 0 }, 'without DIR as before')
  t.notOk('emptied' in events[4]!, 'no emptied without DIR')
})

t.test("ProbePool of a session (a guest's ports): its own argv, and its reset empties the port's scratch dir", async t => {
  const { ProbePool } = await import('../harness/probe/pool.js')
  const dir = `/tmp/sockspec-vm-test-${process.pid}-pool`
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const wrapped = ['env', probeBinary]
  const pool = new ProbePool({ accepts: argv => argv[0] === 'env', resetArg: () => dir })
  t.teardown(() => pool.close())
  t.ok(pool.accepts(wrapped), 'takes the argv it was made for')
  t.notOk(pool.accepts([probeBinary]), "the plain binary is the run pool's")
  t.notOk(new ProbePool().accepts(wrapped), 'the run pool takes no wrapped probe')
  const a = pool.take(wrapped, 'a')
  t.ok(await a.waitHello(5000))
  await call(a, 'socket U unix stream 0')
  t.equal(last(await call(a, `bind U unix ${dir}/s`)).ret, -1, 'no dir yet: bind fails')
  await pool.give(a, true)
  t.same(readdirSync(dir), [], 'the reset made the dir')
  t.equal(pool.take(wrapped, 'b'), a, 'reused')
  await call(a, 'socket U unix stream 0')
  t.equal(last(await call(a, `bind U unix ${dir}/s`)).ret, 0)
  t.same(readdirSync(dir), ['s'], 'the socket path exists after its handle')
  await pool.give(a, true)
  t.same(readdirSync(dir), [], 'and is gone after the reset')
  t.same(pool.counts, { spawned: 1, reused: 1, discarded: 0 })
})
