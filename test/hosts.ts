// Hosts for real (root): scenarios on simulated hosts in network
// namespaces, Ctrl-C leaving nothing behind, and `sockspec cleanup` for what
// a killed run left.
import t from 'tap'
import Database from 'better-sqlite3'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { kitRoot } from '../harness/paths.js'
import { runCommand, spawnCounts } from '../harness/deps/process.js'
import {
  HostHelper,
  buildTopology,
  cleanupNamespaces,
  closeHostHelpers,
  hostHelper,
  openNetns,
  pidsInNamespace,
} from '../harness/hosts/netns.js'
import { SharedCapture } from '../harness/probe/capture.js'
import { probeBinary, probeStaticBinary } from '../harness/paths.js'
import type { NetnsExec } from '../harness/hosts/netns.js'
import {
  deleteBatch,
  hostsRoutingViaGateway,
  planTopology,
  routeBatches,
  routeSysctls,
  sysctlBatch,
  topologyBatches,
} from '../harness/hosts/topology.js'
import { NETNS_HOST_MS, NETNS_SETUP_MS, estimateScenarioMs, sizeJobs } from '../harness/runner/pool.js'
import { startGapMs } from '../harness/runner/run.js'
import type { Scenario } from '../harness/scenario/types.js'

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-hosts-'))
const notRoot = process.getuid?.() !== 0
// the run's host helper lingers after its last command; a run closes it at its end, so does this file
t.teardown(closeHostHelpers)

/** The kit's namespaces (of the run with that pid: other runs on a shared machine make theirs too). */
function namespaces(pid?: number): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map(l => l.split(' ')[0] ?? '')
    .filter(n => n.startsWith(pid === undefined ? 'sockspec-' : `sockspec-${pid}.`))
}
/** Probe pids whose environment carries `mark` (other runs on this machine are not ours). */
function probePids(mark: string): Set<string> {
  const pids = spawnSync('pgrep', ['-f', 'sockspec-probe'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
  const carries = (pid: string): boolean => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(mark)
    } catch {
      return false // exited meanwhile
    }
  }
  return new Set(pids.filter(carries))
}

const twoHosts = [
  'title: a client on host a connects to a listener on host b',
  'sources: [{ catalog: 2 }]',
  'hosts: { a: {}, b: { sysctl: { net.core.somaxconn: 7 } } }',
  'actors: { client: { host: a }, server: { host: b } }',
  'steps:',
  '  - { actor: server, do: socket, sock: L, nonblock: true }',
  '  - { actor: server, do: bind, sock: L }',
  '  - { actor: server, do: listen, sock: L, backlog: 4 }',
  '  - { actor: client, do: socket, sock: C, nonblock: true }',
  '  - { actor: client, do: epoll_create1, ep: E }',
  '  - { actor: client, do: epoll_ctl, ep: E, op: add, sock: C, events: [out] }',
  '  - { actor: client, do: path_gate, drop: [synack] }',
  '  - { actor: client, do: connect, sock: C, to: L, expect: { ret: -1, errno: EINPROGRESS } }',
  '  - { actor: client, do: epoll_wait, ep: E, timeout_ms: 300, expect: { ready: {} }, note: SYN-ACK dropped on host a }',
  '  - { actor: client, do: path_ungate }',
  '  - { actor: client, do: epoll_wait, ep: E, timeout_ms: 3000, expect: { ready: { C: OUT } } }',
  '  - { actor: server, do: accept4, sock: L, new: S, expect: { ret: ">=0" } }',
  '  - { actor: server, do: getpeername, sock: S }',
  '',
].join('\n')

/** runCommand that notes each argv it runs in `calls`: how many ip/nft processes a set-up cost. */
const countingExec =
  (calls: string[]): NetnsExec =>
  (argv, opts) => {
    calls.push(argv.join(' '))
    return runCommand(argv, opts)
  }

t.test('routes pass: reject routes and gateway routes as ip batch lines, in the host they belong to', async t => {
  const routes = { c: [{ to: 's', via: 'g' }], g: [{ to: 's', type: 'prohibit' as const }], s: undefined }
  const plan = planTopology(['c', 'g', 's'], {}, 'test-routes')
  const [c, g, s] = plan.hosts
  t.same(
    routeBatches(plan, routes),
    [
      { ns: c!.ns, lines: [`route add ${s!.inet}/32 via ${g!.inet} dev eth0`, `route add ${s!.inet6}/128 via ${g!.inet6} dev eth0`] },
      { ns: g!.ns, lines: [`route add prohibit ${s!.inet}/32`, `route add prohibit ${s!.inet6}/128`] },
    ],
    'both families per route; nothing for a host without routes',
  )
  const sysctls = routeSysctls(routes)
  t.match(
    sysctls.g,
    { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1, 'net.ipv4.conf.all.send_redirects': 0 },
    'the gateway forwards',
  )
  t.match(sysctls.c, { 'net.ipv4.conf.all.accept_redirects': 0, 'net.ipv6.conf.all.accept_redirects': 0 }, 'the sender keeps its route')
  t.equal(sysctls.s, undefined)
  t.same([...hostsRoutingViaGateway(routes)], ['c'], 'only the host routing through a gateway needs its eth0 before its routes')
  t.throws(() => routeBatches(plan, { c: [{ to: 'nope', type: 'blackhole' }] }), /route to 'nope' refused/)
  t.throws(() => routeBatches(plan, { c: [{ to: 's', type: 'throw' as 'blackhole' }] }), /route type 'throw' refused/)
})

t.test(
  'routes on real namespaces: the kernel holds them, the gateway forwards; removed with the hosts',
  { skip: notRoot && 'needs root' },
  async t => {
    const scenario = {
      hosts: { c: { routes: [{ to: 's', via: 'g' }] }, g: { routes: [{ to: 's', type: 'unreachable' }] }, s: {} },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    const topo = await buildTopology(scenario, runCommand, `${process.pid}-rt`)
    if ('skip' in topo) throw new Error(topo.skip)
    t.teardown(() => topo.destroy())
    const [c, g, s] = topo.plan.hosts
    const show = (ns: string, family: string): string => spawnSync('ip', ['-n', ns, family, 'route', 'show'], { encoding: 'utf8' }).stdout
    t.match(show(c!.ns, '-4'), `${s!.inet} via ${g!.inet} dev eth0`)
    t.match(show(c!.ns, '-6'), `${s!.inet6} via ${g!.inet6} dev eth0`)
    t.match(show(g!.ns, '-4'), `unreachable ${s!.inet}`)
    t.match(show(g!.ns, '-6'), `unreachable ${s!.inet6}`)
    const sysctl = (ns: string, key: string): string =>
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { encoding: 'utf8' }).stdout.trim()
    t.equal(sysctl(g!.ns, 'net.ipv4.ip_forward'), '1', 'the gateway forwards IPv4')
    t.equal(sysctl(g!.ns, 'net.ipv6.conf.all.forwarding'), '1', 'and IPv6')
    t.equal(sysctl(c!.ns, 'net.ipv4.ip_forward'), '0', 'the others do not')
    // a SYN through the router draws its ICMP error: a connect from c to s fails with the router's answer, not a time-out
    const connectFromC = `const s = require('node:net').connect(9, '${s!.inet}'); s.on('error', e => { console.log(e.code); process.exit(0) }); s.on('connect', () => { console.log('connected'); process.exit(0) })`
    const r = spawnSync('ip', ['netns', 'exec', c!.ns, process.execPath, '-e', connectFromC], { encoding: 'utf8', timeout: 10_000 })
    t.equal(r.stdout.trim(), 'EHOSTUNREACH', `the router answers (${r.stderr.trim()})`)
    await topo.destroy()
    t.same(
      namespaces().filter(n => n.includes(`${process.pid}-rt`)),
      [],
      'no namespace left',
    )
  },
)

