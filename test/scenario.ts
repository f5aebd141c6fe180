// Scenario loading: syntax and schema errors carry file:line:col, semantic
// checks catch bad references, variants and kernel ranges expand as data.
import t from 'tap'
import type { Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { loadScenarios, parseScenario } from '../harness/scenario/load.js'
import { errnoNames } from '../harness/scenario/errno-names.js'
import type { ScenarioPolicy } from '../harness/scenario/semantics.js'
import type { Step, StepOp } from '../harness/scenario/types.js'
import { CommandError, buildCommand, unixPath } from '../harness/runner/command.js'
import type { CommandContext } from '../harness/runner/command.js'
import { OP_NAMES } from '../harness/ops/table.js'
import { probeBinary } from '../harness/paths.js'
import { resolveExpectation, variantsOf } from '../harness/scenario/expand.js'
import { kernelInRange, rangeRelease, upstreamRelease } from '../harness/scenario/kernel-range.js'
import { unmetRequirement } from '../harness/runner/requirements.js'
import type { SystemInfo } from '../harness/hosts/system-info.js'
import { InputErrors, SockspecError } from '../harness/errors.js'
import { kitRoot, scenarioDir } from '../harness/paths.js'
import { parse as parseYaml } from 'yaml'

const dir = mkdtempSync(join(tmpdir(), 'sockspec-test-'))

function errorOf(fn: () => unknown): SockspecError {
  try {
    fn()
  } catch (err) {
    if (err instanceof SockspecError) return err
    throw err
  }
  throw new Error('expected an error')
}

const minimal = {
  title: 'x',
  steps: [
    { actor: 'server', do: 'socket', sock: 'L' },
    { actor: 'server', do: 'bind', sock: 'L' },
  ],
}

t.test('JSON syntax errors point at line and column', async t => {
  const text = '{\n  "title": "x",\n  "steps": [\n    { "actor": "a", "do": "socket" "sock": "L" }\n  ]\n}\n'
  const e = errorOf(() => parseScenario(text, 'bad.json'))
  t.equal(e.code, 'E_SYNTAX')
  t.equal(e.exitCode, 2)
  t.same(e.position, { file: 'bad.json', line: 4, col: 36 })
  t.match(e.format(), /^bad\.json:4:36: invalid JSON: /)
})

t.test('truncated JSON reports the end of the file', async t => {
  const e = errorOf(() => parseScenario('{"title": "x",\n "steps": [', 'cut.json'))
  t.equal(e.code, 'E_SYNTAX')
  t.equal(e.position?.line, 2)
})

t.test('YAML syntax errors point at line and column', async t => {
  const e = errorOf(() => parseScenario('title: x\nsteps:\n  - { actor: a, do: socket\n', 'bad.yaml'))
  t.equal(e.code, 'E_SYNTAX')
  t.equal(e.position?.file, 'bad.yaml')
  t.ok((e.position?.line ?? 0) >= 3)
})

t.test('schema errors: unknown property, bad enum, missing field, each positioned', async t => {
  const yaml = [
    'title: t',
    'steps:',
    '  - { actor: server, do: socket, sock: L }',
    '  - actor: server',
    '    do: conect',
    '    sock: L',
    '  - actor: server',
    '    do: listen',
    '    sock: L',
    '    backlgo: 3',
    '',
  ].join('\n')
  const e = errorOf(() => parseScenario(yaml, 'schema.yaml'))
  t.ok(e instanceof InputErrors)
  const errs = (e as InputErrors).errors
  const bad = errs.find(x => /must be one of/.test(x.message))
  t.ok(bad, 'enum error for do: conect')
  t.same(bad?.position, { file: 'schema.yaml', line: 5, col: 9 })
  const unknown = errs.find(x => /unknown property 'backlgo'/.test(x.message))
  t.same(unknown?.position, { file: 'schema.yaml', line: 10, col: 5 })
  const missing = errs.find(x => /missing required property 'backlog'/.test(x.message))
  t.ok(missing, 'listen without backlog is reported')
})

t.test('semantic errors: handles, owners, references', async t => {
  const doc = {
    title: 't',
    steps: [
      { actor: 'server', do: 'socket', sock: 'L' },
      { actor: 'client', do: 'listen', sock: 'L', backlog: 1 },
      { actor: 'client', do: 'connect', sock: 'C', to: 'X' },
      { actor: 'client', do: 'await', step: 'nope' },
      { id: 'w', actor: 'server', do: 'epoll_wait', ep: 'E', expect: { time: { since: 'later', ms: 5 } } },
      { id: 'later', actor: 'server', do: 'socket', sock: 'L' },
      {
        actor: 'server',
        do: 'epoll_wait',
        ep: 'E',
        timeout_ms: 0,
        expect: { kernels: [{ range: '<6.5', time: { ms: 3000, timers_ms: [1000, 2000] } }] },
      },
    ],
  }
  const json = JSON.stringify(doc, null, 2)
  const e = errorOf(() => parseScenario(json, 'sem.json')) as InputErrors
  const text = e.errors.map(x => x.format()).join('\n')
  t.match(text, /belongs to actor 'server', not 'client'/)
  t.match(text, /handle 'C' is not open/)
  t.match(text, /'to': no earlier socket named 'X'/)
  t.match(text, /await: 'nope' is not an earlier background step/)
  t.match(text, /time.since: 'later' is not an earlier step/)
  t.match(text, /handle 'L' is already open/)
  const both = e.errors.find(x => /give 'ms' or 'timers_ms'/.test(x.message))
  t.ok(both, 'ms and timers_ms together are refused')
  const timersLine = json.split('\n').findIndex(l => l.includes('"timers_ms"')) + 1
  t.equal(both?.position?.line, timersLine, 'at the timers_ms of the kernels entry')
  for (const err of e.errors) t.match(err.format(), /^sem\.json:\d+:\d+: /)
})

t.test('ids, hashes and variants', async t => {
  mkdirSync(join(dir, 'pack-a'))
  const file = join(dir, 'pack-a', 'one.json')
  writeFileSync(file, JSON.stringify(minimal))
  const [s] = loadScenarios([dir])
  t.equal(s?.id, 'pack-a/one')
  t.equal(s?.pack, 'pack-a')
  t.same(
    s?.steps.map(x => x.id),
    ['s1', 's2'],
  )
  t.same(
    variantsOf(s!).map(v => v.name),
    ['ipv4', 'ipv6'],
  )
  const reordered = parseScenario(JSON.stringify({ steps: minimal.steps, title: 'x' }), file)
  t.equal(reordered.hash, s?.hash, 'hash ignores key order')
  const unix = parseScenario(JSON.stringify({ title: 'u', steps: [{ actor: 'a', do: 'socket', sock: 'U', family: 'unix' }] }), file)
  t.same(
    variantsOf(unix).map(v => v.name),
    ['default'],
  )
  writeFileSync(join(dir, 'pack-a', 'two.yaml'), 'id: pack-a/one\ntitle: dup\nsteps:\n  - { actor: a, do: sleep, ms: 1 }\n')
  const dup = errorOf(() => loadScenarios([dir]))
  t.match(dup.message, /duplicate scenario id 'pack-a\/one'/)
})

t.test('kernel ranges and per-kernel expectations', async t => {
  t.ok(kernelInRange('6.18.44-fc-v769', '>=6.5'))
  t.notOk(kernelInRange('6.1.0-28-cloud-amd64', '>=6.5'))
  t.ok(kernelInRange('6.1.0-28-cloud-amd64', '>=5.4 <6.5'))
  t.ok(kernelInRange('5.4.0', '>=5.4'))
  t.notOk(kernelInRange('5.3.18', '>= 5.4'))
  t.ok(kernelInRange('6.12.1', '6.12'))
  const exp = {
    ret: 0,
    errno: null,
    kernels: [
      { range: '>=6.5', time: { ms: 19600 } },
      { range: '<6.5', time: { ms: 15400 } },
    ],
  }
  t.same(resolveExpectation(exp, '6.18.44'), { ret: 0, errno: null, time: { ms: 19600 } })
  t.same(resolveExpectation(exp, '6.1.0'), { ret: 0, errno: null, time: { ms: 15400 } })
})

t.test('a Debian kernel is ranged by the upstream x.y.z its version string names', async t => {
  // what a Debian 6.1 guest reports: the release names only the ABI series
  const release = '6.1.0-56-cloud-amd64'
  const version = '#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)'
  t.equal(upstreamRelease(version), '6.1.158')
  t.equal(upstreamRelease('#1 SMP PREEMPT_DYNAMIC @0'), undefined, 'a version without a distribution x.y.z names none')
  t.equal(upstreamRelease('#1 SMP Debian 6.1-1'), undefined, 'only a full x.y.z counts')
  t.equal(upstreamRelease('Debian 6.1.158-1'), '6.1.158', 'the package version a guest that did not boot is recorded with')
  t.equal(rangeRelease(release, version), '6.1.158')
  t.equal(rangeRelease('6.18.44-fc-v657', '#1 SMP PREEMPT_DYNAMIC @0'), '6.18.44-fc-v657')
  t.ok(kernelInRange(rangeRelease(release, version), '>=6.1.90 <6.2'), 'a backport range holds on the stable release')
  t.notOk(kernelInRange(release, '>=6.1.90 <6.2'), 'the bare release would have said 6.1.0')
  t.notOk(kernelInRange(rangeRelease('5.10.0-36-cloud-amd64', '#1 SMP Debian 5.10.244-1 (2025-09-29)'), '>=6.1.90 <6.2'))

  const system: SystemInfo = {
    hostname: 'g',
    kernelRelease: release,
    kernelVersion: version,
    arch: 'x86_64',
    distro: undefined,
    uid: 0,
    ipv6Loopback: true,
    sysctls: {},
  }
  const scenario = parseScenario(
    'title: t\nrequires: { kernel: ">=6.1.90 <6.2" }\nsteps: [ { actor: x, do: sleep, ms: 0 } ]\n',
    'backport.yaml',
  )
  const plan = variantsOf(scenario)[0]!
  t.equal(unmetRequirement(scenario, plan, system), undefined, 'requires.kernel reads the upstream version')
  t.match(
    unmetRequirement(scenario, plan, { ...system, kernelVersion: '#1 SMP' }),
    /needs kernel >=6\.1\.90 <6\.2 \(this is 6\.1\.0-56-cloud-amd64\)/,
  )
  t.match(
    unmetRequirement({ ...scenario, requires: { kernel: '>=6.2' } }, plan, system),
    /this is 6\.1\.0-56-cloud-amd64, upstream 6\.1\.158/,
  )
  const exp = { ret: 0, kernels: [{ range: '>=6.1.90 <6.2', ret: 1 }] }
  t.same(resolveExpectation(exp, rangeRelease(release, version)), { ret: 1 }, 'a per-kernel expectation names the stable release')
})

t.test('every packaged scenario validates', async t => {
  const all = loadScenarios([scenarioDir])
  t.ok(all.length >= 1)
  const ids = new Set(all.map(s => s.id))
  t.equal(ids.size, all.length, 'ids are unique')
  for (const s of all) t.ok(s.sources && s.sources.length > 0, `${s.id} cites a source`)
})

t.test('every property of the scenario schema is described, directly or by its $ref', async t => {
  const schema = JSON.parse(readFileSync(new URL('../schemas/scenario.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>
  const resolve = (node: Record<string, unknown>): Record<string, unknown> => {
    const ref = node.$ref
    if (typeof ref !== 'string') return node
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], schema)
    return target as Record<string, unknown>
  }
  const undescribed: string[] = []
  const walk = (node: unknown, path: string): void => {
    if (!node || typeof node !== 'object') return
    const props = (node as { properties?: Record<string, Record<string, unknown>> }).properties
    for (const [name, prop] of Object.entries(props ?? {})) {
      if (typeof prop.description !== 'string' && typeof resolve(prop).description !== 'string') undescribed.push(`${path}/${name}`)
    }
    // `if` subschemas test properties (do: connect), they do not declare them
    for (const [k, v] of Object.entries(node)) if (k !== 'if') walk(v, `${path}/${k}`)
  }
  walk(schema, '#')
  t.same(undescribed, [])
  t.ok((schema.$defs as Record<string, unknown>).time, 'the time window is defined once')
})

// ---- the sandbox: a scenario is untrusted input run as root ----------------

const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir })

