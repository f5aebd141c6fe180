/**
 * Readiness interfaces beside epoll_wait and poll, and what epoll's own rules
 * need to be shown: ppoll, select, epoll_pwait2 (the same readiness through
 * other doors), dup and close_keep (a registration follows the open file,
 * not the descriptor), open (a regular file in the private dir: epoll says
 * EPERM), epoll_fdinfo (what a registration really holds, EPOLLWAKEUP
 * cleared or not) and drop_cap (a capability dropped for the rest of the
 * actor's life).
 */
import { CommandError, flagSet, line, token, unixPath } from './format.js'
import { POLL_EVENTS, choice, names } from './flags.js'
import type { NameTable, OpDef, OpFamily } from './types.js'

/** select(2)'s three sets; fs/select.c maps poll bits onto them (POLLIN_SET, POLLOUT_SET, POLLEX_SET). */
export const SELECT_SETS: NameTable = {
  id: 'SELECT_SETS',
  entries: [
    { name: 'read', kernel: '1', doc: 'readfds: POLLIN_SET = IN|RDNORM|RDBAND|HUP|ERR' },
    { name: 'write', kernel: '2', doc: 'writefds: POLLOUT_SET = OUT|WRNORM|WRBAND|ERR' },
    { name: 'except', kernel: '4', doc: 'exceptfds: POLLEX_SET = PRI' },
  ],
}

/** Capabilities drop_cap can remove from the effective set (include/uapi/linux/capability.h). */
export const CAPS: NameTable = {
  id: 'CAPS',
  entries: [
    { name: 'CAP_BLOCK_SUSPEND', kernel: 'CAP_BLOCK_SUSPEND', doc: 'EPOLLWAKEUP is honoured only with it (ep_create_wakeup_source)' },
  ],
}

/** Resources setrlimit can lower (include/uapi/asm-generic/resource.h). */
export const RLIMITS: NameTable = {
  id: 'RLIMITS',
  entries: [{ name: 'NOFILE', kernel: 'RLIMIT_NOFILE', doc: 'descriptors: a new one is EMFILE at the limit' }],
}

const pollEntries = (fds: Record<string, readonly string[]> | undefined): Array<[string, string]> =>
  Object.entries(fds ?? {}).map(([name, ev]): [string, string] => [`${token(name, 'fds')}:${flagSet(ev)}`, 'fds'])

const ppoll: OpDef = {
  name: 'ppoll',
  doc: 'ppoll(2) of the handles in `fds` with a timespec of `timeout_ms` (-1: NULL, no limit) and no signal mask; the event reports `revents`.',
  answers: 'ppoll',
  fields: { fds: 'required', timeout_ms: 'optional' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'ppoll',
      handler: 'op_ppoll',
      minArgs: 1,
      maxArgs: -1,
      usage: 'ppoll <timeout_ms> H:<events> [H:<events> ...]',
      doc: `\`ppoll()\` (timeout as a timespec, NULL for -1; sigmask NULL); events \`${names(POLL_EVENTS).join('|')}\`; reports \`revents\``,
    },
  ],
  format: step => line(['ppoll', 'op'], [step.timeout_ms ?? 0, 'timeout_ms'], ...pollEntries(step.fds)),
}

const select: OpDef = {
  name: 'select',
  doc: 'select(2) with each handle of `sets` in the sets named (read, write, except) and a timeval of `timeout_ms` (-1: NULL); the event reports `sets`: every handle with the sets it was left in.',
  answers: 'select',
  fields: { sets: 'required', timeout_ms: 'optional' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'select',
      handler: 'op_select',
      minArgs: 2,
      maxArgs: -1,
      usage: `select <timeout_ms> H:<${choice(SELECT_SETS)}> [H:<sets> ...]`,
      doc: '`select()` (nfds = highest descriptor + 1; a descriptor at or past FD_SETSIZE is refused); reports `sets`: `[{"h", "sets": [...]}]` for every handle given, empty when select cleared it',
    },
  ],
  format: step =>
    line(
      ['select', 'op'],
      [step.timeout_ms ?? 0, 'timeout_ms'],
      ...Object.entries(step.sets ?? {}).map(([name, s]): [string, string] => [`${token(name, 'sets')}:${flagSet(s)}`, 'sets']),
    ),
}

const epollPwait2: OpDef = {
  name: 'epoll_pwait2',
  doc: 'epoll_pwait2(2) (Linux 5.11) with a timespec of `timeout_ms` (-1: NULL) and no signal mask; the event reports `ready` like epoll_wait.',
  answers: 'epoll_pwait2',
  fields: { ep: 'required', max: 'optional', timeout_ms: 'optional' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'epoll_pwait2',
      handler: 'op_epoll_pwait2',
      minArgs: 3,
      maxArgs: 3,
      usage: 'epoll_pwait2 E <maxevents> <timeout_ms>',
      doc: '`epoll_pwait2()` (timespec timeout, NULL for -1; sigmask NULL); reports `ready` (ENOSYS before 5.11)',
    },
  ],
  format: step => line(['epoll_pwait2', 'op'], [step.ep, 'ep'], [step.max ?? 16, 'max'], [step.timeout_ms ?? 0, 'timeout_ms']),
}

