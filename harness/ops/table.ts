/**
 * The op table: every op family collected, checked once at load, and the
 * questions the kit asks about a step answered from it. A step op without
 * a definition throws here: nothing falls back to a guess.
 */
import { family as control } from './control.js'
import { family as dgram } from './dgram.js'
import { family as epoll } from './epoll.js'
import { family as evidence } from './evidence.js'
import { STEP_FIELDS } from './fields.js'
import { SHARED_TABLES } from './flags.js'
import { CommandError, token } from './format.js'
import type { CommandContext } from './format.js'
import { family as gates } from './gates.js'
import { family as io } from './io.js'
import { family as options } from './options.js'
import { family as peer } from './peer.js'
import { family as readiness } from './readiness.js'
import { family as share } from './share.js'
import { family as sockets } from './sockets.js'
import { family as uring } from './uring.js'
import type { FieldUse, HandleField, NameTable, OpDef, OpFamily, ProbeCommand } from './types.js'
import { createdFields } from './types.js'
import type { Step } from '../scenario/types.js'

const FAMILIES_OF_OPS: readonly OpFamily[] = [sockets, io, options, epoll, gates, control, dgram, readiness, evidence, uring, peer, share]

export const OP_DEFS: readonly OpDef[] = FAMILIES_OF_OPS.flatMap(f => f.ops)

/** Every probe command, in dispatch order: the ops' commands, then the probe-only ones. */
export const PROBE_COMMANDS: readonly ProbeCommand[] = [
  ...OP_DEFS.flatMap(d => d.commands ?? []),
  ...FAMILIES_OF_OPS.flatMap(f => f.probeOnly ?? []),
]

/** Every name table the probe compiles in. */
export const NAME_TABLES: readonly NameTable[] = [...SHARED_TABLES, ...FAMILIES_OF_OPS.flatMap(f => f.tables ?? [])]

const OPS = new Map<string, OpDef>()

/** The table's own consistency: a mistake here is the kit's, found at load, not at a run. */
function checkTable(): void {
  const problem = (m: string): never => {
    throw new Error(`op table: ${m}`)
  }
  for (const d of OP_DEFS) {
    if (OPS.has(d.name)) problem(`op '${d.name}' is defined twice`)
    OPS.set(d.name, d)
    for (const f of Object.keys(d.fields)) if (!(f in STEP_FIELDS)) problem(`op '${d.name}' uses field '${f}', which is not a step field`)
    for (const f of createdFields(d)) if (!(f in d.fields)) problem(`op '${d.name}' creates a handle in '${f}', a field it does not take`)
    if (d.waits && !(d.waits in d.fields)) problem(`op '${d.name}' waits on '${d.waits}', a field it does not take`)
    if (d.runBy !== 'harness' && (!d.format || !d.commands?.length)) problem(`probe op '${d.name}' needs commands and a format`)
  }
  const commands = new Set<string>()
  for (const c of PROBE_COMMANDS) {
    if (commands.has(c.name)) problem(`probe command '${c.name}' is defined twice`)
    commands.add(c.name)
  }
  const tables = new Set<string>()
  for (const t of NAME_TABLES) {
    if (tables.has(t.id)) problem(`name table '${t.id}' is listed twice`)
    tables.add(t.id)
  }
}
checkTable()

export const OP_NAMES: readonly string[] = OP_DEFS.map(d => d.name)

/** The definition of a step op; throws for a name the table does not have. */
export function opDef(name: string): OpDef {
  const d = OPS.get(name)
  if (!d) throw new Error(`'${name}' is not an op of the op table`)
  return d
}

export const isOp = (name: string): boolean => OPS.has(name)

/** How an op uses a field, or undefined when it does not. */
export function fieldUse(op: string, field: string): FieldUse | undefined {
  return opDef(op).fields[field]
}

/** Step op -> the fields naming the handles it creates (socketpair: two). */
export const CREATES: Readonly<Record<string, readonly HandleField[]>> = Object.fromEntries(
  OP_DEFS.filter(d => d.creates).map(d => [d.name, createdFields(d)]),
)

/** Event ops whose return value is a new file descriptor number. */
export const FD_RETURNING: ReadonlySet<string> = new Set(OP_DEFS.filter(d => d.returnsFd).map(d => d.answers))

/** Event ops whose `addr` is one of the scenario's own sockets' (their ports are the scenario's). */
export const ADDRESS_EVENTS: ReadonlySet<string> = new Set(OP_DEFS.filter(d => d.reportsAddress).map(d => d.answers))

/** The op name of the event that answers a step. */
export const primaryOp = (step: Pick<Step, 'do'>): string => opDef(step.do).answers

/** How long the step blocks by design (its timeout or sleep), or undefined (no bound, or none). */
export function waitMs(step: Pick<Step, 'do'>): number | undefined {
  const field = opDef(step.do).waits
  const v = field === undefined ? undefined : (step as Record<string, unknown>)[field]
  return typeof v === 'number' && v >= 0 ? v : undefined
}

/** How long a step may take before it is an error: its limit, else its wait plus 3 s, else 5 s. */
export function stepLimitMs(step: Pick<Step, 'do' | 'limit_ms'>): number {
  if (step.limit_ms !== undefined) return step.limit_ms
  const w = waitMs(step)
  return w !== undefined ? w + 3000 : 5000
}

/** The probe command line of a step. */
export function buildCommand(step: Step, ctx: CommandContext): string {
  // the runner puts the step id in front of the line: a token too
  if (step.id !== undefined) token(step.id, 'step id')
  const d = OPS.get(step.do)
  // a step op outside the table (netns, capture, ...) never reaches the probe
  if (!d) throw new CommandError(`'${String(step.do)}' is not a scenario step`)
  if (d.runBy === 'harness' || !d.format) throw new CommandError(`${step.do} is run by the harness, not the probe`)
  return d.format(step, ctx)
}