/** The problems parseScenario reports for a YAML text (each formatted), or [] when it loads. */
function problems(yaml: string, policy?: ScenarioPolicy): string[] {
  try {
    parseScenario(yaml, 'h.yaml', policy)
    return []
  } catch (err) {
    if (err instanceof InputErrors) return err.errors.map(e => e.format())
    if (err instanceof SockspecError) return [err.format()]
    throw err
  }
}
const oneStep = (step: string, extra = ''): string =>
  `title: t\n${extra}steps:\n  - { actor: a, do: socket, sock: S }\n  - { actor: a, ${step} }\n`

t.test('the hostile files of the audit: validate exits 2 with file:line:col', async t => {
  const files: Record<string, string> = {
    'inject.yaml': [
      'title: t',
      'steps:',
      '  - { actor: c, do: socket, sock: S }',
      '  - { actor: c, do: bind, sock: S, addr: "127.0.0.1 0\\nzz sleep 10" }',
      '',
    ].join('\n'),
    'sysctl.yaml': ['title: t', 'hosts: { a: { sysctl: { kernel.domainname: x } } }', 'steps: [ { actor: x, do: sleep, ms: 0 } ]', ''].join(
      '\n',
    ),
    'escape.yaml': [
      'title: t',
      'steps:',
      '  - { actor: a, do: socket, sock: S, family: unix }',
      '  - { actor: a, do: bind, sock: S, path: ../../escape.sock }',
      '  - { actor: a, do: close, sock: S }',
      '',
    ].join('\n'),
    'ebanana.yaml': ['title: t', 'steps:', '  - { actor: a, do: socket, sock: S, expect: { errno: EBANANA } }', ''].join('\n'),
  }
  const where: Record<string, RegExp> = {
    'inject.yaml': /^sockspec: inject\.yaml:4:\d+: steps\.1\.addr: /m,
    'sysctl.yaml': /^sockspec: sysctl\.yaml:2:\d+: sysctl 'kernel\.domainname': only net\.\* keys/m,
    'escape.yaml': /^sockspec: escape\.yaml:4:\d+: path '\.\.\/\.\.\/escape\.sock' must stay in the scenario's private directory/m,
    'ebanana.yaml': /^sockspec: ebanana\.yaml:3:\d+: errno 'EBANANA' is not an errno name/m,
  }
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text)
    const r = cli('validate', name)
    t.equal(r.status, 2, `${name}: exit 2`)
    t.match(r.stderr, where[name]!, `${name}: positioned message`)
  }
  // run refuses them the same way, before any probe starts: no socket file escapes
  const r = cli('run', 'escape.yaml', '--db', join(dir, 'escape.db'))
  t.equal(r.status, 2)
  for (const d of [dir, dirname(dir), '/']) t.notOk(existsSync(join(d, 'escape.sock')), `no escape.sock in ${d}`)
})

