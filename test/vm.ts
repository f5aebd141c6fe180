// A real guest: fetch Debian's 6.1 cloud kernel (cached under the sockspec
// cache dir), boot it in qemu with the busybox initramfs, run a handful of
// scenarios inside it through `sockspec run --kernel debian:6.1`, and check
// the run records the guest's own kernel, the results pass, and no qemu is
// left behind. Also checks the cpio writer and module ordering (pure parts).
import t from 'tap'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kitRoot, probeStaticBinary } from '../harness/paths.js'
import { cpioNewc } from '../harness/hosts/vm/cpio.js'
import { loadOrder } from '../harness/hosts/vm/module-deps.js'
import { parseKernelSpec } from '../harness/hosts/vm/kernel-spec.js'
import { collectTools, initramfsEntries } from '../harness/hosts/vm/initramfs.js'

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'sockspec-vm-test-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const qemuPids = (): string[] => spawnSync('pgrep', ['-x', 'qemu-system-x86'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)

t.test('cpio newc archive lists what was put in (checked with busybox cpio)', { skip: !have('busybox') && 'busybox missing' }, async t => {
  const tool = { path: '/usr/sbin/ip', data: Buffer.from('ip'), mode: 0o755 }
  const archive = cpioNewc(
    initramfsEntries(Buffer.from('bb'), Buffer.from('probe'), [{ name: 'veth.ko', data: Buffer.from('ko') }], 2, [tool]),
  )
  const r = spawnSync('busybox', ['cpio', '-t'], { input: archive, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.same(r.stdout.split('\n').filter(Boolean).sort(), [
    'bin',
    'bin/busybox',
    'bin/sh',
    'bin/sockspec-probe',
    'dev',
    'dev/console',
    'dev/null',
    'init',
    'lib',
    'lib/modules',
    'lib/modules/load-order',
    'lib/modules/veth.ko',
    'proc',
    'run',
    'sys',
    'tmp',
    'usr',
    'usr/sbin',
    'usr/sbin/ip',
    'var',
    'var/run',
  ])
})

t.test('host tools travel with the libraries ldd names, the loader included', { skip: !have('ip') && 'iproute2 missing' }, async t => {
  const files = collectTools(['/usr/sbin/ip', '/no/such/tool']).map(f => f.path)
  t.ok(files.includes('/usr/sbin/ip'))
  t.ok(
    files.some(f => /\/ld-linux[^/]*\.so/.test(f)),
    'the dynamic loader',
  )
  t.ok(
    files.some(f => /\/libc\.so\.6$/.test(f)),
    'libc',
  )
  t.notOk(
    files.some(f => f.includes('no/such')),
    'a tool that is not installed is left out',
  )
  t.same(
    collectTools([probeStaticBinary]).map(f => f.path),
    [probeStaticBinary],
    'a static program travels alone (ldd refuses it)',
  )
})

t.test('modules load dependencies first; built-in modules are absent', async t => {
  const dep =
    'kernel/a/virtio_console.ko: kernel/a/virtio_ring.ko kernel/a/virtio.ko\nkernel/a/virtio.ko:\nkernel/a/virtio_ring.ko: kernel/a/virtio.ko\n'
  t.same(loadOrder(dep, ['virtio_pci', 'virtio_console']), ['kernel/a/virtio.ko', 'kernel/a/virtio_ring.ko', 'kernel/a/virtio_console.ko'])
  t.equal(parseKernelSpec('debian:6.12').kind, 'debian')
  t.throws(() => parseKernelSpec('fedora:40'), /unknown kernel/)
})

const missing = ['qemu-system-x86_64', 'busybox', 'apt-get'].filter(c => !have(c))
t.test(
  'scenarios run inside a Debian 6.1 guest and record its kernel',
  { skip: missing.length > 0 && `missing ${missing.join(', ')}` },
  async t => {
    const db = join(dir, 'vm.db')
    const before = qemuPids()
    const started = Date.now()
    // A probe that crashes and one stuck in a blocking accept: errors with stderr
    // kept; their ports are reset and reused by the scenarios that follow.
    const broken = join(dir, 'broken')
    mkdirSync(broken)
    writeFileSync(
      join(broken, 'crash.yaml'),
      'title: the probe aborts\nsources: [{ man: abort(3) }]\nvariants: [ipv4]\nsteps:\n  - { actor: client, do: socket, sock: C, nonblock: true }\n  - { actor: client, do: abort }\n',
    )
    writeFileSync(
      join(broken, 'hang.yaml'),
      'title: a blocking accept nobody answers\nsources: [{ man: accept(2) }]\nvariants: [ipv4]\nsteps:\n  - { actor: server, do: socket, sock: L }\n  - { actor: server, do: bind, sock: L }\n  - { actor: server, do: listen, sock: L, backlog: 1 }\n  - { actor: server, do: accept4, sock: L, new: S, limit_ms: 300 }\n',
    )
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'run',
        'scenarios/tcp-connect',
        'scenarios/unix',
        'scenarios/netns/path-reset-refused.yaml',
        'scenarios/netns/accept-overflow-abort-rst.yaml',
        'scenarios/seed-claims/claim-7-ack-gate.yaml',
        broken,
        '--kernel',
        'debian:6.1',
        '--db',
        db,
        '--reporter',
        'json',
        '--jobs',
        '2',
      ],
      {
        cwd: kitRoot,
        encoding: 'utf8',
        timeout: 240_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    )
    t.comment(`guest run took ${((Date.now() - started) / 1000).toFixed(1)} s; ${r.stderr.trim().split('\n').join(' / ')}`)
    const doc = JSON.parse(r.stdout) as {
      run: { kernel: string; hostKind: string }
      results: Array<{ scenario: string; variant: string; verdict: string; message: string }>
    }
    t.match(doc.run.kernel, /^6\.1\.\d+-/, 'the run records the guest kernel release, not the host one')
    t.equal(doc.run.hostKind, 'vm')
    t.ok(doc.results.length >= 16, `${doc.results.length} results`)
    const packaged = doc.results.filter(x => !x.scenario.startsWith('broken/'))
    t.same(
      packaged.filter(x => x.verdict !== 'pass').map(x => `${x.scenario} [${x.variant}] ${x.verdict}: ${x.message}`),
      [],
      'every packaged scenario passes in the guest',
    )
    t.same(
      doc.results
        .filter(x => x.scenario.startsWith('netns/'))
        .map(x => `${x.scenario} [${x.variant}] ${x.verdict}`)
        .sort(),
      [
        'netns/accept-overflow-abort-rst [ipv4] pass',
        'netns/accept-overflow-abort-rst [ipv6] pass',
        'netns/path-reset-refused [ipv4] pass',
        'netns/path-reset-refused [ipv6] pass',
      ],
      'scenario hosts are namespaces inside the guest (ip, nft and the modules came along), with sysctls and path gates',
    )
    t.same(
      doc.results
        .filter(x => x.scenario === 'seed-claims/claim-7-ack-gate')
        .map(x => [x.variant, x.verdict, (x as { claim?: string }).claim])
        .sort(),
      [
        ['ipv4', 'pass', 'refuted'],
        ['ipv6', 'pass', 'refuted'],
      ],
      'claim 7 is decided in the guest with packet evidence',
    )
    const crash = doc.results.find(x => x.scenario.endsWith('crash'))
    t.equal(crash?.verdict, 'error', 'a crashing guest probe is an error')
    t.match(crash?.message ?? '', /exit code 134|exited during/, 'the crash is named')
    const hang = doc.results.find(x => x.scenario.endsWith('hang'))
    t.equal(hang?.verdict, 'error', 'a hanging guest probe is an error')
    t.match(hang?.message, /did not finish within 300 ms/)
    t.equal(r.status, 1, 'exit 1 (the broken pack)')
    t.match(r.stderr, /kernel debian:6\.1: 6\.1\.\S+ booted in [\d.]+ s \((kvm|tcg)\)/, 'says which kernel booted')
    const store = new Database(db, { readonly: true })
    const runs = store
      .prepare(`SELECT kernel_release AS release, kernel_version AS version, host_kind AS kind, status FROM runs`)
      .all() as Array<{ release: string; version: string; kind: string; status: string }>
    t.equal(runs.length, 1)
    t.match(runs[0]!.version, /Debian 6\.1\./, 'uname -v of the guest')
    t.equal(runs[0]!.status, 'complete')
    const stderr = store
      .prepare(`SELECT r.stderr FROM results r JOIN scenarios s ON s.id = r.scenario_id WHERE s.scenario LIKE '%crash'`)
      .get() as { stderr: string } | undefined
    t.match(stderr?.stderr ?? '', /abort requested/, "the guest probe's stderr comes back")
    const gates = store
      .prepare(
        `SELECT e.op, e.ret FROM events e JOIN results r ON r.id = e.result_id JOIN scenarios s ON s.id = r.scenario_id
         WHERE s.scenario = 'netns/path-reset-refused' AND e.op = 'nft'`,
      )
      .all()
    t.same(
      gates,
      [
        { op: 'nft', ret: 0 },
        { op: 'nft', ret: 0 },
      ],
      'the path gate was set in the guest, once per family',
    )
    const wire = store
      .prepare(
        `SELECT s.scenario, r.variant, group_concat(e.details, ' ') AS segs FROM events e JOIN results r ON r.id = e.result_id
         JOIN scenarios s ON s.id = r.scenario_id WHERE e.actor = 'wire' GROUP BY s.scenario, r.variant ORDER BY s.scenario, r.variant`,
      )
      .all() as Array<{ scenario: string; variant: string; segs: string }>
    const captured = new Set(wire.map(w => `${w.scenario} [${w.variant}]`))
    const tcp = doc.results.filter(x => /^(tcp-connect|netns|seed-claims)\//.test(x.scenario)).map(x => `${x.scenario} [${x.variant}]`)
    t.same(
      tcp.filter(x => !captured.has(x)),
      // fresh-socket-out-hup never connects: nothing to capture
      ['tcp-connect/fresh-socket-out-hup [ipv4]', 'tcp-connect/fresh-socket-out-hup [ipv6]'],
      'segments are captured inside the guest for every TCP scenario, in namespaces and on its loopback',
    )
    t.ok(tcp.length >= 18, `${tcp.length} TCP results`)
    t.same(
      [...captured].filter(x => x.startsWith('unix/')),
      [],
      'unix sockets put nothing on the wire',
    )
    for (const w of wire.filter(x => x.scenario === 'netns/path-reset-refused'))
      t.match(w.segs, /"RST"/, `${w.variant}: the path's reset is on the wire`)
    const rows = store.prepare(`SELECT kernels FROM results`).all() as Array<{ kernels: string | null }>
    store.close()
    const hellos = rows.flatMap(row => Object.values((row.kernels ? JSON.parse(row.kernels) : {}) as Record<string, string>))
    t.ok(
      hellos.length > 0 && hellos.every(k => k.startsWith('6.1.')),
      `every probe said hello from the guest kernel (${[...new Set(hellos)].join(', ')})`,
    )
    t.same(
      qemuPids().filter(p => !before.includes(p)),
      [],
      'no qemu left running',
    )
  },
)
