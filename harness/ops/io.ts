/** Data transfer ops: send/recv family and descriptor passing (SCM_RIGHTS). */
import { flagSet, formatAddr, line, targetAddress } from './format.js'
import type { OpDef, OpFamily } from './types.js'

const flags = (names: readonly string[] | undefined): [string, string] => [flagSet(names), 'flags']

const send: OpDef = {
  name: 'send',
  doc: 'send(2) of `bytes` pattern bytes (a..z) or the literal `text`.',
  answers: 'send',
  fields: { sock: 'required', bytes: 'optional', text: 'optional', flags: 'optional' },
  commands: [
    {
      name: 'send',
      handler: 'op_send',
      minArgs: 2,
      maxArgs: 3,
      usage: 'send H <nbytes> [msg flags]',
      doc: "`send()` of nbytes of pattern bytes (`'a'..'z'` repeating)",
    },
    {
      name: 'sendstr',
      handler: 'op_sendstr',
      minArgs: 2,
      maxArgs: 3,
      usage: 'sendstr H <text> [msg flags]',
      doc: '`send()` of the literal token text (op `send`)',
    },
  ],
  format: step =>
    step.text !== undefined
      ? line(['sendstr', 'op'], [step.sock, 'sock'], [step.text, 'text'], flags(step.flags))
      : line(['send', 'op'], [step.sock, 'sock'], [step.bytes ?? 1, 'bytes'], flags(step.flags)),
}

const sendto: OpDef = {
  name: 'sendto',
  doc: 'sendto(2) of `bytes` pattern bytes to socket `to`, `addr`/`port` or a unix `path`.',
  answers: 'sendto',
  fields: { sock: 'required', bytes: 'optional', to: 'optional', addr: 'optional', port: 'optional', path: 'optional', flags: 'optional' },
  reportsAddress: true,
  commands: [
    { name: 'sendto', handler: 'op_sendto', minArgs: 4, maxArgs: 6, usage: 'sendto H <nbytes> <addr> [msg flags]', doc: '`sendto()`' },
  ],
  format: (step, ctx) =>
    `${line(['sendto', 'op'], [step.sock, 'sock'], [step.bytes ?? 1, 'bytes'])} ${formatAddr(targetAddress(step, ctx, false))} ${line(flags(step.flags))}`,
}

const recvOp = (name: 'recv' | 'recvfrom' | 'recvmsg', doc: string, protocolDoc: string, reportsAddress: boolean): OpDef => ({
  name,
  doc,
  answers: name,
  fields: { sock: 'required', bytes: 'optional', flags: 'optional' },
  reportsAddress,
  commands: [{ name, handler: `op_${name}`, minArgs: 2, maxArgs: 3, usage: `${name} H <nbytes> [msg flags]`, doc: protocolDoc }],
  format: step => line([name, 'op'], [step.sock, 'sock'], [step.bytes ?? 4096, 'bytes'], flags(step.flags)),
})

const sendFd: OpDef = {
  name: 'send_fd',
  doc: 'sendmsg(2) of one byte carrying handle `pass` as SCM_RIGHTS over unix socket `sock`.',
  answers: 'sendmsg',
  fields: { sock: 'required', pass: 'required', flags: 'optional' },
  commands: [
    {
      name: 'sendfd',
      handler: 'op_sendfd',
      minArgs: 2,
      maxArgs: 3,
      usage: 'sendfd H FDH [msg flags]',
      doc: "`sendmsg()` of one byte (`F`) carrying handle FDH's descriptor as `SCM_RIGHTS` (op `sendmsg`, `pass: [FDH]`); another actor then holds the same open file",
    },
  ],
  format: (step, ctx) => {
    const pass = step.pass ?? ''
    const cmd = line(['sendfd', 'op'], [step.sock, 'sock'], [pass, 'pass'], flags(step.flags))
    const family = ctx.families.get(pass)
    if (family) ctx.passing.push(family)
    return cmd
  },
}

const recvFd: OpDef = {
  name: 'recv_fd',
  doc: 'recvmsg(2) of one byte; the first SCM_RIGHTS descriptor becomes handle `new`.',
  answers: 'recvmsg',
  fields: { sock: 'required', new: 'required', flags: 'optional' },
  creates: 'new',
  commands: [
    {
      name: 'recvfd',
      handler: 'op_recvfd',
      minArgs: 2,
      maxArgs: 3,
      usage: 'recvfd H NEW [msg flags]',
      doc: '`recvmsg()` of one byte with room for descriptors; the first `SCM_RIGHTS` descriptor becomes handle NEW (`new: NEW`), any more are closed (counted in `closed_fds`); reports `data`, `msg_flags`, `cmsg`',
    },
  ],
  format: (step, ctx) => {
    const cmd = line(['recvfd', 'op'], [step.sock, 'sock'], [step.new, 'new'], flags(step.flags))
    // Descriptors arrive in the order they were sent; the received socket
    // has the family of the oldest one still in flight.
    const family = ctx.passing.shift()
    if (step.new !== undefined && family) ctx.families.set(step.new, family)
    if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
    return cmd
  },
}

const takeSigpipe: OpDef = {
  name: 'take_sigpipe',
  doc: 'sigtimedwait(2) for SIGPIPE with a zero timeout: ret 13 when a send raised SIGPIPE since the last take (the probe keeps it blocked and ignored), else -1 EAGAIN.',
  answers: 'sigtimedwait',
  fields: {},
  commands: [
    {
      name: 'take_sigpipe',
      handler: 'op_take_sigpipe',
      minArgs: 0,
      maxArgs: 0,
      usage: 'take_sigpipe',
      doc: '`sigtimedwait()` for `SIGPIPE`, zero timeout (op `sigtimedwait`, `signal`): the probe keeps SIGPIPE ignored and blocked, so one raised by a send stays pending until taken; ret 13, or -1 `EAGAIN` when none is pending',
    },
  ],
  format: () => 'take_sigpipe',
}

export const family: OpFamily = {
  ops: [
    send,
    sendto,
    recvOp('recv', 'recv(2) into a buffer of `bytes` (default 4096); the event reports `data`.', '`recv()`; reports `data`', false),
    recvOp('recvfrom', 'recvfrom(2); the event reports `data` and the sender `addr`.', '`recvfrom()`; reports `data`, `addr`', true),
    recvOp(
      'recvmsg',
      'recvmsg(2); the event reports `data`, `msg_flags` and ancillary data `cmsg`.',
      '`recvmsg()`; reports `data`, `msg_flags`, `cmsg`; descriptors that arrive as `SCM_RIGHTS` are closed at once and counted in `closed_fds` (use `recvfd` to keep one)',
      false,
    ),
    sendFd,
    recvFd,
    takeSigpipe,
  ],
}
