/**
 * Set-up and tear-down of one scenario variant on a host: open the host's
 * session, start the packet captures and one probe per actor, run the
 * host's plumbing commands in each probe; afterwards stop all of it and keep
 * the scenario's segments. Nothing here throws for a probe that misbehaves:
 * that becomes a problem of the run.
 */
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HostDriver, HostSession } from '../hosts/host.js'
import { liveBeaconToken } from '../hosts/netns.js'
import { scenarioPorts, startCaptures, stopCaptures } from '../probe/capture.js'
import type { CaptureSpec, RunningCapture } from '../probe/capture.js'
import type { ProbeEvent } from '../trace/event.js'
import { undoable } from '../probe/pool.js'
import type { ProbePool } from '../probe/pool.js'
import { ProbeProcess } from '../probe/process.js'
import type { ProbeRecord } from '../probe/process.js'
import type { Scenario, Step, VariantName } from '../scenario/types.js'
import { SETUP_STEP } from './assemble-trace.js'

let scratchParent: string | undefined

/**
 * Scenario temp dirs live under `sockspec-run-<beacon token>/` while the
 * process holds a beacon, so `sockspec cleanup` can remove those of a killed
 * run (and only those). The inner name keeps the `sockspec-XXXXXX` shape
 * the timeline shortens.
 */
function scratchRoot(): string {
  const token = liveBeaconToken()
  if (!token) return tmpdir()
  if (!scratchParent) {
    const dir = join(tmpdir(), `sockspec-run-${token}`)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    scratchParent = dir
    process.once('exit', () => {
      try {
        rmdirSync(dir)
      } catch {
        // not empty or gone: cleanup takes it once this process is dead
      }
    })
  }
  return scratchParent
}

/** True when a step expects or claims something about captured segments. */
export function usesPackets(scenario: Pick<Scenario, 'steps'>): boolean {
  const has = (e: object | undefined): boolean =>
    !!e &&
    ('after_packet' in e ||
      'before_packet' in e ||
      'packets' in e ||
      ((e as { kernels?: object[] }).kernels ?? []).some(has) ||
      Object.values((e as { variants?: Record<string, object> }).variants ?? {}).some(has))
  return scenario.steps.some(s => has(s.expect) || has(s.claim))
}

/** Open the host's session, or say why the scenario cannot run there (skip) or why the host failed (error). */
export async function openSession(
  host: HostDriver,
  scenario: Scenario,
  variant: VariantName,
  capture: boolean,
): Promise<{ session: HostSession; captureSpecs: CaptureSpec[] | undefined } | { skip: string } | { error: string }> {
  let session: Awaited<ReturnType<HostDriver['open']>>
  try {
    session = await host.open(scenario, variant)
  } catch (err) {
    // The host broke (a guest that died or never booted): the kit's failure, not the kernel's.
    return { error: `host ${host.kind}: ${(err as Error).message}` }
  }
  if ('skip' in session) return session
  const captureSpecs = capture ? session.captureSpecs?.() : undefined
  if (usesPackets(scenario) && !captureSpecs) {
    await session.close()
    return { skip: 'needs packet capture (root, or CAP_NET_RAW)' }
  }
  return { session, captureSpecs }
}

/** What runs for one scenario: filled by startStage, emptied by tearDown whatever happened in between. */
export interface Stage {
  session: HostSession
  /** relative unix socket paths resolve here */
  tmpDir: string
  /** one probe per actor, in order of first appearance in the steps */
  probes: Map<string, ProbeProcess>
  captures: RunningCapture[]
  /** where probes come from and go back to (absent: each result starts and stops its own) */
  pool?: ProbePool
  /** actors whose probe may be reused afterwards: none of their steps leaves state a reset cannot undo */
  reusable: Set<string>
}

