/** Control ops: sleep, wait_blocked, await, abort; and the probe commands that are not scenario steps. */
import { CommandError, line } from './format.js'
import type { OpDef, OpFamily, ProbeCommand } from './types.js'

const sleep: OpDef = {
  name: 'sleep',
  doc: 'nanosleep(2) for `ms` milliseconds in this actor.',
  answers: 'sleep',
  fields: { ms: 'required' },
  waits: 'ms',
  commands: [{ name: 'sleep', handler: 'op_sleep', minArgs: 1, maxArgs: 1, usage: 'sleep <ms>', doc: '`nanosleep()` (op `sleep`)' }],
  format: step => line(['sleep', 'op'], [step.ms ?? 0, 'ms']),
}

const waitBlocked: OpDef = {
  name: 'wait_blocked',
  doc: "Waits until actor `target` sleeps inside a system call (its probe's /proc state S or D, a syscall number that is not its idle read of commands), polling every 1 ms for up to `timeout_ms`; the event's `value` reports the `syscall` (`value: { syscall: accept4 }`), `wchan` and `state`, or ETIMEDOUT. Instead of a sleep before waking a blocked call. Both actors must be on one machine.",
  answers: 'wait_blocked',
  fields: { target: 'required', timeout_ms: 'required' },
  waits: 'timeout_ms',
  commands: [
    {
      name: 'wait_blocked',
      handler: 'op_wait_blocked',
      minArgs: 2,
      maxArgs: 2,
      usage: 'wait_blocked <pid> <timeout_ms>',
      doc: 'polls `/proc/PID/stat`, `/proc/PID/syscall` and `/proc/PID/wchan` (1 ms apart) until PID sleeps (S/D) in a syscall other than `read()` of fd 0 (a probe waiting for its next command); op `wait_blocked` with `pid`, `polls` and `value`: `state`, `syscall` (name, or the number), `wchan`; ret 0, or -1 ETIMEDOUT (the last state seen), or the errno of opening `/proc/PID/stat` (ENOENT: no such process here)',
    },
  ],
  format: (step, ctx) => {
    const target = step.target ?? ''
    // the target's pid (from its probe's hello), given only when it runs on the waiting actor's machine
    const pid = ctx.probePid?.(target, step.actor)
    if (pid === undefined) throw new CommandError(`wait_blocked: actor '${target}' has no probe on the machine of actor '${step.actor}'`)
    return line(['wait_blocked', 'op'], [pid, 'pid'], [step.timeout_ms ?? 0, 'timeout_ms'])
  },
}

const awaitOp: OpDef = {
  name: 'await',
  doc: 'Wait for the background step `step` of this actor; its checks are judged here.',
  answers: 'await',
  fields: { step: 'required' },
  runBy: 'harness',
}

const abort: OpDef = {
  name: 'abort',
  doc: 'Test hook: the probe crashes on purpose (SIGABRT).',
  answers: 'abort',
  fields: {},
  commands: [
    {
      name: 'abort',
      handler: 'op_abort',
      minArgs: 0,
      maxArgs: 0,
      usage: 'abort',
      doc: "test hook: writes a line to stderr and calls `abort()` (SIGABRT), so the harness's crash handling is tested against the real helper",
    },
  ],
  format: () => 'abort',
}

const probeOnly: ProbeCommand[] = [
  {
    name: 'netns',
    handler: 'op_netns',
    minArgs: 1,
    maxArgs: 1,
    usage: 'netns <name|/path>',
    doc: '`setns()` into `/run/netns/<name>` (or the path), op `setns` with `netns`; later sockets live in that namespace, existing handles keep theirs. A failed `open()` of the path is reported as op `open` with `path`. Used where a probe cannot be started inside the namespace (vm guests)',
  },
  {
    name: 'capture',
    handler: 'op_capture',
    minArgs: 1,
    maxArgs: 16,
    usage: 'capture IFNAME [IFNAME...]',
    doc: "the probe turns into a capture process (see Capture mode) and never takes another command: a second `hello` with `capture: [...]` follows, then `packet` events until EOF; send nothing else. For probes that cannot be started in capture mode (a vm guest's, after `netns`)",
  },
  {
    name: 'hosts',
    handler: 'op_hosts',
    minArgs: 0,
    maxArgs: 0,
    usage: 'hosts',
    doc: "the probe turns into the host helper (see Host helper mode) and never takes another command: a second `hello` follows, then the helper's commands (`TOKEN ip|nft|del ...`) until EOF or `quit`. For probes that cannot be started in helper mode (a vm guest's leased port)",
  },
  {
    name: 'hostnet',
    handler: 'op_hostnet',
    minArgs: 3,
    maxArgs: 3,
    usage: 'hostnet IFNAME ADDR4/LEN ADDR6/LEN',
    doc: "in the probe's current namespace (after `netns`), over rtnetlink: `lo` and IFNAME up, IFNAME gets both addresses (the IPv6 one without duplicate address detection), then it waits (bounded) until the IPv6 address routes as local, which the kernel adds in a worker. One event, op `hostnet` with `if`; on failure `ret` -1, `errno` and `error` naming the request that failed. How a simulated host is configured without an `ip` process of its own",
  },
  {
    name: 'reset',
    handler: 'op_reset',
    minArgs: 0,
    maxArgs: 1,
    usage: 'reset [DIR]',
    doc: "returns the probe to the state of a fresh one, for the next result: closes every handle (epoll sets and gates go with their sockets) and any other descriptor but 0-2, `setns()` back to the namespace it started in, and the next event is seq 1 again. One event, op `reset`: `closed` (handles), `stray` (other descriptors), `netns` (`home` or `back`), `fds` (descriptors left besides 0-2 and its own namespace handle; 0 when clean); `ret` -1 with `errno` when it could not check or go back. With DIR (a vm guest port's scratch dir, only `/tmp/sockspec-vm*`, else EPERM): DIR is emptied (made if missing; `emptied`: entries removed) and a stderr that is a regular file is truncated, so the next session finds neither its predecessor's socket paths nor its stderr",
  },
  { name: 'quit', handler: null, minArgs: 0, maxArgs: 0, usage: 'quit', doc: 'closes every handle, writes nothing more, exits 0' },
]

export const family: OpFamily = { ops: [sleep, waitBlocked, awaitOp, abort], probeOnly }
