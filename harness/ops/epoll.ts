/** Readiness ops: epoll_create1, epoll_ctl, epoll_wait, poll. */
import { EPOLL_CTL_OPS, EPOLL_EVENTS, POLL_EVENTS, choice, names } from './flags.js'
import { flagSet, line, token } from './format.js'
import type { OpDef, OpFamily } from './types.js'

const epollCreate1: OpDef = {
  name: 'epoll_create1',
  doc: 'epoll_create1(2): a new epoll instance named by `ep`.',
  answers: 'epoll_create1',
  fields: { ep: 'required', cloexec: 'optional' },
  creates: 'ep',
  returnsFd: true,
  commands: [
    {
      name: 'epoll_create1',
      handler: 'op_epoll_create1',
      minArgs: 1,
      maxArgs: 2,
      usage: 'epoll_create1 E [cloexec]',
      doc: '`epoll_create1()`; `new: E`',
    },
  ],
  format: step => line(['epoll_create1', 'op'], [step.ep, 'ep'], [step.cloexec ? 'cloexec' : '0', 'cloexec']),
}

const epollCtl: OpDef = {
  name: 'epoll_ctl',
  doc: 'epoll_ctl(2): `op` add/mod/del socket `sock` with `events`.',
  answers: 'epoll_ctl',
  fields: { ep: 'required', op: 'required', sock: 'required', events: 'optional' },
  commands: [
    {
      name: 'epoll_ctl',
      handler: 'op_epoll_ctl',
      minArgs: 3,
      maxArgs: 4,
      usage: `epoll_ctl E <${choice(EPOLL_CTL_OPS)}> H [events]`,
      doc: `\`epoll_ctl()\`; events: \`${names(EPOLL_EVENTS).join('|')}\`; data = the handle, so \`ready\` names it`,
    },
  ],
  format: step =>
    line(['epoll_ctl', 'op'], [step.ep, 'ep'], [step.op ?? 'add', 'op'], [step.sock, 'sock'], [flagSet(step.events), 'events']),
}

const epollWait: OpDef = {
  name: 'epoll_wait',
  doc: 'epoll_wait(2) for up to `timeout_ms`; the event reports `ready`.',
  answers: 'epoll_wait',
  fields: { ep: 'required', max: 'optional', timeout_ms: 'optional' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'epoll_wait',
      handler: 'op_epoll_wait',
      minArgs: 3,
      maxArgs: 3,
      usage: 'epoll_wait E <maxevents> <timeout_ms>',
      doc: '`epoll_wait()`; reports `ready`',
    },
  ],
  format: step => line(['epoll_wait', 'op'], [step.ep, 'ep'], [step.max ?? 16, 'max'], [step.timeout_ms ?? 0, 'timeout_ms']),
}

const poll: OpDef = {
  name: 'poll',
  doc: 'poll(2) of the handles in `fds` for up to `timeout_ms`; the event reports `revents`.',
  answers: 'poll',
  fields: { fds: 'required', timeout_ms: 'optional' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'poll',
      handler: 'op_poll',
      minArgs: 1,
      maxArgs: -1,
      usage: 'poll <timeout_ms> H:<events> [H:<events> ...]',
      doc: `\`poll()\`; events \`${names(POLL_EVENTS).join('|')}\`; reports \`revents\``,
    },
  ],
  format: step =>
    line(
      ['poll', 'op'],
      [step.timeout_ms ?? 0, 'timeout_ms'],
      ...Object.entries(step.fds ?? {}).map(([name, ev]): [string, string] => [`${token(name, 'fds')}:${flagSet(ev)}`, 'fds']),
    ),
}

export const family: OpFamily = { ops: [epollCreate1, epollCtl, epollWait, poll] }
