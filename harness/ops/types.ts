/**
 * The shape of one op definition. Every op of the scenario vocabulary is
 * written once, as an OpDef in its family module (sockets.ts, io.ts, ...);
 * the schema's step part, the probe's dispatch and option tables and the
 * protocol's command table are generated from these (generate.ts), and the
 * runner's questions (which event answers, how long may it take, does it
 * create a handle) are answered from them (table.ts).
 */
import type { CommandContext } from './format.js'
import type { ExpectFields, Step } from '../scenario/types.js'

/** A named value the probe accepts, with the kernel constant it stands for. */
export interface TableEntry {
  /** spelling in scenarios and on the protocol line */
  name: string
  /** C expression the probe compiles in (the kernel macro) */
  kernel: string
  doc?: string
}

/** A table of names the probe and the schema must agree on (flags, keywords, ioctl requests). */
export interface NameTable {
  /** X-macro name in the generated C header (OPTABLE_<id>) */
  id: string
  entries: readonly TableEntry[]
}

/** How an op uses a step field: required, optional, or optional/required with its own allowed values. */
export type FieldUse = 'required' | 'optional' | { required?: boolean; values: readonly string[]; doc?: string }

/** One probe command line form (PROTOCOL.md), dispatched in main.c. */
export interface ProbeCommand {
  name: string
  /** the C handler (ops.h prototype generated) */
  handler: string | null
  minArgs: number
  /** -1: unbounded */
  maxArgs: number
  usage: string
  /** the PROTOCOL.md row: syscalls made and events reported */
  doc: string
}

export interface OpDef {
  /** `do:` in a scenario */
  name: string
  /** one line for the schema (editor completion) */
  doc: string
  /** op of the event that answers the step (the syscall's name); an explicit mapping, checked against the real probe in test/probe.ts */
  answers: string
  /** fields the op uses, beyond the ones every step has (id, actor, do, background, limit_ms, expect, claim, note) */
  fields: Readonly<Record<string, FieldUse>>
  /** at least one of these fields must be given */
  requiresAnyOf?: readonly string[]
  /** the field naming the handle the op creates (a list when it creates several: socketpair) */
  creates?: HandleField | readonly HandleField[]
  /** the answering syscall returns a new file descriptor (normalised to 'fd' in comparisons) */
  returnsFd?: boolean
  /** the answering event carries an address of the scenario's own sockets (packet capture keeps their ports) */
  reportsAddress?: boolean
  /** the field holding how long the call may block by design (ms; negative: no bound) */
  waits?: string
  /** who runs it: the probe (default) or the harness itself */
  runBy?: 'probe' | 'harness'
  /** probe command forms this op is sent as */
  commands?: readonly ProbeCommand[]
  /** what the step's own fields imply about its answer, checked like `expect` (packet_expect: its `segment`) */
  impliedExpect?: (step: Step) => ExpectFields
  /** the probe command line; every token goes through format.ts token() */
  format?: (step: Step, ctx: CommandContext) => string
}

/** A step field that names a handle an op can create. */
export type HandleField = 'sock' | 'new' | 'ep' | 'ring'

/** The fields naming the handles an op creates, as a list. */
export const createdFields = (d: Pick<OpDef, 'creates'>): readonly HandleField[] =>
  d.creates === undefined ? [] : typeof d.creates === 'string' ? [d.creates] : d.creates

/** An op family module: its ops and the name tables they own. */
export interface OpFamily {
  ops: readonly OpDef[]
  tables?: readonly NameTable[]
  /** probe commands that are not scenario steps (netns, capture, quit) */
  probeOnly?: readonly ProbeCommand[]
  /** step fields this family introduces (JSON schema fragments) */
  fields?: Readonly<Record<string, Record<string, unknown>>>
}
