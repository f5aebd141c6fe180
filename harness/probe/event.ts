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
  [key: string]: unknown
}
