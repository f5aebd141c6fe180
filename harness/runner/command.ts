/**
 * Translate a scenario step into a probe command line (see
 * harness/native/PROTOCOL.md). Pure but for one realpath: the variant, the
 * addresses learned so far and the scenario's temp dir are passed in.
 *
 * The protocol has no quoting: tokens are split on whitespace, one command a
 * line. So every token goes through `token()`, which throws on whitespace,
 * control characters or an empty required token: whatever validation missed,
 * a step can never add a word or a line (`netns`, `capture`) of its own.
 */
import { realpathSync } from 'node:fs'
import { dirname, resolve, sep } from 'node:path'
import type { SockAddr } from '../probe/event.js'
import type { VariantPlan } from '../scenario/expand.js'
import { UNQUOTABLE, unixPathProblem } from '../scenario/semantics.js'
import type { Step } from '../scenario/types.js'

export interface CommandContext {
  variant: VariantPlan
  /** Address each socket handle is bound to (from getsockname events). */
  addresses: ReadonlyMap<string, SockAddr>
  /** Family each socket handle was created with. */
  families: Map<string, 'inet' | 'inet6' | 'unix'>
  /** Private directory for unix socket paths. */
  tmpDir: string
  /** Suffix that makes abstract unix names unique per scenario run. */
  uniqueSuffix: string
  /** Address an actor binds to by default (its host's address); default: the variant's loopback. */
  defaultAddress?: (actor: string, family: 'inet' | 'inet6') => string
  /** Actor that created each handle (to resolve a wildcard bind for `to`). */
  owners: Map<string, string>
  /** Families of sockets sent with send_fd and not yet received (FIFO). */
  passing: Array<'inet' | 'inet6' | 'unix'>
}

export class CommandError extends Error {}

/** One protocol token, or a CommandError: no input can split into two tokens or two lines. */
function token(value: string | number | undefined, what: string): string {
  const s = value === undefined ? '' : String(value)
  if (s === '') throw new CommandError(`${what}: a value is required`)
  if (UNQUOTABLE.test(s))
    throw new CommandError(`${what}: ${JSON.stringify(s)} cannot be sent to the probe (whitespace or control characters)`)
  return s
}

/** A command line from checked tokens. */
const line = (...tokens: Array<[string | number | undefined, string]>): string => tokens.map(([v, what]) => token(v, what)).join(' ')

const flagSet = (names: readonly string[] | undefined): string => (names && names.length ? names.join('|') : '0')

function sockFlags(step: Step): string {
  const f: string[] = []
  if (step.nonblock) f.push('nonblock')
  if (step.cloexec) f.push('cloexec')
  return flagSet(f)
}

const inside = (path: string, dir: string): boolean => path.startsWith(dir.endsWith(sep) ? dir : dir + sep)

/**
 * A unix path in the scenario's temp dir (abstract names made unique). Checked
 * again here, not only by validation: relative, no '..', and the directory
 * that will hold the socket resolves (symlinks followed) inside the temp dir.
 */
export function unixPath(path: string, ctx: Pick<CommandContext, 'tmpDir' | 'uniqueSuffix'>): string {
  const problem = unixPathProblem(path)
  if (problem) throw new CommandError(`path ${JSON.stringify(path)} ${problem}`)
  if (path.startsWith('@')) return `${path}-${ctx.uniqueSuffix}`
  const root = resolve(ctx.tmpDir)
  const full = resolve(root, path)
  if (!inside(full, root)) throw new CommandError(`path '${path}' leaves the scenario's private directory`)
  let realRoot: string
  let realDir: string
  try {
    realRoot = realpathSync(root)
    realDir = realpathSync(dirname(full))
  } catch {
    // not on this machine (a guest's scratch dir) or no such directory (bind fails with ENOENT): the lexical check stands
    return full
  }
  if (realDir !== realRoot && !inside(realDir, realRoot))
    throw new CommandError(`path '${path}' resolves to ${realDir}, outside the scenario's private directory`)
  return full
}