t.test('two simulated hosts: addresses, path gates, per-host sysctls; nothing left behind', { skip: notRoot && 'needs root' }, async t => {
  const file = join(dir, 'two-hosts.yaml')
  writeFileSync(file, twoHosts)
  const db = join(dir, 'netns.db')
  const somaxconn = readFileSync('/proc/sys/net/core/somaxconn', 'utf8')
  const r = spawnSync(process.execPath, [bin, 'run', file, '--db', db, '--reporter', 'json'], { encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, r.stderr)
  t.equal(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), somaxconn, "host b's somaxconn was set in its namespace, not here")
  const doc = JSON.parse(r.stdout) as { results: Array<{ variant: string; verdict: string; message: string }> }
  t.same(doc.results.map(x => [x.variant, x.verdict, x.message]).sort(), [
    ['ipv4', 'pass', ''],
    ['ipv6', 'pass', ''],
  ])
  const store = new Database(db, { readonly: true })
  const peers = store.prepare(`SELECT details FROM events WHERE op = 'getpeername'`).all() as Array<{ details: string }>
  const addrs = peers.map(p => (JSON.parse(p.details) as { addr: { addr: string } }).addr.addr).sort()
  t.same(addrs, ['198.18.0.1', 'fd00:0:0:5::1'], 'the server sees the client at host a')
  const nft = store.prepare(`SELECT count(*) AS n FROM events WHERE op = 'nft' AND ret = 0`).get() as { n: number }
  t.equal(nft.n, 4, 'path gates are recorded as harness events')
  store.close()
  t.same(namespaces(r.pid), [], 'no namespace left')
})

t.test('a path gate later than its `within` bound is a kit error, not a kernel failure', { skip: notRoot && 'needs root' }, async t => {
  const file = join(dir, 'within.yaml')
  writeFileSync(
    file,
    twoHosts.replace(
      '  - { actor: client, do: path_ungate }',
      '  - { actor: client, do: path_ungate, within: { since: s8, ms: 0.001 }, note: no nft call is that fast }',
    ),
  )
  const r = spawnSync(process.execPath, [bin, 'run', file, '--db', join(dir, 'within.db'), '--reporter', 'json', '--filter', 'within'], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  const doc = JSON.parse(r.stdout) as { results: Array<{ variant: string; verdict: string; message: string }> }
  t.same(
    doc.results.map(x => x.verdict),
    ['error', 'error'],
  )
  t.match(
    doc.results[0]?.message,
    /step s10 \(path_ungate\) was in place \d+ ms after step s8 was sent; the scenario needs it within 0\.001 ms/,
  )
  t.same(namespaces(r.pid), [], 'no namespace left')
})

t.test('Ctrl-C in the middle of a run leaves no namespace and no probe', { skip: notRoot && 'needs root' }, async t => {
  const file = join(dir, 'slow.yaml')
  writeFileSync(
    file,
    [
      'title: a slow scenario to interrupt',
      'sources: [{ man: nanosleep(2) }]',
      'hosts: { a: {}, b: {} }',
      'actors: { client: { host: a }, server: { host: b } }',
      'steps:',
      '  - { actor: server, do: socket, sock: L }',
      '  - { actor: client, do: sleep, ms: 20000, limit_ms: 30000 }',
      '',
    ].join('\n'),
  )
  // probes inherit the run's environment: a mark tells this run's probes from those of other runs on the machine
  const mark = `SOCKSPEC_TEST_MARK=${process.pid}-${Date.now()}`
  const db = join(dir, 'interrupted.db')
  const child = spawn(process.execPath, [bin, 'run', file, '--db', db], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SOCKSPEC_TEST_MARK: mark.split('=')[1] },
  })
  const mine = (): string[] => namespaces().filter(n => n.startsWith(`sockspec-${child.pid}.`))
  for (let i = 0; i < 100 && mine().length < 3; i++) await new Promise(r => setTimeout(r, 100))
  t.ok(mine().length >= 3, 'the run created its namespaces')
  await new Promise(r => setTimeout(r, 300))
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  child.kill('SIGINT')
  const code = await exited
  t.equal(code, 130, 'exit code 130')
  t.same(mine(), [], 'namespaces removed')
  t.same([...probePids(mark)], [], 'no probe process left')
  const store = new Database(db, { readonly: true })
  t.same(store.prepare('SELECT status FROM runs').all(), [{ status: 'interrupted' }])
  store.close()
})

t.test('sockspec cleanup removes what a killed run left, and only that', { skip: notRoot && 'needs root' }, async t => {
  // A live run is known by its beacon (an abstract unix socket named by the
  // token in its namespaces' names), not by its pid: the live one here
  // carries a pid that does not exist, as a run in another pid namespace would.
  const token = `${process.pid.toString(16)}ab`
  const beacon = createServer(s => s.destroy())
  await new Promise<void>(resolve => beacon.listen({ path: `\0sockspec-run-${token}` }, resolve))
  const dead = 'sockspec-999999.deadbeef-z-hub'
  const live = `sockspec-999998.${token}-z-hub`
  const legacyLive = `sockspec-${process.pid}-z-hub`
  const foreign = 'not-sockspec-test'
  const all = [dead, live, legacyLive, foreign]
  for (const ns of all) spawnSync('ip', ['netns', 'add', ns])
  const sleeper = spawn('ip', ['netns', 'exec', dead, 'sleep', '60'], { stdio: 'ignore' })
  await new Promise(r => setTimeout(r, 200))
  t.teardown(() => {
    for (const ns of all) spawnSync('ip', ['netns', 'del', ns])
    sleeper.kill('SIGKILL')
    beacon.close()
  })
  const exited = new Promise(resolve => sleeper.on('exit', resolve))
  const r = spawnSync(process.execPath, [bin, 'cleanup'], { encoding: 'utf8' })
  t.equal(r.status, 0)
  t.match(r.stdout, /removed 1 namespace\(s\): sockspec-999999\.deadbeef-z-hub/)
  await exited
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
  t.notMatch(left, /sockspec-999999/)
  t.match(left, live, "a live run's namespace stays, whatever its pid says")
  t.match(left, legacyLive, 'a name without a token is judged by its pid')
  t.match(left, /not-sockspec-test/, 'foreign namespaces are never touched')
  beacon.close()
  await new Promise(r => setTimeout(r, 50))
  const again = spawnSync(process.execPath, [bin, 'cleanup'], { encoding: 'utf8' })
  t.match(
    again.stdout,
    new RegExp(`removed 1 namespace\\(s\\): ${live.replace(/\./g, '\\.')}`),
    'once the beacon is gone, so is the namespace',
  )
})

