/**
 * Keyword and flag tables shared by several op families. Each entry is the
 * scenario/protocol spelling and the kernel constant the probe compiles in
 * (generated into harness/native/src/optable.gen.h); the schema's enums come
 * from the same entries.
 */
import type { NameTable } from './types.js'

const t = (id: string, pairs: ReadonlyArray<readonly [string, string, string?]>): NameTable => ({
  id,
  entries: pairs.map(([name, kernel, doc]) => (doc === undefined ? { name, kernel } : { name, kernel, doc })),
})

export const MSG_FLAGS = t('MSG_FLAGS', [
  ['dontwait', 'MSG_DONTWAIT'],
  ['peek', 'MSG_PEEK'],
  ['waitall', 'MSG_WAITALL'],
  ['nosignal', 'MSG_NOSIGNAL'],
  ['oob', 'MSG_OOB'],
  ['more', 'MSG_MORE'],
  ['trunc', 'MSG_TRUNC'],
  ['fastopen', 'MSG_FASTOPEN'],
  ['confirm', 'MSG_CONFIRM'],
  ['eor', 'MSG_EOR'],
  ['errqueue', 'MSG_ERRQUEUE', 'recvmsg: read the IP_RECVERR/IPV6_RECVERR queue'],
  ['zerocopy', 'MSG_ZEROCOPY', 'send: pin the pages instead of copying them (needs SO_ZEROCOPY); completions come on the error queue'],
])

export const FAMILIES = t('FAMILIES', [
  ['inet', 'AF_INET'],
  ['inet6', 'AF_INET6'],
  ['unix', 'AF_UNIX'],
])
export const TYPES = t('TYPES', [
  ['stream', 'SOCK_STREAM'],
  ['dgram', 'SOCK_DGRAM'],
  ['seqpacket', 'SOCK_SEQPACKET'],
])
export const PROTOS = t('PROTOS', [
  ['tcp', 'IPPROTO_TCP'],
  ['mptcp', 'IPPROTO_MPTCP'],
  ['udp', 'IPPROTO_UDP'],
  ['0', '0', "the family's default"],
])
export const SOCK_FLAGS = t('SOCK_FLAGS', [
  ['nonblock', 'SOCK_NONBLOCK'],
  ['cloexec', 'SOCK_CLOEXEC'],
])
export const SHUT_HOW = t('SHUT_HOW', [
  ['rd', 'SHUT_RD'],
  ['wr', 'SHUT_WR'],
  ['rdwr', 'SHUT_RDWR'],
])
/** F_SETFL can change only these (fs/fcntl.c SETFL_MASK). */
export const SETFL_FLAGS = t('SETFL_FLAGS', [
  ['nonblock', 'O_NONBLOCK'],
  ['append', 'O_APPEND'],
  ['async', 'O_ASYNC'],
  ['direct', 'O_DIRECT'],
  ['noatime', 'O_NOATIME'],
])
export const EPOLL_EVENTS = t('EPOLL_EVENTS', [
  ['in', 'EPOLLIN'],
  ['out', 'EPOLLOUT'],
  ['rdhup', 'EPOLLRDHUP'],
  ['pri', 'EPOLLPRI'],
  ['err', 'EPOLLERR'],
  ['hup', 'EPOLLHUP'],
  ['et', 'EPOLLET'],
  ['oneshot', 'EPOLLONESHOT'],
  ['wakeup', 'EPOLLWAKEUP'],
  ['exclusive', 'EPOLLEXCLUSIVE'],
  ['rdnorm', 'EPOLLRDNORM'],
  ['rdband', 'EPOLLRDBAND'],
  ['wrnorm', 'EPOLLWRNORM'],
  ['wrband', 'EPOLLWRBAND'],
  ['msg', 'EPOLLMSG'],
])
export const EPOLL_CREATE_FLAGS = t('EPOLL_CREATE_FLAGS', [['cloexec', 'EPOLL_CLOEXEC']])
export const EPOLL_CTL_OPS = t('EPOLL_CTL_OPS', [
  ['add', 'EPOLL_CTL_ADD'],
  ['mod', 'EPOLL_CTL_MOD'],
  ['del', 'EPOLL_CTL_DEL'],
])
export const POLL_EVENTS = t('POLL_EVENTS', [
  ['in', 'POLLIN'],
  ['out', 'POLLOUT'],
  ['pri', 'POLLPRI'],
  ['rdhup', 'POLLRDHUP'],
  ['rdnorm', 'POLLRDNORM'],
  ['rdband', 'POLLRDBAND'],
  ['wrnorm', 'POLLWRNORM'],
  ['wrband', 'POLLWRBAND'],
])
/** Segment classes of gate/path_gate; the probe's values are its own bits (gates.c), not kernel constants. */
export const GATE_CLASSES = t('GATE_CLASSES', [
  ['syn', 'G_SYN', 'SYN without ACK'],
  ['synack', 'G_SYNACK', 'SYN+ACK'],
  ['ack', 'G_ACK', 'pure ACK: ACK set, no SYN/FIN/RST, no payload'],
  ['data', 'G_DATA', 'any segment with payload'],
  ['fin', 'G_FIN', 'FIN set'],
  ['rst', 'G_RST', 'RST set'],
  ['all', 'G_ALL', 'everything'],
])

export const names = (table: NameTable): string[] => table.entries.map(e => e.name)

/** The tables above, for the generated C header (op families add their own). */
export const SHARED_TABLES: readonly NameTable[] = [
  MSG_FLAGS,
  FAMILIES,
  TYPES,
  PROTOS,
  SOCK_FLAGS,
  SHUT_HOW,
  SETFL_FLAGS,
  EPOLL_EVENTS,
  EPOLL_CREATE_FLAGS,
  EPOLL_CTL_OPS,
  POLL_EVENTS,
  GATE_CLASSES,
]

/** A usage placeholder listing a table's names: <a|b|c>. */
export const choice = (table: NameTable): string => names(table).join('|')
