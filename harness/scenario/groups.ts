/**
 * Steps that stand for several: expanded at load, so the driver, the judge,
 * the trace and the store only ever see one actor per step.
 *
 * - `actors: [w1, w2, w3]` instead of `actor`: one step per actor, in that
 *   order, with id `<id>-<actor>` ("N processes blocked in accept on one
 *   listener" is one background step and one await).
 * - `share` with `with: [w2, w3]`: the holder's step (it reports the
 *   descriptor), then one `pidfd_getfd` step per receiver, `<id>-<receiver>`,
 *   which takes the same open file under the same handle name.
 * - wait_blocked with `target: [w1, w2, w3]`: one wait per target, in that
 *   order, with id `<id>-<target>` (all three asleep before the connect).
 *
 * The group's id names all its members where a list of steps makes sense:
 * `across` counts over them; `await` and `time.since` pick the member of
 * their own actor. Each expanded step remembers where it was written, so
 * every error still points at the file's own line and column.
 */
import type { AcrossExpectation, Expectation, Step, WrittenStep } from './types.js'

/** Where an expanded step comes from: the written step, and for a member the position of its actor in the list. */
export interface StepOrigin {
  index: number
  /** `actors` (a group member), `with` (a share's receiver) or `target` (one of wait_blocked's targets) */
  via?: 'actors' | 'with' | 'target'
  member?: number
}

export interface ExpandedSteps {
  steps: Array<Step & { id: string }>
  origins: StepOrigin[]
  /** group id -> its members' ids */
  groups: ReadonlyMap<string, readonly string[]>
  across: AcrossExpectation[] | undefined
}

/** The default expectation of a share's receiver: it got a descriptor. */
const RECEIVED: Expectation = { ret: '>=0', why: 'pidfd_getfd(2): a new file descriptor on success' }

export const memberId = (group: string, actor: string): string => `${group}-${actor}`

/** A reference to a group, seen from one actor: that actor's member, when it has one. */
function resolveFor(ref: string | undefined, actor: string, groups: ReadonlyMap<string, readonly string[]>): string | undefined {
  if (ref === undefined) return undefined
  const members = groups.get(ref)
  const own = memberId(ref, actor)
  return members?.includes(own) ? own : ref
}

function withSince(exp: Expectation | undefined, actor: string, groups: ReadonlyMap<string, readonly string[]>): Expectation | undefined {
  const since = exp?.time?.since
  const resolved = resolveFor(since, actor, groups)
  return exp && resolved !== since ? { ...exp, time: { ...exp.time, since: resolved } } : exp
}

export function expandSteps(written: readonly WrittenStep[], across: readonly AcrossExpectation[] | undefined): ExpandedSteps {
  const steps: Array<Step & { id: string }> = []
  const origins: StepOrigin[] = []
  const groups = new Map<string, string[]>()
  // a reference to a group resolves only once the group is written above it
  const refs = (s: Step & { id: string }): Step & { id: string } => {
    const out = { ...s }
    if (s.do === 'await') out.step = resolveFor(s.step, s.actor, groups)
    const expect = withSince(s.expect, s.actor, groups)
    const claim = withSince(s.claim, s.actor, groups)
    if (expect) out.expect = expect
    if (claim) out.claim = claim
    return out
  }
  written.forEach((w, index) => {
    const id = w.id ?? `s${index + 1}`
    const { actors, target, ...rest } = w
    if (actors !== undefined) {
      const members = actors.map((actor, member) => {
        steps.push(refs({ ...rest, ...(target !== undefined ? { target: target as string } : {}), actor, id: memberId(id, actor) }))
        origins.push({ index, via: 'actors', member })
        return memberId(id, actor)
      })
      groups.set(id, members)
      return
    }
    if (Array.isArray(target) && w.do === 'wait_blocked') {
      // wait until each of these blocks: one wait per target, in order
      const members = target.map((t, member) => {
        steps.push(refs({ ...rest, target: t, actor: w.actor ?? '', id: memberId(id, t) }))
        origins.push({ index, via: 'target', member })
        return memberId(id, t)
      })
      groups.set(id, members)
      return
    }
    // a list anywhere else stays a list: the checks refuse it at its position
    const step = refs({ ...rest, ...(target !== undefined ? { target: target as string } : {}), actor: w.actor ?? '', id })
    if (step.do === 'share' && Array.isArray(step.with)) {
      // what the share is judged by is each receiver's pidfd_getfd: its expect, claim and skip_if (ENOSYS before 5.6)
      const { expect, claim, skip_if, ...holder } = step
      steps.push(holder)
      origins.push({ index })
      const receivers = step.with.map((actor, member) => {
        const r: Step & { id: string } = {
          id: memberId(id, actor),
          actor,
          do: 'pidfd_getfd',
          target: step.actor,
          sock: step.sock,
          new: step.sock,
          expect: expect ?? RECEIVED,
          ...(claim ? { claim } : {}),
          ...(skip_if ? { skip_if } : {}),
          ...(step.limit_ms !== undefined ? { limit_ms: step.limit_ms } : {}),
        }
        steps.push(r)
        origins.push({ index, via: 'with', member })
        return r.id
      })
      groups.set(id, receivers)
      return
    }
    steps.push(step)
    origins.push({ index })
  })
  const expandedAcross = across?.map(entry => ({ ...entry, steps: entry.steps.flatMap(id => groups.get(id) ?? [id]) }))
  return { steps, origins, groups, across: expandedAcross }
}

/**
 * The path of a field of an expanded step in the written file: a member's
 * `actor` is its entry in `actors` (or `with`), a receiver's `target` and
 * `new` are the share's `actor` and `sock`.
 */
export function writtenPath(path: ReadonlyArray<string | number>, origins: readonly StepOrigin[]): Array<string | number> {
  if (path[0] !== 'steps' || typeof path[1] !== 'number') return [...path]
  const o = origins[path[1]]
  if (!o) return [...path]
  const [, , field, ...rest] = path
  const at: Array<string | number> = ['steps', o.index]
  if (field === undefined) return at
  if (o.via === 'actors' && field === 'actor') return [...at, 'actors', o.member!]
  if (o.via === 'target' && field === 'target') return [...at, 'target', o.member!]
  if (o.via === 'with') {
    if (field === 'actor') return [...at, 'with', o.member!]
    if (field === 'target') return [...at, 'actor']
    if (field === 'new') return [...at, 'sock']
    if (field === 'do' || field === 'id') return [...at, 'with', o.member!]
  }
  return [...at, field, ...rest]
}