t.test('addresses are IP literals; paths stay in the private directory', async t => {
  for (const addr of [
    '"127.0.0.1 0\\nzz netns /proc/1/ns/net"',
    'localhost',
    '"1.2.3"',
    '"127.000.0.1"',
    '"fe80::1%lo"',
    '"::1 "',
    '"10.0.0.1\\tx"',
  ]) {
    const p = problems(oneStep(`do: bind, sock: S, addr: ${addr}`))
    t.equal(p.length, 1, `addr ${addr} refused`)
    t.match(p[0], /^h\.yaml:4:\d+: /)
  }
  const unix = (path: string): string[] =>
    problems(`title: t\nsteps:\n  - { actor: a, do: socket, sock: S, family: unix }\n  - { actor: a, do: bind, sock: S, path: ${path} }\n`)
  for (const path of [
    '/etc/x.sock',
    '../x.sock',
    'a/../../x.sock',
    'a/..',
    '"x y.sock"',
    '"x\\ny.sock"',
    '"@a b"',
    '"x\\u0000.sock"',
    '"@"',
  ]) {
    const p = unix(path)
    t.equal(p.length, 1, `path ${path} refused`)
    t.match(p[0], /^h\.yaml:4:\d+: /)
  }
  for (const path of ['x.sock', 'a/b.sock', './x.sock', '"café-✓.sock"', '"@abstract"', 'x..y.sock'])
    t.same(unix(path), [], `path ${path} accepted`)
})

