/** Datagram and record sockets: socketpair (both ends of a connected unix pair). */
import { line, sockFlags } from './format.js'
import { TYPES, choice, SOCK_FLAGS } from './flags.js'
import type { OpDef, OpFamily } from './types.js'

const socketpair: OpDef = {
  name: 'socketpair',
  doc: 'socketpair(2) of AF_UNIX sockets of `type` (default dgram): ends `sock` and `new`, each connected to the other.',
  answers: 'socketpair',
  fields: { sock: 'required', new: 'required', type: 'optional', nonblock: 'optional', cloexec: 'optional' },
  creates: ['sock', 'new'],
  commands: [
    {
      name: 'socketpair',
      handler: 'op_socketpair',
      minArgs: 3,
      maxArgs: 4,
      usage: `socketpair H1 H2 <${choice(TYPES)}> [${choice(SOCK_FLAGS)}]`,
      doc: '`socketpair(AF_UNIX)`; event has `new: H1` and `new2: H2`',
    },
  ],
  format: (step, ctx) => {
    const cmd = line(
      ['socketpair', 'op'],
      [step.sock, 'sock'],
      [step.new, 'new'],
      [step.type ?? 'dgram', 'type'],
      [sockFlags(step), 'flags'],
    )
    for (const h of [step.sock, step.new]) {
      if (h === undefined) continue
      ctx.families.set(h, 'unix')
      ctx.owners.set(h, step.actor)
    }
    return cmd
  },
}

export const family: OpFamily = { ops: [socketpair] }
