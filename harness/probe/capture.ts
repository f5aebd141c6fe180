/**
 * Packet capture for one scenario run: a `sockspec-probe capture IFNAME`
 * process per machine/namespace, started before the first step and stopped
 * after the last. Segments become trace events of the actor `wire`; only
 * those touching the scenario's own ports are kept (a shared lo carries
 * other scenarios' traffic too).
 */
import { ADDRESS_EVENTS } from '../ops/table.js'
import { ProbeProcess } from './process.js'
import type { ProbeEvent, SockAddr } from './event.js'

export interface CaptureSpec {
  /** Scenario host the interface belongs to ("local" on loopback). */
  host: string
  argv: string[]
  /**
   * When argv starts an ordinary probe (a vm guest's port): commands to run
   * first (`netns NAME`), then the interfaces for its `capture` command.
   */
  setup?: string[]
  capture?: string[]
}

export interface RunningCapture {
  host: string
  process: ProbeProcess
}

export async function startCaptures(
  specs: readonly CaptureSpec[],
  timeoutMs = 5000,
): Promise<{ running: RunningCapture[]; problems: string[] }> {
  const running = specs.map(spec => ({ host: spec.host, process: new ProbeProcess(spec.argv, `wire@${spec.host}`) }))
  const problems: string[] = []
  await Promise.all(
    running.map(async (c, i) => {
      const spec = specs[i]!
      let ok = await c.process.waitHello(timeoutMs)
      if (ok && spec.capture) {
        const failed = await c.process.runSetup(spec.setup ?? [], 'capture.setup', timeoutMs)
        if (failed) {
          problems.push(`packet capture on ${c.host}: setup ${failed}`)
          return
        }
        c.process.expectAnotherHello()
        c.process.send('capture', `capture ${spec.capture.join(' ')}`)
        ok = await c.process.waitHello(timeoutMs)
      }
      if (!ok) {
        const err = c.process.events.find(e => e.op === 'capture' && e.error)
        problems.push(`packet capture on ${c.host} did not start${err ? `: ${err.error}` : ''}`)
      }
    }),
  )
  return { running, problems }
}

/** Ports that belong to this scenario: every address its sockets bound, connected to or accepted. */
export function scenarioPorts(events: readonly ProbeEvent[]): Set<number> {
  const ports = new Set<number>()
  const add = (a: SockAddr | undefined): void => {
    if (a && (a.family === 'inet' || a.family === 'inet6') && a.port) ports.add(a.port)
  }
  for (const e of events) {
    if (ADDRESS_EVENTS.has(e.op)) add(e.addr)
  }
  return ports
}

/** Stop the captures (EOF) and keep the segments of this scenario. */
export async function stopCaptures(running: readonly RunningCapture[], ports: ReadonlySet<number>): Promise<ProbeEvent[]> {
  await Promise.all(running.map(c => c.process.endCapture()))
  const packets: ProbeEvent[] = []
  for (const c of running) {
    for (const e of c.process.events) {
      if (e.op !== 'packet') continue
      const sport = Number(e['sport'])
      const dport = Number(e['dport'])
      // a listener's port is always known; a connection's other port is found through it
      if (ports.has(sport) || ports.has(dport)) packets.push({ ...e, host: c.host })
    }
  }
  return packets.sort((a, b) => a.t0 - b.t0)
}