t.test(
  'a real remote host over ssh: sshd in a namespace of its own, the server actor behind it',
  { skip: notRoot && 'needs root' },
  async t => {
    const sshd = '/usr/sbin/sshd'
    t.equal(spawnSync('test', ['-x', sshd]).status, 0, 'sshd is installed (.ci/run installs openssh-server)')
    const keys = mkdtempSync(join(tmpdir(), 'sockspec-ssh-'))
    const tag = `sockspec-${process.pid}-ssh`
    const [remoteNs, localNs] = [`${tag}r`, `${tag}l`]
    const sh = (...argv: string[]) => {
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`)
      return r.stdout
    }
    let daemon: ReturnType<typeof spawn> | undefined
    t.teardown(() => {
      daemon?.kill('SIGKILL')
      spawnSync('ip', ['netns', 'del', remoteNs])
      spawnSync('ip', ['netns', 'del', localNs])
    })
    sh('ip', 'netns', 'add', remoteNs)
    sh('ip', 'netns', 'add', localNs)
    sh('ip', 'link', 'add', 'name', 'eth0', 'netns', localNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', remoteNs)
    for (const [ns, addr] of [
      [localNs, '198.18.1.1'],
      [remoteNs, '198.18.1.2'],
    ] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
      sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
      sh('ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    }
    sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'host_key'))
    sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'user_key'))
    writeFileSync(join(keys, 'authorized_keys'), readFileSync(join(keys, 'user_key.pub')))
    writeFileSync(
      join(keys, 'sshd_config'),
      [
        'ListenAddress 198.18.1.2',
        'Port 22',
        `HostKey ${join(keys, 'host_key')}`,
        `AuthorizedKeysFile ${join(keys, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        `PidFile ${join(keys, 'sshd.pid')}`,
        '',
      ].join('\n'),
    )
    sh('mkdir', '-p', '/run/sshd')
    daemon = spawn('ip', ['netns', 'exec', remoteNs, sshd, '-D', '-e', '-f', join(keys, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let sshdLog = ''
    daemon.stderr!.on('data', (d: Buffer) => (sshdLog += d.toString()))
    for (let i = 0; i < 50 && !/Server listening/.test(sshdLog); i++) await new Promise(r => setTimeout(r, 100))
    t.match(sshdLog, /Server listening on 198\.18\.1\.2 port 22/, 'sshd is up in its namespace')

    const file = join(dir, 'remote.yaml')
    writeFileSync(
      file,
      [
        'title: a local client connects to a listener on a remote host',
        'sources: [{ catalog: 2 }]',
        'variants: [ipv4, ipv6]',
        'hosts: { a: {}, b: {} }',
        'actors: { client: { host: a }, server: { host: b } }',
        'steps:',
        '  - { actor: server, do: socket, sock: L, nonblock: true }',
        '  - { actor: server, do: bind, sock: L }',
        '  - { actor: server, do: listen, sock: L, backlog: 4 }',
        '  - { actor: client, do: socket, sock: C, nonblock: true }',
        '  - { id: connect, actor: client, do: connect, sock: C, to: L, expect: { ret: -1, errno: EINPROGRESS } }',
        '  - { actor: client, do: epoll_create1, ep: E }',
        '  - { actor: client, do: epoll_ctl, ep: E, op: add, sock: C, events: [out] }',
        '  - { actor: client, do: epoll_wait, ep: E, timeout_ms: 3000, expect: { ready: { C: OUT }, time: { max_ms: 3000 } } }',
        '  - { actor: server, do: accept4, sock: L, new: S, expect: { ret: ">=0" } }',
        '  - { actor: server, do: getpeername, sock: S }',
        '',
      ].join('\n'),
    )
    const db = join(dir, 'ssh.db')
    const args = [
      bin,
      'run',
      file,
      '--db',
      db,
      '--reporter',
      'json',
      '--host',
      'b=ssh://root@198.18.1.2:22',
      '--ssh-identity',
      join(keys, 'user_key'),
      '--ssh-option',
      'StrictHostKeyChecking=no',
      '--ssh-option',
      `UserKnownHostsFile=${join(keys, 'known_hosts')}`,
    ]
    const remoteProbe = () => spawnSync('sh', ['-c', 'ls /tmp/sockspec-probe-* 2>/dev/null'], { encoding: 'utf8' }).stdout.trim()
    spawnSync('sh', ['-c', 'rm -f /tmp/sockspec-probe-*'])
    for (const round of [1, 2]) {
      const r = spawnSync('ip', ['netns', 'exec', localNs, process.execPath, ...args], { encoding: 'utf8', timeout: 90_000 })
      t.equal(r.status, 0, `round ${round}: ${r.stderr}`)
      const doc = JSON.parse(r.stdout) as { results: Array<{ variant: string; verdict: string; message: string }> }
      t.same(
        doc.results.map(x => [x.variant, x.verdict]).sort(),
        [
          ['ipv4', 'pass'],
          ['ipv6', 'skip'],
        ],
        'ipv4 passes; ipv6 skipped: no IPv6 address was given for b',
      )
      t.match(remoteProbe(), /^\/tmp\/sockspec-probe-[0-9a-f]{16}$/, 'the static probe was copied, once')
    }
    const store = new Database(db, { readonly: true })
    const runs = store.prepare('SELECT host_kind, hosts FROM runs').all() as Array<{ host_kind: string; hosts: string }>
    t.equal(runs.length, 2)
    const hosts = JSON.parse(runs[0]!.hosts) as Record<string, { kind: string; kernelRelease: string }>
    t.match(hosts, { b: { kind: 'ssh', kernelRelease: /^\d+\.\d+/ } }, "the remote host's kernel is recorded")
    const peer = store.prepare(`SELECT details FROM events WHERE op = 'getpeername' LIMIT 1`).get() as { details: string }
    t.equal((JSON.parse(peer.details) as { addr: { addr: string } }).addr.addr, '198.18.1.1', 'the remote server saw the local client')
    const kernels = store.prepare(`SELECT kernels FROM results WHERE verdict = 'pass' LIMIT 1`).get() as { kernels: string }
    t.match(JSON.parse(kernels.kernels), { client: /^\d/, server: /^\d/ }, 'each actor reports its kernel')
    store.close()
    spawnSync('sh', ['-c', 'rm -f /tmp/sockspec-probe-*'])
  },
)

t.test('a host sysctl outside net.* is refused, and this machine keeps its value', async t => {
  const domainname = (): string => readFileSync('/proc/sys/kernel/domainname', 'utf8')
  const before = domainname()
  const file = join(dir, 'domainname.yaml')
  writeFileSync(
    file,
    ['title: t', 'hosts: { a: { sysctl: { kernel.domainname: x } } }', 'steps: [ { actor: x, do: sleep, ms: 0 } ]', ''].join('\n'),
  )
  for (const cmd of [
    ['validate', file],
    ['run', file, '--db', join(dir, 'domainname.db')],
  ]) {
    const r = spawnSync(process.execPath, [bin, ...cmd], { encoding: 'utf8', timeout: 60_000 })
    t.equal(r.status, 2, `${cmd[0]}: exit 2`)
    t.match(r.stderr, /domainname\.yaml:2:\d+: sysctl 'kernel\.domainname': only net\.\* keys/)
  }
  // Past validation (a scenario object made by hand), the topology refuses it before it makes anything.
  const hostile: Array<Record<string, string | number>> = [
    { 'kernel.domainname': 'x' },
    { 'net.ipv4/../../kernel/domainname': 'x' },
    { 'vm.overcommit_memory': 1 },
    { 'net.core.somaxconn': '1; hostname pwned' },
    { 'net.core.somaxconn': 1.5 },
  ]
  for (const sysctl of hostile) {
    const scenario = {
      id: 'x',
      title: 't',
      hosts: { a: { sysctl } },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    await t.rejects(buildTopology(scenario, runCommand, 'test-sysctl'), /sysctl .* refused/, JSON.stringify(sysctl))
  }
  t.same(
    namespaces().filter(n => n.includes('test-sysctl')),
    [],
    'no namespace was made',
  )
  t.equal(domainname(), before, '/proc/sys/kernel/domainname unchanged')
})

t.test('topology in batches: one ip call per namespace phase, no line an ip batch cannot take', async t => {
  const plan = planTopology(['a', 'b', 'c'], { b: { 'net.core.somaxconn': 7, 'net.ipv4.tcp_syncookies': 0 } }, 'test-plan')
  const phases = topologyBatches(plan)
  t.same(
    phases.map(p => p.map(b => b.ns ?? 'caller')),
    [['caller'], plan.hosts.map(h => h.ns)],
    'namespaces, bridge and veths in one batch, then one batch per host',
  )
  const sysctls = sysctlBatch(plan)!
  t.equal(sysctls.batch.lines.length, 1, 'one line for host b, both keys')
  t.same(
    sysctls.hostOfLine.map(h => h.name),
    ['b'],
  )
  t.equal(sysctlBatch(planTopology(['a'], {}, 'x')), undefined, 'no sysctl, no batch')
  const lines = [...phases.flat().flatMap(b => b.lines), ...sysctls.batch.lines, ...deleteBatch([plan.hub]).lines]
  for (const line of lines) {
    t.notMatch(line, /^-|#|\n/, `a batch line takes no option, comment or newline: ${line.slice(0, 40)}`)
  }
  t.throws(() => planTopology(['a b'], {}, 'x'), /host name 'a b' refused/)
  t.throws(() => planTopology(['a'], {}, 'x#y'), /refused/)
})

t.test(
  'a two-host topology costs 3 ip calls to build (namespaces, links and sysctls in one; one per host) and 1 to remove, and is really there',
  { skip: notRoot && 'needs root' },
  async t => {
    const calls: string[] = []
    const counting = countingExec(calls)
    const scenario = {
      id: 'x',
      title: 't',
      hosts: { a: {}, b: { sysctl: { 'net.core.somaxconn': 7 } } },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    const topo = await buildTopology(scenario, counting, `test-batch-${process.pid}`)
    if ('skip' in topo) throw new Error(topo.skip)
    t.equal(calls.length, 3, calls.join('\n'))
    t.ok(
      calls.every(c => c.startsWith('ip ') && c.endsWith('-batch -')),
      'every call is an ip batch',
    )
    const [a, b] = topo.plan.hosts
    const inNs = (ns: string, ...argv: string[]): string => spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' }).stdout
    t.match(inNs(a!.ns, 'ip', 'addr', 'show', 'eth0'), /inet 198\.18\.0\.1\/24[\s\S]*inet6 fd00:0:0:5::1\/64/, "host a's addresses")
    t.equal(inNs(b!.ns, 'cat', '/proc/sys/net/core/somaxconn').trim(), '7', "host b's sysctl, in its namespace")
    t.match(inNs(topo.plan.hub, 'ip', 'link', 'show', 'master', 'br0'), /p0@[\s\S]*p1@/, 'both ports on the bridge')
    calls.length = 0
    await topo.destroy()
    t.equal(calls.length, 1, `removed in one call: ${calls.join('\n')}`)
    t.notOk(
      namespaces().some(n => n.includes(`test-batch-${process.pid}`)),
      'nothing left',
    )
  },
)

t.test(
  'a local session: the host helper builds it; the first actor on each host sets the host up from inside (hostnet); a host without actors gets its own batch',
  { skip: notRoot && 'needs root' },
  async t => {
    const { ProbeProcess } = await import('../harness/probe/process.js')
    const scenario = {
      id: 'x',
      title: 't',
      hosts: { a: {}, b: {}, idle: {} },
      actors: { x: { host: 'a' }, y: { host: 'b' }, z: { host: 'a' } },
      steps: ['x', 'y', 'z'].map((actor, i) => ({ id: `s${i}`, actor, do: 'sleep', ms: 0 })),
    } as unknown as Scenario
    spawnCounts(true)
    const session = await openNetns(scenario, probeBinary)
    if ('skip' in session) throw new Error(session.skip)
    t.teardown(() => session.close())
    const counts = spawnCounts(true)
    t.notOk(counts.has('ip'), `built by the host helper, no ip process: ${JSON.stringify(Object.fromEntries(counts))}`)
    t.ok((counts.get('sockspec-probe') ?? 0) <= 1, 'at most the helper was started')
    t.same(
      ['x', 'y', 'z'].map(a => session.probeSetup!(a).map(l => l.split(' ')[0])),
      [['netns', 'hostnet'], ['netns', 'hostnet'], ['netns']],
      'hostnet once per host, by its first actor',
    )
    const [a, b, idle] = session.plan.hosts
    // operstate follows IFF_UP through linkwatch, up to a second later: UNKNOWN until then
    const addrOf = (ns: string): string => spawnSync('ip', ['-n', ns, '-br', 'addr', 'show'], { encoding: 'utf8' }).stdout
    t.match(addrOf(idle!.ns), /eth0@\S+\s+(?:UP|UNKNOWN)\s+198\.18\.0\.3\/24 fd00:0:0:5::3\/64/, 'the idle host by its batch')
    t.notMatch(addrOf(a!.ns), /198\.18/, 'host a not yet')
    for (const actor of ['x', 'y']) {
      const p = new ProbeProcess([probeBinary], actor)
      t.ok(await p.waitHello(5000))
      t.equal(await p.runSetup(session.probeSetup!(actor), 'setup.', 5000), undefined, `${actor}: setup ran`)
      await p.stop()
    }
    // the link watcher marks eth0 up a moment after both veth ends are up (the helper is quicker than ip was)
    for (let i = 0; i < 100 && /eth0@\S+\s+DOWN/.test(addrOf(a!.ns)); i++) await new Promise(r => setTimeout(r, 20))
    t.match(
      addrOf(a!.ns),
      /lo\s+UNKNOWN\s+127\.0\.0\.1\/8[\s\S]*eth0@\S+\s+(?:UP|UNKNOWN)\s+198\.18\.0\.1\/24 fd00:0:0:5::1\/64/,
      'host a: lo and eth0 up, both addresses',
    )
    t.match(addrOf(b!.ns), /eth0@\S+\s+(?:UP|UNKNOWN)\s+198\.18\.0\.2\/24 fd00:0:0:5::2\/64/, 'host b')
  },
)

t.test(
  'sessions closing together remove their namespaces through the host helper, no ip process, each gone when its close resolves',
  { skip: notRoot && 'needs root' },
  async t => {
    const scenario = {
      id: 'x',
      title: 't',
      hosts: { a: {}, b: {} },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    const sessions = await Promise.all([
      openNetns(scenario, probeBinary),
      openNetns(scenario, probeBinary),
      openNetns(scenario, probeBinary),
    ])
    const names = sessions.flatMap(s => ('skip' in s ? [] : [s.plan.hub, ...s.plan.hosts.map(h => h.ns)]))
    t.equal(names.length, 9, 'three sessions of two hosts and a hub')
    t.ok(
      names.every(n => namespaces().includes(n)),
      'all there',
    )
    spawnCounts(true)
    await Promise.all(sessions.map(s => ('skip' in s ? Promise.resolve() : s.close())))
    const counts = spawnCounts(true)
    t.notOk(counts.has('ip'), `no ip process: ${JSON.stringify(Object.fromEntries(counts))}`)
    t.ok((counts.get('sockspec-probe') ?? 0) <= 1, 'at most the helper was started')
    t.notOk(
      namespaces().some(n => names.includes(n)),
      'nothing left',
    )
  },
)

t.test(
  'a net.* sysctl the namespace does not have is a skip naming the key, and nothing is left',
  { skip: notRoot && 'needs root' },
  async t => {
    const scenario = {
      id: 'x',
      title: 't',
      hosts: { a: { sysctl: { 'net.core.somaxconn': 9, 'net.ipv4.no_such_key': 1 } } },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    const r = await buildTopology(scenario, runCommand, `test-nokey-${process.pid}`)
    t.ok('skip' in r)
    t.match((r as { skip: string }).skip, /^sysctl net\.ipv4\.no_such_key cannot be set in a network namespace here: /)
    t.notOk(
      namespaces().some(n => n.includes(`test-nokey-${process.pid}`)),
      'nothing left',
    )
  },
)

t.test('default --jobs: the estimates (netns set-up counted) packed beside the longest, within 1..16 per core', async t => {
  const steps = [{ do: 'epoll_wait', timeout_ms: 2000 }]
  t.equal(
    estimateScenarioMs(steps, 2) - estimateScenarioMs(steps),
    NETNS_SETUP_MS + 2 * NETNS_HOST_MS,
    'two simulated hosts cost their set-up',
  )
  t.equal(sizeJobs([8000, ...Array<number>(40).fill(1000)], 2), 8, 'ceil(1.25 x 48 s / 8 s) workers')
  t.equal(sizeJobs(Array<number>(400).fill(1000), 2), 32, 'at most 16 per core')
  t.equal(sizeJobs([5000, 10, 10], 2), 2, 'at least one per core')
  t.equal(sizeJobs([5000], 8), 1, 'never more than the tasks')
  t.equal(startGapMs([7500, ...Array<number>(149).fill(100)]), 20, 'starts spread, at most 20 ms apart')
  t.equal(startGapMs(Array<number>(1000).fill(100)), 2, 'at least 2 ms apart')
})

t.test('a packet host: no namespace of its own, a TUN device and host routes in the namespace it is attached to', async t => {
  const plan = planTopology(['a', 'p'], {}, 'test-peer', { p: 'a' })
  const [a, p] = plan.hosts
  t.equal(p!.ns, a!.ns, "the packet host's actor runs in host a's namespace")
  t.equal(p!.inet, '198.18.0.2')
  // host a is given to its probe (hostnet), but a host with a packet host is set up by its batch all the same
  const phases = topologyBatches(plan, new Set(['a', 'p']))
  const outside = phases[0]![0]!.lines
  t.same(
    outside.filter(l => l.startsWith('netns add')),
    [`netns add ${plan.hub}`, `netns add ${a!.ns}`],
    'no namespace for the packet host',
  )
  t.equal(outside.filter(l => l.includes('type veth')).length, 1, 'one veth: the packet host has no link to the hub')
  t.equal(phases[1]!.length, 1, "one batch from inside: host a's")
  t.same(
    phases[1]![0]!.lines.slice(-4),
    [
      'tuntap add dev pk2 mode tun',
      'link set pk2 up',
      'route add 198.18.0.2/32 dev pk2 src 198.18.0.1',
      'route add fd00:0:0:5::2/128 dev pk2 src fd00:0:0:5::1',
    ],
    "host a's batch makes the TUN device and routes the peer's addresses into it",
  )
  t.throws(() => planTopology(['a', 'p'], {}, 'x', { p: 'p' }), /must be attached to a host with a namespace/)
  t.throws(() => planTopology(['a', 'p', 'q'], {}, 'x', { p: 'q', q: 'a' }), /must be attached/)
})

t.test(
  'the packet peer end to end: crafted segments reach the kernel, its answers reach the peer, both on the wire lane',
  { skip: notRoot && 'needs root' },
  async t => {
    const file = join(kitRoot, 'scenarios', 'tcp-peer', 'connect-handshake.yaml')
    const db = join(dir, 'peer.db')
    const r = spawnSync(process.execPath, [bin, 'run', file, '--db', db, '--reporter', 'json'], { encoding: 'utf8', timeout: 60_000 })
    t.equal(r.status, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as { results: Array<{ variant: string; verdict: string }> }
    t.same(doc.results.map(x => [x.variant, x.verdict]).sort(), [
      ['ipv4', 'pass'],
      ['ipv6', 'pass'],
    ])
    const store = new Database(db, { readonly: true })
    const rows = store.prepare(`SELECT actor, op, details FROM events WHERE actor = 'wire' ORDER BY result_id, idx`).all() as Array<{
      actor: string
      op: string
      details: string
    }>
    const segs = rows.map(x => JSON.parse(x.details) as { if: string; family: string; tcp_flags: string[]; sport: number; dport: number })
    for (const family of ['inet', 'inet6']) {
      const mine = segs.filter(s => s.family === family)
      t.same(
        mine.map(s => s.tcp_flags.join('|')),
        ['SYN', 'SYN|ACK', 'ACK'],
        `${family}: the handshake on the wire lane, in order`,
      )
      t.ok(
        mine.every(s => s.if === 'pk2'),
        `${family}: every segment went through the TUN device`,
      )
      t.equal(mine[1]!.sport, 8080, `${family}: the SYN-ACK is the peer's`)
    }
    const answers = store.prepare(`SELECT count(*) AS n FROM events WHERE op = 'packet_expect' AND ret = 1`).get() as { n: number }
    t.equal(answers.n, 4, 'two expected segments per variant')
    store.close()
    t.same(namespaces(r.pid), [], 'no namespace left')
  },
)

t.test(
  "the packet peer's ICMP error is a wire event: stored in the capture's shape, drawn, matched by packet expectations, and compare sees a changed one",
  { skip: notRoot && 'needs root' },
  async t => {
    const db = join(dir, 'peer-icmp.db')
    const file = join(kitRoot, 'scenarios', 'tcp-peer', 'icmp-host-unreachable-syn-sent.yaml')
    const run = (path: string, ...more: string[]) =>
      spawnSync(process.execPath, [bin, 'run', path, '--db', db, '--reporter', 'json', ...more], { encoding: 'utf8', timeout: 60_000 })
    const r = run(file)
    t.equal(r.status, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as { results: Array<{ variant: string; verdict: string }> }
    // the scenario's after_packet and packets expectations name the ICMP: a pass means they found it
    t.same(doc.results.map(x => [x.variant, x.verdict]).sort(), [
      ['ipv4', 'pass'],
      ['ipv6', 'pass'],
    ])
    const store = new Database(db, { readonly: true })
    const rows = store
      .prepare(`SELECT r.variant, e.actor, e.op, e.details FROM events e JOIN results r ON r.id = e.result_id ORDER BY e.result_id, e.idx`)
      .all() as Array<{ variant: string; actor: string; op: string; details: string }>
    store.close()
    for (const [variant, type, code, peer] of [
      ['ipv4', 3, 1, '198.18.0.2'],
      ['ipv6', 1, 3, 'fd00:0:0:5::2'],
    ] as const) {
      const mine = rows.filter(x => x.variant === variant)
      const wire = mine.filter(x => x.actor === 'wire')
      t.same(
        wire.map(x => x.op),
        ['packet', 'icmp'],
        `${variant}: the SYN, then the ICMP, on the wire lane (not on the peer's)`,
      )
      t.notOk(
        mine.some(x => x.actor === 'peer' && x.op === 'icmp'),
        `${variant}: the peer's lane keeps only its step`,
      )
      const syn = JSON.parse(wire[0]!.details) as { sport: number; tcp_seq: number; src: string }
      const icmp = JSON.parse(wire[1]!.details) as Record<string, unknown>
      t.match(
        icmp,
        {
          if: 'pk2',
          src: peer,
          dst: syn.src,
          icmp: 'dest-unreach/host',
          icmp_type: type,
          icmp_code: code,
          orig_proto: 'tcp',
          orig_src: syn.src,
          orig_sport: syn.sport,
          orig_dst: peer,
          orig_dport: 8080,
          orig_tcp_seq: syn.tcp_seq,
        },
        `${variant}: the capture's shape, quoting the kernel's own SYN`,
      )
      const step = mine.find(x => x.op === 'icmp_send')
      t.match(
        JSON.parse(step!.details),
        { icmp: 'dest-unreach/host', icmp_type: type, icmp_code: code },
        `${variant}: the step names what it sent`,
      )
    }
    const shown = spawnSync(
      process.execPath,
      [bin, 'show', 'tcp-peer/icmp-host-unreachable-syn-sent', '--db', db, '--variant', 'ipv4', '--width', '140'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    )
    t.equal(shown.status, 0, shown.stderr)
    t.match(shown.stdout, /ICMP unreach host/, 'drawn on the wire lane like a segment')
    // the same scenario with another ICMP: compare names the step and the field that changed
    const other = join(dir, 'icmp-other', 'tcp-peer')
    mkdirSync(other, { recursive: true })
    writeFileSync(
      join(other, 'icmp-host-unreachable-syn-sent.yaml'),
      readFileSync(file, 'utf8')
        .replace('icmp: host }', 'icmp: net }')
        .replaceAll('dest-unreach/host', 'dest-unreach/net')
        .replace('value: EHOSTUNREACH }', 'value: ENETUNREACH }'),
    )
    const r2 = run(join(other, 'icmp-host-unreachable-syn-sent.yaml'), '--variant', 'ipv4')
    // its after_packet and packets now name dest-unreach/net: a pass means the peer's net unreachable matched them
    t.equal(r2.status, 0, r2.stderr)
    const cmp = spawnSync(process.execPath, [bin, 'compare', '1', '2', '--db', db, '--reporter', 'json'], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    t.equal(cmp.status, 0, cmp.stderr)
    const pairs = (JSON.parse(cmp.stdout) as { comparisons: Array<{ pairs: Array<Record<string, unknown>> }> }).comparisons[0]!.pairs
    const pair = pairs.find(x => x['variant'] === 'ipv4')
    t.equal(pair?.['label'], 'differs', 'the changed ICMP is a difference')
    t.match(
      pair?.['firstDifference'],
      {
        kind: 'event',
        actor: 'peer',
        b: { event: { op: 'icmp_send', icmp: 'dest-unreach/net', icmp_code: 0 } },
        changed: ['icmp', 'icmp_code'],
      },
      'at the icmp_send step, naming the new error',
    )
  },
)

t.test(
  'a packet peer that expects the wrong segment fails the scenario, with the field that differs',
  { skip: notRoot && 'needs root' },
  async t => {
    const file = join(dir, 'peer-wrong.yaml')
    writeFileSync(
      file,
      [
        'title: the peer expects a SYN-ACK where the kernel sends a SYN',
        'sources: [{ url: "https://github.com/google/packetdrill" }]',
        'variants: [ipv4]',
        'hosts: { a: {}, p: { packet: a } }',
        'actors: { client: { host: a }, peer: { host: p } }',
        'steps:',
        '  - { actor: peer, do: tun_open, sock: P, port: 9000 }',
        '  - { actor: client, do: socket, sock: C, nonblock: true }',
        '  - { actor: client, do: connect, sock: C, to: P }',
        '  - { id: wrong, actor: peer, do: packet_expect, sock: P, within_ms: 1000, segment: { flags: SYN|ACK, seq: 0 } }',
        '',
      ].join('\n'),
    )
    const r = spawnSync(process.execPath, [bin, 'run', file, '--db', join(dir, 'peer-wrong.db'), '--reporter', 'json'], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    t.equal(r.status, 1, r.stderr)
    const doc = JSON.parse(r.stdout) as { results: Array<{ verdict: string; message: string }> }
    t.equal(doc.results[0]?.verdict, 'fail')
    t.match(doc.results[0]?.message, /wrong peer value: expected \{"flags":"SYN\|ACK","seq":0\}, got \{"flags":"SYN","seq":0\}/)
    t.same(namespaces(r.pid), [], 'no namespace left')
  },
)

t.test('validate: packet peer ops only on a packet host, a packet host only on a host with a namespace', async t => {
  const file = join(dir, 'peer-bad.yaml')
  writeFileSync(
    file,
    [
      'title: misplaced peer ops',
      'sources: [{ url: "https://github.com/google/packetdrill" }]',
      'hosts: { a: {}, p: { packet: q } }',
      'actors: { client: { host: a }, peer: { host: p } }',
      'steps:',
      '  - { actor: client, do: tun_open, sock: P, port: 9000 }',
      '  - { actor: peer, do: socket, sock: C }',
      '',
    ].join('\n'),
  )
  const r = spawnSync(process.execPath, [bin, 'validate', file], { encoding: 'utf8', timeout: 30_000 })
  t.equal(r.status, 2)
  t.match(r.stderr, /peer-bad\.yaml:3:\d+: packet host 'p' must be attached to another host/)
  t.match(r.stderr, /peer-bad\.yaml:6:\d+: tun_open is a packet peer's op: place 'client' on a host with 'packet: HOST'/)
  t.match(r.stderr, /peer-bad\.yaml:7:\d+: 'peer' is a packet peer: it can only tun_open/)
})

t.test(
  'the host helper applies path gates inside the namespace and deletes namespaces, without ip or nft',
  { skip: notRoot && 'needs root' },
  async t => {
    const ns = `sockspec-helper-test-${process.pid}`
    spawnSync('ip', ['netns', 'add', ns])
    t.teardown(() => void spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }))
    const helper = hostHelper(probeBinary)
    spawnCounts(true)
    const gate =
      'table inet sockspec\ndelete table inet sockspec\ntable inet sockspec {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    tcp flags & (syn | ack) == syn counter drop\n  }\n}\n'
    t.same(await helper.nft(ns, gate), { ok: true, message: '' })
    const rules = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'sockspec'], { encoding: 'utf8' }).stdout
    t.match(rules, /tcp flags syn \/ syn,ack counter packets 0 bytes 0 drop/, 'the rule is in that namespace')
    t.notMatch(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout, /inet sockspec/, 'and not in this one')
    const bad = await helper.nft(ns, 'table inet sockspec { chain x { bogus } }\n')
    t.equal(bad?.ok, false)
    t.match(bad?.message, /syntax error/, "nft's own message")
    t.same(await helper.nft(`${ns}-missing`, gate), { ok: false, message: 'no such namespace' })
    spawnCounts(true)
    t.same(await helper.del([ns, `${ns}-missing`]), [], 'a missing namespace is no failure')
    t.notOk(existsSync(`/run/netns/${ns}`), 'gone')
    const counts = spawnCounts(true)
    t.same(
      [...counts.keys()].filter(k => k !== 'sockspec-probe'),
      [],
      'no ip, no nft',
    )
    await helper.close()
  },
)

t.test(
  'cleanup finds leftovers and what runs in them from /run/netns and /proc, and removes them without ip',
  { skip: notRoot && 'needs root' },
  async t => {
    const dead = `sockspec-999997.dead${process.pid.toString(16)}-z-hub`
    spawnSync('ip', ['netns', 'add', dead])
    const sleeper = spawn('ip', ['netns', 'exec', dead, 'sleep', '60'], { stdio: 'ignore' })
    t.teardown(() => {
      sleeper.kill('SIGKILL')
      spawnSync('ip', ['netns', 'del', dead], { stdio: 'ignore' })
    })
    let pids: number[] = []
    for (let i = 0; i < 50 && !pids.length; i++) {
      await new Promise(r => setTimeout(r, 20))
      pids = pidsInNamespace(dead)
    }
    t.same(pids, [sleeper.pid], 'the process inside, by its namespace inode')
    const exited = new Promise(resolve => sleeper.on('exit', resolve))
    spawnCounts(true)
    const removed = await cleanupNamespaces()
    t.ok(removed.includes(dead), "the dead run's namespace is a leftover")
    await exited
    t.notOk(existsSync(`/run/netns/${dead}`), 'removed')
    t.notOk(spawnCounts(true).has('ip'), 'no ip process')
  },
)

t.test(
  'one capture serves many namespaces: each window adds its interfaces, gets only their segments, and drops them',
  { skip: notRoot && 'needs root' },
  async t => {
    const nss = [1, 2].map(i => `sockspec-capture-test-${process.pid}-${i}`)
    for (const ns of nss) {
      spawnSync('ip', ['netns', 'add', ns])
      spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    }
    t.teardown(() => {
      for (const ns of nss) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    })
    const wire = new SharedCapture([probeBinary, 'capture', '--empty'], 'netns')
    t.teardown(() => wire.close())
    spawnCounts(true)
    const windows = await Promise.all(nss.map((ns, i) => wire.join(5000, { interfaces: [`${ns}:lo`], hostOfNs: { [ns]: `h${i}` } })))
    t.same(Object.fromEntries(spawnCounts(true)), { 'sockspec-probe': 1 }, 'one capture process for both')
    // a SYN to a closed port and its RST, in each namespace
    for (const ns of nss)
      spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', 'require("net").connect(9, "127.0.0.1").on("error", () => {})'])
    const pid = windows[0]!.capture!.process.pid!
    const sockets = (): number =>
      readdirSync(`/proc/${pid}/fd`).filter(fd => readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')).length
    const open = sockets()
    const seen = await Promise.all(windows.map(w => wire.leave(w.capture!)))
    t.equal(sockets(), open - 2, 'leaving closed the packet sockets of both windows')
    seen.forEach((events, i) => {
      t.same(new Set(events.map(e => e.if)), new Set([`${nss[i]}:lo`]), `window ${i}: its own namespace only`)
      t.same(
        events.filter(e => e.op === 'packet').map(e => (e.tcp_flags as string[]).join('|')),
        ['SYN', 'RST|ACK'],
        `window ${i}: the SYN and the RST`,
      )
    })
    const missing = await wire.join(5000, { interfaces: ['sockspec-no-such-ns:lo'], hostOfNs: { 'sockspec-no-such-ns': 'x' } })
    t.notOk(missing.capture)
    t.match(missing.problem, /packet capture on netns did not start: sockspec-no-such-ns:lo unknown network namespace/)
    for (const ns of nss) spawnSync('ip', ['netns', 'del', ns])
    const again = await wire.join(5000)
    t.ok(again.capture, 'the capture still serves')
    await wire.leave(again.capture!)
  },
)

t.test(
  'the host helper builds what the ip batches build: gateway and reject routes, a TUN device, sysctls; an unknown line goes to ip',
  { skip: notRoot && 'needs root' },
  async t => {
    const calls: string[] = []
    const counting = countingExec(calls)
    const scenario = {
      id: 'x',
      title: 't',
      hosts: {
        c: { routes: [{ to: 's', via: 'g' }] },
        g: { routes: [{ to: 's', type: 'prohibit' }], sysctl: { 'net.core.somaxconn': 11 } },
        s: {},
        p: { packet: 's' },
      },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    const helper = hostHelper(probeBinary)
    const topo = await buildTopology(scenario, counting, `test-helper-${process.pid}`, new Set(), helper)
    if ('skip' in topo) throw new Error(topo.skip)
    t.teardown(() => topo.destroy())
    t.same(calls, [], 'no ip process')
    const [c, g, s, p] = topo.plan.hosts
    const ipIn = (ns: string, ...args: string[]): string => spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' }).stdout
    t.match(
      ipIn(c!.ns, 'route'),
      new RegExp(`${s!.inet.replace(/\./g, '\\.')} via ${g!.inet.replace(/\./g, '\\.')} dev eth0`),
      'c routes s through g',
    )
    t.match(ipIn(c!.ns, '-6', 'route'), new RegExp(`${s!.inet6} via ${g!.inet6} dev eth0`), 'and over IPv6')
    t.match(ipIn(g!.ns, 'route'), new RegExp(`prohibit ${s!.inet.replace(/\./g, '\\.')}`), 'g prohibits s')
    t.match(ipIn(g!.ns, '-6', 'route'), new RegExp(`prohibit ${s!.inet6}`))
    t.match(
      ipIn(s!.ns, '-d', 'link', 'show'),
      /pk\d+: <[\s\S]*tun type tun pi off vnet_hdr off persist on/,
      'a persistent TUN device without packet information',
    )
    t.match(
      ipIn(s!.ns, 'route'),
      new RegExp(`${p!.inet.replace(/\./g, '\\.')} dev \\S+ scope link src ${s!.inet.replace(/\./g, '\\.')}`),
      "the packet host's route",
    )
    t.equal(
      spawnSync('ip', ['netns', 'exec', g!.ns, 'cat', '/proc/sys/net/core/somaxconn'], { encoding: 'utf8' }).stdout.trim(),
      '11',
      "g's sysctl, in its namespace",
    )
    t.equal(
      spawnSync('ip', ['netns', 'exec', g!.ns, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).stdout.trim(),
      '1',
      'the gateway forwards',
    )
    t.equal(await helper.batch({ lines: ['link add foo type dummy'] }), undefined, 'a line the helper does not know: ip runs the batch')
    const skip = await buildTopology(
      { ...scenario, hosts: { a: { sysctl: { 'net.ipv4.no_such_key': 1 } } } } as unknown as Scenario,
      counting,
      `test-helper-nokey-${process.pid}`,
      new Set(),
      helper,
    )
    t.match(
      (skip as { skip: string }).skip,
      /^sysctl net\.ipv4\.no_such_key cannot be set in a network namespace here: No such file or directory/,
    )
    t.same(calls, [], 'still no ip process')
    t.notOk(
      namespaces().some(n => n.includes(`test-helper-nokey-${process.pid}`)),
      'nothing left of the skipped one',
    )
  },
)

t.test(
  "a plain static probe turned into the host helper by its `hosts` command (a guest's way): ip batches, gates (nft as its child) and deletion",
  { skip: notRoot && 'needs root' },
  async t => {
    const calls: string[] = []
    const counting = countingExec(calls)
    // started as an ordinary probe, as a guest's init starts every port's
    const helper = new HostHelper({ argv: [probeStaticBinary], viaCommand: true })
    t.teardown(() => helper.close())
    const scenario = {
      id: 'x',
      title: 't',
      hosts: { a: { sysctl: { 'net.core.somaxconn': 9 } }, b: { routes: [{ to: 'a', type: 'blackhole' }] } },
      steps: [{ id: 's1', actor: 'x', do: 'sleep', ms: 0 }],
    } as unknown as Scenario
    const tag = `test-viacmd-${process.pid}`
    const topo = await buildTopology(scenario, counting, tag, new Set(), helper)
    if ('skip' in topo) throw new Error(topo.skip)
    t.teardown(() => topo.destroy())
    t.same(calls, [], 'no ip process: the helper ran every batch')
    const [a, b] = topo.plan.hosts
    t.match(spawnSync('ip', ['-n', a!.ns, 'addr'], { encoding: 'utf8' }).stdout, new RegExp(`inet ${a!.inet.replace(/\./g, '\\.')}/24`))
    t.match(spawnSync('ip', ['-n', b!.ns, 'route'], { encoding: 'utf8' }).stdout, /blackhole 198\.18\.0\.1/)
    t.equal(spawnSync('ip', ['netns', 'exec', a!.ns, 'cat', '/proc/sys/net/core/somaxconn'], { encoding: 'utf8' }).stdout.trim(), '9')
    // the static probe has no libnftables: its helper runs nft(8) as a child inside the namespace
    t.same(await topo.setPathGates('a', [{ dir: 'in', drop: ['syn'] }]), { ok: true, message: '' })
    t.match(
      spawnSync('ip', ['netns', 'exec', a!.ns, 'nft', 'list', 'table', 'inet', 'sockspec'], { encoding: 'utf8' }).stdout,
      /tcp flags syn \/ syn,ack counter packets 0 bytes 0 drop/,
      'the gate is in that namespace',
    )
    const bad = await helper.nft(a!.ns, 'table inet sockspec { chain x { bogus } }\n')
    t.equal(bad?.ok, false)
    t.match(bad?.message, /syntax error/, "nft's own message")
    await topo.destroy()
    t.same(calls, [], 'gates and deletion by the helper: still no process of the harness')
    t.same(
      namespaces().filter(n => n.includes(tag)),
      [],
      'nothing left',
    )
    t.same(helper.stats.notDone, 0, 'every command answered')
    t.ok(helper.stats.done >= 4, `${helper.stats.done} helper commands`)
  },
)
