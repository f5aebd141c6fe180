// Property-based fuzz of the hostile-input contract: malformed and hostile
// scenario files, damaged stores and odd bundles must each end in exit 0 or
// in exit 2 with one positioned line; never a stack trace, a hang, a file
// written outside the temp dir or a sysctl written outside the namespace.
// Seeded: SOCKSPEC_FUZZ_SEED=N replays a run; SOCKSPEC_FUZZ_SCALE=F scales
// the generated counts (default 1: about 600 inputs in process, 30 files,
// 40 stores/bundles and 10 runs through the CLI; 2 doubles the CLI share).
import t from 'tap'
import type { Test } from 'tap'
import fc from 'fast-check'
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { LineCounter, parse as parseYaml, parseDocument, stringify as stringifyYaml } from 'yaml'

import type * as LoadTypes from '../harness/scenario/load.js'
import type * as ErrorsTypes from '../harness/errors.js'
import type * as AjvTypes from '../harness/deps/ajv.js'

type LoadModule = typeof LoadTypes
type ErrorsModule = typeof ErrorsTypes
type AjvModule = typeof AjvTypes

const kitRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(kitRoot, 'dist', 'harness')
const bin = join(dist, 'cli', 'bin.js')
if (!existsSync(bin)) throw new Error(`fuzz: ${bin} is missing; run npm run build first`)
// The built library, so the in-process bulk exercises the same code as the CLI.
const load = (await import(pathToFileURL(join(dist, 'scenario', 'load.js')).href)) as LoadModule
const errors = (await import(pathToFileURL(join(dist, 'errors.js')).href)) as ErrorsModule
const ajv = (await import(pathToFileURL(join(dist, 'deps', 'ajv.js')).href)) as AjvModule

const seed = Number(process.env['SOCKSPEC_FUZZ_SEED'] ?? 20261125)
const scale = Number(process.env['SOCKSPEC_FUZZ_SCALE'] ?? 1)
const scaled = (n: number): number => Math.max(1, Math.round(n * scale))
t.comment(`fuzz seed ${seed} (replay with SOCKSPEC_FUZZ_SEED=${seed}), scale ${scale}`)
const started = Date.now()

const tmp = mkdtempSync(join(tmpdir(), 'sockspec-fuzz-'))
const scratch = join(tmp, 't') // TMPDIR of every spawned process
const cwd = join(tmp, 'cwd') // cwd of every spawned process: must stay empty
mkdirSync(scratch)
mkdirSync(cwd)
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

/** Paths meant to escape the kit's scratch dir carry this, so a listing of /tmp can spot them among other users' files. */
const MARK = 'sockspec-fuzz-escape'

// ---------------------------------------------------------------- corpus

interface Base {
  rel: string
  pack: string
  name: string
  text: string
  doc: Record<string, unknown>
}

function scenarioFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? scenarioFiles(join(dir, e.name)) : /\.(ya?ml|json)$/.test(e.name) ? [join(dir, e.name)] : [],
  )
}
const corpus: Base[] = scenarioFiles(join(kitRoot, 'scenarios'))
  .sort()
  .map(f => {
    const text = readFileSync(f, 'utf8')
    return {
      rel: relative(kitRoot, f),
      pack: basename(dirname(f)),
      name: basename(f).replace(/\.(ya?ml|json)$/, ''),
      text,
      doc: parseYaml(text) as Record<string, unknown>,
    }
  })
t.ok(corpus.length > 20, `corpus: ${corpus.length} packaged scenarios`)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Path = Array<string | number>

function clone<T>(v: T): T {
  return structuredClone(v)
}
function setIn(doc: Json, path: Path, value: unknown): void {
  let node = doc as Record<string | number, unknown>
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>
  node[path[path.length - 1]!] = value
}
/** Every leaf (string, number, boolean) of a document with its path. */
function leaves(v: unknown, path: Path = []): Array<{ path: Path; value: unknown }> {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]))
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]))
  return [{ path, value: v }]
}
function stepsOf(doc: Record<string, unknown>): Array<Record<string, unknown>> {
  return Array.isArray(doc['steps']) ? (doc['steps'] as Array<Record<string, unknown>>) : []
}

// ---------------------------------------------------------------- cases

interface Case {
  cls: string
  /** true: the contract says this input is invalid, so it must be rejected (exit 2). */
  mustReject: boolean
  /** file name (extension decides JSON or YAML) */
  ext: 'yaml' | 'json'
  pack: string
  name: string
  text: string | Buffer
  /** document path of the bad token: the error must point at its line */
  badPath?: Path
  what: string
}

function serialise(doc: unknown, ext: 'yaml' | 'json'): string {
  return ext === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringifyYaml(doc, { lineWidth: 0, aliasDuplicateObjects: false })
}

/** The 1-based line of the node at path in text (test-side, independent of the kit's locator). */
function lineOfPath(text: string, path: Path): number | undefined {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc })
  const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined
  return node?.range ? lc.linePos(node.range[0]).line : undefined
}

/** A structured mutation: replace the value at one path of a packaged scenario. */
function structured(
  cls: string,
  mustReject: boolean,
  pick: (doc: Record<string, unknown>) => Path[],
): fc.Arbitrary<(value: unknown, what: string) => Case | undefined> {
  return fc.record({ base: fc.nat(), at: fc.nat(), ext: fc.constantFrom<'yaml' | 'json'>('yaml', 'json') }).map(({ base, at, ext }) => {
    return (value: unknown, what: string): Case | undefined => {
      const candidates = corpus.filter(b => pick(b.doc).length > 0)
      if (!candidates.length) return undefined
      const b = candidates[base % candidates.length]!
      const doc = clone(b.doc) as Json
      const paths = pick(doc as Record<string, unknown>)
      const path = paths[at % paths.length]!
      setIn(doc, path, value)
      return {
        cls,
        mustReject,
        ext,
        pack: b.pack,
        name: b.name,
        text: serialise(doc, ext),
        badPath: path,
        what: `${b.rel} ${path.join('.')} = ${what}`,
      }
    }
  })
}

function withValue(
  cls: string,
  mustReject: boolean,
  pick: (doc: Record<string, unknown>) => Path[],
  values: fc.Arbitrary<unknown>,
): fc.Arbitrary<Case | undefined> {
  return fc.tuple(structured(cls, mustReject, pick), values).map(([make, v]) => make(v, JSON.stringify(v)?.slice(0, 120) ?? String(v)))
}

const stepKeyPaths =
  (key: string, filter: (s: Record<string, unknown>) => boolean = () => true) =>
  (doc: Record<string, unknown>): Path[] =>
    stepsOf(doc).flatMap((s, i) => (key in s && filter(s) ? [['steps', i, key] as Path] : []))

