/**
 * A run bundle: one run with everything needed to rebuild it in another
 * store (run row, the scenarios it ran with their bodies, results, events,
 * checks), as one JSON document (schemas/run.schema.json). Column names are
 * the store's; JSON-in-TEXT columns are unpacked so the bundle is readable
 * and validated to the leaves. Store ids are not part of it: they are
 * local to a file and remapped on import. The export of a run is
 * deterministic (no export timestamp), so equal runs give equal bytes.
 */
import type { CheckRow, EventRow, RunRow } from './store.js'

export const BUNDLE_FORMAT = 'sockspec-run'
export const BUNDLE_VERSION = 1

/** A run as the bundle carries it: the store's row, with its JSON columns parsed. */
export interface BundleRun extends Omit<
  RunRow,
  'id' | 'sysctls' | 'argv' | 'status' | 'hosts' | 'reason' | 'beacon' | 'boot_id' | 'net_ns'
> {
  sysctls: Record<string, string>
  argv: string[]
  status: 'running' | 'complete' | 'interrupted' | 'aborted'
  /** Why an aborted run ended; absent otherwise. The liveness facts (beacon, boot id) stay local to a store. */
  reason?: string
  /** Machines the run used besides this one (ssh hosts, VMs): name -> facts. */
  hosts: Record<string, Record<string, unknown>>
}

export interface BundleScenario {
  scenario: string
  hash: string
  pack: string
  title: string
  sources: unknown[]
  claim: number | null
  body: Record<string, unknown>
}

/** A stored event with its details parsed (store.ts EventRow). */
export type BundleEvent = Omit<EventRow, 'details'> & { details: Record<string, unknown> }

/** A stored expectation check (store.ts CheckRow), verdict narrowed. */
export type BundleCheck = Omit<CheckRow, 'verdict'> & { verdict: 'pass' | 'fail' }

export interface BundleResult {
  scenario: string
  hash: string
  variant: string
  attempt: number
  verdict: 'pass' | 'fail' | 'error' | 'skip'
  claim: 'holds' | 'refuted' | null
  duration_ms: number
  message: string
  stderr: Record<string, string>
  kernels: Record<string, string>
  invalid: unknown[]
  events: BundleEvent[]
  checks: BundleCheck[]
}

export interface RunBundle {
  format: typeof BUNDLE_FORMAT
  version: typeof BUNDLE_VERSION
  run: BundleRun
  scenarios: BundleScenario[]
  results: BundleResult[]
}
