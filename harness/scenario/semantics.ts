/**
 * Checks the schema cannot express: step ids are unique, handles are created
 * before use and used by the actor that owns them, references point at
 * earlier steps. And the sandbox: a scenario is untrusted input run as root,
 * so every string that reaches the probe, a path or /proc is checked here
 * (addresses are IP literals, unix paths stay in the scenario's private
 * directory, host sysctls are net.* keys, errno names exist) and its
 * traffic stays on loopback or in the namespaces the kit makes. Every
 * problem carries the position of the offending field.
 */
import { BlockList, isIP } from 'node:net'
import { InputErrors, SockspecError } from '../errors.js'
import type { SourcePosition } from '../errors.js'
import { UNQUOTABLE, unixPathProblem } from '../ops/format.js'
import { GENERIC_FIELDS } from '../ops/fields.js'
import { optionAt } from '../ops/options.js'
import { PEER_OPS } from '../ops/peer.js'
import type { ValueKind } from '../ops/options.js'
import { CREATES, fieldUse, isOp, opDef } from '../ops/table.js'
import { ERRNO_ALIASES, errnoNames } from './errno-names.js'
import { kernelRangeProblem } from './kernel-range.js'
import { variantsOf } from './expand.js'
import type { StepOrigin } from './groups.js'
import type { ErrnoExpectation, Scenario, VariantName } from './types.js'

type PositionOf = (path: Array<string | number>) => SourcePosition

/** What the command line allows beyond the default sandbox. */
export interface ScenarioPolicy {
  /** `sockspec run --allow-external`: literal destinations anywhere */
  allowExternal?: boolean
  /** addresses of the machines named with `--host` (IP literals; names never match) */
  remoteAddresses?: readonly string[]
  /** the scenario hosts `--host` puts on machines of their own (ssh) */
  remoteHosts?: readonly string[]
}

/** Host sysctls: net.* only (per network namespace); anything else would change the machine. */
export const NET_SYSCTL = /^net(\.[A-Za-z0-9_-]+)+$/
/** Any sysctl name read from /proc/sys (requires): dotted segments, so no '/' and no '..'. */
export const SYSCTL_NAME = /^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+)+$/
/** A sysctl value written into a namespace: an integer or one simple token. */
export const SYSCTL_VALUE = /^[A-Za-z0-9_.,:+-]{1,64}$/

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
// the wildcard is this machine (connect to 0.0.0.0 reaches loopback), never a remote destination
LOOPBACK.addAddress('0.0.0.0', 'ipv4')
LOOPBACK.addAddress('::', 'ipv6')
/** The ranges topology.ts plans scenario hosts in; routable only inside the kit's namespaces. */
const KIT_NAMESPACES = new BlockList()
KIT_NAMESPACES.addSubnet('198.18.0.0', 15, 'ipv4')
KIT_NAMESPACES.addSubnet('fd00::', 8, 'ipv6')

/** A value as messages show it: quoted, JSON-escaped when it holds control characters (no raw newline or ESC reaches a terminal). */
const shown = (s: string): string => (UNQUOTABLE.test(s) ? JSON.stringify(s) : `'${s}'`)

const ipType = (addr: string): 'ipv4' | 'ipv6' => (isIP(addr) === 6 ? 'ipv6' : 'ipv4')

/** Why a setsockopt value does not fit the option's kind, or undefined. */
function valueProblem(kind: ValueKind, value: unknown): string | undefined {
  switch (kind) {
    case 'int':
    case 'bool':
    case 'timeval_ms':
      return typeof value === 'number' ? undefined : `takes an integer${kind === 'timeval_ms' ? ' (milliseconds)' : ''}`
    case 'linger':
      return typeof value === 'string' && /^-?\d+,-?\d+$/.test(value) ? undefined : `takes "onoff,secs" (struct linger)`
    case 'string':
      return typeof value === 'string' ? undefined : 'takes a name'
    default:
      // tcp_info, errno: get only; setting one is a question for the kernel (ENOPROTOOPT), not an input error
      return undefined
  }
}

