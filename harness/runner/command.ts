/**
 * Translate a scenario step into a probe command line (see
 * harness/native/PROTOCOL.md). Pure: the variant, the addresses learned so
 * far and the scenario's temp dir are passed in.
 */
import { isAbsolute, join } from 'node:path'
import type { SockAddr } from '../probe/event.js'
import type { VariantPlan } from '../scenario/expand.js'
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

const flagSet = (names: readonly string[] | undefined): string => (names && names.length ? names.join('|') : '0')

function sockFlags(step: Step): string {
  const f: string[] = []
  if (step.nonblock) f.push('nonblock')
  if (step.cloexec) f.push('cloexec')
  return flagSet(f)
}

function unixPath(path: string, ctx: CommandContext): string {
  if (path.startsWith('@')) return `${path}-${ctx.uniqueSuffix}`
  return isAbsolute(path) ? path : join(ctx.tmpDir, path)
}

function formatAddr(addr: SockAddr): string {
  if (addr.family === 'unix') return `unix ${addr.path ?? ''}`
  if (addr.family === 'inet' || addr.family === 'inet6') return `${addr.family} ${addr.addr ?? ''} ${addr.port ?? 0}`
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
  const h = step.sock ?? ''
  switch (step.do) {
    case 'socket': {
      const family = step.family === undefined || step.family === 'ip' ? (ctx.variant.family ?? 'inet') : step.family
      ctx.families.set(h, family)
      ctx.owners.set(h, step.actor)
      return `socket ${h} ${family} ${step.type ?? 'stream'} ${step.proto ?? '0'} ${sockFlags(step)}`
    }
    case 'bind':
      return `bind ${h} ${formatAddr(targetAddress(step, ctx, true))}`
    case 'listen':
      return `listen ${h} ${step.backlog ?? 128}`
    case 'connect':
      return `connect ${h} ${formatAddr(targetAddress(step, ctx, false))}`
    case 'connect_unspec':
      return `connect_unspec ${h}`
    case 'accept4': {
      const listenerFamily = ctx.families.get(h)
      if (step.new !== undefined && listenerFamily) ctx.families.set(step.new, listenerFamily)
      if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
      return `accept4 ${h} ${step.new ?? ''} ${sockFlags(step)}`
    }
    case 'send':
      return step.text !== undefined
        ? `sendstr ${h} ${step.text} ${flagSet(step.flags)}`
        : `send ${h} ${step.bytes ?? 1} ${flagSet(step.flags)}`
    case 'sendto':
      return `sendto ${h} ${step.bytes ?? 1} ${formatAddr(targetAddress(step, ctx, false))} ${flagSet(step.flags)}`
    case 'recv':
    case 'recvfrom':
    case 'recvmsg':
      return `${step.do} ${h} ${step.bytes ?? 4096} ${flagSet(step.flags)}`
    case 'send_fd': {
      const pass = step.pass ?? ''
      const family = ctx.families.get(pass)
      if (family) ctx.passing.push(family)
      return `sendfd ${h} ${pass} ${flagSet(step.flags)}`
    }
    case 'recv_fd': {
      // Descriptors arrive in the order they were sent; the received socket
      // has the family of the oldest one still in flight.
      const family = ctx.passing.shift()
      if (step.new !== undefined && family) ctx.families.set(step.new, family)
      if (step.new !== undefined) ctx.owners.set(step.new, step.actor)
      return `recvfd ${h} ${step.new ?? ''} ${flagSet(step.flags)}`
    }
    case 'shutdown':
      return `shutdown ${h} ${step.how ?? 'rdwr'}`
    case 'close':
      return `close ${h}`
    case 'setsockopt':
      return `setsockopt ${h} ${step.level ?? 'socket'} ${step.opt ?? ''} ${String(step.value ?? 0)}`
    case 'getsockopt':
      return `getsockopt ${h} ${step.level ?? 'socket'} ${step.opt ?? ''}`
    case 'fcntl':
      if (step.cmd === 'setfl') return `fcntl ${h} setfl ${flagSet(step.fl)}`
      if (step.cmd === 'nonblock' || (step.cmd === undefined && step.nonblock !== undefined))
        return `fcntl ${h} nonblock ${step.nonblock === false ? 0 : 1}`
      return `fcntl ${h} getfl`
    case 'epoll_create1':
      return `epoll_create1 ${step.ep ?? ''} ${step.cloexec ? 'cloexec' : '0'}`
    case 'epoll_ctl':
      return `epoll_ctl ${step.ep ?? ''} ${step.op ?? 'add'} ${h} ${flagSet(step.events)}`
    case 'epoll_wait':
      return `epoll_wait ${step.ep ?? ''} ${step.max ?? 16} ${step.timeout_ms ?? 0}`
    case 'poll':
      return `poll ${step.timeout_ms ?? 0} ${Object.entries(step.fds ?? {})
        .map(([name, ev]) => `${name}:${flagSet(ev)}`)
        .join(' ')}`
    case 'getsockname':
    case 'getpeername':
      return `${step.do} ${h}`
    case 'sleep':
      return `sleep ${step.ms ?? 0}`
    case 'gate':
      return `gate ${h} ${(step.drop ?? []).join(' ')}`
    case 'ungate':
      return `ungate ${h}`
    case 'abort':
      return 'abort'
    case 'path_gate':
    case 'path_ungate':
      throw new CommandError(`${step.do} is run by the harness, not the probe`)
    case 'await':
      throw new CommandError('await is not a probe command')
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
