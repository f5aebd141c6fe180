/**
 * setsockopt / getsockopt and the socket option table: per level, each
 * option's kernel spelling and value kind. The probe's option tables
 * (options.c), the schema's per-level enums and PROTOCOL.md's option list
 * are generated from OPTION_LEVELS.
 */
import { line } from './format.js'
import type { OpDef, OpFamily } from './types.js'

/**
 * How a value travels: int (and bool, an int the kernel reads as on/off),
 * linger ("onoff,secs" <-> struct linger), timeval_ms (milliseconds <->
 * struct timeval), string (a name), tcp_info (struct tcp_info as an object,
 * get only; the object carries the kernel's `optlen`, which grows as fields
 * are added), errno (SO_ERROR: an int reported with its errno name),
 * mptcp_info (struct mptcp_info as an object, get only). Options newer than
 * this machine's headers get their uapi number in options.c.
 */
export type ValueKind = 'int' | 'bool' | 'linger' | 'timeval_ms' | 'string' | 'tcp_info' | 'errno' | 'mptcp_info'

export interface OptionDef {
  name: string
  kind: ValueKind
}

export interface LevelDef {
  /** scenario and protocol spelling */
  name: string
  /** reported spelling (event `level`) */
  reported: string
  /** the C level constant */
  kernel: string
  options: readonly OptionDef[]
}

const o = (kind: ValueKind, ...names: string[]): OptionDef[] => names.map(name => ({ name, kind }))

export const OPTION_LEVELS: readonly LevelDef[] = [
  {
    name: 'socket',
    reported: 'SOL_SOCKET',
    kernel: 'SOL_SOCKET',
    options: [
      ...o('errno', 'SO_ERROR'),
      ...o('bool', 'SO_REUSEADDR', 'SO_REUSEPORT', 'SO_KEEPALIVE'),
      ...o('linger', 'SO_LINGER'),
      ...o('int', 'SO_RCVBUF', 'SO_SNDBUF', 'SO_RCVLOWAT', 'SO_SNDLOWAT'),
      ...o('timeval_ms', 'SO_RCVTIMEO', 'SO_SNDTIMEO'),
      ...o('int', 'SO_TYPE', 'SO_DOMAIN', 'SO_PROTOCOL'),
      ...o('bool', 'SO_ACCEPTCONN', 'SO_OOBINLINE', 'SO_BROADCAST'),
      ...o('int', 'SO_PEEK_OFF'),
      // options newer kernels added (each ENOPROTOOPT before): scenarios/kernel-changes asks when
      ...o('int', 'SO_BUSY_POLL_BUDGET'),
      ...o('bool', 'SO_PREFER_BUSY_POLL'),
      ...o('int', 'SO_BUF_LOCK', 'SO_RESERVE_MEM'),
      ...o('bool', 'SO_RCVMARK', 'SO_PASSPIDFD'),
      ...o('int', 'SO_PEERPIDFD'),
      ...o('bool', 'SO_PASSRIGHTS'),
      ...o('bool', 'SO_ZEROCOPY'),
      // SOF_TIMESTAMPING_* flags as a number (TX timestamps come on the error queue)
      ...o('int', 'SO_TIMESTAMPING'),
    ],
  },
  {
    name: 'tcp',
    reported: 'SOL_TCP',
    kernel: 'IPPROTO_TCP',
    options: [
      ...o('bool', 'TCP_NODELAY'),
      ...o('int', 'TCP_MAXSEG'),
      ...o('bool', 'TCP_CORK'),
      ...o('int', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT', 'TCP_SYNCNT', 'TCP_LINGER2', 'TCP_DEFER_ACCEPT', 'TCP_WINDOW_CLAMP'),
      ...o('tcp_info', 'TCP_INFO'),
      ...o('bool', 'TCP_QUICKACK'),
      ...o('int', 'TCP_USER_TIMEOUT', 'TCP_FASTOPEN'),
      ...o('bool', 'TCP_FASTOPEN_CONNECT'),
      ...o('int', 'TCP_NOTSENT_LOWAT'),
      ...o('string', 'TCP_CONGESTION'),
      ...o('int', 'TCP_RTO_MAX_MS'),
      ...o('bool', 'TCP_IS_MPTCP'),
    ],
  },
  {
    name: 'ip',
    reported: 'SOL_IP',
    kernel: 'IPPROTO_IP',
    options: [
      ...o('int', 'IP_TTL', 'IP_TOS'),
      ...o('bool', 'IP_RECVERR', 'IP_FREEBIND', 'IP_TRANSPARENT'),
      ...o('int', 'IP_LOCAL_PORT_RANGE'),
    ],
  },
  {
    name: 'ipv6',
    reported: 'SOL_IPV6',
    kernel: 'IPPROTO_IPV6',
    options: [...o('bool', 'IPV6_V6ONLY', 'IPV6_RECVERR'), ...o('int', 'IPV6_UNICAST_HOPS')],
  },
  {
    // An MPTCP socket answers here; a plain TCP socket, or an MPTCP socket
    // that fell back to TCP, does not (mptcp_getsockopt, net/mptcp/sockopt.c).
    name: 'mptcp',
    reported: 'SOL_MPTCP',
    kernel: 'SOL_MPTCP',
    options: [...o('mptcp_info', 'MPTCP_INFO')],
  },
]

/** An option's definition at a level, or undefined. */
export function optionAt(level: string, opt: string): OptionDef | undefined {
  return OPTION_LEVELS.find(l => l.name === level)?.options.find(d => d.name === opt)
}

/** The levels that define an option (for "wrong level" messages). */
export function levelsOf(opt: string): string[] {
  return OPTION_LEVELS.filter(l => l.options.some(d => d.name === opt)).map(l => l.name)
}

const LEVEL_CHOICE = OPTION_LEVELS.map(l => l.name).join('|')

const setsockopt: OpDef = {
  name: 'setsockopt',
  doc: 'setsockopt(2) of one named option at a level.',
  answers: 'setsockopt',
  fields: { sock: 'required', level: 'required', opt: 'required', value: 'required' },
  commands: [
    {
      name: 'setsockopt',
      handler: 'op_setsockopt',
      minArgs: 4,
      maxArgs: 4,
      usage: `setsockopt H <${LEVEL_CHOICE}> <OPT> <value>`,
      doc: '`setsockopt()`; level `socket|tcp|ip|ipv6|mptcp`; value an integer, or for `SO_LINGER` `onoff,secs`, for `SO_RCVTIMEO`/`SO_SNDTIMEO` milliseconds, for `TCP_CONGESTION` a name',
    },
  ],
  format: step =>
    line(['setsockopt', 'op'], [step.sock, 'sock'], [step.level ?? 'socket', 'level'], [step.opt, 'opt'], [step.value ?? 0, 'value']),
}

const getsockopt: OpDef = {
  name: 'getsockopt',
  doc: 'getsockopt(2) of one named option; the event reports `value`.',
  answers: 'getsockopt',
  fields: { sock: 'required', level: 'required', opt: 'required' },
  commands: [
    {
      name: 'getsockopt',
      handler: 'op_getsockopt',
      minArgs: 3,
      maxArgs: 3,
      usage: `getsockopt H <${LEVEL_CHOICE}> <OPT>`,
      doc: '`getsockopt()`; reports `value` (and `value_name` for `SO_ERROR`; `MPTCP_INFO` as an object whose `flags` are names)',
    },
  ],
  format: step => line(['getsockopt', 'op'], [step.sock, 'sock'], [step.level ?? 'socket', 'level'], [step.opt, 'opt']),
}

export const family: OpFamily = { ops: [setsockopt, getsockopt] }