const escapes = fc.constantFrom(
  `/tmp/${MARK}.sock`,
  `/${MARK}.sock`,
  `../${MARK}.sock`,
  `../../${MARK}.sock`,
  `../../../${MARK}.sock`,
  `a/../../${MARK}.sock`,
  '..',
  `./../${MARK}`,
)
const badChars = fc.constantFrom(' ', '\n', '\t', '\r', '\u0000', '\u0001', '\u001b[2J', '\u007f', '\u2028', '\u00a0')
const unixPathValues = fc.oneof(
  escapes,
  fc.tuple(fc.constantFrom('srv', '@c1', 'x'), badChars, fc.constantFrom('.sock', 'y', '')).map(([a, c, z]) => `${a}${c}${z}`),
)
const notIp = fc.constantFrom(
  'example.com',
  'localhost',
  '127.0.0.1; id',
  '$(id)',
  '`id`',
  '127.0.0.1\nquit',
  ' 127.0.0.1',
  '1.2.3.4.5',
  '256.1.1.1',
  '::g',
  '127.1',
  '0x7f000001',
  '../../etc/passwd',
  '',
  '-1',
)
const external = fc.constantFrom('8.8.8.8', '1.1.1.1', '93.184.216.34', '2001:4860:4860::8888', '2606:4700:4700::1111', '9.9.9.9')
const badSysctl = fc.constantFrom(
  'kernel.core_pattern',
  'kernel.hostname',
  'kernel.domainname',
  'vm.swappiness',
  'fs.file-max',
  'net/../kernel/hostname',
  'net.core/../../kernel/domainname',
  'net.ipv4.tcp_syn_retries\nkernel.hostname',
  'net.ipv4.tcp_syn_retries x',
  'net..ipv4',
  'net.',
  '../net/ipv4/tcp_syn_retries',
  'net.ipv4.tcp_syn_retries\u0000',
)
const badErrno = fc.oneof(
  fc.constantFrom('EFOOBAR', 'ENOTREAL', 'EINPROGRES', 'EAGAINX', 'E', 'E1', 'EWOULDBLOCKED'),
  fc.stringMatching(/^E[A-Z]{12,20}$/),
)
const badOps = fc.constantFrom('netns', 'capture', 'quit', 'exec', 'socket\nnetns /proc/1/ns/net', 'socket ', 'Socket', '')
const handleKeys = ['sock', 'ep', 'actor', 'new', 'to', 'id', 'text', 'opt']

/** Deep nesting as text: a YAML/JSON flow collection depth levels deep. */
function deep(depth: number, kind: 'seq' | 'map'): string {
  return kind === 'seq' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}
function aliasBomb(levels: number, width: number): string {
  const lines = [`x0: &x0 ["lol"]`]
  for (let i = 1; i <= levels; i++) lines.push(`x${i}: &x${i} [${Array.from({ length: width }, () => `*x${i - 1}`).join(', ')}]`)
  return lines.join('\n')
}

const baseArb = fc.nat().map(n => corpus[n % corpus.length]!)