export function newStage(session: HostSession, pool?: ProbePool): Stage {
  return {
    session,
    tmpDir: session.scratchDir ?? mkdtempSync(join(scratchRoot(), 'sockspec-')),
    probes: new Map(),
    captures: [],
    // a session with probes of its own to reuse (a guest's ports) brings their pool
    pool: session.probePool ?? pool,
    reusable: new Set(),
  }
}

export interface StartOptions {
  /** Called for each probe started, so Ctrl-C can kill it. */
  onProbe?: (probe: ProbeProcess) => void
  helloTimeoutMs?: number
}

/** Start captures and probes; the problems that stop the scenario before its first step. */
export async function startStage(
  stage: Stage,
  scenario: Scenario,
  captureSpecs: CaptureSpec[] | undefined,
  opts: StartOptions,
): Promise<string[]> {
  const problems: string[] = []
  const helloMs = stage.session.startLimitMs ?? opts.helloTimeoutMs ?? 5000
  if (captureSpecs) {
    const started = await startCaptures(captureSpecs, helloMs)
    stage.captures = started.running
    problems.push(...started.problems)
  }
  const actors = [...new Set(scenario.steps.map(s => s.actor))]
  for (const actor of actors) {
    const argv = stage.session.probeArgv(actor)
    const probe = stage.pool?.accepts(argv) ? stage.pool.take(argv, actor) : new ProbeProcess(argv, actor)
    if (!scenario.steps.some(s => s.actor === actor && undoable(s.do))) stage.reusable.add(actor)
    stage.probes.set(actor, probe)
    opts.onProbe?.(probe)
  }
  const hellos = await Promise.all([...stage.probes.values()].map(p => p.waitHello(helloMs)))
  hellos.forEach((ok, i) => {
    if (!ok) problems.push(`probe for actor '${actors[i]}' did not start (no hello event)`)
  })
  // Host plumbing a probe must do before the scenario (a guest probe joining its namespace).
  for (const [actor, probe] of problems.length ? [] : stage.probes) {
    const failed = await probe.runSetup(stage.session.probeSetup?.(actor) ?? [], SETUP_STEP, helloMs)
    if (failed) problems.push(`probe setup for actor '${actor}': ${failed}`)
  }
  return problems
}

/** The handles a scenario's steps open as UDP sockets (datagram, not unix). */
export function udpHandles(steps: readonly Pick<Step, 'do' | 'sock' | 'type' | 'proto' | 'family'>[]): Set<string> {
  return new Set(
    steps.flatMap(s => (s.do === 'socket' && s.sock && s.family !== 'unix' && (s.type === 'dgram' || s.proto === 'udp') ? [s.sock] : [])),
  )
}

/**
 * Stop (or reset into the pool) the probes, stop the captures, remove the
 * temp dir, close the session; what each probe recorded, and the segments
 * on the scenario's own ports. Probes are reset before the session closes,
 * so none still sits in a namespace being deleted.
 */
export async function tearDown(
  stage: Stage,
  /** the scenario's datagram socket handles: their ports are UDP's (capture.ts scenarioPorts) */
  udpHandles: ReadonlySet<string> = new Set(),
): Promise<{ packets: ProbeEvent[]; records: Map<string, ProbeRecord> }> {
  const ended = await Promise.all(
    [...stage.probes].map(async ([actor, p]) => {
      const record = stage.pool ? await stage.pool.give(p, stage.reusable.has(actor)) : (await p.stop(), p.detach())
      return [actor, record] as const
    }),
  )
  const records = new Map(ended)
  const all = ended.flatMap(([, r]) => r.events)
  const packets = await stopCaptures(stage.captures, scenarioPorts(all, udpHandles))
  if (!stage.session.scratchDir) rmSync(stage.tmpDir, { recursive: true, force: true })
  await stage.session.close()
  // a packet peer reports what it sent and read (segments, ICMP errors) in the captured shape: on the wire with the rest
  const peer = all.filter(e => e.op === 'packet' || e.op === 'icmp')
  return { packets: peer.length ? [...packets, ...peer].sort((a, b) => a.t0 - b.t0) : packets, records }
}
