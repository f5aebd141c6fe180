/**
 * Kernel version ranges (">=6.5", ">=5.4 <6.1") against a release string
 * (6.18.44-fc), or against the upstream x.y.z a distribution kernel names in
 * its version string, so a range can name the stable release that
 * backported a change.
 */

export type KernelVersion = [number, number, number]

export function parseKernelRelease(release: string): KernelVersion {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(release.trim())
  if (!m) throw new Error(`cannot parse kernel release '${release}'`)
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)]
}

/**
 * The upstream x.y.z a distribution kernel was built from, when its `uname -v`
 * names it. Debian's release says only the ABI series (6.1.0-56-cloud-amd64)
 * while its version says "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-1 (2025-..)".
 * Only a full x.y.z after the distribution's name counts: a bare "#1 SMP"
 * has nothing to say.
 */
export function upstreamRelease(version: string | undefined): string | undefined {
  if (!version) return undefined
  const m = /\bDebian\s+(\d+\.\d+\.\d+)(?=[-+~\s(]|$)/.exec(version)
  return m?.[1]
}

/** What kernel ranges are resolved against: the upstream x.y.z when the version names it, else the release. */
export function rangeRelease(release: string, version?: string): string {
  return upstreamRelease(version) ?? release
}

function compare(a: KernelVersion, b: KernelVersion): number {
  for (let i = 0; i < 3; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return 0
}

const CLAUSE = /^(>=|<=|>|<|=)?(\d+(?:\.\d+){0,2})$/

/** Clauses of a range; "> = 6.5"-style spacing is glued to one clause. */
function rangeClauses(range: string): string[] {
  const glued: string[] = []
  for (const c of range.split(/[\s,]+/).filter(Boolean)) {
    const last = glued[glued.length - 1]
    if (last !== undefined && /^(>=|<=|>|<|=)$/.test(last)) glued[glued.length - 1] = last + c
    else glued.push(c)
  }
  return glued
}

/** Why `range` cannot be read (for validation, so a run never meets it), or undefined. */
export function kernelRangeProblem(range: string): string | undefined {
  const clauses = rangeClauses(range)
  if (!clauses.length) return 'is empty'
  const bad = clauses.find(c => !CLAUSE.test(c))
  return bad === undefined ? undefined : `has a clause '${bad}' that is not [>=|<=|>|<|=]MAJOR[.MINOR[.PATCH]]`
}

/**
 * True when `release` is inside `range`. Clauses are joined by spaces or
 * commas and must all hold. A bare version means ">=".
 * A clause's missing parts are zero: "<6.5" means below 6.5.0.
 */
export function kernelInRange(release: string, range: string): boolean {
  const version = parseKernelRelease(release)
  for (const clause of rangeClauses(range)) {
    const m = CLAUSE.exec(clause)
    if (!m) throw new Error(`bad kernel range clause '${clause}' in '${range}'`)
    const target = parseKernelRelease(m[2]!)
    const d = compare(version, target)
    const op = m[1] ?? '>='
    const ok = op === '>=' ? d >= 0 : op === '<=' ? d <= 0 : op === '>' ? d > 0 : op === '<' ? d < 0 : d === 0
    if (!ok) return false
  }
  return true
}