function formatAddr(addr: SockAddr): string {
  if (addr.family === 'unix') return line(['unix', 'family'], [addr.path, 'unix path'])
  if (addr.family === 'inet' || addr.family === 'inet6')
    return line([addr.family, 'family'], [addr.addr, 'address'], [addr.port ?? 0, 'port'])
  throw new CommandError(`cannot use a ${addr.family} address`)
}

function familyOf(step: Step, ctx: CommandContext): 'inet' | 'inet6' | 'unix' {
  const f = step.sock !== undefined ? ctx.families.get(step.sock) : undefined
  return f ?? ctx.variant.family ?? 'inet'
}

/** The address a bind/connect/sendto step targets. */
export function targetAddress(step: Step, ctx: CommandContext, forBind: boolean): SockAddr {
  if (step.to !== undefined) {
    const a = ctx.addresses.get(step.to)
    if (!a) throw new CommandError(`socket '${step.to}' has no known address (its bind failed or never ran)`)
    // bound to the wildcard: connect to the owner's host address
    if ((a.family === 'inet' && a.addr === '0.0.0.0') || (a.family === 'inet6' && a.addr === '::')) {
      const owner = ctx.owners.get(step.to)
      const addr =
        owner !== undefined && ctx.defaultAddress ? ctx.defaultAddress(owner, a.family) : a.family === 'inet' ? '127.0.0.1' : '::1'
      return { ...a, addr }
    }
    return a
  }
  const family = familyOf(step, ctx)
  if (family === 'unix') {
    if (step.path === undefined) throw new CommandError(`${step.do} on a unix socket needs 'path' or 'to'`)
    return { family: 'unix', path: unixPath(step.path, ctx) }
  }
  const addr = step.addr ?? (ctx.defaultAddress ? ctx.defaultAddress(step.actor, family) : ctx.variant.loopback)
  if (addr === undefined) throw new CommandError(`${step.do} needs 'addr'`)
  if (!forBind && step.port === undefined) throw new CommandError(`${step.do} needs 'port' or 'to'`)
  return { family, addr, port: step.port ?? 0 }
}

