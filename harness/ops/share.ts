/**
 * Sharing: one open file description held by several actors (processes) at
 * once, without the six steps of an SCM_RIGHTS exchange. `share` names the
 * holder's descriptor; each receiver takes a copy with pidfd_getfd(2). A
 * `share` step with `with: [w2, w3]` is expanded at load into the holder's
 * step and one `pidfd_getfd` step per receiver (scenario/groups.ts).
 */
import { CommandError, line } from './format.js'
import type { OpDef, OpFamily } from './types.js'

const share: OpDef = {
  name: 'share',
  doc: "Shares handle `sock` of this actor with the actors of `with` (a list), in one step: each of them then holds the same open file description under the same name, as after SCM_RIGHTS or fork. This actor's probe reports the descriptor (fstat(2): `fd`, `ino`); each receiver takes it with pidfd_open(2) + pidfd_getfd(2) (Linux 5.6, ptrace access: root), as a step `<id>-<receiver>` whose answer is pidfd_getfd's (`expect`, `claim` and `skip_if` given here apply there: `skip_if: {errno: ENOSYS}` skips a kernel without pidfd_getfd; default ret >= 0; `across` may name this step's id for all of them). Every actor must be on one machine.",
  answers: 'share',
  fields: { sock: 'required', with: 'required' },
  impliedExpect: () => ({ ret: 0 }),
  commands: [
    {
      name: 'share',
      handler: 'op_share',
      minArgs: 1,
      maxArgs: 1,
      usage: 'share H',
      doc: "`fstat()` of H's descriptor (op `share`, `h`, `fd`: the descriptor number a receiver asks `pidfd_getfd` for, `ino`)",
    },
  ],
  format: step => line(['share', 'op'], [step.sock, 'sock']),
}

const pidfdGetfd: OpDef = {
  name: 'pidfd_getfd',
  doc: "pidfd_open(2) of actor `target`'s probe, then pidfd_getfd(2) of the descriptor its handle `sock` has (reported by its last `share` of it): this actor's copy becomes handle `new`, the same open file. What a `share` step's receivers do; written out, its errno can be checked (EPERM without ptrace access, ESRCH, EBADF).",
  answers: 'pidfd_getfd',
  fields: { target: 'required', sock: 'required', new: 'required' },
  creates: 'new',
  returnsFd: true,
  commands: [
    {
      name: 'pidfd_getfd',
      handler: 'op_pidfd_getfd',
      minArgs: 3,
      maxArgs: 3,
      usage: 'pidfd_getfd NEW <pid> <fd>',
      doc: "`pidfd_open(pid, 0)` (op `pidfd_open`, `pid`), then, when it succeeded, `pidfd_getfd(pidfd, fd, 0)` (op `pidfd_getfd`, `fd`; `new: NEW` and the new descriptor's `ino` from `fstat()`); the pidfd is closed again",
    },
  ],
  format: (step, ctx) => {
    const target = step.target ?? ''
    const sock = step.sock ?? ''
    // the holder's pid as this actor's probe sees it: only on the same machine (a guest's pids are the guest's)
    const pid = ctx.probePid?.(target, step.actor)
    if (pid === undefined) throw new CommandError(`pidfd_getfd: actor '${target}' has no probe on the machine of actor '${step.actor}'`)
    const fd = ctx.sharedFds?.get(sharedKey(target, sock))
    if (fd === undefined)
      throw new CommandError(`pidfd_getfd: actor '${target}' has not reported a descriptor for '${sock}' (share it first)`)
    const cmd = line(['pidfd_getfd', 'op'], [step.new, 'new'], [pid, 'pid'], [fd, 'fd'])
    const family = ctx.families.get(sock)
    if (step.new !== undefined && family) ctx.families.set(step.new, family)
    return cmd
  },
}

/** Key of a holder's descriptor in CommandContext.sharedFds. */
export const sharedKey = (actor: string, handle: string): string => `${actor}/${handle}`

export const family: OpFamily = { ops: [share, pidfdGetfd] }