const caseArbs: Record<string, fc.Arbitrary<Case | undefined>> = {
  'unix-path': withValue('unix-path', true, stepKeyPaths('path'), unixPathValues),
  'addr-not-ip': withValue('addr-not-ip', true, stepKeyPaths('addr'), notIp),
  'addr-external': fc.tuple(baseArb, fc.nat(), external, fc.constantFrom<'yaml' | 'json'>('yaml', 'json')).map(([b, at, addr, ext]) => {
    // turn a connect to a handle into a connect to an outside address
    const doc = clone(b.doc)
    const steps = stepsOf(doc)
    const idx = steps.map((s, i) => (s['do'] === 'connect' ? i : -1)).filter(i => i >= 0)
    if (!idx.length) return undefined
    const i = idx[at % idx.length]!
    const s = steps[i]!
    delete s['to']
    s['addr'] = addr
    s['port'] = 80
    return {
      cls: 'addr-external',
      mustReject: true,
      ext,
      pack: b.pack,
      name: b.name,
      text: serialise(doc, ext),
      badPath: ['steps', i, 'addr'],
      what: `${b.rel} steps.${i} connect to ${addr}:80`,
    }
  }),
  'sysctl-key': fc
    .tuple(baseArb, badSysctl, fc.constantFrom('hosts', 'requires'), fc.constantFrom<'yaml' | 'json'>('yaml', 'json'))
    .map(([b, key, where, ext]) => {
      const doc = clone(b.doc)
      let path: Path
      if (where === 'hosts' && doc['hosts'] && typeof doc['hosts'] === 'object') {
        const host = Object.keys(doc['hosts'])[0]!
        const h = ((doc['hosts'] as Record<string, Record<string, unknown>>)[host] ??= {})
        h['sysctl'] = { ...((h['sysctl'] as object | null) ?? {}), [key]: 1 }
        path = ['hosts', host, 'sysctl', key]
      } else {
        const req = (doc['requires'] ??= {}) as Record<string, unknown>
        req['sysctl'] = { ...((req['sysctl'] as object | undefined) ?? {}), [key]: 1 }
        path = ['requires', 'sysctl', key]
      }
      return {
        cls: 'sysctl-key',
        // requires.sysctl only reads a value (kernel.io_uring_disabled is a fair requirement): a well-formed
        // dotted name of any tree may stand there; hosts.*.sysctl writes, so only net.* keys may
        mustReject: path[0] === 'hosts' || !/^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+)+$/.test(key),
        ext,
        pack: b.pack,
        name: b.name,
        text: serialise(doc, ext),
        badPath: path,
        what: `${b.rel} ${path.slice(0, -1).join('.')} key ${JSON.stringify(key)}`,
      }
    }),
  errno: withValue(
    'errno',
    true,
    doc => stepsOf(doc).flatMap((s, i) => (s['expect'] ? [['steps', i, 'expect', 'errno'] as Path] : [])),
    badErrno,
  ),
  'probe-only-op': withValue('probe-only-op', true, doc => stepsOf(doc).map((_, i) => ['steps', i, 'do'] as Path), badOps),
  'handle-injection': fc.tuple(baseArb, fc.nat(), badChars, fc.constantFrom<'yaml' | 'json'>('yaml', 'json')).map(([b, at, c, ext]) => {
    const ls = leaves(b.doc).filter(l => typeof l.value === 'string' && handleKeys.includes(String(l.path[l.path.length - 1])))
    if (!ls.length) return undefined
    const l = ls[at % ls.length]!
    const doc = clone(b.doc) as Json
    const v = `${String(l.value)}${c}${c === '\n' ? 'netns /proc/1/ns/net' : 'x'}`
    setIn(doc, l.path, v)
    return {
      cls: 'handle-injection',
      mustReject: true,
      ext,
      pack: b.pack,
      name: b.name,
      text: serialise(doc, ext),
      badPath: l.path,
      what: `${b.rel} ${l.path.join('.')} = ${JSON.stringify(v)}`,
    }
  }),
  'wrong-type': fc
    .tuple(
      baseArb,
      fc.nat(),
      fc.constantFrom<unknown>(42, -1, 1e300, 'x', '', true, null, [], {}, [1, 'a'], { a: 1 }),
      fc.constantFrom<'yaml' | 'json'>('yaml', 'json'),
    )
    .map(([b, at, v, ext]) => {
      const ls = leaves(b.doc)
      const l = ls[at % ls.length]!
      if (typeof l.value === typeof v) return undefined
      const doc = clone(b.doc) as Json
      setIn(doc, l.path, v)
      return {
        cls: 'wrong-type',
        mustReject: false,
        ext,
        pack: b.pack,
        name: b.name,
        text: serialise(doc, ext),
        what: `${b.rel} ${l.path.join('.')} = ${JSON.stringify(v)}`,
      }
    }),
  'huge-string': fc
    .tuple(baseArb, fc.nat(), fc.integer({ min: 10_000, max: 500_000 }), fc.constantFrom<'yaml' | 'json'>('yaml', 'json'))
    .map(([b, at, n, ext]) => {
      const ls = leaves(b.doc).filter(l => typeof l.value === 'string')
      const l = ls[at % ls.length]!
      const doc = clone(b.doc) as Json
      setIn(doc, l.path, 'A'.repeat(n))
      const key = String(l.path[l.path.length - 1])
      return {
        cls: 'huge-string',
        mustReject: handleKeys.includes(key) || key === 'title' || key === 'path',
        ext,
        pack: b.pack,
        name: b.name,
        text: serialise(doc, ext),
        what: `${b.rel} ${l.path.join('.')} = 'A' x ${n}`,
      }
    }),
  'deep-nesting': fc
    .tuple(
      baseArb,
      fc.integer({ min: 1_000, max: 100_000 }),
      fc.constantFrom<'seq' | 'map'>('seq', 'map'),
      fc.constantFrom('title', 'top', 'note'),
      fc.constantFrom<'yaml' | 'json'>('yaml', 'json'),
    )
    .map(([b, depth, kind, where, ext]) => {
      const nest = deep(depth, kind)
      let text: string
      if (where === 'top') text = nest
      else {
        // splice the nested collection as the value of a string field
        const doc = clone(b.doc)
        const marker = '__FUZZ_DEEP__'
        if (where === 'title') doc['title'] = marker
        else (stepsOf(doc)[0] ?? doc)['note'] = marker
        text = serialise(doc, ext).replace(ext === 'json' ? `"${marker}"` : marker, nest)
      }
      return {
        cls: 'deep-nesting',
        mustReject: true,
        ext,
        pack: b.pack,
        name: b.name,
        text,
        what: `${b.rel} ${kind} nesting ${depth} deep at ${where}`,
      }
    }),
  'yaml-alias': fc.tuple(baseArb, fc.integer({ min: 3, max: 12 }), fc.integer({ min: 2, max: 10 })).map(([b, levels, width]) => {
    const bomb = aliasBomb(levels, width)
    // the bomb as an unknown top-level key: its expansion (width^levels) must never happen
    const text = `${bomb.replace(/^x/gm, 'x-bomb-')}\n${b.text.replace(/^# .*\n/, '')}`
    return {
      cls: 'yaml-alias',
      mustReject: true,
      ext: 'yaml',
      pack: b.pack,
      name: b.name,
      text,
      what: `${b.rel} with alias bomb ${width}^${levels}`,
    }
  }),
  truncate: fc.tuple(baseArb, fc.nat()).map(([b, at]) => {
    const buf = Buffer.from(b.text)
    const n = at % buf.length
    return {
      cls: 'truncate',
      mustReject: n === 0,
      ext: 'yaml',
      pack: b.pack,
      name: b.name,
      text: buf.subarray(0, n),
      what: `${b.rel} cut at byte ${n}`,
    }
  }),
  'byte-flip': fc
    .tuple(baseArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }))
    .map(([b, flips]) => {
      const buf = Buffer.from(b.text)
      for (const [at, byte] of flips) buf[at % buf.length] = byte
      return {
        cls: 'byte-flip',
        mustReject: false,
        ext: 'yaml',
        pack: b.pack,
        name: b.name,
        text: buf,
        what: `${b.rel} bytes ${flips.map(([a, v]) => `${a % buf.length}=${v}`).join(',')}`,
      }
    }),
  junk: fc
    .tuple(
      baseArb,
      fc.nat(),
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.constantFrom(
          '{',
          '[',
          ': :',
          '&a',
          '*a',
          '!!binary',
          '!!js/function "x"',
          '<<: *x',
          '---\n',
          '...\n',
          '\t',
          '"',
          "'",
          '%YAML 1.1\n',
          '? ',
        ),
      ),
    )
    .map(([b, at, j]) => {
      const n = at % b.text.length
      return {
        cls: 'junk',
        mustReject: false,
        ext: 'yaml',
        pack: b.pack,
        name: b.name,
        text: b.text.slice(0, n) + j + b.text.slice(n),
        what: `${b.rel} insert ${JSON.stringify(j)} at ${n}`,
      }
    }),
  'json-syntax': fc.tuple(baseArb, fc.nat(), fc.constantFrom(',', '}', '{', '"', '//x', 'NaN', '\u0000', "'")).map(([b, at, j]) => {
    const text = serialise(b.doc, 'json')
    const lines = text.split('\n')
    const line = 1 + (at % (lines.length - 2))
    lines[line] = lines[line]! + j
    return {
      cls: 'json-syntax',
      mustReject: true,
      ext: 'json',
      pack: b.pack,
      name: b.name,
      text: lines.join('\n'),
      badPath: [`__line__${line + 1}`],
      what: `${b.rel} as JSON, ${JSON.stringify(j)} appended to line ${line + 1}`,
    }
  }),
}

/** Counts per class: generated, rejected with a position, accepted, and violations. */
interface Tally {
  generated: number
  rejected: number
  accepted: number
  violations: Array<{ c: Case; problem: string }>
  ms: number
}
const tallies = new Map<string, Tally>()
function tally(cls: string): Tally {
  let x = tallies.get(cls)
  if (!x) tallies.set(cls, (x = { generated: 0, rejected: 0, accepted: 0, violations: [], ms: 0 }))
  return x
}

