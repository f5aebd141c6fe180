/**
 * Idle probes kept between results, so a run spawns about as many probes as
 * actors run at once rather than one per actor per result. A result
 * borrows a probe, and gives it back when it ends; the probe is reused only
 * after its `reset` answered clean (every descriptor of the scenario closed,
 * back in its start namespace, event counter restarted). A probe that died,
 * still runs a command, wrote a bad line, answered reset wrongly or ran a
 * step whose effect reset cannot undo is stopped instead.
 *
 * The run's pool keeps only probes started as the plain local binary (argv
 * of one word): a probe behind nsenter or ssh belongs to its session. A vm
 * guest keeps a pool of its own (one probe per port, its argv naming the
 * port), whose resets also empty the port's scratch dir.
 */
import { ProbeProcess } from './process.js'
import type { ProbeRecord } from './process.js'

/**
 * Ops whose effect on the probe process outlives its descriptors: a dropped
 * capability cannot come back, and an io_uring ring torn down after its fd is
 * closed still queues task work on the task (TWA_SIGNAL), which interrupts the
 * next result's blocking calls with EINTR (seen as epoll_wait and a connect
 * with SO_SNDTIMEO failing EINTR in a reused probe).
 */
export const UNDOABLE_OPS: ReadonlySet<string> = new Set(['drop_cap', 'setrlimit', 'abort'])

// a packet peer's connection state (learned ISNs, the TUN device) lives in the probe beside its handles: not reused either
const PEER_OPS: ReadonlySet<string> = new Set(['tun_open', 'packet_send', 'packet_expect', 'icmp_send'])

export const undoable = (op: string): boolean => UNDOABLE_OPS.has(op) || op.startsWith('uring_') || PEER_OPS.has(op)

export interface PoolCounts {
  spawned: number
  reused: number
  discarded: number
}

export interface PoolOptions {
  maxIdlePerKind?: number
  /** the probes this pool keeps, by argv (default: the plain local binary, ProbePool.poolable) */
  accepts?: (argv: readonly string[]) => boolean
  /** the argument of a probe's `reset` (a guest port's scratch dir, emptied by it), by argv */
  resetArg?: (argv: readonly string[]) => string | undefined
  resetTimeoutMs?: number
  /** A probe was stopped instead of kept: why (busy, exited, undoable, a failed reset, ...). */
  onStop?: (probe: ProbeProcess, why: string) => void
}

export class ProbePool {
  private readonly idle = new Map<string, ProbeProcess[]>()
  private closed = false
  readonly counts: PoolCounts = { spawned: 0, reused: 0, discarded: 0 }
  /** Why the last probes were not reused (bounded; for tests and debugging). */
  readonly discardReasons: string[] = []
  private readonly maxIdlePerKind: number
  private readonly opts: PoolOptions

  constructor(opts: PoolOptions = {}) {
    this.maxIdlePerKind = opts.maxIdlePerKind ?? 64
    this.opts = opts
  }

  static poolable(argv: readonly string[]): boolean {
    return argv.length === 1
  }

  /** Whether this pool keeps probes started with argv. */
  accepts(argv: readonly string[]): boolean {
    return (this.opts.accepts ?? ProbePool.poolable)(argv)
  }

  /** An idle probe started with this argv, or a new one. */
  take(argv: readonly string[], actor: string): ProbeProcess {
    const idle = this.idle.get(argv.join('\0'))
    let probe: ProbeProcess | undefined
    while ((probe = idle?.pop())) {
      if (probe.exit) continue
      probe.actor = actor
      this.counts.reused++
      return probe
    }
    this.counts.spawned++
    return new ProbeProcess(argv, actor)
  }

  /**
   * End a probe's part in a result: its record of the result, and the probe
   * reset into the pool or stopped. `reusable` false: stop it whatever it says.
   */
  async give(probe: ProbeProcess, reusable: boolean): Promise<ProbeRecord> {
    const poolable = !this.closed && reusable && this.accepts(probe.argv)
    const unfit = !probe.hello
      ? 'no hello'
      : probe.exit
        ? 'exited'
        : probe.busy()
          ? 'busy'
          : probe.invalid.length
            ? 'invalid line'
            : undefined
    if (!poolable || unfit) {
      await probe.stop()
      if (poolable) this.discarded(unfit!)
      this.opts.onStop?.(probe, unfit ?? (reusable ? 'pool closed' : 'undoable'))
      return probe.detach()
    }
    const record = probe.detach()
    const why = await probe.reset(this.opts.resetTimeoutMs ?? 2000, this.opts.resetArg?.(probe.argv))
    const key = probe.argv.join('\0')
    const idle = this.idle.get(key) ?? []
    if (why || this.closed || idle.length >= this.maxIdlePerKind) {
      if (why) this.discarded(why)
      await probe.stop()
      this.opts.onStop?.(probe, why ?? 'pool full')
      return record
    }
    idle.push(probe)
    this.idle.set(key, idle)
    return record
  }

  private discarded(why: string): void {
    this.counts.discarded++
    if (this.discardReasons.length < 20) this.discardReasons.push(why)
  }

  /** Every idle probe, for Ctrl-C. */
  idleProbes(): ProbeProcess[] {
    return [...this.idle.values()].flat()
  }

  /** Stop every idle probe; later gives stop theirs. */
  async close(): Promise<void> {
    this.closed = true
    const all = this.idleProbes()
    this.idle.clear()
    await Promise.all(all.map(p => p.stop()))
  }
}