const dup: OpDef = {
  name: 'dup',
  doc: 'dup(2) of handle `sock` into the new handle `new`: a second descriptor for the same open file.',
  answers: 'dup',
  fields: { sock: 'required', new: 'required' },
  creates: 'new',
  returnsFd: true,
  commands: [{ name: 'dup', handler: 'op_dup', minArgs: 2, maxArgs: 2, usage: 'dup H NEW', doc: '`dup()`; `new: NEW`' }],
  format: (step, ctx) => {
    const family = step.sock !== undefined ? ctx.families.get(step.sock) : undefined
    if (step.new !== undefined && family) ctx.families.set(step.new, family)
    if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
    return line(['dup', 'op'], [step.sock, 'sock'], [step.new, 'new'])
  },
}

const closeKeep: OpDef = {
  name: 'close_keep',
  doc: "close(2) of handle `sock`, keeping the name bound to the old descriptor number: later steps show what the kernel answers for a closed descriptor (EBADF, POLLNVAL), and epoll_wait still names a registration made through it. The kernel hands the lowest free number to the actor's next new descriptor, which the name then reaches.",
  answers: 'close',
  fields: { sock: 'required' },
  commands: [
    {
      name: 'close_keep',
      handler: 'op_close_keep',
      minArgs: 1,
      maxArgs: 1,
      usage: 'close_keep H',
      doc: '`close()` (op `close`, `kept: 1`); H keeps naming the old number (and the token of the registrations made through it)',
    },
  ],
  format: step => line(['close_keep', 'op'], [step.sock, 'sock']),
}

const open: OpDef = {
  name: 'open',
  doc: "open(2) O_RDWR|O_CREAT|O_CLOEXEC (mode 0600) of a regular file at `path`, relative to the scenario's private directory (same rules as unix socket paths; no abstract names), as handle `sock`.",
  answers: 'open',
  fields: { sock: 'required', path: 'required' },
  creates: 'sock',
  returnsFd: true,
  commands: [
    {
      name: 'open',
      handler: 'op_open',
      minArgs: 2,
      maxArgs: 2,
      usage: 'open NEW <absolute path>',
      doc: "`open(path, O_RDWR|O_CREAT|O_CLOEXEC, 0600)`; `new: NEW`. The harness resolves the scenario's relative path inside its private directory",
    },
  ],
  format: (step, ctx) => {
    if (step.path?.startsWith('@')) throw new CommandError(`open: path '${step.path}' is an abstract socket name, not a file`)
    if (step.sock !== undefined) ctx.owners.set(step.sock, step.actor)
    return line(['open', 'op'], [step.sock, 'sock'], [unixPath(step.path ?? '', ctx), 'path'])
  },
}

const epollFdinfo: OpDef = {
  name: 'epoll_fdinfo',
  doc: 'Reads /proc/self/fdinfo of epoll handle `ep`: the event reports `registered`, each registration (named by the handle it was added through) with the event mask the kernel stored (ep_show_fdinfo), e.g. without EPOLLWAKEUP when the caller lacked CAP_BLOCK_SUSPEND.',
  answers: 'epoll_fdinfo',
  fields: { ep: 'required' },
  commands: [
    {
      name: 'epoll_fdinfo',
      handler: 'op_epoll_fdinfo',
      minArgs: 1,
      maxArgs: 1,
      usage: 'epoll_fdinfo E',
      doc: '`open()`+`read()` of `/proc/self/fdinfo/<fd>` (op `epoll_fdinfo`, ret = registrations found); reports `registered`: `[{"h", "events": [...]}]` from the `tfd:` lines, `h` from the registration\'s data',
    },
  ],
  format: step => line(['epoll_fdinfo', 'op'], [step.ep, 'ep']),
}

const dropCap: OpDef = {
  name: 'drop_cap',
  doc: "capset(2): removes capability `cap` from the actor's effective set for the rest of its life (capget, then capset without it).",
  answers: 'capset',
  fields: { cap: 'required' },
  commands: [
    {
      name: 'drop_cap',
      handler: 'op_drop_cap',
      minArgs: 1,
      maxArgs: 1,
      usage: `drop_cap <${choice(CAPS)}>`,
      doc: '`capget()` then `capset()` without the capability in the effective set (op `capset`, `cap`)',
    },
  ],
  format: step => line(['drop_cap', 'op'], [step.cap, 'cap']),
}

const setrlimit: OpDef = {
  name: 'setrlimit',
  doc: "setrlimit(2): sets this actor's soft limit of `resource` to `limit`, the hard limit kept (NOFILE: the next descriptor past it is EMFILE). For the rest of the actor's life: its probe is not reused.",
  answers: 'setrlimit',
  fields: { resource: 'required', limit: 'required' },
  commands: [
    {
      name: 'setrlimit',
      handler: 'op_setrlimit',
      minArgs: 2,
      maxArgs: 2,
      usage: `setrlimit <${choice(RLIMITS)}> <limit>`,
      doc: '`getrlimit()` then `setrlimit()` with the soft limit changed (op `setrlimit`, `resource`, `limit`)',
    },
  ],
  format: step => line(['setrlimit', 'op'], [step.resource, 'resource'], [step.limit ?? 0, 'limit']),
}

export const family: OpFamily = {
  tables: [SELECT_SETS, CAPS, RLIMITS],
  ops: [ppoll, select, epollPwait2, dup, closeKeep, open, epollFdinfo, dropCap, setrlimit],
}
