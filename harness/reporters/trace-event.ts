/**
 * A result's timeline in the Trace Event Format that chrome://tracing and
 * Perfetto's UI open: one process per actor (and one for the wire), one
 * thread per handle (per flow on the wire), a syscall as a complete event
 * (`ph: X`, its duration when the probe timed it), a segment, an ICMP error
 * or an untimed event as an instant (`ph: i`); an ICMP error sits on the
 * flow back to the sender of the packet it quotes, beside that flow's replies; `ts` and `dur` in microseconds from the
 * first event of the trace. Every stored event appears once, in time order,
 * after the metadata events that name the processes and threads.
 */
import type { EventRow } from '../store/store.js'
import type { ProbeEvent } from '../trace/event.js'
import { describeEvent } from './timeline.js'
import { packetLabel } from './trace-shape.js'

export interface TraceEventEntry {
  name: string
  ph: 'X' | 'i' | 'M'
  pid: number
  tid: number
  ts?: number
  dur?: number
  s?: 't'
  cat?: string
  args: Record<string, unknown>
}

export interface TraceEventDocument {
  traceEvents: TraceEventEntry[]
  displayTimeUnit: 'ns' | 'ms'
  otherData: Record<string, string>
}

const us = (ns: number): number => Math.round(ns) / 1000

export function traceEventDocument(events: readonly EventRow[], about: Record<string, string>): TraceEventDocument {
  const pids = new Map<string, number>()
  const tids = new Map<string, number>()
  const meta: TraceEventEntry[] = []
  const pidOf = (actor: string): number => {
    let pid = pids.get(actor)
    if (pid === undefined) {
      pid = pids.size + 1
      pids.set(actor, pid)
      meta.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: actor } })
      meta.push({
        name: 'process_sort_index',
        ph: 'M',
        pid,
        tid: 0,
        args: { sort_index: actor === 'wire' ? 1 : actor === 'client' ? 0 : 2 },
      })
    }
    return pid
  }
  const tidOf = (pid: number, thread: string): number => {
    const key = `${pid}\0${thread}`
    let tid = tids.get(key)
    if (tid === undefined) {
      tid = tids.size + 1
      tids.set(key, tid)
      meta.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: thread } })
    }
    return tid
  }
  const timed: TraceEventEntry[] = []
  for (const row of events) {
    const e = JSON.parse(row.details) as ProbeEvent
    const pid = pidOf(row.actor)
    if (row.op === 'packet') {
      const flow = `${e.src ?? '?'}:${e.sport ?? '?'} > ${e.dst ?? '?'}:${e.dport ?? '?'}`
      timed.push({
        name: packetLabel(e),
        cat: 'segment',
        ph: 'i',
        s: 't',
        ts: us(row.t_ns),
        pid,
        tid: tidOf(pid, flow),
        args: { idx: row.idx, seq: e.tcp_seq, ack: e.tcp_ack, win: e.win, len: e.len, if: e.if },
      })
      continue
    }
    if (row.op === 'icmp') {
      const flow = `${String(e['orig_dst'] ?? '?')}:${String(e['orig_dport'] ?? '?')} > ${String(e['orig_src'] ?? '?')}:${String(e['orig_sport'] ?? '?')}`
      timed.push({
        name: `ICMP ${String(e['icmp'] ?? '?')}`,
        cat: 'icmp',
        ph: 'i',
        s: 't',
        ts: us(row.t_ns),
        pid,
        tid: tidOf(pid, flow),
        args: { idx: row.idx, from: e.src, to: e.dst, type: e['icmp_type'], code: e['icmp_code'], mtu: e['mtu'], if: e.if },
      })
      continue
    }
    // the handle a call acted on; accept4 names the listener (`L>C2`), the new socket is in args
    const handle = row.sockets?.split('>')[0] ?? e.h ?? e.new ?? '(no handle)'
    const entry: TraceEventEntry = {
      name: row.op,
      cat: 'syscall',
      ph: row.dur_ns !== null ? 'X' : 'i',
      ts: us(row.t_ns),
      pid,
      tid: tidOf(pid, handle),
      args: { idx: row.idx, step: row.step, call: describeEvent(e), ret: row.ret, errno: row.errno },
    }
    if (row.dur_ns !== null) entry.dur = us(row.dur_ns)
    else entry.s = 't'
    timed.push(entry)
  }
  // stable: equal times keep trace order
  timed.sort((a, b) => a.ts! - b.ts!)
  return { traceEvents: [...meta, ...timed], displayTimeUnit: 'ns', otherData: about }
}
