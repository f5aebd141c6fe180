/** Gates: socket filters on one socket (probe) and nftables rules on a simulated host (harness). */
import { line } from './format.js'
import type { OpDef, OpFamily } from './types.js'

const gate: OpDef = {
  name: 'gate',
  doc: 'Attach a socket filter to `sock` that drops incoming TCP segments of the `drop` classes.',
  answers: 'setsockopt',
  fields: { sock: 'required', drop: 'required' },
  commands: [
    {
      name: 'gate',
      handler: 'op_gate',
      minArgs: 2,
      maxArgs: -1,
      usage: 'gate H <class> [class...]',
      doc: 'attaches a classic-BPF filter (`SO_ATTACH_FILTER`; see the privilege note below) to H that drops every incoming TCP segment of a listed class; op `setsockopt` with `opt: "SO_ATTACH_FILTER"` and `gate: [classes]`',
    },
  ],
  format: step => line(['gate', 'op'], [step.sock, 'sock'], ...(step.drop ?? []).map((c): [string, string] => [c, 'drop'])),
}

const ungate: OpDef = {
  name: 'ungate',
  doc: "Detach `sock`'s socket filter (SO_DETACH_FILTER).",
  answers: 'setsockopt',
  fields: { sock: 'required' },
  commands: [{ name: 'ungate', handler: 'op_ungate', minArgs: 1, maxArgs: 1, usage: 'ungate H', doc: '`SO_DETACH_FILTER`' }],
  format: step => line(['ungate', 'op'], [step.sock, 'sock']),
}

const pathGate: OpDef = {
  name: 'path_gate',
  doc: "nftables rules on the actor's simulated host: `drop` or `reject` segment classes (scenarios with `hosts` only).",
  answers: 'nft',
  fields: { drop: 'optional', reject: 'optional', with: 'optional', dir: 'optional', within: 'optional' },
  requiresAnyOf: ['drop', 'reject'],
  runBy: 'harness',
}

const pathUngate: OpDef = {
  name: 'path_ungate',
  doc: "Remove the actor host's path_gate rules.",
  answers: 'nft',
  fields: { dir: 'optional', within: 'optional' },
  runBy: 'harness',
}

export const family: OpFamily = { ops: [gate, ungate, pathGate, pathUngate] }