let fileSeq = 0
function writeCase(c: Case): string {
  const dir = join(tmp, 'cases', String(fileSeq++), c.pack)
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${c.name}.${c.ext}`)
  writeFileSync(file, c.text)
  return file
}

function expectedLine(c: Case): number | undefined {
  if (!c.badPath) return undefined
  const first = String(c.badPath[0])
  if (first.startsWith('__line__')) return Number(first.slice('__line__'.length))
  return lineOfPath(c.text.toString(), c.badPath)
}

/** The contract for one scenario file, in process: a SockspecError with a position in this file, or scenarios. */
function checkInProcess(c: Case): void {
  const x = tally(c.cls)
  x.generated++
  const file = writeCase(c)
  const lineCount = c.text.toString().split('\n').length
  try {
    load.loadScenarios([file])
    x.accepted++
    if (c.mustReject) x.violations.push({ c, problem: 'accepted, but the contract rejects it' })
  } catch (err) {
    if (!(err instanceof errors.SockspecError)) {
      const e = err as Error
      x.violations.push({
        c,
        problem: `${e?.constructor?.name ?? typeof err} escaped: ${String(e?.message ?? err)
          .split('\n')[0]!
          .slice(0, 160)}`,
      })
      return
    }
    const list = err instanceof errors.InputErrors ? err.errors : [err]
    const bad = list.filter(
      e =>
        !e.position ||
        resolve(kitRoot, e.position.file) !== file ||
        !(e.position.line >= 1 && e.position.line <= lineCount + 1) ||
        !(e.position.col >= 1),
    )
    if (bad.length) {
      x.violations.push({ c, problem: `error without a position in the file: ${bad[0]!.format().slice(0, 160)}` })
      return
    }
    const want = expectedLine(c)
    // JSON: the first invalid token can be later than the change, never before it (a "}" appended
    // after a value may close its object validly, and the text then breaks a few lines on)
    const near = (line: number) => line === want || (c.cls === 'json-syntax' && line > want!)
    if (want !== undefined && !list.some(e => near(e.position!.line))) {
      x.violations.push({
        c,
        problem: `rejected at ${list.map(e => `${e.position!.line}:${e.position!.col}`).join(', ')}, not at the bad token (line ${want}): ${list[0]!.message.slice(0, 120)}`,
      })
      return
    }
    x.rejected++
  }
}

function show(v: string | Buffer, max = 300): string {
  const s = v.toString()
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...(${s.length} chars)` : s)
}

function reportTallies(tt: Test, prefix: string): void {
  for (const [cls, x] of [...tallies].sort()) {
    tt.comment(
      `${prefix} ${cls}: generated ${x.generated}, exit-2-with-position ${x.rejected}, valid ${x.accepted}, violations ${x.violations.length}, ${x.ms} ms`,
    )
    const smallest = [...x.violations].sort((a, b) => a.c.text.length - b.c.text.length)[0]
    tt.equal(
      x.violations.length,
      0,
      `${prefix} ${cls}: contract holds`,
      smallest ? { reproducer: smallest.c.what, problem: smallest.problem, text: show(smallest.c.text) } : {},
    )
  }
}

// ---------------------------------------------------------------- processes

interface Proc {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
  ms: number
}

function runProc(argv: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<Proc> {
  const t0 = Date.now()
  return new Promise(res => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? cwd,
      env: { ...process.env, TMPDIR: scratch, SOCKSPEC_DEBUG: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 15_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      res({ code, signal, stdout, stderr, timedOut, ms: Date.now() - t0 })
    })
  })
}
const cli = (args: string[], timeoutMs = 15_000): Promise<Proc> => runProc([process.execPath, bin, ...args], { timeoutMs })

/** Run thunks with at most `limit` at a time. */
async function pool<T>(items: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await items[i]!()
      }
    }),
  )
  return out
}

