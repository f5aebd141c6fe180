/** Scenario model: mirrors schemas/scenario.schema.json. */

export type MaskExpectation = string | { exact?: string[]; includes?: string[]; excludes?: string[] }
export type ErrnoExpectation = string | string[] | null | { not: string | string[] }

export interface TimeWindow {
  since?: string
  ms?: number
  /** kernel timers whose expiries add up to the duration; see wheelAllowanceMs */
  timers_ms?: number[]
  tol?: number
  slack_ms?: number
  min_ms?: number
  max_ms?: number
}

/** A captured TCP segment: flags exactly (SYN|ACK), from/to a socket's port, payload length. */
export interface PacketSpec {
  flags?: string
  from?: string
  to?: string
  len?: number | string
  nth?: number
  last?: boolean
  /** TCP options the segment carries: option -> value, comparison, one_of, true (present) or false (absent) */
  opts?: Record<string, unknown>
  /** an ICMP/ICMPv6 error instead of a TCP segment: "dest-unreach/port", or "dest-unreach" for any code */
  icmp?: string | { one_of: string[] }
}

export interface PacketCount {
  match: PacketSpec
  since?: string
  count?: number | string
}

export interface ExpectFields {
  after_packet?: PacketSpec
  before_packet?: PacketSpec
  packets?: PacketCount
  ret?: number | string
  errno?: ErrnoExpectation
  ready?: Record<string, MaskExpectation>
  revents?: Record<string, MaskExpectation>
  value?: number | string | Record<string, unknown>
  data?: string
  /** recvmsg: msg_flags names (MSG_TRUNC), exact or in parts */
  msg_flags?: MaskExpectation
  /** recvmsg: the control messages in order, each checked on the fields it names */
  cmsg?: Array<Record<string, string | number>>
  time?: TimeWindow
  /** select: handle -> the sets it is left in */
  sets?: Record<string, string[]>
  /** epoll_fdinfo: handle -> the mask its registration holds */
  registered?: Record<string, MaskExpectation>
}

export interface KernelCase extends ExpectFields {
  range: string
  source?: string
}

export interface Expectation extends ExpectFields {
  kernels?: KernelCase[]
  /** fields that hold for one variant only (ipv4, ipv6), over the base fields */
  variants?: Partial<Record<VariantName, ExpectFields>>
  why?: string
}

/** A step op: one of the op table's names (harness/ops/); the schema's enum is generated from it. */
export type StepOp = string

export interface Step {
  id?: string
  actor: string
  do: StepOp
  sock?: string
  new?: string
  /** send_fd: the handle whose descriptor travels as SCM_RIGHTS */
  pass?: string
  ep?: string
  family?: 'ip' | 'inet' | 'inet6' | 'unix'
  type?: 'stream' | 'dgram' | 'seqpacket'
  proto?: 'tcp' | 'mptcp' | 'udp' | '0'
  nonblock?: boolean
  cloexec?: boolean
  addr?: string
  port?: number
  path?: string
  to?: string
  /** bind: the socket whose address to bind to as well */
  like?: string
  backlog?: number
  bytes?: number
  text?: string
  flags?: string[]
  how?: 'rd' | 'wr' | 'rdwr'
  level?: 'socket' | 'tcp' | 'ip' | 'ipv6'
  opt?: string
  value?: number | string
  /** fcntl: getfl/setfl/nonblock; the values each op allows are in its definition */
  cmd?: string
  fl?: string[]
  op?: 'add' | 'mod' | 'del'
  events?: string[]
  max?: number
  timeout_ms?: number
  fds?: Record<string, string[]>
  /** select: handle -> read/write/except */
  sets?: Record<string, string[]>
  /** drop_cap: the capability */
  cap?: string
  /** setrlimit: the resource (NOFILE) and its new soft limit */
  resource?: string
  limit?: number
  /** mib: the name of this snapshot; since: an earlier one */
  mark?: string
  since?: string
  ms?: number
  /** io_uring: the ring, its size, a request's tag, the tag to cancel, the multishot flag */
  ring?: string
  entries?: number
  user_data?: string
  target?: string
  multishot?: boolean
  /** the answer that turns the result into skip (a feature the kernel lacks) */
  skip_if?: SkipIf
  drop?: string[]
  reject?: string[]
  /** path gates: must be in place within ms of when step `since` was sent, else the result is an error */
  within?: { since: string; ms: number }
  /** path_gate: the reject's answer; share: the actors the socket is shared with */
  with?: GateReject | string[]
  dir?: 'in' | 'out'
  /** packet_send / packet_expect: the segment (harness/ops/peer.ts SegmentSpec) */
  segment?: Record<string, unknown>
  within_ms?: number
  skip_retransmits?: boolean
  icmp?: string
  mtu?: number
  step?: string
  background?: boolean
  limit_ms?: number
  expect?: Expectation
  claim?: Expectation
  note?: string
}

export type GateReject = 'tcp-reset' | 'icmp-port-unreachable' | 'icmp-host-unreachable' | 'icmp-net-unreachable' | 'icmp-admin-prohibited'

/** A step as written in a file: one `actor`, or `actors` making the same call; wait_blocked's `target` may list several (expanded at load, groups.ts). */
export type WrittenStep = Omit<Step, 'actor' | 'target'> & { actor?: string; actors?: string[]; target?: string | string[] }

export interface SkipIf {
  ret?: number | string
  errno?: ExpectFields['errno']
  why: string
}

export interface Source {
  man?: string
  kernel?: string
  commit?: string
  url?: string
  catalog?: number
  quote?: string
}

export type VariantName = 'ipv4' | 'ipv6' | 'default'

export interface Requirements {
  root?: boolean
  ipv6?: boolean
  kernel?: string
  sysctl?: Record<string, number | string>
}

export interface Claim {
  /** the seed note's claim number, or a name for a quoted claim (`epoll7-q6`) */
  id: number | string
  statement: string
  /** where a quoted statement comes from: `epoll(7) Questions and answers, Q6` */
  source?: string
  role?: 'test' | 'counterexample'
}

/** A route on a simulated host to another host's addresses: a reject route of its own, or through a gateway host. */
export interface RouteSpec {
  to: string
  type?: 'unreachable' | 'prohibit' | 'blackhole'
  via?: string
}

export interface HostSpec {
  sysctl?: Record<string, number | string>
  routes?: RouteSpec[]
  /** a packet peer: no namespace of its own; its address is routed into a TUN device in this host's namespace */
  packet?: string
}

/** An expectation across steps: how many of `steps` answered as `of` says. */
export interface AcrossExpectation {
  steps: string[]
  of: ExpectFields
  /** an integer or a comparison (">=1"); default 1 */
  count?: number | string
  why?: string
}

export interface ScenarioDoc {
  id?: string
  title: string
  description?: string
  sources?: Source[]
  variants?: VariantName[]
  requires?: Requirements
  limit_ms?: number
  claim?: Claim
  hosts?: Record<string, HostSpec>
  actors?: Record<string, { host: string }>
  steps: Step[]
  /** expectations across steps, judged after the last step */
  across?: AcrossExpectation[]
}

/** A loaded, validated scenario with its identity. */
export interface Scenario extends ScenarioDoc {
  id: string
  pack: string
  file: string
  /** sha256 of the canonical JSON of the document: same content, same hash. */
  hash: string
  /** Step ids, filled in (s1, s2, ... where the file gave none). */
  steps: Array<Step & { id: string }>
  /** Source position of each step (1-based), for error messages. */
  stepPositions: Array<{ line: number; col: number }>
}
