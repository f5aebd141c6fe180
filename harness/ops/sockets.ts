/** Socket lifecycle ops: socket, bind, listen, connect, accept4, shutdown, close, names, fcntl. */
import { CommandError, flagSet, formatAddr, line, sockFlags, targetAddress } from './format.js'
import { FAMILIES, PROTOS, SHUT_HOW, SOCK_FLAGS, TYPES, choice, names } from './flags.js'
import type { NameTable, OpDef, OpFamily } from './types.js'

const socket: OpDef = {
  name: 'socket',
  doc: 'socket(2): a new socket named by `sock`.',
  answers: 'socket',
  fields: { sock: 'required', family: 'optional', type: 'optional', proto: 'optional', nonblock: 'optional', cloexec: 'optional' },
  creates: 'sock',
  returnsFd: true,
  commands: [
    {
      name: 'socket',
      handler: 'op_socket',
      minArgs: 3,
      maxArgs: 5,
      usage: `socket H <${choice(FAMILIES)}> <${choice(TYPES)}> [${choice(PROTOS)}] [${choice(SOCK_FLAGS)}]`,
      doc: '`socket()`; event has `new: H`',
    },
  ],
  format: (step, ctx) => {
    const h = step.sock ?? ''
    const family = step.family === undefined || step.family === 'ip' ? (ctx.variant.family ?? 'inet') : step.family
    const cmd = line(
      ['socket', 'op'],
      [h, 'sock'],
      [family, 'family'],
      [step.type ?? 'stream', 'type'],
      [step.proto ?? '0', 'proto'],
      [sockFlags(step), 'flags'],
    )
    ctx.families.set(h, family)
    ctx.owners.set(h, step.actor)
    return cmd
  },
}

const bind: OpDef = {
  name: 'bind',
  doc: 'bind(2) to `addr`/`port` (default: the actor host address, port 0), a unix `path`, or the address socket `like` is bound to.',
  answers: 'bind',
  fields: { sock: 'required', addr: 'optional', port: 'optional', path: 'optional', like: 'optional' },
  commands: [
    {
      name: 'bind',
      handler: 'op_bind',
      minArgs: 3,
      maxArgs: 4,
      usage: 'bind H <addr>',
      doc: '`bind()`; on success the probe also calls `getsockname()` and reports it as a second event (op `getsockname`), so the harness learns the port the kernel chose for port 0',
    },
  ],
  format: (step, ctx) => {
    const like = step.like === undefined ? undefined : ctx.addresses.get(step.like)
    if (step.like !== undefined && !like)
      throw new CommandError(`socket '${step.like}' has no known address (its bind failed or never ran)`)
    return `${line(['bind', 'op'], [step.sock, 'sock'])} ${formatAddr(like ?? targetAddress(step, ctx, true))}`
  },
}

const listen: OpDef = {
  name: 'listen',
  doc: 'listen(2) with `backlog`.',
  answers: 'listen',
  fields: { sock: 'required', backlog: 'required' },
  commands: [{ name: 'listen', handler: 'op_listen', minArgs: 2, maxArgs: 2, usage: 'listen H <backlog>', doc: '`listen()`' }],
  format: step => line(['listen', 'op'], [step.sock, 'sock'], [step.backlog ?? 128, 'backlog']),
}

const connect: OpDef = {
  name: 'connect',
  doc: 'connect(2) to socket `to`, to `addr`/`port`, or to a unix `path`.',
  answers: 'connect',
  fields: { sock: 'required', to: 'optional', addr: 'optional', port: 'optional', path: 'optional' },
  reportsAddress: true,
  commands: [
    {
      name: 'connect',
      handler: 'op_connect',
      minArgs: 3,
      maxArgs: 4,
      usage: 'connect H <addr>',
      doc: '`connect()` (blocking or not, as the socket is)',
    },
  ],
  format: (step, ctx) => `${line(['connect', 'op'], [step.sock, 'sock'])} ${formatAddr(targetAddress(step, ctx, false))}`,
}

const connectUnspec: OpDef = {
  name: 'connect_unspec',
  doc: 'connect(2) with AF_UNSPEC: dissolve the association.',
  answers: 'connect',
  fields: { sock: 'required' },
  commands: [
    {
      name: 'connect_unspec',
      handler: 'op_connect_unspec',
      minArgs: 1,
      maxArgs: 1,
      usage: 'connect_unspec H',
      doc: '`connect()` with `AF_UNSPEC` (disconnect); op `connect`',
    },
  ],
  format: step => line(['connect_unspec', 'op'], [step.sock, 'sock']),
}

const accept4: OpDef = {
  name: 'accept4',
  doc: 'accept4(2) on listener `sock`; the connection becomes handle `new`.',
  answers: 'accept4',
  fields: { sock: 'required', new: 'required', nonblock: 'optional', cloexec: 'optional' },
  creates: 'new',
  returnsFd: true,
  reportsAddress: true,
  commands: [
    {
      name: 'accept4',
      handler: 'op_accept4',
      minArgs: 2,
      maxArgs: 3,
      usage: `accept4 H NEW [${choice(SOCK_FLAGS)}]`,
      doc: '`accept4()`; on success creates handle NEW, reports peer `addr`',
    },
  ],
  format: (step, ctx) => {
    const h = step.sock ?? ''
    const cmd = line(['accept4', 'op'], [h, 'sock'], [step.new, 'new'], [sockFlags(step), 'flags'])
    const listenerFamily = ctx.families.get(h)
    if (step.new !== undefined && listenerFamily) ctx.families.set(step.new, listenerFamily)
    if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
    return cmd
  },
}

