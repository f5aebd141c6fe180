/** A probe event (one syscall), as defined in harness/native/PROTOCOL.md and schemas/event.schema.json. */

export interface SockAddr {
  family: 'inet' | 'inet6' | 'unix' | 'unspec' | 'other'
  addr?: string
  port?: number
  path?: string
}

export interface ReadyEntry {
  h: string
  events: string[]
}

export interface ProbeEvent {
  seq: number
  step?: string
  op: string
  t0: number
  t1?: number
  ret?: number
  errno?: string
  h?: string
  new?: string
  addr?: SockAddr
  ready?: ReadyEntry[]
  revents?: ReadyEntry[]
  /** select: every handle given, with the sets it was left in */
  sets?: Array<{ h: string; sets: string[] }>
  /** epoll_fdinfo: each registration with the mask the kernel stored */
  registered?: ReadyEntry[]
  value?: number | string | Record<string, unknown>
  value_name?: string
  bytes?: number
  data?: string
  flags?: string[]
  msg_flags?: string[]
  level?: string
  opt?: string
  gate?: string[]
  error?: string
  protocol?: number
  pid?: number
  uname?: { sysname?: string; release?: string; version?: string; machine?: string }
  /** hello of `sockspec-probe capture`: the interfaces captured. */
  capture?: string[]
  /** op "packet" (capture mode): one TCP segment the interface transmitted; t0 is when it was handed to the device. */
  if?: string
  family?: 'inet' | 'inet6'
  src?: string
  sport?: number
  dst?: string
  dport?: number
  /** FIN SYN RST PSH ACK URG ECE CWR, in bit order. */
  tcp_flags?: string[]
  tcp_seq?: number
  tcp_ack?: number
  /** Raw window field (unscaled). */
  win?: number
  /** TCP payload bytes (may exceed one MSS with TSO/GSO). */
  len?: number
  [key: string]: unknown
}