export function buildCommand(step: Step, ctx: CommandContext): string {
  // the runner puts the step id in front of the line: a token too
  if (step.id !== undefined) token(step.id, 'step id')
  const h = step.sock ?? ''
  const H: [string, string] = [h, 'sock']
  const flags = (names: readonly string[] | undefined): [string, string] => [flagSet(names), 'flags']
  switch (step.do) {
    case 'socket': {
      const family = step.family === undefined || step.family === 'ip' ? (ctx.variant.family ?? 'inet') : step.family
      const cmd = line(
        ['socket', 'op'],
        H,
        [family, 'family'],
        [step.type ?? 'stream', 'type'],
        [step.proto ?? '0', 'proto'],
        [sockFlags(step), 'flags'],
      )
      ctx.families.set(h, family)
      ctx.owners.set(h, step.actor)
      return cmd
    }
    case 'bind':
      return `${line(['bind', 'op'], H)} ${formatAddr(targetAddress(step, ctx, true))}`
    case 'listen':
      return line(['listen', 'op'], H, [step.backlog ?? 128, 'backlog'])
    case 'connect':
      return `${line(['connect', 'op'], H)} ${formatAddr(targetAddress(step, ctx, false))}`
    case 'connect_unspec':
      return line(['connect_unspec', 'op'], H)
    case 'accept4': {
      const cmd = line(['accept4', 'op'], H, [step.new, 'new'], [sockFlags(step), 'flags'])
      const listenerFamily = ctx.families.get(h)
      if (step.new !== undefined && listenerFamily) ctx.families.set(step.new, listenerFamily)
      if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
      return cmd
    }
    case 'send':
      return step.text !== undefined
        ? line(['sendstr', 'op'], H, [step.text, 'text'], flags(step.flags))
        : line(['send', 'op'], H, [step.bytes ?? 1, 'bytes'], flags(step.flags))
    case 'sendto':
      return `${line(['sendto', 'op'], H, [step.bytes ?? 1, 'bytes'])} ${formatAddr(targetAddress(step, ctx, false))} ${line(flags(step.flags))}`
    case 'recv':
    case 'recvfrom':
    case 'recvmsg':
      return line([step.do, 'op'], H, [step.bytes ?? 4096, 'bytes'], flags(step.flags))
    case 'send_fd': {
      const pass = step.pass ?? ''
      const cmd = line(['sendfd', 'op'], H, [pass, 'pass'], flags(step.flags))
      const family = ctx.families.get(pass)
      if (family) ctx.passing.push(family)
      return cmd
    }
    case 'recv_fd': {
      const cmd = line(['recvfd', 'op'], H, [step.new, 'new'], flags(step.flags))
      // Descriptors arrive in the order they were sent; the received socket
      // has the family of the oldest one still in flight.
      const family = ctx.passing.shift()
      if (step.new !== undefined && family) ctx.families.set(step.new, family)
      if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
      return cmd
    }
    case 'shutdown':
      return line(['shutdown', 'op'], H, [step.how ?? 'rdwr', 'how'])
    case 'close':
      return line(['close', 'op'], H)
    case 'setsockopt':
      return line(['setsockopt', 'op'], H, [step.level ?? 'socket', 'level'], [step.opt, 'opt'], [step.value ?? 0, 'value'])
    case 'getsockopt':
      return line(['getsockopt', 'op'], H, [step.level ?? 'socket', 'level'], [step.opt, 'opt'])
    case 'fcntl':
      if (step.cmd === 'setfl') return line(['fcntl', 'op'], H, ['setfl', 'cmd'], [flagSet(step.fl), 'fl'])
      if (step.cmd === 'nonblock' || (step.cmd === undefined && step.nonblock !== undefined))
        return line(['fcntl', 'op'], H, ['nonblock', 'cmd'], [step.nonblock === false ? 0 : 1, 'nonblock'])
      return line(['fcntl', 'op'], H, ['getfl', 'cmd'])
    case 'epoll_create1':
      return line(['epoll_create1', 'op'], [step.ep, 'ep'], [step.cloexec ? 'cloexec' : '0', 'cloexec'])
    case 'epoll_ctl':
      return line(['epoll_ctl', 'op'], [step.ep, 'ep'], [step.op ?? 'add', 'op'], H, [flagSet(step.events), 'events'])
    case 'epoll_wait':
      return line(['epoll_wait', 'op'], [step.ep, 'ep'], [step.max ?? 16, 'max'], [step.timeout_ms ?? 0, 'timeout_ms'])
    case 'poll':
      return line(
        ['poll', 'op'],
        [step.timeout_ms ?? 0, 'timeout_ms'],
        ...Object.entries(step.fds ?? {}).map(([name, ev]): [string, string] => [`${token(name, 'fds')}:${flagSet(ev)}`, 'fds']),
      )
    case 'getsockname':
    case 'getpeername':
      return line([step.do, 'op'], H)
    case 'sleep':
      return line(['sleep', 'op'], [step.ms ?? 0, 'ms'])
    case 'gate':
      return line(['gate', 'op'], H, ...(step.drop ?? []).map((c): [string, string] => [c, 'drop']))
    case 'ungate':
      return line(['ungate', 'op'], H)
    case 'abort':
      return 'abort'
    case 'path_gate':
    case 'path_ungate':
      throw new CommandError(`${step.do} is run by the harness, not the probe`)
    case 'await':
      throw new CommandError('await is not a probe command')
    default:
      // a step op outside the schema's list (netns, capture, ...) never reaches the probe
      throw new CommandError(`'${String((step as { do: unknown }).do)}' is not a scenario step`)
  }
}

/** The op name of the event that answers a step (gate reports as setsockopt). */
export function primaryOp(step: Step): string {
  if (step.do === 'gate' || step.do === 'ungate') return 'setsockopt'
  if (step.do === 'path_gate' || step.do === 'path_ungate') return 'nft'
  return step.do
}

/** How long a step may take before it is an error. */
export function stepLimitMs(step: Step): number {
  if (step.limit_ms !== undefined) return step.limit_ms
  if ((step.do === 'epoll_wait' || step.do === 'poll') && step.timeout_ms !== undefined && step.timeout_ms >= 0)
    return step.timeout_ms + 3000
  if (step.do === 'sleep') return (step.ms ?? 0) + 3000
  return 5000
}