const STACK = /^\s+at .+[(:]\d+|internal error/m

/** Problems with a CLI outcome, or [] when it keeps the contract. `file` must appear in the error line. */
function cliProblems(
  p: Proc,
  file: string,
  opts: { positioned?: boolean; mustReject?: boolean; okCodes?: number[]; dataOut?: boolean },
): string[] {
  const problems: string[] = []
  if (p.timedOut) return [`hung: killed after ${p.ms} ms`]
  const ok = opts.okCodes ?? [0]
  if (opts.mustReject ? p.code !== 2 : !ok.includes(p.code ?? -1) && p.code !== 2) problems.push(`exit ${p.code ?? p.signal}`)
  if (STACK.test(p.stderr) || STACK.test(p.stdout))
    problems.push(`stack trace or internal error: ${show(p.stderr.split('\n').slice(0, 2).join(' | '), 200)}`)
  if (p.code === 2) {
    const lines = p.stderr.split('\n').filter(Boolean)
    if (!lines.length) problems.push('exit 2 with nothing on stderr')
    if (opts.positioned) {
      const pos = new RegExp(`${escapeRe(file)}:\\d+:\\d+: `)
      const unpositioned = lines.filter(l => !pos.test(l))
      if (unpositioned.length) problems.push(`stderr line without ${basename(file)}:line:col: ${show(unpositioned[0]!, 160)}`)
    } else {
      if (lines.length !== 1) problems.push(`${lines.length} lines on stderr, not one: ${show(p.stderr, 200)}`)
      if (!p.stderr.includes(file)) problems.push(`error does not name ${file}: ${show(p.stderr, 200)}`)
    }
  }
  // terminal output must not carry raw control characters
  const ctl = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(opts.dataOut ? p.stderr : p.stdout + p.stderr)
  if (ctl) problems.push(`raw control character U+${ctl[0].charCodeAt(0).toString(16).padStart(4, '0')} in the output`)
  return problems
}
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Names in a directory (not recursive), or [] when it is gone. */
function listing(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}
const watched = () => ({
  tmp: listing('/tmp'),
  kit: listing(kitRoot),
  scenarios: listing(join(kitRoot, 'scenarios')),
  cwd: listing(cwd),
  root: listing(tmp),
  scratch: listing(scratch),
})
const before = watched()
function newFiles(): string[] {
  const now = watched()
  const added = (k: keyof typeof before, keep: (n: string) => boolean = () => true) =>
    now[k].filter(n => !before[k].includes(n) && keep(n)).map(n => `${k}:${n}`)
  return [
    // other users of the machine also write to /tmp: count only what this test's inputs name
    ...added('tmp', n => n.includes(MARK)),
    ...added('kit', n => n !== '.tap'),
    ...added('scenarios'),
    ...added('cwd'),
    ...added('root', n => !['cases', 'cli', 'stores', 'runs', 'special'].includes(n)),
    ...added('scratch', n => n.includes(MARK) || !statSync(join(scratch, n), { throwIfNoEntry: false })?.isDirectory()),
  ]
}

// ---------------------------------------------------------------- scenario bulk, in process

const inProcessCounts: Record<string, number> = {
  'unix-path': 50,
  'addr-not-ip': 40,
  'addr-external': 40,
  'sysctl-key': 50,
  errno: 40,
  'probe-only-op': 30,
  'handle-injection': 50,
  'wrong-type': 60,
  'huge-string': 12,
  'deep-nesting': 8,
  'yaml-alias': 16,
  truncate: 60,
  'byte-flip': 60,
  junk: 60,
  'json-syntax': 30,
}
const generated: Case[] = []

await t.test('scenario files, in process (loadScenarios from dist)', async tt => {
  const t0 = Date.now()
  for (const [cls, n] of Object.entries(inProcessCounts)) {
    const arb = caseArbs[cls]!
    const c0 = Date.now()
    fc.assert(
      fc.property(arb, c => {
        if (!c) return
        generated.push(c)
        checkInProcess(c)
      }),
      // every class gets its own stream derived from the seed; bounded in count and time
      {
        seed: seed + cls.length * 7919 + cls.charCodeAt(0),
        numRuns: scaled(n),
        interruptAfterTimeLimit: 15_000,
        markInterruptAsFailure: false,
        endOnFailure: true,
      },
    )
    tally(cls).ms += Date.now() - c0
  }
  const total = [...tallies.values()].reduce((s, x) => s + x.generated, 0)
  tt.comment(`in process: ${total} scenario inputs in ${Date.now() - t0} ms`)
  tt.ok(total >= scaled(500), `at least ${scaled(500)} generated inputs (${total})`)
  reportTallies(tt, 'validate (in process)')
})

// ---------------------------------------------------------------- scenario sample, real CLI

/** Files that stress reading itself: a FIFO, /dev/zero, a huge file, a directory loop, an empty file. */
function specialCases(): Array<{ what: string; args: string[]; file: string; mustReject: boolean }> {
  const dir = join(tmp, 'special')
  mkdirSync(join(dir, 'fifo-pack'), { recursive: true })
  const fifo = join(dir, 'fifo-pack', 'pipe.yaml')
  execFileSync('mkfifo', [fifo])
  const huge = join(dir, 'huge.yaml')
  writeFileSync(huge, `title: huge\nsteps: []\n`)
  truncateSync(huge, 256 * 1024 * 1024) // sparse: 256 MiB of NULs after a valid head
  mkdirSync(join(dir, 'loop-pack'))
  copyFileSync(join(kitRoot, corpus[0]!.rel), join(dir, 'loop-pack', 'ok.yaml'))
  symlinkSync('.', join(dir, 'loop-pack', 'again'))
  const empty = join(dir, 'empty.yaml')
  writeFileSync(empty, '')
  const big = join(dir, 'big.yaml')
  writeFileSync(big, readFileSync(join(kitRoot, corpus[0]!.rel), 'utf8') + `# ${'x'.repeat(100)}\n`.repeat(200_000))
  return [
    { what: 'a FIFO in a pack directory', args: [join(dir, 'fifo-pack')], file: fifo, mustReject: true },
    { what: 'a FIFO named explicitly', args: [fifo], file: fifo, mustReject: true },
    { what: '/dev/zero', args: ['/dev/zero'], file: '/dev/zero', mustReject: true },
    { what: 'a 256 MiB file', args: [huge], file: huge, mustReject: true },
    { what: 'a 20 MB file of comments', args: [big], file: big, mustReject: true },
    { what: 'a directory symlinked into itself', args: [join(dir, 'loop-pack')], file: join(dir, 'loop-pack'), mustReject: false },
    { what: 'an empty file', args: [empty], file: empty, mustReject: true },
  ]
}

await t.test('scenario files, real CLI validate', async tt => {
  const t0 = Date.now()
  // a sample over every class, the same inputs as in process
  const want = scaled(30)
  const byClass = new Map<string, Case[]>()
  for (const c of generated) byClass.set(c.cls, [...(byClass.get(c.cls) ?? []), c])
  const sample: Case[] = []
  for (let round = 0; sample.length < want && round < 100; round++)
    for (const list of byClass.values()) if (list[round] && sample.length < want) sample.push(list[round]!)
  const specials = specialCases()
  const spJobs = specials.map(s => async () => ({ s, p: await cli(['validate', ...s.args], 15_000) }))
  const spDone = pool(spJobs, spJobs.length)
  const results = await pool(
    sample.map(c => async () => {
      const file = writeCase(c)
      return { c, file, p: await cli(['validate', file]) }
    }),
    4,
  )
  const perClass = new Map<string, { n: number; two: number; zero: number; bad: Array<{ c: Case; problems: string[] }> }>()
  for (const { c, file, p } of results) {
    const x = perClass.get(c.cls) ?? { n: 0, two: 0, zero: 0, bad: [] }
    perClass.set(c.cls, x)
    x.n++
    if (p.code === 2) x.two++
    if (p.code === 0) x.zero++
    const problems = cliProblems(p, file, { positioned: true, mustReject: c.mustReject })
    if (problems.length) x.bad.push({ c, problems })
  }
  for (const [cls, x] of [...perClass].sort()) {
    tt.comment(`validate (CLI) ${cls}: ${x.n} files, exit 2 ${x.two}, exit 0 ${x.zero}, violations ${x.bad.length}`)
    const first = x.bad[0]
    tt.equal(
      x.bad.length,
      0,
      `validate (CLI) ${cls}: contract holds`,
      first ? { reproducer: first.c.what, problems: first.problems, text: show(first.c.text) } : {},
    )
  }
  const sp = await spDone
  for (const { s, p } of sp) {
    tt.comment(`validate (CLI) ${s.what}: exit ${p.code ?? p.signal} in ${p.ms} ms`)
    const problems = cliProblems(p, s.file, { positioned: false, mustReject: s.mustReject })
    tt.same(problems, [], `validate (CLI) ${s.what}: exit 2 with one line naming the file, no hang`, { stderr: show(p.stderr) })
  }
  tt.comment(`validate (CLI): ${sample.length + specials.length} processes in ${Date.now() - t0} ms`)
})

// ---------------------------------------------------------------- a real store and bundle

const stores = join(tmp, 'stores')
mkdirSync(stores)
const baseDb = join(stores, 'base.db')
const fast = ['unix/connect-synchronous.yaml', 'tcp-connect/einprogress.yaml'].map(f => join(kitRoot, 'scenarios', f))
const baseBundle = join(stores, 'base.json')

await t.test('a real store from a real run, and its bundle', async tt => {
  const r = await runProc([process.execPath, bin, 'run', ...fast, '--db', baseDb, '--reporter', 'json', '--variant', 'ipv4'], {
    timeoutMs: 60_000,
  })
  tt.equal(r.code, 0, 'run of two loopback scenarios passes', { stderr: r.stderr })
  // a second run in the same store, so compare has two sides
  const r2 = await runProc([process.execPath, bin, 'run', fast[0]!, '--db', baseDb, '--reporter', 'json'], { timeoutMs: 60_000 })
  tt.equal(r2.code, 0, 'second run into the same store passes', { stderr: r2.stderr })
  const e = await cli(['export', 'latest', '--db', baseDb])
  tt.equal(e.code, 0, 'export of that run', { stderr: e.stderr })
  writeFileSync(baseBundle, e.stdout)
  const other = join(stores, 'other.db')
  const i = await cli(['import', baseBundle, '--db', other])
  tt.equal(i.code, 0, 'import into a fresh store', { stderr: i.stderr })
})

const runSchema = ajv.compileSchemaFile(join(kitRoot, 'schemas', 'run.schema.json'))

// ---------------------------------------------------------------- damaged stores and odd bundles, real CLI

type Damage = { kind: string; apply: (file: string) => string }

const storeDamage: fc.Arbitrary<Damage> = fc.oneof(
  fc.nat().map(n => ({
    kind: 'truncate',
    apply: (f: string) => {
      const size = statSync(f).size
      truncateSync(f, n % size)
      return `truncated to ${n % size} of ${size} bytes`
    },
  })),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 64 }).map(flips => ({
    kind: 'corrupt-bytes',
    apply: (f: string) => {
      const buf = readFileSync(f)
      for (const [at, v] of flips) buf[at % buf.length] = v
      writeFileSync(f, buf)
      return `${flips.length} bytes overwritten`
    },
  })),
  fc.uint8Array({ maxLength: 8192 }).map(bytes => ({
    kind: 'garbage',
    apply: (f: string) => {
      writeFileSync(f, bytes)
      return `${bytes.length} random bytes`
    },
  })),
  // schema 4: events and checks are views over traces
  fc.constantFrom('traces', 'events', 'results', 'checks', 'runs', 'scenarios').map(table => ({
    kind: 'drop-table',
    apply: (f: string) => {
      const db = new Database(f)
      db.pragma('foreign_keys = OFF')
      const { type } = db.prepare('SELECT type FROM sqlite_master WHERE name = ?').get(table) as { type: string }
      db.exec(`DROP ${type === 'view' ? 'VIEW' : 'TABLE'} ${table}`)
      db.close()
      return `table ${table} dropped`
    },
  })),
  fc
    .tuple(
      fc.constantFrom(
        ['runs', 'sysctls'],
        ['runs', 'argv'],
        ['runs', 'hosts'],
        ['results', 'stderr'],
        ['results', 'invalid'],
        ['results', 'kernels'],
        ['traces', 'events'],
        ['traces', 'checks'],
        ['scenarios', 'body'],
        ['scenarios', 'sources'],
      ),
      fc.constantFrom('{not json', '', 'null', '[]', '"x"', '1e999', '{"a":'.repeat(5000)),
    )
    .map(([[table, col], value]) => ({
      kind: 'non-json-column',
      apply: (f: string) => {
        const db = new Database(f)
        db.prepare(`UPDATE ${table} SET ${col} = ?`).run(value)
        db.close()
        return `${table}.${col} = ${show(value, 40)}`
      },
    })),
  fc
    .tuple(
      fc.constantFrom(
        ['runs', 'host'],
        ['results', 'message'],
        ['scenarios', 'title'],
        ['traces', 'op'],
        ['runs', 'kernel_release'],
        ['results', 'variant'],
      ),
      fc.constantFrom('\u001b[2J\u001b[31mred', 'a\rb', 'x\u0000y', 'line\nbreak', '\u0007bell', '\u009b31m'),
    )
    .map(([[table, col], value]) => ({
      kind: 'control-chars',
      apply: (f: string) => {
        const db = new Database(f)
        // an event's op sits inside the traces row: [actor, {..., op, ...}] since schema 5, [idx, actor, seq, step, t_ns,
        // dur_ns, op, ...] in rows of schema 4 (json_replace changes only the path that exists)
        if (table === 'traces')
          db.prepare(`UPDATE traces SET events = json_replace(events, '$[0][6]', ?, '$[0][1].op', ?)`).run(value, value)
        else db.prepare(`UPDATE ${table} SET ${col} = ?`).run(value)
        db.close()
        return `${table}.${col} = ${show(value, 40)}`
      },
    })),
  fc.constantFrom(999, -1, 0).map(v => ({
    kind: 'user-version',
    apply: (f: string) => {
      const db = new Database(f)
      db.pragma(`user_version = ${v}`)
      db.close()
      return `user_version ${v}`
    },
  })),
  fc.constantFrom('9223372036854775807', '-9223372036854775808').map(v => ({
    kind: 'odd-integers',
    apply: (f: string) => {
      const db = new Database(f)
      db.exec(`UPDATE traces SET events = json_replace(events, '$[0][4]', ${v}, '$[0][8]', ${v})`)
      db.close()
      return `events.t_ns = ret = ${v}`
    },
  })),
)

