/**
 * The step fields: one JSON schema fragment each, with the enums taken from
 * the name tables. Which op uses which field is in the op definitions; the
 * generated schema puts both together (generate.ts).
 */
import {
  EPOLL_CTL_OPS,
  EPOLL_EVENTS,
  FAMILIES,
  GATE_CLASSES,
  MSG_FLAGS,
  POLL_EVENTS,
  PROTOS,
  SETFL_FLAGS,
  SHUT_HOW,
  TYPES,
  names,
} from './flags.js'
import { OPTION_LEVELS } from './options.js'
import { CAPS, RLIMITS, SELECT_SETS } from './readiness.js'

/** What a step's answer is checked against: the same fields for `expect` and `claim`. */
const EXPECTATION_FIELDS = {
  ret: {
    $ref: '#/$defs/ret',
  },
  errno: {
    $ref: '#/$defs/errno',
  },
  ready: {
    $ref: '#/$defs/ready',
  },
  revents: {
    $ref: '#/$defs/revents',
  },
  value: {
    $ref: '#/$defs/value',
  },
  data: {
    $ref: '#/$defs/data',
  },
  msg_flags: {
    $ref: '#/$defs/msg_flags',
  },
  cmsg: {
    $ref: '#/$defs/cmsg',
  },
  time: {
    $ref: '#/$defs/time',
  },
  kernels: {
    type: 'array',
    items: {
      $ref: '#/$defs/kernelExpectation',
    },
    description: 'Kernel-dependent overrides, as data.',
  },
  variants: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      ipv4: { $ref: '#/$defs/variantExpectation' },
      ipv6: { $ref: '#/$defs/variantExpectation' },
      default: { $ref: '#/$defs/variantExpectation' },
    },
    description:
      'Fields that hold for one variant only, over the base fields (kernel cases still override both): IPv4 and IPv6 answers as data, not as two scenarios.',
  },
  why: {
    type: 'string',
    description: 'Source for this expectation (man page section, kernel function).',
  },
  after_packet: {
    $ref: '#/$defs/after_packet',
  },
  before_packet: {
    $ref: '#/$defs/before_packet',
  },
  packets: {
    $ref: '#/$defs/packets',
  },
  sets: {
    type: 'object',
    description: 'select: handle -> the sets it must be left in (read, write, except; [] = none); handles not listed must be in no set.',
    additionalProperties: {
      type: 'array',
      items: { type: 'string', enum: names(SELECT_SETS) },
      uniqueItems: true,
    },
  },
  registered: {
    $ref: '#/$defs/ready',
    description:
      'epoll_fdinfo: handle -> the event mask the registration holds (as for `ready`); handles not listed must not be registered.',
  },
}

const expectation = (description: string): Record<string, unknown> => ({
  type: 'object',
  additionalProperties: false,
  description,
  properties: EXPECTATION_FIELDS,
})

/** An actor's name: one probe process. */
const ACTOR_NAME = { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,30}$' }

/** Fields every step may have, whatever its op. */
export const GENERIC_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'actor',
  'actors',
  'do',
  'background',
  'limit_ms',
  'expect',
  'claim',
  'note',
  'skip_if',
])

