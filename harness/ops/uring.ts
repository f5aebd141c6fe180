/**
 * io_uring ops: the readiness situations of the other packs through the
 * interface newer event loops use. `uring_setup` makes a ring (a handle);
 * each submitting op queues one SQE and calls io_uring_enter, answering
 * with its return (1: taken); `uring_wait` answers with one completion
 * (op io_uring_cqe): res as ret/errno, the tag as `value.user_data`,
 * IORING_CQE_F_MORE as `value.more`, a poll CQE's mask as `ready`, recv's
 * bytes as `data`, an accepted socket as a new handle. No completion in
 * time: ret -1, errno ETIME.
 */
import { EPOLL_EVENTS, names } from './flags.js'
import { flagSet, formatAddr, line, targetAddress } from './format.js'
import type { OpDef, OpFamily } from './types.js'

const multishot = (on: boolean | undefined): string => (on ? 'multishot' : '0')

const uringSetup: OpDef = {
  name: 'uring_setup',
  doc: 'io_uring_setup(2) with `entries` (default 8) and no flags, then mmap of the SQ/CQ rings and the SQE array: the ring is handle `ring`. ENOSYS (no io_uring) or EPERM (kernel.io_uring_disabled) is the kernel saying no.',
  answers: 'io_uring_setup',
  fields: { ring: 'required', entries: 'optional' },
  creates: 'ring',
  returnsFd: true,
  commands: [
    {
      name: 'uring_setup',
      handler: 'op_uring_setup',
      minArgs: 2,
      maxArgs: 2,
      usage: 'uring_setup R <entries>',
      doc: '`io_uring_setup()`; `new: R`, reports `sq_entries`, `cq_entries`, `features` (IORING_FEAT_*); a failed ring `mmap()` is op `mmap`',
    },
  ],
  format: step => line(['uring_setup', 'op'], [step.ring, 'ring'], [step.entries ?? 8, 'entries']),
}

const uringPollAdd: OpDef = {
  name: 'uring_poll_add',
  doc: 'IORING_OP_POLL_ADD of handle `sock` for `events` (epoll bits), tagged `user_data`; `multishot` sets IORING_POLL_ADD_MULTI (5.13).',
  answers: 'io_uring_enter',
  fields: { ring: 'required', sock: 'required', events: 'required', multishot: 'optional', user_data: 'required' },
  commands: [
    {
      name: 'uring_poll_add',
      handler: 'op_uring_poll_add',
      minArgs: 5,
      maxArgs: 5,
      usage: 'uring_poll_add R H <events> <0|multishot> <ud>',
      doc: `one SQE, \`io_uring_enter(to_submit 1)\` (op \`io_uring_enter\`, \`sqe\`, \`target\`, \`user_data\`); events \`${names(EPOLL_EVENTS).join('|')}\``,
    },
  ],
  format: step =>
    line(
      ['uring_poll_add', 'op'],
      [step.ring, 'ring'],
      [step.sock, 'sock'],
      [flagSet(step.events), 'events'],
      [multishot(step.multishot), 'multishot'],
      [step.user_data, 'user_data'],
    ),
}

const uringConnect: OpDef = {
  name: 'uring_connect',
  doc: 'IORING_OP_CONNECT of handle `sock` to socket `to` (or `addr`/`port`, a unix `path`), tagged `user_data`: the CQE carries 0 or the error, never EINPROGRESS.',
  answers: 'io_uring_enter',
  fields: {
    ring: 'required',
    sock: 'required',
    user_data: 'required',
    to: 'optional',
    addr: 'optional',
    port: 'optional',
    path: 'optional',
  },
  commands: [
    {
      name: 'uring_connect',
      handler: 'op_uring_connect',
      minArgs: 5,
      maxArgs: 6,
      usage: 'uring_connect R H <ud> <addr>',
      doc: 'one SQE (the address is kept until its CQE), `io_uring_enter(to_submit 1)`',
    },
  ],
  format: (step, ctx) =>
    `${line(['uring_connect', 'op'], [step.ring, 'ring'], [step.sock, 'sock'], [step.user_data, 'user_data'])} ${formatAddr(targetAddress(step, ctx, false))}`,
}

