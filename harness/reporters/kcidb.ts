/**
 * A run as a KCIDB v5 report (KernelCI's common results database, schema
 * v5.3 of kernelci/kcidb-io): the kernel under test as one checkout and one
 * build (KCIDB links every test to a build and every build to a checkout;
 * sockspec did not build the kernel, so both describe what was booted, by
 * uname), and one test per result with an origin-prefixed id, a dotted
 * path `pack.scenario.variant`, a status, the environment (host, kernel
 * release), the run's start time and the duration.
 */
import { createHash } from 'node:crypto'
import type { Verdict } from '../trace/result.js'
import type { Outcome, OutcomeRun } from './outcome.js'
import { nameInPack } from './outcome.js'

export const KCIDB_ORIGIN = 'sockspec'
export const KCIDB_VERSION = { major: 5, minor: 3 } as const
/** v5.3 caps log_excerpt at 16384 characters. */
const EXCERPT_MAX = 16384

const STATUS: Record<Verdict, 'PASS' | 'FAIL' | 'ERROR' | 'SKIP'> = { pass: 'PASS', fail: 'FAIL', error: 'ERROR', skip: 'SKIP' }

/** KCIDB text fields may not hold NUL (pattern ^[^\0]*$). */
const text = (s: string): string => s.replace(/\0/g, '')

/** One path node: KCIDB allows [a-zA-Z0-9_-] between the dots. */
export function pathNode(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '_') || '_'
}

export function kcidbPath(o: Outcome): string {
  const base = o.scenario.startsWith(`${o.pack}/`) ? o.scenario.slice(o.pack.length + 1) : o.scenario
  return [o.pack, ...base.split('/'), o.variant].map(pathNode).join('.')
}

/** ISO 8601 as stored, or a normalised one when the stored text is not RFC 3339. */
function dateTime(s: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) ? s : new Date(Date.parse(s) || 0).toISOString()
}

function excerpt(o: Outcome): string | undefined {
  const lines = [
    o.message,
    ...o.checks.filter(c => c.verdict !== 'pass').map(c => `${c.step} ${c.actor} ${c.field}: expected ${c.expected}, got ${c.observed}`),
  ]
  for (const [actor, t] of Object.entries(o.stderr)) lines.push(`${actor}: ${t}`)
  const s = text(lines.filter(Boolean).join('\n'))
  return s ? s.slice(0, EXCERPT_MAX) : undefined
}

export function kcidbReport(run: OutcomeRun, outcomes: readonly Outcome[]): Record<string, unknown> {
  // one checkout and build per booted kernel (release and build string), shared by every run that booted it
  const kernelKey = createHash('sha256').update(`${run.kernel_release}\n${run.kernel_version}\n${run.arch}`).digest('hex').slice(0, 16)
  const checkoutId = `${KCIDB_ORIGIN}:kernel-${kernelKey}`
  const buildId = `${KCIDB_ORIGIN}:kernel-${kernelKey}-${pathNode(run.arch)}`
  const kernel = { kernel_release: run.kernel_release, kernel_version: run.kernel_version, arch: run.arch, distro: run.distro }
  const started = dateTime(run.started_at)
  return {
    version: { ...KCIDB_VERSION },
    checkouts: [
      {
        id: checkoutId,
        origin: KCIDB_ORIGIN,
        comment: text(`Linux ${run.kernel_release} as booted (${run.kernel_version})`),
        start_time: started,
        valid: true,
        misc: kernel,
      },
    ],
    builds: [
      {
        id: buildId,
        checkout_id: checkoutId,
        origin: KCIDB_ORIGIN,
        comment: text(`Linux ${run.kernel_release} ${run.arch}${run.distro ? ` (${run.distro})` : ''}, as booted`),
        // KCIDB's architecture pattern is ^[a-z0-9_]*$ (x86_64, aarch64)
        architecture: run.arch.toLowerCase().replace(/[^a-z0-9_]/g, '_'),
        status: 'PASS',
        misc: kernel,
      },
    ],
    tests: outcomes.map(o => {
      const log = excerpt(o)
      return {
        id: `${KCIDB_ORIGIN}:${run.uuid}:${o.scenario}:${o.variant}:${o.attempt}`,
        build_id: buildId,
        origin: KCIDB_ORIGIN,
        path: kcidbPath(o),
        comment: text(`${o.title || nameInPack(o)}`),
        status: STATUS[o.verdict],
        // the store keeps when the run started, not each result: the run's start bounds every result's from below
        start_time: started,
        duration: Math.round(o.duration_ms) / 1000,
        environment: {
          comment: text(`${run.host} (${run.host_kind}), kernel ${run.kernel_release}`),
          misc: { host: run.host, host_kind: run.host_kind, ...kernel },
        },
        ...(log !== undefined ? { log_excerpt: log } : {}),
        misc: {
          run_uuid: run.uuid,
          scenario: o.scenario,
          variant: o.variant,
          attempt: o.attempt,
          ...(o.claim ? { claim: o.claim } : {}),
          kit_version: run.kit_version,
          ...(run.kit_commit ? { kit_commit: run.kit_commit } : {}),
        },
      }
    }),
  }
}
