/**
 * Generates, from the op table, the files that must agree with it:
 *   schemas/scenario.schema.json   the step part (properties.steps.items)
 *   harness/native/src/optable.gen.h  the probe's dispatch, name and option tables
 *   harness/native/PROTOCOL.md     the command table and the option list (between markers)
 *
 *   node dist/harness/ops/generate.js          write them (npm run gen)
 *   node dist/harness/ops/generate.js --check  exit 1 when one is stale
 *
 * The outputs are committed, so an install needs no generation; a test
 * regenerates them in memory and compares.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { kitRoot } from '../paths.js'
import { STEP_FIELDS } from './fields.js'
import { GATE_CLASSES, MSG_FLAGS, names } from './flags.js'
import { OPTION_LEVELS } from './options.js'
import type { ValueKind } from './options.js'
import { NAME_TABLES, OP_DEFS, PROBE_COMMANDS } from './table.js'

export const SCHEMA_FILE = join(kitRoot, 'schemas', 'scenario.schema.json')
export const HEADER_FILE = join(kitRoot, 'harness', 'native', 'src', 'optable.gen.h')
export const PROTOCOL_FILE = join(kitRoot, 'harness', 'native', 'PROTOCOL.md')

const STEP_DESCRIPTION =
  'One syscall made by one actor. Steps run in file order; a step waits for its syscall to return unless it is `background`.'

/** The schema of one step: fields, the op enum with docs, per-op required fields and values, options per level. */
export function stepSchema(): Record<string, unknown> {
  const perOpValues = new Map<string, string[]>()
  for (const d of OP_DEFS) {
    for (const [field, use] of Object.entries(d.fields)) {
      if (typeof use === 'object') perOpValues.set(field, [...new Set([...(perOpValues.get(field) ?? []), ...use.values])])
    }
  }
  const properties: Record<string, unknown> = {}
  for (const [name, fragment] of Object.entries(STEP_FIELDS)) {
    if (name === 'do') {
      properties[name] = {
        type: 'string',
        enum: OP_DEFS.map(d => d.name),
        description: `The operation. ${OP_DEFS.map(d => `${d.name}: ${d.doc}`).join(' ')}`,
      }
      continue
    }
    const values = perOpValues.get(name)
    properties[name] = values ? { ...fragment, enum: values } : fragment
  }
  const allOf: unknown[] = []
  for (const d of OP_DEFS) {
    const required = Object.entries(d.fields)
      .filter(([, use]) => use === 'required' || (typeof use === 'object' && use.required))
      .map(([f]) => f)
    const props: Record<string, unknown> = {}
    for (const [field, use] of Object.entries(d.fields))
      if (typeof use === 'object') props[field] = { enum: use.values, description: `${d.name}: ${use.doc ?? d.doc}` }
    const then: Record<string, unknown> = {}
    if (required.length) then['required'] = required
    if (Object.keys(props).length) then['properties'] = props
    if (d.requiresAnyOf) then['anyOf'] = d.requiresAnyOf.map(f => ({ required: [f] }))
    if (Object.keys(then).length) allOf.push({ if: { properties: { do: { const: d.name } }, required: ['do'] }, then })
  }
  const optionOps = OP_DEFS.filter(d => 'opt' in d.fields).map(d => d.name)
  for (const level of OPTION_LEVELS) {
    allOf.push({
      if: { properties: { do: { enum: optionOps }, level: { const: level.name } }, required: ['do', 'level'] },
      then: {
        properties: {
          opt: { enum: level.options.map(o => o.name), description: `Options of level ${level.name} (${level.reported}), as the macros.` },
        },
      },
    })
  }
  return {
    type: 'object',
    additionalProperties: false,
    required: ['do'],
    description: STEP_DESCRIPTION,
    properties,
    // one actor, or a group making the same call (expanded at load, scenario/groups.ts)
    oneOf: [{ required: ['actor'] }, { required: ['actors'] }],
    allOf,
  }
}

export function generateSchema(current: string): string {
  const schema = JSON.parse(current) as { properties: { steps: { items: unknown } } }
  schema.properties.steps.items = stepSchema()
  return `${JSON.stringify(schema, null, 2)}\n`
}

const C_KIND: Record<ValueKind, string> = {
  int: 'K_INT',
  bool: 'K_INT',
  linger: 'K_LINGER',
  timeval_ms: 'K_TIMEO',
  string: 'K_STRING',
  tcp_info: 'K_TCPINFO',
  errno: 'K_ERROR',
  mptcp_info: 'K_MPTCPINFO',
}

const cString = (s: string): string => JSON.stringify(s)

/** An X-macro: one X(...) per row. */
const xmacro = (name: string, rows: string[]): string => `#define ${name}(X) \\\n${rows.map(r => `\tX(${r}) \\\n`).join('')}\t/* end */\n`