function errnoList(e: ErrnoExpectation | undefined): Array<[string, Array<string | number>]> {
  if (e === undefined || e === null) return []
  if (typeof e === 'string') return [[e, []]]
  if (Array.isArray(e)) return e.map((n, j) => [n, [j]])
  const not = e.not
  return typeof not === 'string' ? [[not, ['not']]] : not.map((n, j) => [n, ['not', j]])
}

/** The probe's limit on a step token (harness/native/src/command.h STEP_MAX): a group member's id is longer than its group's. */
const STEP_TOKEN_MAX = 63

export function checkSemantics(
  scenario: Scenario,
  positionOf: PositionOf,
  policy: ScenarioPolicy = {},
  origins: readonly StepOrigin[] = [],
): void {
  const errors: SockspecError[] = []
  const fail = (path: Array<string | number>, message: string): void => {
    errors.push(new SockspecError('E_SCENARIO', message, positionOf(path)))
  }
  const stepIndex = new Map<string, number>()
  /** handle name -> the actors holding it, for handles currently open (a shared socket, or one name per actor of a group) */
  const owner = new Map<string, Set<string>>()
  const holders = (name: string): ReadonlySet<string> => owner.get(name) ?? new Set()
  const everCreated = new Set<string>()
  const pendingBackground = new Map<string, string>() // step id -> actor
  const acceptedInto = new Set<string>()

  const useHandle = (i: number, field: string, name: string, actor: string, path?: Array<string | number>): void => {
    const who = holders(name)
    const at = path ?? ['steps', i, field]
    if (who.size === 0)
      fail(at, `handle '${name}' is not open for actor '${actor}' at this step (create it with socket/accept4/recv_fd/epoll_create1 first)`)
    else if (!who.has(actor)) fail(at, `handle '${name}' belongs to actor ${[...who].map(a => `'${a}'`).join(', ')}, not '${actor}'`)
  }

  const hostNames = new Set(Object.keys(scenario.hosts ?? {}))
  for (const [actor, placement] of Object.entries(scenario.actors ?? {})) {
    if (!hostNames.has(placement.host))
      fail(['actors', actor, 'host'], `actor '${actor}' is placed on '${placement.host}', which is not in 'hosts'`)
  }

  for (const [host, spec] of Object.entries(scenario.hosts ?? {})) {
    spec.routes?.forEach((route, j) => {
      const at = ['hosts', host, 'routes', j]
      if (!hostNames.has(route.to)) fail([...at, 'to'], `route to '${route.to}': not a host in 'hosts'`)
      else if (route.to === host) fail([...at, 'to'], `route to '${route.to}': a host's own addresses are local, not routed`)
      if (route.via !== undefined) {
        if (!hostNames.has(route.via)) fail([...at, 'via'], `route via '${route.via}': not a host in 'hosts'`)
        else if (route.via === host || route.via === route.to)
          fail([...at, 'via'], `route via '${route.via}': the gateway must be a third host (neither this one nor the destination)`)
        if (route.type !== undefined) fail([...at, 'type'], `a route has a 'type' (a reject route) or a 'via' gateway, not both`)
      }
    })
    if (
      spec.packet !== undefined &&
      (!hostNames.has(spec.packet) || scenario.hosts?.[spec.packet]?.packet !== undefined || spec.packet === host)
    )
      fail(['hosts', host, 'packet'], `packet host '${host}' must be attached to another host of 'hosts' that is not a packet host`)
    for (const [key, value] of Object.entries(spec.sysctl ?? {})) {
      const at = ['hosts', host, 'sysctl', key]
      if (!NET_SYSCTL.test(key))
        fail(
          at,
          `sysctl ${shown(key)}: only net.* keys can be set on a host (they live in its namespace; others would change this machine)`,
        )
      else if (typeof value !== 'number' && !SYSCTL_VALUE.test(value))
        fail(at, `sysctl ${shown(key)}: the value must be an integer or one simple token (letters, digits, _.,:+-)`)
    }
  }
  const checkRange = (range: string | undefined, path: Array<string | number>): void => {
    if (range === undefined) return
    const why = kernelRangeProblem(range)
    if (why) fail(path, `kernel range ${shown(range)} ${why}`)
  }
  checkRange(scenario.requires?.kernel, ['requires', 'kernel'])
  for (const key of Object.keys(scenario.requires?.sysctl ?? {})) {
    if (!SYSCTL_NAME.test(key))
      fail(['requires', 'sysctl', key], `sysctl ${shown(key)} is not a sysctl name (dotted segments of letters, digits, _ and -)`)
  }
  const errnos = errnoNames()
  const checkErrno = (name: string, path: Array<string | number>): void => {
    if (errnos.has(name)) return
    const alias = ERRNO_ALIASES[name]
    fail(path, alias ? `errno '${name}' is reported as '${alias}' (one name per number)` : `errno '${name}' is not an errno name`)
  }
  const remote = new Set(policy.remoteAddresses ?? [])
  /** Why a literal destination is outside the sandbox, or undefined. */
  const destinationProblem = (addr: string): string | undefined => {
    const type = ipType(addr)
    if (policy.allowExternal || LOOPBACK.check(addr, type) || remote.has(addr)) return undefined
    if (hostNames.size > 0 && KIT_NAMESPACES.check(addr, type)) return undefined
    const inside = hostNames.size > 0 ? "loopback and the scenario's hosts (198.18.0.0/15, fd00::/8)" : 'loopback (127.0.0.0/8, ::1)'
    return `${addr} is outside ${inside}; pass --allow-external to 'sockspec run' to send traffic there`
  }

  const actorNames = new Set(scenario.steps.map(s => s.actor))
  const remoteHosts = new Set(policy.remoteHosts ?? [])
  const hostOf = (actor: string): string => scenario.actors?.[actor]?.host ?? Object.keys(scenario.hosts ?? {})[0] ?? 'local'
  const variantNames: VariantName[] = variantsOf(scenario).map(v => v.name)
  scenario.steps.forEach((step, i) => {
    if (isOp(step.do)) {
      const def = opDef(step.do)
      for (const key of Object.keys(step)) {
        if (GENERIC_FIELDS.has(key) || key in def.fields) continue
        const takes = Object.keys(def.fields)
        fail(
          ['steps', i, key],
          `${step.do} does not use '${key}' (it takes ${takes.length ? takes.map(f => `'${f}'`).join(', ') : 'no fields of its own'})`,
        )
      }
    }
    const option = step.level !== undefined && step.opt !== undefined ? optionAt(step.level, step.opt) : undefined
    if (option && step.do === 'setsockopt' && step.value !== undefined) {
      const why = valueProblem(option.kind, step.value)
      if (why) fail(['steps', i, 'value'], `${step.opt} ${why}`)
    }
    if (step.addr !== undefined) {
      if (isIP(step.addr) === 0) fail(['steps', i, 'addr'], `addr ${shown(step.addr)} is not an IP literal (IPv4 dotted quad or IPv6)`)
      else if (step.do === 'bind' || step.do === 'connect' || step.do === 'sendto' || step.do === 'uring_connect') {
        const why = destinationProblem(step.addr)
        if (why) fail(['steps', i, 'addr'], `${step.do === 'bind' ? 'bind address' : `${step.do} destination`} ${why}`)
      }
    }
    if (step.path !== undefined) {
      const why = unixPathProblem(step.path)
      if (why) fail(['steps', i, 'path'], `path ${shown(step.path)} ${why}`)
      else if (step.do === 'open' && step.path.startsWith('@'))
        fail(['steps', i, 'path'], `open: ${shown(step.path)} is an abstract socket name, not a file`)
    }
    for (const key of ['expect', 'claim'] as const) {
      const exp = step[key]
      const cases: Array<[Array<string | number>, typeof exp]> = [[['steps', i, key], exp]]
      exp?.kernels?.forEach((k, j) => {
        cases.push([['steps', i, key, 'kernels', j], k])
        checkRange(k.range, ['steps', i, key, 'kernels', j, 'range'])
      })
      for (const [name, v] of Object.entries(exp?.variants ?? {})) {
        cases.push([['steps', i, key, 'variants', name], v])
        if (!variantNames.includes(name as VariantName))
          fail(['steps', i, key, 'variants', name], `variants: '${name}' is not a variant this scenario runs (${variantNames.join(', ')})`)
      }
      for (const [path, e] of cases) {
        for (const [name, sub] of errnoList(e?.errno)) checkErrno(name, [...path, 'errno', ...sub])
        // SO_ERROR is reported as an errno name too
        if (option?.kind === 'errno' && typeof e?.value === 'string' && e.value !== '0') checkErrno(e.value, [...path, 'value'])
      }
    }
    if (step.do === 'mib' && scenario.actors?.[step.actor]?.host === undefined) {
      // the host's own namespace is shared with every other job of the run
      fail(
        ['steps', i, 'actor'],
        `mib reads the counters of the actor's network namespace: place '${step.actor}' on a scenario host ('hosts' and 'actors'), where nothing else runs`,
      )
    }
    for (const [name, sub] of errnoList(step.skip_if?.errno)) checkErrno(name, ['steps', i, 'skip_if', 'errno', ...sub])
    const onPacketHost = scenario.hosts?.[scenario.actors?.[step.actor]?.host ?? '']?.packet !== undefined
    if (PEER_OPS.has(step.do) !== onPacketHost && (PEER_OPS.has(step.do) || !['sleep', 'await'].includes(step.do))) {
      fail(
        ['steps', i, 'do'],
        PEER_OPS.has(step.do)
          ? `${step.do} is a packet peer's op: place '${step.actor}' on a host with 'packet: HOST'`
          : `'${step.actor}' is a packet peer: it can only tun_open, packet_send, packet_expect, icmp_send, sleep and await`,
      )
    }
    if ((step.do === 'path_gate' || step.do === 'path_ungate') && hostNames.size === 0) {
      fail(['steps', i, 'do'], `${step.do} needs simulated hosts: declare 'hosts' (and place actors with 'actors')`)
    }
    if (Array.isArray(step.target as unknown))
      fail(['steps', i, 'target'], `${step.do}: 'target' takes one name here (a list of actors is for wait_blocked)`)
    else if (step.do === 'wait_blocked' && step.target !== undefined) {
      const target = step.target
      if (!actorNames.has(target)) fail(['steps', i, 'target'], `wait_blocked: '${target}' is not an actor of this scenario`)
      else if (target === step.actor) fail(['steps', i, 'target'], `wait_blocked: an actor cannot wait for itself to block`)
      else if (hostOf(target) !== hostOf(step.actor) && (remoteHosts.has(hostOf(target)) || remoteHosts.has(hostOf(step.actor))))
        // a pid means something only on its own machine: /proc of another one is out of reach
        fail(
          ['steps', i, 'target'],
          `wait_blocked: actor '${target}' runs on host '${hostOf(target)}', another machine than '${step.actor}' (host '${hostOf(step.actor)}'); /proc cannot see across machines`,
        )
      if (step.timeout_ms !== undefined && step.timeout_ms < 0)
        fail(['steps', i, 'timeout_ms'], `wait_blocked: timeout_ms must be 0 or more (the wait is always bounded)`)
    }
    if (step.id.length > STEP_TOKEN_MAX)
      fail(['steps', i, 'id'], `step id '${step.id}' is longer than ${STEP_TOKEN_MAX} characters (a group member's id is '<id>-<actor>')`)
    const origin = origins[i]
    if (step.do === 'share') {
      if (origin?.via === 'actors') fail(['steps', i, 'do'], `share: one holder per step (give it 'actor', not 'actors')`)
      else if (!Array.isArray(step.with)) fail(['steps', i, 'with'], `share: 'with' is the list of actors to share '${step.sock}' with`)
      else if (step.with.includes(step.actor)) fail(['steps', i, 'with'], `share: '${step.actor}' already holds '${step.sock}'`)
      if (step.background) fail(['steps', i, 'background'], `share is not a background step (its receivers run right after it)`)
    }
    if ((step.do === 'path_gate' || step.do === 'path_ungate') && Array.isArray(step.with))
      fail(['steps', i, 'with'], `${step.do}: 'with' is how rejected segments are answered (tcp-reset, icmp-...), not a list of actors`)
    if (step.do === 'pidfd_getfd' && step.target !== undefined) {
      const target = step.target
      if (!actorNames.has(target)) fail(['steps', i, 'target'], `pidfd_getfd: '${target}' is not an actor of this scenario`)
      else if (target === step.actor) fail(['steps', i, 'target'], `pidfd_getfd: '${target}' cannot take a descriptor from itself`)
      else if (hostOf(target) !== hostOf(step.actor) && (remoteHosts.has(hostOf(target)) || remoteHosts.has(hostOf(step.actor))))
        // a pid means something only on its own machine, and a descriptor cannot cross machines at all
        fail(
          ['steps', i, 'target'],
          `${origin?.via === 'with' ? 'share' : 'pidfd_getfd'}: actor '${step.actor}' runs on host '${hostOf(step.actor)}', another machine than '${target}' (host '${hostOf(target)}'); a socket is shared only between processes of one machine`,
        )
      else if (step.sock !== undefined && !holders(step.sock).has(target))
        fail(['steps', i, 'sock'], `pidfd_getfd: handle '${step.sock}' is not open in actor '${target}' at this step`)
    }
    if (step.like !== undefined && !everCreated.has(step.like)) fail(['steps', i, 'like'], `'like': no earlier socket named '${step.like}'`)
    if (stepIndex.has(step.id)) fail(['steps', i, 'id'], `duplicate step id '${step.id}'`)
    stepIndex.set(step.id, i)

    if (step.claim && !scenario.claim) fail(['steps', i, 'claim'], `'claim' checks need a top-level 'claim' (this is not a claim scenario)`)
    if (step.do === 'await') {
      const target = step.step ?? ''
      const actor = pendingBackground.get(target)
      if (actor === undefined) fail(['steps', i, 'step'], `await: '${target}' is not an earlier background step that is still pending`)
      else if (actor !== step.actor) fail(['steps', i, 'actor'], `await: step '${target}' runs on actor '${actor}', not '${step.actor}'`)
      pendingBackground.delete(target)
    }
    // A background step's result is judged at its await, so its time.since
    // may name any step before that await.
    const checkSince = (target: typeof step, at: number): void => {
      const since = target.expect?.time?.since ?? target.claim?.time?.since
      if (since !== undefined && (!stepIndex.has(since) || since === target.id)) {
        fail(['steps', at, target.expect?.time ? 'expect' : 'claim', 'time', 'since'], `time.since: '${since}' is not an earlier step`)
      }
    }
    if (!step.background) checkSince(step, i)
    if (step.do === 'await') {
      const j = stepIndex.get(step.step ?? '')
      if (j !== undefined) checkSince(scenario.steps[j]!, j)
    }

    for (const key of ['expect', 'claim'] as const) {
      const exp = step[key]
      const windows: Array<[Array<string | number>, typeof exp]> = [[['steps', i, key, 'time'], exp]]
      exp?.kernels?.forEach((k, j) => windows.push([['steps', i, key, 'kernels', j, 'time'], k]))
      for (const [name, v] of Object.entries(exp?.variants ?? {})) windows.push([['steps', i, key, 'variants', name, 'time'], v])
      for (const [path, e] of windows) {
        if (e?.time?.ms !== undefined && e.time.timers_ms !== undefined)
          fail([...path, 'timers_ms'], `time: give 'ms' or 'timers_ms' (whose sum is the nominal duration), not both`)
      }
    }

    const creates = CREATES[step.do] ?? []
    for (const field of ['sock', 'ep', 'ring'] as const) {
      const name = step[field]
      // pidfd_getfd's sock is the target's handle, checked above
      if (name === undefined || creates.includes(field) || (field === 'sock' && step.do === 'pidfd_getfd')) continue
      useHandle(i, field, name, step.actor)
    }
    if (step.to !== undefined && !everCreated.has(step.to)) fail(['steps', i, 'to'], `'to': no earlier socket named '${step.to}'`)
    for (const name of Object.keys(step.fds ?? {})) useHandle(i, 'fds', name, step.actor, ['steps', i, 'fds', name])
    for (const name of Object.keys(step.sets ?? {})) useHandle(i, 'sets', name, step.actor, ['steps', i, 'sets', name])
    if (step.pass !== undefined) useHandle(i, 'pass', step.pass, step.actor)
    // which ops take 'within' is the op table's to say (an unused field is refused above)
    if (step.within !== undefined && isOp(step.do) && fieldUse(step.do, 'within') !== undefined) {
      if (!stepIndex.has(step.within.since) || step.within.since === step.id)
        fail(['steps', i, 'within', 'since'], `within.since: '${step.within.since}' is not an earlier step`)
    }
    for (const exp of [step.expect, step.claim]) {
      for (const name of Object.keys(exp?.ready ?? {})) {
        if (!everCreated.has(name))
          fail(['steps', i, exp === step.expect ? 'expect' : 'claim', 'ready', name], `ready: no socket named '${name}'`)
      }
    }
    if (step.family === 'unix' && step.do === 'socket' && step.proto && step.proto !== '0') {
      fail(['steps', i, 'proto'], `unix sockets take no protocol`)
    }
    for (const field of creates) {
      const name = step[field]
      if (name !== undefined) {
        const who = holders(name)
        // An accept4 may fail (EAGAIN) and be retried into the same name.
        const retry = step.do === 'accept4' && acceptedInto.has(name)
        // One name in several actors: the members of a group, or a shared socket under its own name; nothing else.
        const sameName = origin?.via === 'actors' || (step.do === 'pidfd_getfd' && name === step.sock)
        if ((who.has(step.actor) || (who.size > 0 && !sameName)) && !retry) {
          const list = [...who].map(a => `'${a}'`).join(', ')
          fail(['steps', i, field], `handle '${name}' is already open (actor ${list}); close it first or pick another name`)
        }
        if (step.do === 'accept4') acceptedInto.add(name)
        else acceptedInto.delete(name)
        owner.set(name, new Set([...(sameName || retry ? who : []), step.actor]))
        everCreated.add(name)
      }
    }
    // a close drops this actor's descriptor only: the other holders keep theirs
    if (step.do === 'close' && step.sock !== undefined) owner.get(step.sock)?.delete(step.actor)
    if (step.background) pendingBackground.set(step.id, step.actor)
  })
  scenario.across?.forEach((entry, i) => {
    // a group's id was expanded into its members already: an id left over that is no step names nothing
    entry.steps.forEach(id => {
      if (!stepIndex.has(id)) fail(['across', i, 'steps'], `across: '${id}' is not a step of this scenario`)
    })
    if (entry.steps.length < 2)
      fail(['across', i, 'steps'], `across: counting over one step says no more than its own expect (name two or more, or a group)`)
  })
  if (errors.length) throw errors.length === 1 ? errors[0]! : new InputErrors(errors)
}