const uringAccept: OpDef = {
  name: 'uring_accept',
  doc: 'IORING_OP_ACCEPT on listener `sock`, tagged `user_data`; the accepted socket becomes handle `new` (with `multishot`, IORING_ACCEPT_MULTISHOT, 5.19: later ones `new`_2, `new`_3, ...).',
  answers: 'io_uring_enter',
  fields: { ring: 'required', sock: 'required', new: 'required', multishot: 'optional', user_data: 'required' },
  // named at submission so later steps may use it; the probe binds the name when the CQE arrives
  creates: 'new',
  commands: [
    {
      name: 'uring_accept',
      handler: 'op_uring_accept',
      minArgs: 5,
      maxArgs: 5,
      usage: 'uring_accept R H NEW <0|multishot> <ud>',
      doc: 'one SQE (no address asked), `io_uring_enter(to_submit 1)`; the CQE names NEW as `new`',
    },
  ],
  format: (step, ctx) => {
    const family = step.sock !== undefined ? ctx.families.get(step.sock) : undefined
    if (step.new !== undefined && family) ctx.families.set(step.new, family)
    if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
    return line(
      ['uring_accept', 'op'],
      [step.ring, 'ring'],
      [step.sock, 'sock'],
      [step.new, 'new'],
      [multishot(step.multishot), 'multishot'],
      [step.user_data, 'user_data'],
    )
  },
}

const uringRecv: OpDef = {
  name: 'uring_recv',
  doc: 'IORING_OP_RECV of up to `bytes` (default 1024) from handle `sock`, tagged `user_data`; its CQE reports `data`.',
  answers: 'io_uring_enter',
  fields: { ring: 'required', sock: 'required', bytes: 'optional', user_data: 'required' },
  commands: [
    {
      name: 'uring_recv',
      handler: 'op_uring_recv',
      minArgs: 4,
      maxArgs: 4,
      usage: 'uring_recv R H <bytes> <ud>',
      doc: 'one SQE (the buffer is kept until its CQE), `io_uring_enter(to_submit 1)`',
    },
  ],
  format: step =>
    line(['uring_recv', 'op'], [step.ring, 'ring'], [step.sock, 'sock'], [step.bytes ?? 1024, 'bytes'], [step.user_data, 'user_data']),
}

const cancelOp = (name: 'uring_cancel' | 'uring_poll_remove', opcode: string, handler: string): OpDef => ({
  name,
  doc: `${opcode} of the request tagged \`target\`, itself tagged \`user_data\`: the target's CQE carries ECANCELED, this one 0 (ENOENT: nothing to cancel).`,
  answers: 'io_uring_enter',
  fields: { ring: 'required', target: 'required', user_data: 'required' },
  commands: [
    {
      name,
      handler,
      minArgs: 3,
      maxArgs: 3,
      usage: `${name} R <target ud> <ud>`,
      doc: `one ${opcode} SQE (addr = the target's user_data), \`io_uring_enter(to_submit 1)\``,
    },
  ],
  format: step => line([name, 'op'], [step.ring, 'ring'], [step.target, 'target'], [step.user_data, 'user_data']),
})

const uringWait: OpDef = {
  name: 'uring_wait',
  doc: 'The next completion tagged `user_data` (or any, without it), waiting up to `timeout_ms` (default 0; -1 no limit): one io_uring_cqe event. Completions of other tags reaped meanwhile wait for their own uring_wait, in kernel order.',
  answers: 'io_uring_cqe',
  fields: { ring: 'required', user_data: 'optional', timeout_ms: 'optional' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'uring_wait',
      handler: 'op_uring_wait',
      minArgs: 3,
      maxArgs: 3,
      usage: 'uring_wait R <ud|-> <timeout_ms>',
      doc: '`io_uring_enter(GETEVENTS)` then `poll()` on the ring until the CQE is there (op `io_uring_cqe`: `user_data`, `sqe`, `res`, `cqe_flags`, `value: {user_data, more}`, ret = res or -1 with errno -res; poll: `ready`; recv: `data`; accept: `new`); none in time: ret -1, errno ETIME',
    },
  ],
  format: step =>
    line(['uring_wait', 'op'], [step.ring, 'ring'], [step.user_data ?? '-', 'user_data'], [step.timeout_ms ?? 0, 'timeout_ms']),
}

export const family: OpFamily = {
  ops: [
    uringSetup,
    uringPollAdd,
    uringConnect,
    uringAccept,
    uringRecv,
    cancelOp('uring_cancel', 'IORING_OP_ASYNC_CANCEL', 'op_uring_cancel'),
    cancelOp('uring_poll_remove', 'IORING_OP_POLL_REMOVE', 'op_uring_poll_remove'),
    uringWait,
  ],
}
