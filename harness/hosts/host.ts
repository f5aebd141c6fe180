/**
 * Where actors run. A host driver opens a session per scenario run; the
 * session says how to start a probe for each actor and removes whatever it
 * created when closed. A driver may decline a scenario with a skip reason.
 */
import type { CaptureSpec } from '../probe/capture.js'
import type { ProbePool } from '../probe/pool.js'
import type { Scenario, VariantName } from '../scenario/types.js'
import type { PathGate } from './topology.js'

export interface HostSession {
  /** argv that starts a probe for this actor (stdin/stdout carry the protocol). */
  probeArgv(actor: string): string[]
  /** Probe commands to run before the scenario's steps (e.g. `netns NAME`); they must succeed and are kept out of the trace. */
  probeSetup?(actor: string): string[]
  /** The address an actor's sockets bind to by default, per family (loopback: 127.0.0.1 / ::1). */
  defaultAddress?(actor: string, family: 'inet' | 'inet6'): string
  /** The scenario host an actor runs on (timestamps compare only within one host). */
  hostOf?(actor: string): string
  /** Actors with the same clock id share CLOCK_MONOTONIC (one machine); others are never compared. */
  clockOf?(actor: string): string
  /** A directory that exists where the probes run, for relative unix socket paths (default: a fresh local temp dir). */
  scratchDir?: string
  /** Packet captures to run alongside the probes (absent: this session cannot capture). */
  captureSpecs?(): CaptureSpec[]
  /**
   * Install the path gates (nftables rules) of one scenario host, replacing
   * its earlier ones (absent: this session has no simulated hosts, and a
   * `path_gate` step is a problem of the run).
   */
  setPathGates?(host: string, gates: readonly PathGate[]): Promise<{ ok: boolean; message: string }>
  /**
   * How long a probe or a packet capture may take to say hello, and a probe
   * to finish its set-up (default 5 s). An emulated guest just booted on a
   * busy machine may still be starting its ports' probes.
   */
  startLimitMs?: number
  /** Where this session's probes come from and go back to, instead of the run's pool (a guest's ports keep theirs). */
  probePool?: ProbePool
  /** Remove what the session created (namespaces, processes, files). Idempotent. */
  close(): Promise<void>
}

export interface HostDriver {
  /** loopback, netns, ssh, vm */
  readonly kind: string
  open(scenario: Scenario, variant: VariantName): Promise<HostSession | { skip: string }>
  /** Stop what the driver shares between sessions (a run-wide packet capture); called at the end of a run. */
  close?(): Promise<void>
}