export function generateHeader(): string {
  const out: string[] = [
    '/*',
    ' * optable.gen.h - GENERATED from the op table (harness/ops/) by',
    ' * harness/ops/generate.ts (npm run gen). Do not edit: change the op',
    ' * definitions and regenerate. test/probe.ts fails when this is stale.',
    ' */',
    '#ifndef SOCKSPEC_OPTABLE_GEN_H',
    '#define SOCKSPEC_OPTABLE_GEN_H',
    '',
    '#include "command.h"',
    '',
    '/* Command handlers. */',
    ...PROBE_COMMANDS.filter(c => c.handler).map(c => `void ${c.handler}(const cmd_t *c);`),
    '',
    '/* Dispatch (main.c): X(name, handler, min_args, max_args, usage); max -1: unbounded. */',
    xmacro(
      'OPTABLE_COMMANDS',
      PROBE_COMMANDS.map(c => `${cString(c.name)}, ${c.handler ?? 'NULL'}, ${c.minArgs}, ${c.maxArgs}, ${cString(c.usage)}`),
    ),
    '/* Name tables: X(name, value). FLAGDEF_ makes a flagdef_t row of one. */',
    '#define FLAGDEF_(name, value) { name, (unsigned long)(value) },',
    '',
    ...NAME_TABLES.map(t =>
      xmacro(
        `OPTABLE_${t.id}`,
        t.entries.map(e => `${cString(e.name)}, ${e.kernel}`),
      ),
    ),
    '/* Socket option levels (options.c): X(arg, reported name, level). */',
    xmacro(
      'OPTABLE_LEVELS',
      OPTION_LEVELS.map(l => `${cString(l.name)}, ${cString(l.reported)}, ${l.kernel}`),
    ),
    '/* Socket options (options.c): X(level arg, OPTION, kind). */',
    xmacro(
      'OPTABLE_OPTIONS',
      OPTION_LEVELS.flatMap(l => l.options.map(o => `${cString(l.name)}, ${o.name}, ${C_KIND[o.kind]}`)),
    ),
    '#endif',
    '',
  ]
  return out.join('\n')
}

const BEGIN = (what: string): string =>
  `<!-- optable:${what}:begin (generated by harness/ops/generate.ts; edit the op table, then npm run gen) -->`
const END = (what: string): string => `<!-- optable:${what}:end -->`

function between(text: string, what: string, body: string): string {
  const b = text.indexOf(BEGIN(what))
  const e = text.indexOf(END(what))
  if (b < 0 || e < b) throw new Error(`${PROTOCOL_FILE}: markers for '${what}' are missing`)
  return `${text.slice(0, b + BEGIN(what).length)}\n${body}${text.slice(e)}`
}

export function generateProtocol(current: string): string {
  const rows = PROBE_COMMANDS.map(c => `| \`${c.usage}\` | ${c.doc} |`)
  const commands = ['| command | syscalls and event |', '| --- | --- |', ...rows, ''].join('\n')
  const options = [
    'setsockopt/getsockopt option names (spelled as the macros), by level, with the',
    'value kind (int; bool: an int read as on/off; linger: `onoff,secs`;',
    'timeval_ms: milliseconds; string: a name; tcp_info: an object, get only;',
    'errno: an int reported with its name in `value_name`; mptcp_info: an',
    'object, get only):',
    '',
    ...OPTION_LEVELS.map(l => `- \`${l.name}\` (${l.reported}): ${l.options.map(o => `${o.name} (${o.kind})`).join(', ')}`),
    '',
    `Message flags: \`${names(MSG_FLAGS).join('|')}\`.`,
    '',
  ].join('\n')
  const gates = ['| class | segment |', '| --- | --- |', ...GATE_CLASSES.entries.map(e => `| \`${e.name}\` | ${e.doc ?? ''} |`), ''].join(
    '\n',
  )
  return between(between(between(current, 'commands', commands), 'gates', gates), 'options', options)
}

export interface GeneratedFile {
  file: string
  current: string
  fresh: string
}

/** Every generated file, as it is on disk and as the table makes it now. */
export function generatedFiles(): GeneratedFile[] {
  const read = (f: string): string => {
    try {
      return readFileSync(f, 'utf8')
    } catch {
      return ''
    }
  }
  const schema = read(SCHEMA_FILE)
  const protocol = read(PROTOCOL_FILE)
  return [
    { file: SCHEMA_FILE, current: schema, fresh: generateSchema(schema) },
    { file: HEADER_FILE, current: read(HEADER_FILE), fresh: generateHeader() },
    { file: PROTOCOL_FILE, current: protocol, fresh: generateProtocol(protocol) },
  ]
}

function main(argv: string[]): number {
  const check = argv.includes('--check')
  const stale = generatedFiles().filter(g => g.current !== g.fresh)
  for (const g of stale) {
    if (check) process.stderr.write(`stale: ${g.file} (run npm run gen)\n`)
    else writeFileSync(g.file, g.fresh)
  }
  if (!check) process.stdout.write(`${stale.length} file(s) regenerated\n`)
  return check && stale.length ? 1 : 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2))