t.test('host sysctls are net.* keys with simple values; requires reads sysctl names only', async t => {
  const host = (sysctl: string): string[] =>
    problems(`title: t\nhosts: { a: { sysctl: { ${sysctl} } } }\nsteps: [ { actor: x, do: sleep, ms: 0 } ]\n`)
  for (const bad of [
    'kernel.core_pattern: x',
    'vm.overcommit_memory: 1',
    'fs.binfmt_misc.status: 0',
    '"net.ipv4/../../kernel/domainname": x',
    '"net..x": 1',
    'net: 1',
  ]) {
    const p = host(bad)
    t.equal(p.length, 1, `${bad} refused`)
    t.match(p[0], /^h\.yaml:2:\d+: sysctl '/)
  }
  t.match(host('net.core.somaxconn: "1 2"')[0], /h\.yaml:2:\d+: /, 'a value with whitespace')
  t.same(host('net.core.somaxconn: 7, net.ipv4.tcp_congestion_control: reno'), [])
  const esc = host('"net.x\\u001b[2J\\nfake.yaml:1:1: ok": 1')
  t.equal(esc.length, 1)
  t.notMatch(esc[0], /[\u001b\n]/, 'control characters are shown escaped, never raw')
  t.match(esc[0], /sysctl "net\.x\\u001b\[2J\\nfake/)
  const req = problems('title: t\nrequires: { sysctl: { "net/../../../etc/shadow": x } }\nsteps: [ { actor: x, do: sleep, ms: 0 } ]\n')
  t.match(req[0], /^h\.yaml:2:\d+: sysctl 'net\/\.\.\/\.\.\/\.\.\/etc\/shadow' is not a sysctl name/)
})

t.test('errno names come from the probe table', async t => {
  const names = errnoNames()
  t.ok(names.has('EINPROGRESS') && names.has('EAGAIN') && names.has('EHWPOISON'))
  t.notOk(names.has('EWOULDBLOCK'), 'aliases are not in the table')
  t.ok(names.size > 120, `${names.size} names`)
  // the table the probe really uses: it names errno 115 EINPROGRESS and 11 EAGAIN
  const p = problems(
    oneStep(
      'do: connect, sock: S, addr: 127.0.0.1, port: 1, expect: { errno: { not: [EINPROGRESS, EFOO] }, kernels: [{ range: ">=6", errno: EBANANA }] }',
    ),
  )
  t.equal(p.length, 2)
  t.match(p.join('\n'), /errno 'EFOO' is not an errno name/)
  t.match(p.join('\n'), /errno 'EBANANA' is not an errno name/)
  t.match(problems(oneStep('do: recv, sock: S, expect: { errno: EWOULDBLOCK }'))[0], /reported as 'EAGAIN'/)
  t.match(problems(oneStep('do: getsockopt, sock: S, level: socket, opt: SO_ERROR, expect: { value: ECONREFUSED }'))[0], /ECONREFUSED/)
  t.same(problems(oneStep('do: getsockopt, sock: S, level: socket, opt: SO_ERROR, expect: { value: ECONNREFUSED }')), [])
})

t.test('destinations stay on loopback, in the kit namespaces, or on --host machines', async t => {
  const dest = (addr: string, extra = '', policy?: ScenarioPolicy): string[] =>
    problems(oneStep(`do: connect, sock: S, addr: "${addr}", port: 80`, extra), policy)
  for (const addr of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '0.0.0.0', '::']) t.same(dest(addr), [], `${addr} is local`)
  for (const addr of ['8.8.8.8', '::ffff:8.8.8.8', '255.255.255.255', '224.0.0.1', '192.0.2.1', '2001:db8::1', '198.18.0.1', 'fd00::1']) {
    const p = dest(addr)
    t.equal(p.length, 1, `${addr} refused`)
    t.match(p[0], /^h\.yaml:4:\d+: connect destination .* pass --allow-external/)
  }
  const hosts = 'hosts: { a: {} }\n'
  for (const addr of ['198.18.0.1', '198.19.255.1', 'fd00:0:0:6::1']) t.same(dest(addr, hosts), [], `${addr} is inside the namespaces`)
  t.equal(dest('8.8.8.8', hosts).length, 1, 'hosts do not open the world')
  t.same(dest('8.8.8.8', '', { allowExternal: true }), [], '--allow-external')
  t.same(dest('192.0.2.7', '', { remoteAddresses: ['192.0.2.7'] }), [], 'a --host address')
  t.match(problems(oneStep('do: bind, sock: S, addr: 192.0.2.1'))[0], /bind address 192\.0\.2\.1 is outside/)
  t.match(problems(oneStep('do: sendto, sock: S, addr: 192.0.2.1, port: 9'))[0], /sendto destination/)
  // io_uring's connect is a connect too (the ring handle R is not open here: that problem is beside the point)
  t.match(
    problems(oneStep('do: uring_connect, ring: R, sock: S, addr: 192.0.2.1, port: 9, user_data: K')).join('\n'),
    /uring_connect destination 192\.0\.2\.1 is outside/,
  )
})

const ctxFor = (tmpDir: string): CommandContext => ({
  variant: { name: 'ipv4', family: 'inet', loopback: '127.0.0.1' } as CommandContext['variant'],
  addresses: new Map(),
  families: new Map([['S', 'inet']]),
  owners: new Map(),
  passing: [],
  tmpDir,
  uniqueSuffix: 'u1',
})

t.test('wait_blocked, bind like and host routes: each mistake refused at its file:line:col', async t => {
  const two = (step: string, extra = ''): string =>
    `title: t\n${extra}steps:\n  - { actor: a, do: socket, sock: S }\n  - { actor: b, do: sleep, ms: 0 }\n  - { actor: a, ${step} }\n`
  t.same(problems(two('do: wait_blocked, target: b, timeout_ms: 100')), [], 'another actor, a bounded wait')
  t.match(problems(two('do: wait_blocked, target: zz, timeout_ms: 100')), [/^h\.yaml:5:\d+: wait_blocked: 'zz' is not an actor/])
  t.match(problems(two('do: wait_blocked, target: a, timeout_ms: 100')), [/^h\.yaml:5:\d+: wait_blocked: an actor cannot wait for itself/])
  t.match(problems(two('do: wait_blocked, target: b, timeout_ms: -1')), [/^h\.yaml:5:\d+: wait_blocked: timeout_ms must be 0 or more/])
  t.match(problems(two('do: wait_blocked, target: b')), [/^h\.yaml:5:\d+: .*timeout_ms/], 'timeout_ms is required')
  // on hosts, a --host machine is another machine: its /proc is out of reach
  const placed = 'hosts: { x: {}, y: {} }\nactors: { a: { host: x }, b: { host: y } }\n'
  const step = 'do: wait_blocked, target: b, timeout_ms: 100'
  t.same(problems(two(step, placed)), [], 'two namespaces of this machine share its /proc')
  const [across] = problems(two(step, placed), { remoteHosts: ['y'] })
  t.match(across, /^h\.yaml:7:\d+: wait_blocked: actor 'b' runs on host 'y', another machine than 'a'/)
  t.same(
    problems(two(step, 'hosts: { x: {}, y: {} }\nactors: { a: { host: y }, b: { host: y } }\n'), { remoteHosts: ['y'] }),
    [],
    'both on it',
  )
  // bind like
  t.same(problems(oneStep('do: bind, sock: S, like: S')), [])
  t.match(problems(oneStep('do: bind, sock: S, like: Q')), [/^h\.yaml:4:\d+: 'like': no earlier socket named 'Q'/])
  t.match(problems(oneStep('do: connect, sock: S, like: S')).join('\n'), /connect does not use 'like'/)
  // routes
  const routes = (hosts: string): string[] => problems(`title: t\nhosts: ${hosts}\nsteps: [ { actor: x, do: sleep, ms: 0 } ]\n`)
  t.same(routes('{ c: { routes: [{ to: s, via: g }] }, g: { routes: [{ to: s, type: prohibit }] }, s: {} }'), [])
  t.match(routes('{ c: { routes: [{ to: q, type: blackhole }] } }'), [/^h\.yaml:2:\d+: route to 'q': not a host/])
  t.match(routes('{ c: { routes: [{ to: c, type: blackhole }] } }'), [/route to 'c': a host's own addresses are local/])
  t.match(routes('{ c: { routes: [{ to: s, via: s }] }, s: {} }'), [/route via 's': the gateway must be a third host/])
  t.match(routes('{ c: { routes: [{ to: s, via: q }] }, s: {} }'), [/route via 'q': not a host/])
  t.ok(routes('{ c: { routes: [{ to: s }] }, s: {} }').length > 0, 'a route needs a type or a gateway')
  t.ok(routes('{ c: { routes: [{ to: s, type: throw }] }, s: {} }').length > 0, 'only the three reject types')
  // at run time: the pid comes from the context, which gives none for a probe on another machine
  const wait: Step = { actor: 'a', do: 'wait_blocked', target: 'b', timeout_ms: 100 }
  t.throws(() => buildCommand(wait, ctxFor(dir)), /actor 'b' has no probe on the machine of actor 'a'/)
  t.equal(buildCommand(wait, { ...ctxFor(dir), probePid: t => (t === 'b' ? 4242 : undefined) }), 'wait_blocked 4242 100')
  const like: Step = { actor: 'a', do: 'bind', sock: 'S', like: 'A' }
  t.throws(() => buildCommand(like, ctxFor(dir)), /socket 'A' has no known address/)
  const bound = { ...ctxFor(dir), addresses: new Map([['A', { family: 'inet' as const, addr: '0.0.0.0', port: 4000 }]]) }
  t.equal(buildCommand(like, bound), 'bind S inet 0.0.0.0 4000', 'the very address, the wildcard kept')
})

t.test('share and actors: expanded at load into one step per actor, every mistake at its file:line:col', async t => {
  const text = [
    'title: t',
    'steps:',
    '  - { actor: w1, do: socket, sock: L }',
    '  - { id: sh, actor: w1, do: share, sock: L, with: [w2, w3] }',
    '  - { id: acc, actors: [w1, w2, w3], do: accept4, sock: L, new: S, background: true }',
    '  - { actors: [w1, w2, w3], do: await, step: acc }',
    '  - { actor: w2, do: close, sock: L }',
    '  - { actor: w3, do: listen, sock: L, backlog: 1, note: "still held by w3" }',
    'across:',
    '  - { steps: [acc], of: { ret: ">=0" }, count: 1 }',
  ].join('\n')
  const s = parseScenario(text, 'g.yaml')
  t.same(
    s.steps.map(x => `${x.id} ${x.actor} ${x.do}`),
    [
      's1 w1 socket',
      'sh w1 share',
      'sh-w2 w2 pidfd_getfd',
      'sh-w3 w3 pidfd_getfd',
      'acc-w1 w1 accept4',
      'acc-w2 w2 accept4',
      'acc-w3 w3 accept4',
      's4-w1 w1 await',
      's4-w2 w2 await',
      's4-w3 w3 await',
      's5 w2 close',
      's6 w3 listen',
    ],
  )
  t.match(s.steps[2], { target: 'w1', sock: 'L', new: 'L', expect: { ret: '>=0' } }, "a receiver takes the holder's L under its name")
  // the share's skip_if is its receivers': their pidfd_getfd is what a kernel before 5.6 refuses (ENOSYS)
  const skipping = parseScenario(
    text.replace('with: [w2, w3] }', 'with: [w2, w3], skip_if: { errno: ENOSYS, why: "no pidfd_getfd" } }'),
    'g.yaml',
  )
  t.same(
    skipping.steps.filter(x => x.skip_if).map(x => `${x.id} ${JSON.stringify(x.skip_if)}`),
    ['sh-w2 {"errno":"ENOSYS","why":"no pidfd_getfd"}', 'sh-w3 {"errno":"ENOSYS","why":"no pidfd_getfd"}'],
    'skip_if moves to the receivers',
  )
  t.same(
    s.steps.filter(x => x.do === 'await').map(x => x.step),
    ['acc-w1', 'acc-w2', 'acc-w3'],
    'each actor awaits its own member',
  )
  t.same(s.across?.[0]?.steps, ['acc-w1', 'acc-w2', 'acc-w3'], 'across counts over the group')
  t.same(s.stepPositions[3], s.stepPositions[2], "a receiver's position is its share step's")
  t.equal(s.stepPositions[6]!.line, 5)
  // the same mistakes as one actor's, at the written step
  const bad = (steps: string, policy?: ScenarioPolicy, extra = ''): string[] =>
    problems(`title: t\n${extra}steps:\n  - { actor: w1, do: socket, sock: L }\n${steps}`, policy)
  const waits = parseScenario(
    'title: t\nsteps:\n  - { actor: a, do: sleep, ms: 1 }\n  - { actor: b, do: sleep, ms: 1 }\n  - { id: wb, actor: c, do: wait_blocked, target: [a, b], timeout_ms: 10 }\n',
    'w.yaml',
  )
  t.same(
    waits.steps.slice(2).map(x => `${x.id} ${x.actor} ${x.target}`),
    ['wb-a c a', 'wb-b c b'],
    'wait_blocked on a list: one wait per target',
  )
  t.match(
    problems('title: t\nsteps:\n  - { actor: a, do: sleep, ms: 1 }\n  - { actor: c, do: wait_blocked, target: [a, zz], timeout_ms: 10 }\n'),
    [/^h\.yaml:4:\d+: wait_blocked: 'zz' is not an actor/],
  )
  t.match(
    problems(
      'title: t\nsteps:\n  - { actor: a, do: uring_setup, ring: R }\n  - { actor: a, do: uring_cancel, ring: R, target: [x], user_data: U }\n',
    ),
    [/^h\.yaml:4:\d+: uring_cancel: 'target' takes one name here/],
  )
  t.match(bad('  - { actor: w1, do: share, sock: L, with: [w1] }\n'), [/^h\.yaml:4:\d+: share: 'w1' already holds 'L'/])
  t.match(bad('  - { actor: w1, do: share, sock: Q, with: [w2] }\n').join('\n'), /^h\.yaml:4:\d+: handle 'Q' is not open/m)
  t.match(bad('  - { actor: w1, do: share, sock: L, with: tcp-reset }\n'), [/^h\.yaml:4:\d+: share: 'with' is the list of actors/])
  t.match(bad('  - { actor: w1, do: share, sock: L, with: [w2], background: true }\n'), [/share is not a background step/])
  t.match(bad('  - { actors: [w1, w2], do: share, sock: L, with: [w3] }\n').join('\n'), /share: one holder per step/)
  t.match(bad('  - { actor: w2, do: listen, sock: L, backlog: 1 }\n'), [/^h\.yaml:4:\d+: handle 'L' belongs to actor 'w1', not 'w2'/])
  t.match(
    bad('  - { actor: w1, do: share, sock: L, with: [w2] }\n  - { actor: w2, do: socket, sock: L }\n'),
    [/^h\.yaml:5:\d+: handle 'L' is already open \(actor 'w1', 'w2'\)/],
    'a shared name is not created again',
  )
  t.match(
    bad('  - { actor: w2, do: socket, sock: L }\n'),
    [/handle 'L' is already open \(actor 'w1'\)/],
    'one name, one socket, outside groups',
  )
  t.match(bad('  - { actors: [w1, w2], do: listen, sock: L, backlog: 1 }\n'), [
    /^h\.yaml:4:\d+: handle 'L' belongs to actor 'w1', not 'w2'/,
  ])
  t.match(bad('  - { actor: w2, do: pidfd_getfd, target: w1, sock: Q, new: Q }\n'), [/pidfd_getfd: handle 'Q' is not open in actor 'w1'/])
  t.match(bad('  - { actor: w1, do: pidfd_getfd, target: w1, sock: L, new: L2 }\n'), [/cannot take a descriptor from itself/])
  t.match(
    bad('  - { actor: w1, do: socket, sock: M, actors: [w2] }\n').join('\n'),
    /^h\.yaml:4:\d+: /,
    'actor and actors: one or the other',
  )
  t.match(bad('  - { do: sleep, ms: 1 }\n').join('\n'), /missing required property 'actor'/)
  t.match(problems('title: t\nsteps:\n  - { id: a, actors: [w1], do: sleep, ms: 1 }\nacross:\n  - { steps: [a], of: { ret: 0 } }\n'), [
    /^h\.yaml:5:\d+: across: counting over one step/,
  ])
  // another machine: a descriptor cannot cross it (exit 2 at the share's receiver)
  const placed = 'hosts: { x: {}, y: {} }\nactors: { w1: { host: x }, w2: { host: y } }\n'
  const share = '  - { actor: w1, do: share, sock: L, with: [w2] }\n'
  t.same(bad(share, undefined, placed), [], 'two namespaces of this machine')
  t.match(bad(share, { remoteHosts: ['y'] }, placed), [/^h\.yaml:6:\d+: share: actor 'w2' runs on host 'y', another machine than 'w1'/])
  // at run time: the holder's pid and descriptor come from the context
  const take: Step = { actor: 'w2', do: 'pidfd_getfd', target: 'w1', sock: 'L', new: 'L' }
  t.throws(() => buildCommand(take, ctxFor(dir)), /actor 'w1' has no probe on the machine of actor 'w2'/)
  const withPid = { ...ctxFor(dir), probePid: (a: string) => (a === 'w1' ? 4242 : undefined) }
  t.throws(() => buildCommand(take, withPid), /actor 'w1' has not reported a descriptor for 'L'/)
  t.equal(buildCommand(take, { ...withPid, sharedFds: new Map([['w1/L', 7]]) }), 'pidfd_getfd L 4242 7')
  t.equal(buildCommand({ actor: 'w1', do: 'share', sock: 'L', with: ['w2'] }, ctxFor(dir)), 'share L')
})

t.test('buildCommand throws on a token it cannot quote; no value reaches netns or capture', async t => {
  const ctx = ctxFor(dir)
  const throws = (step: Partial<Step>, why: RegExp | typeof CommandError, msg: string): void => {
    try {
      buildCommand({ actor: 'a', do: 'bind', sock: 'S', ...step } as Step, ctx)
      t.fail(`${msg}: no error`)
    } catch (err) {
      t.ok(err instanceof CommandError, `${msg}: a CommandError`)
      if (why instanceof RegExp) t.match((err as Error).message, why, msg)
    }
  }
  throws({ addr: '127.0.0.1 0\nzz netns /proc/1/ns/net' }, CommandError, 'newline in addr')
  throws({ addr: '127.0.0.1\tcapture' }, CommandError, 'tab in addr')
  throws({ sock: '' }, /sock: a value is required/, 'empty handle')
  throws({ sock: 'S\nzz' }, CommandError, 'newline in handle')
  throws({ id: 's1 netns x' } as Partial<Step>, /step id/, 'space in the step id')
  throws({ do: 'netns' as StepOp }, /'netns' is not a scenario step/, 'netns is not a step')
  throws({ do: 'capture' as StepOp }, /'capture' is not a scenario step/, 'capture is not a step')
  throws({ do: 'send', text: 'a b' }, CommandError, 'space in text')
  throws({ do: 'setsockopt', level: 'socket', opt: 'SO_LINGER', value: '1,0\nzz capture eth0' }, CommandError, 'newline in value')
  throws({ do: 'poll', fds: { 'S in': ['in'] } }, CommandError, 'space in a poll handle')
  throws({ do: 'accept4', new: undefined }, /new: a value is required/, 'accept4 without new')
  t.equal(buildCommand({ actor: 'a', do: 'bind', sock: 'S', addr: '127.0.0.1' }, ctx), 'bind S inet 127.0.0.1 0')

  // Every op, every string field hostile: either a CommandError or one line of the op's own words.
  // every op of the table, so a new op is covered without editing this list
  const ops: StepOp[] = [...OP_NAMES]
  const evil = '0\nzz netns /proc/1/ns/net'
  const fields = [
    'sock',
    'new',
    'pass',
    'ep',
    'addr',
    'path',
    'text',
    'opt',
    'value',
    'level',
    'how',
    'proto',
    'type',
    'family',
    'op',
    'cmd',
  ]
  let lines = 0
  let refused = 0
  for (const op of ops) {
    for (const field of fields) {
      const step = {
        id: 's1',
        actor: 'a',
        do: op,
        sock: 'S',
        ep: 'E',
        new: 'N',
        pass: 'P',
        opt: 'SO_ERROR',
        level: 'socket',
        port: 1,
        [field]: evil,
      }
      for (const extra of [{}, { flags: [evil] }, { events: [evil] }, { fds: { [evil]: ['in'] } }, { drop: [evil] }]) {
        const c = { ...ctxFor(dir), families: new Map<string, 'inet' | 'inet6' | 'unix'>([['S', field === 'path' ? 'unix' : 'inet']]) }
        try {
          const cmd = buildCommand({ ...step, ...extra } as unknown as Step, c)
          lines++
          t.notMatch(cmd, /[\n\r\t\0]|netns|capture/, `${op}.${field}: ${JSON.stringify(cmd)}`)
        } catch (err) {
          if (!(err instanceof CommandError)) throw err
          refused++
        }
      }
    }
  }
  t.ok(refused > 0 && lines > 0, `${refused} refused, ${lines} harmless lines`)
})

t.test('unix paths resolve inside the scenario temp dir at run time', async t => {
  const tmp = mkdtempSync(join(dir, 'run-'))
  const ctx = ctxFor(tmp)
  t.equal(unixPath('x.sock', ctx), join(tmp, 'x.sock'))
  t.equal(unixPath('@n', ctx), '@n-u1')
  t.throws(() => unixPath('../x.sock', ctx), /no '\.\.' segment/)
  t.throws(() => unixPath('/tmp/x.sock', ctx), /relative/)
  // a symlinked directory inside the temp dir that leads out of it
  symlinkSync(tmpdir(), join(tmp, 'out'))
  t.throws(() => unixPath('out/x.sock', ctx), /resolves to .* outside the scenario's private directory/)
  mkdirSync(join(tmp, 'sub'))
  t.equal(unixPath('sub/x.sock', ctx), join(tmp, 'sub', 'x.sock'))
  t.throws(
    () => buildCommand({ actor: 'a', do: 'bind', sock: 'U', path: '../../escape.sock' }, { ...ctx, families: new Map([['U', 'unix']]) }),
    /no '\.\.' segment/,
  )
})

t.test('a non-ASCII unix path round-trips through the real probe, so `to:` reaches it', async t => {
  t.ok(existsSync(probeBinary))
  const file = join(dir, 'unicode.yaml')
  writeFileSync(
    file,
    [
      'title: a unix listener at a non-ASCII path accepts a connect to it',
      'sources: [{ man: unix(7) }]',
      'steps:',
      '  - { actor: server, do: socket, sock: L, family: unix }',
      '  - { actor: server, do: bind, sock: L, path: "café-✓-日本.sock" }',
      '  - { actor: server, do: listen, sock: L, backlog: 4 }',
      '  - { actor: client, do: socket, sock: C, family: unix }',
      '  - { actor: client, do: connect, sock: C, to: L, expect: { ret: 0 } }',
      '  - { actor: server, do: accept4, sock: L, new: S, expect: { ret: ">=0" } }',
      '  - { actor: client, do: getpeername, sock: C, expect: { ret: 0 } }',
      '',
    ].join('\n'),
  )
  const db = join(dir, 'unicode.db')
  const r = cli('run', file, '--db', db, '--reporter', 'json')
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { results: Array<{ verdict: string; message?: string }> }
  t.same(
    out.results.map(x => x.verdict),
    ['pass'],
    out.results.map(x => x.message).join('; '),
  )
  // the peer address the probe reported is the path as written, not its bytes as Latin-1
  const show = cli('show', 'unicode', '--db', db)
  t.match(show.stdout, /café-✓-日本\.sock/)
  t.same(
    readdirSync(tmpdir()).filter(n => n.includes('café')),
    [],
    'the socket file went with the scenario temp dir',
  )
})

t.test('sockspec run --allow-external is the explicit opt-in (checked with a bind: no traffic)', async t => {
  const file = join(dir, 'external.yaml')
  writeFileSync(
    file,
    [
      'title: bind to an address this machine does not have',
      'sources: [{ man: bind(2) EADDRNOTAVAIL }]',
      'variants: [ipv4]',
      'steps:',
      '  - { actor: a, do: socket, sock: S }',
      '  - { actor: a, do: bind, sock: S, addr: 192.0.2.1, expect: { ret: -1, errno: EADDRNOTAVAIL } }',
      '',
    ].join('\n'),
  )
  const refused = cli('run', file, '--db', join(dir, 'ext.db'))
  t.equal(refused.status, 2)
  t.match(refused.stderr, /external\.yaml:6:\d+: bind address 192\.0\.2\.1 is outside loopback/)
  const allowed = cli('run', file, '--db', join(dir, 'ext.db'), '--allow-external', '--reporter', 'json')
  t.equal(allowed.status, 0, allowed.stderr)
})
// ---- Loading hostile input: what is read, how far it may nest, where a JSON error is. ----
t.test('loading hostile scenario files', async t => {
  const { spawnSync } = await import('node:child_process')
  const { execFileSync } = await import('node:child_process')
  const { symlinkSync } = await import('node:fs')
  const { kitRoot } = await import('../harness/paths.js')
  const { MAX_SCENARIO_BYTES } = await import('../harness/scenario/load.js')
  const { findJsonSyntaxError } = await import('../harness/scenario/json-syntax.js')
  const bin = join(kitRoot, 'dist', 'harness', 'cli', 'bin.js')
  const hostile = join(dir, 'hostile')
  mkdirSync(hostile)
  const validate = (file: string) => {
    const r = spawnSync(process.execPath, [bin, 'validate', file], { encoding: 'utf8', timeout: 20_000, cwd: hostile })
    return { code: r.status, stderr: r.stderr, timedOut: r.error !== undefined }
  }
  const oneLine = (t: Test, r: { code: number | null; stderr: string; timedOut: boolean }, pattern: RegExp) => {
    t.notOk(r.timedOut, 'no hang')
    t.equal(r.code, 2, 'exit 2')
    t.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`)
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
    t.match(r.stderr, pattern)
  }

  t.test('only regular files are read', async t => {
    execFileSync('mkfifo', [join(hostile, 'fifo.yaml')])
    symlinkSync('/dev/zero', join(hostile, 'zero.yaml'))
    mkdirSync(join(hostile, 'dir.yaml'))
    oneLine(t, validate('fifo.yaml'), /^sockspec: fifo\.yaml:1:1: .*a FIFO/)
    oneLine(t, validate('zero.yaml'), /^sockspec: zero\.yaml:1:1: .*a character device/)
    writeFileSync(join(hostile, 'big.yaml'), `title: x\n#${'x'.repeat(MAX_SCENARIO_BYTES)}\n`)
    oneLine(t, validate('big.yaml'), /^sockspec: big\.yaml:1:1: .*larger than 1048576 bytes/)
  })

  t.test('aliases, nesting, control characters', async t => {
    const cases: Array<[string, string, RegExp]> = [
      ['unresolved.yaml', 'title: x\nsteps:\n  - *step\n', /^sockspec: unresolved\.yaml:3:5: invalid YAML: unresolved alias \*step/],
      [
        'bomb.yaml',
        `a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`,
        /^sockspec: bomb\.yaml:2:8: invalid YAML: aliases expand too far/,
      ],
      ['many.yaml', `a: &a 1\nb: [${'*a,'.repeat(200)}]\n`, /^sockspec: many\.yaml:2:\d+: invalid YAML: more than 100 aliases/],
      [
        'deep.json',
        `{"title": "x",\n"steps": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
        /^sockspec: deep\.json:2:73: invalid JSON: nested deeper than 64/,
      ],
      [
        'deep.yaml',
        `title: x\nsteps: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
        /^sockspec: deep\.yaml:2:\d+: invalid YAML: nested deeper/,
      ],
      [
        'deep-flow.yaml',
        `title: x\nsteps: ${'['.repeat(100)}${']'.repeat(100)}\n`,
        /^sockspec: deep-flow\.yaml:2:71: invalid YAML: nested deeper than 64/,
      ],
      [
        'esc.yaml',
        'title: x\n"\\e]0;pwned\\a\\e[2J": 1\nsteps: [{ actor: a, do: socket, sock: L }]\n',
        /unknown property '\\x1b\]0;pwned\\x07\\x1b\[2J'/,
      ],
    ]
    cases.push([
      'complex-key.yaml',
      '? [a, b]\n: 1\ntitle: x\n',
      /^sockspec: complex-key\.yaml:1:3: invalid YAML: a mapping key must be a plain value\n$/,
    ])
    cases.push([
      'cycle.yaml',
      'title: x\nsteps: &s [{ actor: a, do: socket, sock: L }, *s]\n',
      /^sockspec: cycle\.yaml:2:47: invalid YAML: alias \*s inside its own anchor/,
    ])
    let block = ''
    for (let i = 0; i < 1000; i++) block += `${' '.repeat(i)}-\n`
    cases.push(['deep-block.yaml', `title: x\nsteps:\n${block}`, /^sockspec: deep-block\.yaml:\d+:\d+: invalid YAML: nested/])
    for (const [name, text, pattern] of cases) {
      writeFileSync(join(hostile, name), text)
      t.test(name, async t => oneLine(t, validate(name), pattern))
    }
    t.notMatch(validate('esc.yaml').stderr, /\x1b/, 'no raw ESC reaches the terminal')
    const named = join(hostile, 'new\nline.yaml')
    writeFileSync(named, 'title: x\nsteps: []\n')
    oneLine(t, validate(named), /^sockspec: new\\x0aline\.yaml:2:8: /)
  })

  t.test('every JSON syntax error is located at its token', async t => {
    const base = JSON.stringify(
      parseYamlScenario(readFileSync(join(scenarioDir, 'seed-claims', 'claim-3-counter-fastopen.yaml'), 'utf8')),
      null,
      2,
    )
    t.ok(base.length > 2000)
    const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length
    const colOf = (text: string, offset: number) => offset - text.lastIndexOf('\n', offset - 1)
    let checked = 0
    let v8WithoutPosition = 0
    const agree = (text: string, label: string): SockspecError | null => {
      let v8: string | null = null
      try {
        JSON.parse(text)
      } catch (err) {
        v8 = (err as Error).message
      }
      let e: SockspecError | null = null
      if (v8 === null) {
        // accepted by JSON.parse: the loader's checker must accept it too (the rest of loading is not under test here)
        const found = findJsonSyntaxError(text, 64)
        if (found) t.fail(`${label}: JSON.parse accepts, the checker says ${found.message} at ${found.offset}`)
      } else {
        try {
          parseScenario(text, 'm.json')
        } catch (err) {
          if (!(err instanceof SockspecError)) throw err
          if (err.code === 'E_SYNTAX') e = err
        }
      }
      if ((v8 === null) !== (e === null)) t.fail(`${label}: JSON.parse ${v8 ?? 'accepts'}, loader ${e?.format() ?? 'accepts'}`)
      if (v8 && !/position/.test(v8)) v8WithoutPosition++
      const m = v8 ? /at position (\d+)/.exec(v8) : null
      if (e && m) {
        const at = Number(m[1])
        if (e.position!.line !== lineOf(text, at) || e.position!.col !== colOf(text, at))
          t.fail(`${label}: V8 says ${at}, loader ${e.format()}`)
      }
      checked++
      return e
    }
    let misplaced = 0
    for (let k = 0; k < base.length; k++) {
      // a control character is an error wherever it stands (in a string too): exactly there
      const ctrl = base.slice(0, k) + '\u0001' + base.slice(k + 1)
      const e = agree(ctrl, `control char at ${k}`)
      if (!e || e.position!.line !== lineOf(base, k) || e.position!.col !== colOf(base, k)) misplaced++
      // a truncated text ends too early: the error is at the end, and nothing before it
      if (k > 0 && base.slice(0, k).trim().length) {
        const cut = base.slice(0, k)
        const c = agree(cut, `cut at ${k}`)
        if (c && c.position!.line !== lineOf(cut, cut.length)) misplaced++
      }
      // deletions and structural insertions: never before the change, agreeing with JSON.parse
      for (const [label, text] of [
        [`delete at ${k}`, base.slice(0, k) + base.slice(k + 1)],
        [`insert , at ${k}`, base.slice(0, k) + ',' + base.slice(k)],
        [`insert } at ${k}`, base.slice(0, k) + '}' + base.slice(k)],
        [`insert " at ${k}`, base.slice(0, k) + '"' + base.slice(k)],
      ] as const) {
        const d = agree(text, label)
        if (d && d.position!.line < lineOf(base, k)) misplaced++
      }
    }
    t.equal(misplaced, 0, 'every error on the line of the mutation, or later where the text still reads as JSON')
    t.ok(v8WithoutPosition > 100, `${v8WithoutPosition} of ${checked} texts had no position from V8`)
    t.equal(
      errorOf(() => parseScenario('\uFEFF{"title": "x"}', 'bom.json')).format(),
      'bom.json:1:1: invalid JSON: unexpected character "\uFEFF", expected a value',
    )
  })
})

function parseYamlScenario(text: string): unknown {
  return parseYaml(text) as unknown
}

t.test('the op table: validate rejects what the table does not allow, exit 2 with file:line:col', async t => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown-opt', 'do: getsockopt, sock: S, level: socket, opt: SO_RCVLOWT', /:4:\d+: steps\.1\.opt: must be one of: "SO_ERROR"/],
    ['wrong-level', 'do: getsockopt, sock: S, level: tcp, opt: SO_RCVLOWAT', /:4:\d+: steps\.1\.opt: must be one of: "TCP_NODELAY"/],
    ['unknown-flag', 'do: send, sock: S, bytes: 1, flags: [dontwaitt]', /:4:\d+: steps\.1\.flags\.0: must be one of/],
    ['unknown-event', 'do: poll, fds: { S: [in, bogus] }', /:4:\d+: steps\.1\.fds\.S\.1: must be one of/],
    ['missing-field', 'do: listen, sock: S', /:4:\d+: steps\.1: missing required property 'backlog'/],
    ['unused-field', 'do: sendto, sock: S, to: S, text: hello', /:4:\d+: sendto does not use 'text' \(it takes 'sock'/],
    ['within-elsewhere', 'do: close, sock: S, within: { since: s1, ms: 5 }', /:4:\d+: close does not use 'within'/],
    ['linger-kind', 'do: setsockopt, sock: S, level: socket, opt: SO_LINGER, value: 3', /:4:\d+: SO_LINGER takes "onoff,secs"/],
    ['int-kind', 'do: setsockopt, sock: S, level: tcp, opt: TCP_SYNCNT, value: "2,3"', /:4:\d+: TCP_SYNCNT takes an integer/],
    ['op-values', 'do: fcntl, sock: S, cmd: bogus', /:4:\d+: steps\.1\.cmd: must be one of: "getfl", "setfl", "nonblock"/],
  ]
  for (const [name, step, message] of cases) {
    const file = `optable-${name}.yaml`
    writeFileSync(
      join(dir, file),
      ['title: t', 'steps:', '  - { actor: a, do: socket, sock: S }', `  - { actor: a, ${step} }`, ''].join('\n'),
    )
    const r = cli('validate', file)
    t.equal(r.status, 2, `${name}: exit 2`)
    t.match(r.stderr, new RegExp(`^sockspec: ${file.replace(/[.]/g, '\\.')}${message.source}`, 'm'), `${name}: positioned message`)
  }
  // the same step with what the table allows validates
  writeFileSync(
    join(dir, 'optable-ok.yaml'),
    [
      'title: t',
      'steps:',
      '  - { actor: a, do: socket, sock: S }',
      '  - { actor: a, do: setsockopt, sock: S, level: socket, opt: SO_LINGER, value: "1,0" }',
      '',
    ].join('\n'),
  )
  t.equal(cli('validate', 'optable-ok.yaml').status, 0, 'a well-formed option step validates')
})

t.test('the op table: generated files are fresh, derived answers are consistent', async t => {
  const { generatedFiles } = await import('../harness/ops/generate.js')
  for (const g of generatedFiles()) t.ok(g.current === g.fresh, `${g.file.slice(kitRoot.length + 1)} is what npm run gen makes`)
  const table = await import('../harness/ops/table.js')
  const { estimateScenarioMs } = await import('../harness/runner/pool.js')
  t.throws(() => table.primaryOp({ do: 'frobnicate' }), /not an op of the op table/, 'a missing mapping throws')
  t.equal(table.primaryOp({ do: 'send_fd' }), 'sendmsg', 'send_fd answers with sendmsg (explicit mapping)')
  t.equal(table.primaryOp({ do: 'connect_unspec' }), 'connect')
  for (const op of table.FD_RETURNING)
    t.ok(
      table.OP_DEFS.some(d => d.answers === op && d.returnsFd),
      `${op} is the answer of an op`,
    )
  t.same([...table.FD_RETURNING].sort(), ['accept4', 'dup', 'epoll_create1', 'io_uring_setup', 'open', 'pidfd_getfd', 'socket', 'tun_open'])
  t.same(table.CREATES, {
    socket: ['sock'],
    accept4: ['new'],
    recv_fd: ['new'],
    epoll_create1: ['ep'],
    socketpair: ['sock', 'new'],
    dup: ['new'],
    open: ['sock'],
    uring_setup: ['ring'],
    uring_accept: ['new'],
    tun_open: ['sock'],
    pidfd_getfd: ['new'],
  })
  // one wait rule: the step limit and the estimate read the same field
  for (const step of [
    { do: 'epoll_wait', timeout_ms: 400 },
    { do: 'poll', timeout_ms: 250 },
    { do: 'sleep', ms: 120 },
  ] as Step[]) {
    t.equal(table.stepLimitMs(step), table.waitMs(step)! + 3000, `${step.do}: limit is the wait + 3 s`)
    t.equal(estimateScenarioMs([step]), table.waitMs(step)! + 20, `${step.do}: the estimate adds the same wait`)
  }
  t.equal(table.stepLimitMs({ do: 'epoll_wait', timeout_ms: -1 } as Step), 5000, 'no bound: the default limit')
  t.equal(table.stepLimitMs({ do: 'connect', limit_ms: 900 } as Step), 900, 'limit_ms wins')
})