type BundleDoc = { results: Array<{ events: Array<Record<string, unknown>> }> } & Record<string, unknown>
const bundleDamage: fc.Arbitrary<Damage> = fc.oneof(
  fc
    .constantFrom<[string, unknown]>(
      ['t_ns', 1e300],
      ['t_ns', -1],
      ['t_ns', 1.5],
      ['t_ns', 'x'],
      ['t_ns', null],
      ['idx', 1e300],
      ['seq', -5],
    )
    .map(([k, v]) => ({
      kind: 'odd-event-field',
      apply: (f: string) => {
        const doc = JSON.parse(readFileSync(f, 'utf8')) as BundleDoc
        for (const r of doc.results) for (const e of r.events) e[k] = v
        writeFileSync(f, JSON.stringify(doc))
        return `every event ${k} = ${JSON.stringify(v)}`
      },
    })),
  fc.constant({
    kind: 'duplicate-event-index',
    apply: (f: string) => {
      const doc = JSON.parse(readFileSync(f, 'utf8')) as BundleDoc
      const r = doc.results[0]!
      r.events.push({ ...r.events[0]! })
      writeFileSync(f, JSON.stringify(doc))
      return 'first event of the first result twice'
    },
  }),
  fc.tuple(fc.integer({ min: 1_000, max: 100_000 }), fc.constantFrom('details', 'top')).map(([depth, where]) => ({
    kind: 'deep-nesting',
    apply: (f: string) => {
      const text = readFileSync(f, 'utf8')
      const nest = deep(depth, 'seq')
      if (where === 'top') writeFileSync(f, nest)
      else {
        const doc = JSON.parse(text) as BundleDoc
        doc.results[0]!.events[0]!['details'] = '__DEEP__'
        writeFileSync(f, JSON.stringify(doc).replace('"__DEEP__"', nest))
      }
      return `${depth} deep at ${where}`
    },
  })),
  fc.nat().map(n => ({
    kind: 'truncate',
    apply: (f: string) => {
      const size = statSync(f).size
      truncateSync(f, n % size)
      return `cut at ${n % size} of ${size}`
    },
  })),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map(flips => ({
    kind: 'byte-flip',
    apply: (f: string) => {
      const buf = readFileSync(f)
      for (const [at, v] of flips) buf[at % buf.length] = v
      writeFileSync(f, buf)
      return flips.map(([a, v]) => `${a % buf.length}=${v}`).join(',')
    },
  })),
  fc.tuple(fc.nat(), fc.constantFrom<unknown>(42, 'x', null, [], {}, 1e300, -1, '\u001b[31m', 'A'.repeat(1_000_000))).map(([at, v]) => ({
    kind: 'wrong-type',
    apply: (f: string) => {
      const doc = JSON.parse(readFileSync(f, 'utf8')) as Json
      const ls = leaves(doc)
      const l = ls[at % ls.length]!
      setIn(doc, l.path, v)
      writeFileSync(f, JSON.stringify(doc))
      return `${l.path.join('.')} = ${show(JSON.stringify(v), 40)}`
    },
  })),
  fc.constantFrom('', 'null', '[]', '{}', '"x"', '{"format":"sockspec-run"}').map(text => ({
    kind: 'not-a-bundle',
    apply: (f: string) => {
      writeFileSync(f, text)
      return show(text, 40)
    },
  })),
)