export const STEP_FIELDS: Record<string, Record<string, unknown>> = {
  id: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,40}$',
    description: 'Name of the step, for `await` and `time.since` references. Default s<N> (1-based index).',
  },
  actor: {
    ...ACTOR_NAME,
    description: 'The actor (one probe process) that makes the call: client, server, ...',
  },
  actors: {
    type: 'array',
    items: ACTOR_NAME,
    minItems: 1,
    maxItems: 32,
    uniqueItems: true,
    description:
      "Instead of `actor`: the same call made by each of these actors, as one step per actor, in this order, with id `<id>-<actor>` (background: all sent before any is waited for). `await`, `across` and `time.since` may name the group by its id: `await` then waits for each actor's own member, `across` counts over all of them.",
  },
  // filled in by the generator: the op names and their docs
  do: { type: 'string' },
  sock: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description: 'The socket handle the call is made on (socket: the name of the new socket).',
  },
  new: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description: 'accept4/recv_fd: name of the accepted or received socket.',
  },
  pass: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description: 'send_fd: the handle whose descriptor is sent (SCM_RIGHTS) over `sock`.',
  },
  ep: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description: 'epoll_create1/epoll_ctl/epoll_wait: the epoll instance.',
  },
  family: {
    type: 'string',
    enum: ['ip', ...names(FAMILIES)],
    description: 'socket: address family. `ip` (default) follows the variant: inet for ipv4, inet6 for ipv6.',
  },
  type: {
    type: 'string',
    enum: names(TYPES),
    description: 'socket: type (default stream).',
  },
  proto: {
    type: 'string',
    enum: names(PROTOS),
    description: "socket: protocol (default 0: the family's default).",
  },
  nonblock: {
    type: 'boolean',
    description: 'socket/accept4: SOCK_NONBLOCK. fcntl: set (true) or clear (false) O_NONBLOCK.',
  },
  cloexec: {
    type: 'boolean',
    description: 'socket/accept4/epoll_create1: SOCK_CLOEXEC / EPOLL_CLOEXEC.',
  },
  addr: {
    type: 'string',
    pattern: '^[0-9A-Fa-f.:]{2,45}$',
    description:
      "bind/connect/sendto: an IP literal, IPv4 dotted quad or IPv6 (nothing else: no names, no zone ids). Default for bind: the variant's loopback (127.0.0.1 or ::1). Destinations must stay on loopback or, with `hosts`, in the scenario's namespaces (198.18.0.0/15, fd00::/8), unless `sockspec run --allow-external`.",
  },
  port: {
    type: 'integer',
    minimum: 0,
    maximum: 65535,
    description: 'bind/connect/sendto: port (bind default 0: the kernel picks one).',
  },
  path: {
    type: 'string',
    minLength: 1,
    maxLength: 90,
    pattern: '^[^\\s\\p{Cc}]+$',
    description:
      "unix bind/connect: socket path, relative to the scenario's private temp dir (no leading '/', no '..' segment; no whitespace or control characters); @name for the abstract namespace (made unique per run).",
  },
  to: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description: 'connect/sendto: connect to the address that socket is bound to (learned from its bind).',
  },
  like: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description:
      'bind: bind to the very address socket `like` is bound to (its address and port as getsockname reported them, the wildcard kept), for SO_REUSEADDR / SO_REUSEPORT / EADDRINUSE.',
  },
  backlog: {
    type: 'integer',
    description: 'listen: backlog argument.',
  },
  bytes: {
    type: 'integer',
    minimum: 0,
    maximum: 1048576,
    description: 'send: bytes to send (pattern a..z). recv: buffer size.',
  },
  text: {
    type: 'string',
    pattern: '^[!-~]{1,200}$',
    description: 'send: literal bytes to send (printable ASCII, no spaces).',
  },
  flags: {
    type: 'array',
    items: {
      type: 'string',
      enum: names(MSG_FLAGS),
    },
    description: "send/recv: message flags (errqueue: MSG_ERRQUEUE, read the socket's error queue with recvmsg).",
    uniqueItems: true,
  },
  how: {
    type: 'string',
    enum: names(SHUT_HOW),
    description: 'shutdown: SHUT_RD, SHUT_WR or SHUT_RDWR.',
  },
  level: {
    type: 'string',
    enum: OPTION_LEVELS.map(l => l.name),
    description: 'setsockopt/getsockopt: SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP or IPPROTO_IPV6.',
  },
  opt: {
    type: 'string',
    description: 'setsockopt/getsockopt: option name as the macro (TCP_SYNCNT); the names allowed depend on `level`.',
  },
  value: {
    description: 'setsockopt: integer value; SO_LINGER "onoff,secs"; SO_RCVTIMEO/SO_SNDTIMEO milliseconds; TCP_CONGESTION a name.',
    oneOf: [
      {
        type: 'integer',
      },
      {
        type: 'string',
        pattern: '^[A-Za-z0-9_,.-]+$',
      },
    ],
  },
  cmd: {
    type: 'string',
    description: 'fcntl: F_GETFL, F_SETFL (with `fl`), or nonblock (F_GETFL then F_SETFL toggling O_NONBLOCK as `nonblock` says).',
  },
  fl: {
    type: 'array',
    items: {
      type: 'string',
      enum: names(SETFL_FLAGS),
    },
    description: 'fcntl setfl: file status flags.',
    uniqueItems: true,
  },
  op: {
    type: 'string',
    enum: names(EPOLL_CTL_OPS),
    description: 'epoll_ctl: EPOLL_CTL_ADD, _MOD or _DEL.',
  },
  events: {
    type: 'array',
    items: {
      type: 'string',
      enum: names(EPOLL_EVENTS),
    },
    description: 'epoll_ctl: requested events and modes.',
    uniqueItems: true,
  },
  max: {
    type: 'integer',
    minimum: 1,
    maximum: 64,
    description: 'epoll_wait: maxevents (default 16).',
  },
  timeout_ms: {
    type: 'integer',
    minimum: -1,
    maximum: 120000,
    description:
      'epoll_wait/poll: timeout in milliseconds (-1 blocks; the step time limit still applies). wait_blocked: how long to wait for the target to block (0 or more).',
  },
  fds: {
    type: 'object',
    minProperties: 1,
    description: 'poll: handle -> requested events.',
    additionalProperties: {
      type: 'array',
      items: {
        type: 'string',
        enum: names(POLL_EVENTS),
      },
      description: 'poll events.',
      uniqueItems: true,
    },
  },
  sets: {
    type: 'object',
    minProperties: 1,
    description: 'select: handle -> the sets to put it in (read, write, except).',
    additionalProperties: {
      type: 'array',
      items: { type: 'string', enum: names(SELECT_SETS) },
      minItems: 1,
      uniqueItems: true,
    },
  },
  cap: {
    type: 'string',
    enum: names(CAPS),
    description: 'drop_cap: the capability to remove from the effective set.',
  },
  resource: {
    type: 'string',
    enum: names(RLIMITS),
    description: 'setrlimit: the resource whose soft limit is set (NOFILE: descriptors).',
  },
  limit: {
    type: 'integer',
    minimum: 0,
    maximum: 1048576,
    description: 'setrlimit: the new soft limit (not above the hard limit).',
  },
  mark: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,30}$',
    description: 'mib: the name this snapshot of the counters is kept under.',
  },
  since: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,30}$',
    description: 'mib: an earlier mark of the same actor; `value` then holds the deltas since it.',
  },
  ms: {
    type: 'integer',
    minimum: 0,
    maximum: 120000,
    description: 'sleep: milliseconds.',
  },
  ring: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description: 'uring_*: the io_uring instance (uring_setup: the name of the new ring).',
  },
  entries: {
    type: 'integer',
    minimum: 1,
    maximum: 4096,
    description: 'uring_setup: submission queue entries (default 8; the kernel rounds up to a power of two).',
  },
  user_data: {
    type: 'string',
    pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$',
    description:
      'uring_*: the tag of the request (its SQE user_data); uring_wait: the tag whose next completion to wait for (default: any).',
  },
  target: {
    description:
      'uring_cancel/uring_poll_remove: the user_data tag of the request to cancel. wait_blocked: the actor whose blocking call to wait for (on the same machine), or a list of actors: one wait per actor, in order, with id `<id>-<actor>`. pidfd_getfd: the actor holding the descriptor.',
    oneOf: [
      { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,30}$' },
      { type: 'array', items: ACTOR_NAME, minItems: 1, maxItems: 32, uniqueItems: true },
    ],
  },
  multishot: {
    type: 'boolean',
    description: 'uring_poll_add: IORING_POLL_ADD_MULTI (5.13); uring_accept: IORING_ACCEPT_MULTISHOT (5.19).',
  },
  skip_if: {
    type: 'object',
    additionalProperties: false,
    required: ['why'],
    description:
      "The kernel's answer that means the feature is missing here: when this step's answer meets `ret`/`errno`, the result is `skip` with `why` (io_uring_setup ENOSYS/EPERM, an opcode or flag refused with EINVAL in its CQE), decided by the kernel, not a version table.",
    properties: {
      ret: { $ref: '#/$defs/ret' },
      errno: { $ref: '#/$defs/errno' },
      why: { type: 'string', description: 'What is missing (shown as the skip reason), with its source.' },
    },
  },
  drop: {
    type: 'array',
    items: {
      type: 'string',
      enum: names(GATE_CLASSES),
    },
    description:
      'gate: incoming TCP segment classes the socket filter drops. path_gate: classes nftables drops on the host (ack = flags exactly ACK; data = PSH set).',
    uniqueItems: true,
  },
  step: {
    type: 'string',
    description: 'await: id of the background step to wait for.',
    pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,40}$',
  },
  background: {
    type: 'boolean',
    description:
      'Send the call and go on without waiting for it (a blocking accept, connect or epoll_wait); a later `await` step (or the end of the scenario) collects its result.',
  },
  limit_ms: {
    type: 'integer',
    minimum: 1,
    maximum: 300000,
    description: 'Time limit for the call (default: its timeout + 3 s, or 5 s). Past it the step is an error.',
  },
  expect: expectation('What the kernel should answer for this step. Fields not given are not checked.'),
  claim: expectation('Claim scenarios: what the claim predicts for this step. A mismatch refutes the claim; it does not fail the run.'),
  note: {
    type: 'string',
    description: 'Free text shown in timelines (why this step is here).',
  },
  reject: {
    type: 'array',
    items: {
      type: 'string',
      enum: names(GATE_CLASSES),
    },
    uniqueItems: true,
    description: 'path_gate: segment classes answered with a reject (see `with`) instead of being delivered.',
  },
  with: {
    description: 'path_gate: how rejected segments are answered (default tcp-reset). share: the actors the socket is shared with.',
    oneOf: [
      {
        type: 'string',
        enum: ['tcp-reset', 'icmp-port-unreachable', 'icmp-host-unreachable', 'icmp-net-unreachable', 'icmp-admin-prohibited'],
      },
      { type: 'array', items: ACTOR_NAME, minItems: 1, maxItems: 32, uniqueItems: true },
    ],
  },
  dir: {
    type: 'string',
    enum: ['in', 'out'],
    description: 'path_gate: filter segments the host receives (in, default) or sends (out).',
  },
  segment: {
    type: 'object',
    additionalProperties: false,
    description:
      "packet_send: the segment the peer sends; packet_expect: the fields the next segment from the kernel must have. seq is relative to the sender's ISN, ack to the other side's (as in packetdrill).",
    properties: {
      flags: {
        type: 'string',
        pattern: '^(0|(FIN|SYN|RST|PSH|ACK|URG|ECE|CWR)(\\|(FIN|SYN|RST|PSH|ACK|URG|ECE|CWR))*)$',
        description: 'TCP flags, "SYN|ACK".',
      },
      seq: {
        description:
          "Sequence number relative to the sender's ISN (the kernel's: its first SYN; the peer's: 0x5ca1ab1e); packet_expect also takes a comparison.",
        oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^(>=|<=|>|<|!=|==)-?[0-9]+$' }],
      },
      ack: {
        description: "Acknowledgment number relative to the other side's ISN (0 when the ACK flag is not set).",
        oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^(>=|<=|>|<|!=|==)-?[0-9]+$' }],
      },
      win: {
        description: 'The window field as on the wire (not scaled).',
        oneOf: [
          { type: 'integer', minimum: 0, maximum: 65535 },
          { type: 'string', pattern: '^(>=|<=|>|<|!=|==)-?[0-9]+$' },
        ],
      },
      len: {
        description: 'Payload bytes (packet_send: filler bytes when no data is given).',
        oneOf: [
          { type: 'integer', minimum: 0, maximum: 4096 },
          { type: 'string', pattern: '^(>=|<=|>|<|!=|==)-?[0-9]+$' },
        ],
      },
      urg: { type: 'integer', minimum: 0, maximum: 65535, description: 'packet_send: the urgent pointer field.' },
      data: { type: 'string', pattern: '^[!-~]{1,4096}$', description: 'packet_send: payload text (no whitespace).' },
      options: {
        type: 'array',
        items: { type: 'string', pattern: '^(mss( [0-9]+)?|wscale( [0-9]+)?|sackOK|TS( val [0-9]+ ecr [0-9]+)?|nop|eol)$' },
        description: 'TCP options in packetdrill\'s words: "mss 1460", "sackOK", "TS", "TS val 100 ecr 0", "nop", "wscale 7"; [] for none.',
      },
      sack: { type: 'string', pattern: '^[0-9]+:[0-9]+( [0-9]+:[0-9]+)*$', description: 'packet_expect: SACK blocks, relative.' },
    },
  },
  within_ms: {
    type: 'integer',
    minimum: 0,
    maximum: 120000,
    description: 'packet_expect: how long to wait for the segment.',
  },
  skip_retransmits: {
    type: 'boolean',
    description:
      'packet_expect: pass over what a kernel timer sent while a slow step ran: a repeat (same flags, seq and length) of one of the last 8 segments read that holds a SYN, FIN or data, and window or keepalive probes (a bare ACK below what was sent). Other ACKs are never passed over (a duplicate ACK repeats one).',
  },
  icmp: {
    type: 'string',
    enum: ['port', 'host', 'net', 'proto', 'admin', 'frag', 'beyond-scope', 'policy', 'reject-route', 'ttl', 'param', 'quench'],
    description:
      'icmp_send: the error. Destination unreachable: port, host (ICMPv6 address unreachable), net (ICMPv6 no route), proto (IPv4 only), admin (administratively prohibited), beyond-scope, policy and reject-route (ICMPv6 codes 2, 5, 6); frag: fragmentation needed / packet too big, with mtu; ttl: time exceeded in transit; param: parameter problem; quench: source quench (IPv4 only).',
  },
  mtu: {
    type: 'integer',
    minimum: 68,
    maximum: 65535,
    description: 'icmp_send frag: the next-hop MTU.',
  },
  within: {
    type: 'object',
    additionalProperties: false,
    required: ['since', 'ms'],
    description:
      "path_gate/path_ungate: a precondition on the kit, not the kernel: the change must be in place within `ms` of the moment step `since` was sent (measured on the harness's clock). A slower machine (busy, or an emulated guest where each nft call takes most of a second) makes the result an `error` that says so, instead of a kernel failure.",
    properties: {
      since: {
        type: 'string',
        description: 'Id of an earlier step.',
      },
      ms: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Milliseconds after that step was sent.',
      },
    },
  },
}