const shutdown: OpDef = {
  name: 'shutdown',
  doc: 'shutdown(2) with `how`.',
  answers: 'shutdown',
  fields: { sock: 'required', how: 'required' },
  commands: [
    { name: 'shutdown', handler: 'op_shutdown', minArgs: 2, maxArgs: 2, usage: `shutdown H <${choice(SHUT_HOW)}>`, doc: '`shutdown()`' },
  ],
  format: step => line(['shutdown', 'op'], [step.sock, 'sock'], [step.how ?? 'rdwr', 'how']),
}

const close: OpDef = {
  name: 'close',
  doc: 'close(2); the handle name may be reused.',
  answers: 'close',
  fields: { sock: 'required' },
  commands: [
    {
      name: 'close',
      handler: 'op_close',
      minArgs: 1,
      maxArgs: 1,
      usage: 'close H',
      doc: '`close()`; the handle is forgotten (its name may be reused)',
    },
  ],
  format: step => line(['close', 'op'], [step.sock, 'sock']),
}

const nameOp = (name: 'getsockname' | 'getpeername', doc: string): OpDef => ({
  name,
  doc,
  answers: name,
  fields: { sock: 'required' },
  reportsAddress: true,
  commands: [{ name, handler: `op_${name}`, minArgs: 1, maxArgs: 1, usage: `${name} H`, doc: `\`${name}()\`; reports \`addr\`` }],
  format: step => line([name, 'op'], [step.sock, 'sock']),
})

const fcntl: OpDef = {
  name: 'fcntl',
  doc: 'fcntl(2): F_GETFL, F_SETFL with `fl`, or `nonblock` (F_GETFL then F_SETFL).',
  answers: 'fcntl',
  fields: {
    sock: 'required',
    cmd: {
      values: ['getfl', 'setfl', 'nonblock'],
      doc: 'F_GETFL (default), F_SETFL (with `fl`), or nonblock (F_GETFL then F_SETFL toggling O_NONBLOCK as `nonblock` says).',
    },
    fl: 'optional',
    nonblock: 'optional',
  },
  commands: [
    {
      name: 'fcntl',
      handler: 'op_fcntl',
      minArgs: 2,
      maxArgs: 3,
      usage: 'fcntl H getfl | fcntl H setfl <flags> | fcntl H nonblock <0|1>',
      doc: '`fcntl()` (nonblock does F_GETFL then F_SETFL, both reported)',
    },
  ],
  format: step => {
    const H: [string | undefined, string] = [step.sock, 'sock']
    if (step.cmd === 'setfl') return line(['fcntl', 'op'], H, ['setfl', 'cmd'], [flagSet(step.fl), 'fl'])
    if (step.cmd === 'nonblock' || (step.cmd === undefined && step.nonblock !== undefined))
      return line(['fcntl', 'op'], H, ['nonblock', 'cmd'], [step.nonblock === false ? 0 : 1, 'nonblock'])
    return line(['fcntl', 'op'], H, ['getfl', 'cmd'])
  },
}

/** ioctl requests the probe makes: each answers an int (include/uapi/linux/sockios.h, eventpoll.h). */
export const IOCTL_REQUESTS: NameTable = {
  id: 'IOCTL_REQUESTS',
  entries: [
    { name: 'SIOCINQ', kernel: 'SIOCINQ', doc: 'bytes queued to read (TCP: tcp_inq; unix: unix_inq_len)' },
    {
      name: 'SIOCOUTQ',
      kernel: 'SIOCOUTQ',
      doc: 'bytes not yet acknowledged, sent or not (TCP: write_seq - snd_una; unix: unix_outq_len)',
    },
    { name: 'SIOCOUTQNSD', kernel: 'SIOCOUTQNSD', doc: 'TCP: bytes queued but not yet sent (write_seq - snd_nxt)' },
    {
      name: 'EPIOCGPARAMS',
      kernel: 'EPIOCGPARAMS',
      doc: "an epoll fd's busy-poll parameters (6.9; the value is busy_poll_usecs; ENOTTY before)",
    },
  ],
}

const ioctl: OpDef = {
  name: 'ioctl',
  doc: 'ioctl(2) of an int-valued request `cmd` (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD on a socket, EPIOCGPARAMS on an epoll fd); the event reports `value`.',
  answers: 'ioctl',
  fields: {
    sock: 'required',
    cmd: { required: true, values: names(IOCTL_REQUESTS), doc: IOCTL_REQUESTS.entries.map(e => `${e.name}: ${e.doc}`).join('; ') },
  },
  commands: [
    {
      name: 'ioctl',
      handler: 'op_ioctl',
      minArgs: 2,
      maxArgs: 2,
      usage: `ioctl H <${choice(IOCTL_REQUESTS)}>`,
      doc: '`ioctl()` with an int result; reports `request` and, on success, `value` (TCP listeners answer `EINVAL`, see `tcp_ioctl`)',
    },
  ],
  format: step => line(['ioctl', 'op'], [step.sock, 'sock'], [step.cmd, 'cmd']),
}

export const family: OpFamily = {
  tables: [IOCTL_REQUESTS],
  ops: [
    socket,
    bind,
    listen,
    connect,
    connectUnspec,
    accept4,
    shutdown,
    close,
    nameOp('getsockname', 'getsockname(2): the address the socket is bound to.'),
    nameOp('getpeername', 'getpeername(2): the address of the peer.'),
    fcntl,
    ioctl,
  ],
}