interface CliCase {
  kind: string
  what: string
  cmd: string
  file: string
  p: Proc
  problems: string[]
}

await t.test('damaged stores and odd bundles, real CLI', async tt => {
  const t0 = Date.now()
  if (!existsSync(baseBundle) || !existsSync(baseDb)) {
    tt.fail('no base store: the run above failed')
    return
  }
  const nStores = scaled(16)
  const nBundles = scaled(12)
  const storeCases = fc.sample(storeDamage, { seed, numRuns: nStores })
  const bundleCases = fc.sample(bundleDamage, { seed: seed + 1, numRuns: nBundles })
  const commands = ['runs', 'show', 'export', 'compare', 'report', 'merge']
  const jobs: Array<() => Promise<CliCase>> = []
  storeCases.forEach((d, i) => {
    const file = join(stores, `s${i}.db`)
    copyFileSync(baseDb, file)
    const what = d.apply(file)
    // two commands per store, rotating, so each command sees every kind of damage over the seeds
    for (const cmd of [commands[i % commands.length]!, commands[(i + 3) % commands.length]!]) {
      const args: Record<string, string[]> = {
        runs: ['runs', '--db', file],
        show: ['show', '--db', file],
        export: ['export', 'latest', '--db', file],
        compare: ['compare', '--db', file, '1', '2'],
        report: ['report', '--db', file, '--out', join(stores, `r${i}`)],
        merge: ['merge', file, '--into', join(stores, `m${i}.db`)],
      }
      jobs.push(async () => {
        const p = await cli(args[cmd]!, 30_000)
        const problems = cliProblems(p, file, { okCodes: cmd === 'compare' ? [0, 1] : [0], dataOut: cmd === 'export' })
        if (cmd === 'export' && p.code === 0) problems.push(...bundleProblems(p.stdout))
        return { kind: `store ${d.kind}`, what, cmd, file, p, problems }
      })
    }
  })
  bundleCases.forEach((d, i) => {
    const file = join(stores, `b${i}.json`)
    copyFileSync(baseBundle, file)
    const what = d.apply(file)
    jobs.push(async () => {
      const db = join(stores, `bi${i}.db`)
      const p = await cli(['import', file, '--db', db], 30_000)
      const problems = cliProblems(p, file, {})
      if (p.code === 0) {
        // what was accepted must come back out as a valid bundle
        const e = await cli(['export', 'latest', '--db', db], 30_000)
        problems.push(...cliProblems(e, db, { dataOut: true }).map(s => `export after import: ${s}`))
        if (e.code === 0) problems.push(...bundleProblems(e.stdout).map(s => `export after import: ${s}`))
      }
      return { kind: `bundle ${d.kind}`, what, cmd: 'import', file, p, problems }
    })
  })
  const results = await pool(jobs, 4)
  const per = new Map<string, CliCase[]>()
  for (const r of results) per.set(r.cmd, [...(per.get(r.cmd) ?? []), r])
  for (const [cmd, list] of [...per].sort()) {
    const bad = list.filter(r => r.problems.length)
    const codes = list.reduce<Record<string, number>>(
      (m, r) => ({ ...m, [String(r.p.code ?? r.p.signal)]: (m[String(r.p.code ?? r.p.signal)] ?? 0) + 1 }),
      {},
    )
    tt.comment(`${cmd}: ${list.length} damaged inputs, exits ${JSON.stringify(codes)}, violations ${bad.length}`)
    const kinds = [...new Set(bad.map(b => b.kind))]
    tt.equal(bad.length, 0, `${cmd}: exit 0 or one line + exit 2, no trace, no hang`, {
      failingKinds: kinds,
      reproducers: kinds.map(k => {
        const b = bad.find(x => x.kind === k)!
        return `${k} (${b.what}): ${b.problems.join('; ')}`
      }),
    })
  }
  tt.comment(
    `stores and bundles: ${storeCases.length} stores, ${bundleCases.length} bundles, ${results.length} processes in ${Date.now() - t0} ms`,
  )
})

function bundleProblems(stdout: string): string[] {
  let doc: unknown
  try {
    doc = JSON.parse(stdout)
  } catch (err) {
    return [`export output is not JSON: ${(err as Error).message.slice(0, 100)}`]
  }
  if (runSchema(doc)) return []
  return [
    `export output fails run.schema.json: ${(runSchema.errors ?? [])
      .slice(0, 2)
      .map(e => `${e.instancePath} ${e.message ?? ''}`)
      .join('; ')}`,
  ]
}

