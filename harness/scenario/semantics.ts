/**
 * Checks the schema cannot express: step ids are unique, handles are created
 * before use and used by the actor that owns them, references point at
 * earlier steps. Every problem carries the position of the offending field.
 */
import { InputErrors, SockspecError } from '../errors.js'
import type { SourcePosition } from '../errors.js'
import type { Scenario } from './types.js'

type PositionOf = (path: Array<string | number>) => SourcePosition

const CREATES: Record<string, 'sock' | 'new' | 'ep'> = { socket: 'sock', accept4: 'new', recv_fd: 'new', epoll_create1: 'ep' }

export function checkSemantics(scenario: Scenario, positionOf: PositionOf): void {
  const errors: SockspecError[] = []
  const fail = (path: Array<string | number>, message: string): void => {
    errors.push(new SockspecError('E_SCENARIO', message, positionOf(path)))
  }
  const stepIndex = new Map<string, number>()
  /** handle name -> owning actor, for handles currently open */
  const owner = new Map<string, string>()
  const everCreated = new Set<string>()
  const pendingBackground = new Map<string, string>() // step id -> actor
  const acceptedInto = new Set<string>()

  const useHandle = (i: number, field: string, name: string, actor: string, path?: Array<string | number>): void => {
    const who = owner.get(name)
    const at = path ?? ['steps', i, field]
    if (who === undefined)
      fail(at, `handle '${name}' is not open for actor '${actor}' at this step (create it with socket/accept4/recv_fd/epoll_create1 first)`)
    else if (who !== actor) fail(at, `handle '${name}' belongs to actor '${who}', not '${actor}'`)
  }

  const hostNames = new Set(Object.keys(scenario.hosts ?? {}))
  for (const [actor, placement] of Object.entries(scenario.actors ?? {})) {
    if (!hostNames.has(placement.host))
      fail(['actors', actor, 'host'], `actor '${actor}' is placed on '${placement.host}', which is not in 'hosts'`)
  }

  scenario.steps.forEach((step, i) => {
    if ((step.do === 'path_gate' || step.do === 'path_ungate') && hostNames.size === 0) {
      fail(['steps', i, 'do'], `${step.do} needs simulated hosts: declare 'hosts' (and place actors with 'actors')`)
    }
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
      for (const [path, e] of windows) {
        if (e?.time?.ms !== undefined && e.time.timers_ms !== undefined)
          fail([...path, 'timers_ms'], `time: give 'ms' or 'timers_ms' (whose sum is the nominal duration), not both`)
      }
    }

    const creates = CREATES[step.do]
    for (const field of ['sock', 'ep'] as const) {
      const name = step[field]
      if (name === undefined || creates === field) continue
      useHandle(i, field, name, step.actor)
    }
    if (step.to !== undefined && !everCreated.has(step.to)) fail(['steps', i, 'to'], `'to': no earlier socket named '${step.to}'`)
    for (const name of Object.keys(step.fds ?? {})) useHandle(i, 'fds', name, step.actor, ['steps', i, 'fds', name])
    if (step.pass !== undefined) useHandle(i, 'pass', step.pass, step.actor)
    if (step.within !== undefined) {
      if (step.do !== 'path_gate' && step.do !== 'path_ungate')
        fail(['steps', i, 'within'], `'within' applies to path_gate/path_ungate only`)
      else if (!stepIndex.has(step.within.since) || step.within.since === step.id)
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
    if (creates) {
      const name = step[creates]
      if (name !== undefined) {
        const who = owner.get(name)
        // An accept4 may fail (EAGAIN) and be retried into the same name.
        if (who !== undefined && !(step.do === 'accept4' && acceptedInto.has(name))) {
          fail(['steps', i, creates], `handle '${name}' is already open (actor '${who}'); close it first or pick another name`)
        }
        if (step.do === 'accept4') acceptedInto.add(name)
        else acceptedInto.delete(name)
        owner.set(name, step.actor)
        everCreated.add(name)
      }
    }
    if (step.do === 'close' && step.sock !== undefined && owner.get(step.sock) === step.actor) owner.delete(step.sock)
    if (step.background) pendingBackground.set(step.id, step.actor)
  })
  if (errors.length) throw errors.length === 1 ? errors[0]! : new InputErrors(errors)
}
