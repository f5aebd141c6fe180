// Scenario loading: syntax and schema errors carry file:line:col, semantic
// checks catch bad references, variants and kernel ranges expand as data.
import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadScenarios, parseScenario } from '../harness/scenario/load.js'
import { resolveExpectation, variantsOf } from '../harness/scenario/expand.js'
import { kernelInRange } from '../harness/scenario/kernel-range.js'
import { InputErrors, SockspecError } from '../harness/errors.js'
import { scenarioDir } from '../harness/paths.js'

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