// ---------------------------------------------------------------- runs, real CLI, in a namespace of their own

const SYSCTLS = ['kernel/domainname', 'kernel/hostname', 'kernel/core_pattern', 'vm/swappiness', 'net/core/somaxconn']
const snapshot = () => Object.fromEntries(SYSCTLS.map(k => [k, readFileSync(`/proc/sys/${k}`, 'utf8')]))

function runCases(): Case[] {
  const pick = (rel: string) => corpus.find(b => b.rel === join('scenarios', rel))!
  const unix = pick('unix/connect-synchronous.yaml')
  const tcp = pick('tcp-connect/einprogress.yaml')
  const mut = (b: Base, cls: string, mustReject: boolean, what: string, f: (d: Record<string, unknown>) => void): Case => {
    const doc = clone(b.doc)
    f(doc)
    return { cls, mustReject, ext: 'yaml', pack: b.pack, name: b.name, text: serialise(doc, 'yaml'), what: `${b.rel}: ${what}` }
  }
  const setPath = (p: string) => (d: Record<string, unknown>) => void (stepsOf(d)[1]!['path'] = p)
  const hostile: Case[] = [
    mut(unix, 'run unix-path', true, `bind path /tmp/${MARK}-abs.sock`, setPath(`/tmp/${MARK}-abs.sock`)),
    mut(unix, 'run unix-path', true, `bind path ../${MARK}-up1.sock`, setPath(`../${MARK}-up1.sock`)),
    mut(unix, 'run unix-path', true, `bind path ../../${MARK}-up2.sock`, setPath(`../../${MARK}-up2.sock`)),
    mut(tcp, 'run addr-external', true, 'connect to 8.8.8.8:80', d => {
      const s = stepsOf(d).find(x => x['do'] === 'connect')!
      delete s['to']
      Object.assign(s, { addr: '8.8.8.8', port: 80 })
    }),
    mut(tcp, 'run sysctl-key', true, 'host sysctl net/../kernel/hostname', d => {
      d['hosts'] = { a: { sysctl: { 'net/../kernel/hostname': `${MARK}` } } }
    }),
    mut(tcp, 'run sysctl-key', true, 'host sysctl kernel.domainname', d => {
      d['hosts'] = { a: { sysctl: { 'kernel.domainname': `${MARK}` } } }
    }),
    mut(tcp, 'run probe-only-op', true, 'send text with an injected probe command', d => {
      stepsOf(d).push({ actor: 'client', do: 'send', sock: 'C', text: 'x\nnetns /proc/1/ns/net' })
    }),
  ]
  // mutations that stay valid: each must still give a verdict
  const benign: Case[] = [
    mut(tcp, 'run valid', false, 'listen backlog 1', d => void (stepsOf(d)[2]!['backlog'] = 1)),
    mut(unix, 'run valid', false, 'path renamed', setPath('other.sock')),
    mut(tcp, 'run valid', false, 'epoll timeout 100 ms', d => void (stepsOf(d)[7]!['timeout_ms'] = 100)),
  ]
  return [...hostile, ...benign].slice(0, scaled(10))
}

await t.test('runs of hostile scenarios, real CLI, in a private net+uts namespace', async tt => {
  const t0 = Date.now()
  const machineBefore = snapshot()
  const cases = runCases()
  const results = await pool(
    cases.map((c, i) => async () => {
      const file = writeCase(c)
      const dir = join(tmp, 'runs', String(i))
      mkdirSync(dir, { recursive: true })
      // Nothing can leave this namespace (only lo) and hostname/domainname writes stay in its UTS namespace,
      // so even a kit that ignores the contract neither sends to the outside nor changes this machine.
      const script = [
        'ip link set lo up',
        `cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname /proc/sys/net/core/somaxconn > "$1/before"`,
        `"$2" "$3" run "$4" --db "$1/run.db" --reporter json --jobs 1 > "$1/out" 2> "$1/err"; rc=$?`,
        `cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname /proc/sys/net/core/somaxconn > "$1/after"`,
        'exit $rc',
      ].join('\n')
      const p = await runProc(['unshare', '--net', '--uts', 'sh', '-c', script, 'sh', dir, process.execPath, bin, file], {
        timeoutMs: 60_000,
      })
      const out = existsSync(join(dir, 'out')) ? readFileSync(join(dir, 'out'), 'utf8') : ''
      const err = existsSync(join(dir, 'err')) ? readFileSync(join(dir, 'err'), 'utf8') : p.stderr
      const inner = { ...p, stdout: out, stderr: err }
      const problems = cliProblems(inner, file, { positioned: true, mustReject: c.mustReject, okCodes: [0, 1], dataOut: true })
      const b = existsSync(join(dir, 'before')) ? readFileSync(join(dir, 'before'), 'utf8') : ''
      const a = existsSync(join(dir, 'after')) ? readFileSync(join(dir, 'after'), 'utf8') : ''
      if (b !== a) problems.push(`sysctls of the run's own namespace changed: ${show(b)} -> ${show(a)}`)
      if (!c.mustReject && p.code !== 2 && !p.timedOut) {
        try {
          const doc = JSON.parse(out) as { results: Array<{ verdict: string }> }
          if (!doc.results.length) problems.push('no verdict')
        } catch {
          problems.push(`no JSON verdict on stdout: ${show(out, 120)}`)
        }
      }
      return { c, p: inner, problems }
    }),
    2,
  )
  for (const { c, p, problems } of results) {
    tt.comment(`run ${c.what}: exit ${p.code ?? p.signal} in ${p.ms} ms`)
    tt.same(problems, [], `run (CLI) ${c.cls}: ${c.what}`, { stderr: show(p.stderr) })
  }
  tt.same(
    snapshot(),
    machineBefore,
    'no sysctl of this machine changed (kernel.domainname, kernel.hostname, kernel.core_pattern, vm.swappiness, net.core.somaxconn)',
  )
  tt.comment(`runs: ${cases.length} in ${Date.now() - t0} ms`)
})

await t.test('no file written outside the temp dir', async tt => {
  tt.same(newFiles(), [], 'listings of /tmp (names carrying the escape mark), the kit, scenarios/, the cwd and the temp root are unchanged')
  // escaped files would be litter for everyone: remove them (names carry the mark)
  for (const n of listing('/tmp')) if (n.includes(MARK)) rmSync(join('/tmp', n), { force: true, recursive: true })
})

t.comment(`fuzz wall time ${((Date.now() - started) / 1000).toFixed(1)} s`)
