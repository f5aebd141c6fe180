/**
 * What op definitions format probe command lines with (see
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
import type { SockAddr } from '../trace/event.js'
import type { VariantPlan } from '../scenario/expand.js'
import type { Step } from '../scenario/types.js'

/** A token the probe protocol can carry: no whitespace, no control characters. */
export const UNQUOTABLE = /[\s\p{Cc}]/u

/** Why a unix path would leave the scenario's private directory, or undefined. */
export function unixPathProblem(path: string): string | undefined {
  if (UNQUOTABLE.test(path)) return 'has whitespace or control characters'
  if (path.startsWith('@')) return path.length > 1 ? undefined : 'an abstract name needs characters after @'
  if (path.startsWith('/')) return "must be relative to the scenario's private directory (no leading '/')"
  if (path.split('/').includes('..')) return "must stay in the scenario's private directory (no '..' segment)"
  return undefined
}

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
  /** pid of actor `target`'s probe, as the probe of actor `from` sees it: undefined on another machine (wait_blocked) */
  probePid?: (target: string, from: string) => number | undefined
  /** descriptor number of each shared handle in its holder (`actor/handle`), from the holder's `share` events */
  sharedFds?: Map<string, number>
}

export class CommandError extends Error {}

/** One protocol token, or a CommandError: no input can split into two tokens or two lines. */
export function token(value: string | number | undefined, what: string): string {
  const s = value === undefined ? '' : String(value)
  if (s === '') throw new CommandError(`${what}: a value is required`)
  if (UNQUOTABLE.test(s))
    throw new CommandError(`${what}: ${JSON.stringify(s)} cannot be sent to the probe (whitespace or control characters)`)
  return s
}

/** A command line from checked tokens. */
export const line = (...tokens: Array<[string | number | undefined, string]>): string => tokens.map(([v, what]) => token(v, what)).join(' ')

export const flagSet = (names: readonly string[] | undefined): string => (names && names.length ? names.join('|') : '0')

export function sockFlags(step: Step): string {
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

export function formatAddr(addr: SockAddr): string {
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
