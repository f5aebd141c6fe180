// The pure parts of a scenario run, on hand-made events: trace assembly
// (one clock, several clocks, captured segments placed by step order) and
// the judge (the op table's primary-event mapping, refusals, the order of
// problems, claims, clocks of `since`, packet expectations).
import t from 'tap'
import { assembleTrace, SETUP_STEP } from '../harness/runner/assemble-trace.js'
import type { ActorRecord, TraceParts } from '../harness/runner/assemble-trace.js'
import { judge } from '../harness/runner/judge.js'
import type { JudgeInput, LogEntry } from '../harness/runner/judge.js'
import type { TraceEvent } from '../harness/trace/result.js'
import type { ProbeEvent } from '../harness/trace/event.js'
import type { Step } from '../harness/scenario/types.js'

type IdStep = Step & { id: string }
const ev = (fields: Partial<ProbeEvent> & { op: string; t0: number }): ProbeEvent => ({ seq: 1, ...fields })
const actor = (name: string, clock: string, events: ProbeEvent[], more: Partial<ActorRecord> = {}): ActorRecord => ({
  actor: name,
  clock,
  events,
  invalid: [],
  stderr: '',
  ...more,
})
const parts = (p: Partial<TraceParts>): TraceParts => ({
  steps: [],
  actors: [],
  harness: [],
  packets: [],
  wireClock: 'local',
  captures: [],
  ...p,
})
/** actor:step:op of each trace event, in trace order */
const names = (events: readonly TraceEvent[]): string[] => events.map(e => `${e.actor}:${e.event.step ?? '-'}:${e.event.op}`)

t.test('assembleTrace: one clock is ordered by time, then actor, then seq; setup commands stay out', async t => {
  const steps = [{ id: 's1' }, { id: 's2' }, { id: 's3' }]
  const trace = assembleTrace(
    parts({
      steps,
      actors: [
        actor(
          'server',
          'local',
          [
            ev({ seq: 1, step: `${SETUP_STEP}0`, op: 'netns', t0: 10 }),
            ev({ seq: 2, step: 's1', op: 'socket', t0: 100 }),
            ev({ seq: 3, step: 's3', op: 'accept4', t0: 300 }),
          ],
          { stderr: 'warning\n', release: '6.1.0' },
        ),
        actor(
          'client',
          'local',
          [ev({ seq: 1, step: 's2', op: 'connect', t0: 200 }), ev({ seq: 2, step: 's2', op: 'getsockname', t0: 300 })],
          {
            invalid: [{ actor: 'client', raw: 'junk', problem: 'not JSON' }],
            release: '6.1.0',
          },
        ),
      ],
      packets: [ev({ seq: 7, op: 'packet', t0: 250 })],
      captures: [{ host: 'local', stderr: '  ', invalid: [{ actor: 'wire@local', raw: 'x', problem: 'bad segment' }] }],
    }),
  )
  t.same(names(trace.events), ['server:s1:socket', 'client:s2:connect', 'wire:-:packet', 'client:s2:getsockname', 'server:s3:accept4'])
  t.same(
    trace.invalid.map(i => i.problem),
    ['bad segment', 'not JSON'],
    'capture lines first, then the actors',
  )
  t.same(trace.stderr, { server: 'warning\n' }, 'blank capture stderr is dropped')
  t.same(trace.kernels, { server: '6.1.0', client: '6.1.0' })
})

t.test('assembleTrace: several clocks follow the steps, a segment goes after the last step event of its clock', async t => {
  // Guest probes stamp large times; this machine's path gate a small one. By time alone the gate would come first.
  const steps = [{ id: 's1' }, { id: 's2' }, { id: 's3' }, { id: 's4' }]
  const gate: TraceEvent = { actor: 'client', event: ev({ seq: 1, step: 's2', op: 'nft', t0: 5 }) }
  const trace = assembleTrace(
    parts({
      steps,
      actors: [
        actor('client', 'guest', [ev({ seq: 1, step: 's1', op: 'connect', t0: 1000 }), ev({ seq: 2, step: 's3', op: 'send', t0: 5000 })]),
        actor('server', 'guest', [ev({ seq: 1, step: 's4', op: 'recv', t0: 4000 })]),
      ],
      harness: [gate],
      wireClock: 'guest',
      packets: [ev({ seq: 1, op: 'packet', t0: 2000 }), ev({ seq: 2, op: 'packet', t0: 5500 })],
    }),
  )
  t.same(
    names(trace.events),
    ['client:s1:connect', 'wire:-:packet', 'client:s2:nft', 'client:s3:send', 'wire:-:packet', 'server:s4:recv'],
    'step order across clocks; segments placed by their own clock',
  )
  t.equal(trace.events[1]!.event.t0, 2000)
  t.equal(trace.events[4]!.event.t0, 5500, 'the later segment follows s3 (its latest step event by then), not s4')
  t.equal(trace.events[0]!.clock, 'guest')
  t.equal(trace.events[1]!.clock, 'guest', 'segments carry the wire clock')

  // Without the path gate the guest's clock is the only one: time decides again (s4 before s3).
  const one = assembleTrace(
    parts({
      steps,
      actors: [
        actor('client', 'guest', [ev({ seq: 2, step: 's3', op: 'send', t0: 5000 })]),
        actor('server', 'guest', [ev({ seq: 1, step: 's4', op: 'recv', t0: 4000 })]),
      ],
    }),
  )
  t.same(names(one.events), ['server:s4:recv', 'client:s3:send'])
})

const step = (s: Partial<Step> & { id: string; do: string }): IdStep => ({ actor: 'client', ...s }) as IdStep
const input = (steps: IdStep[], log: LogEntry[], more: Partial<JudgeInput> = {}): JudgeInput => ({
  scenario: { steps },
  kernelRelease: '6.1.0',
  log,
  clockOf: () => 'local',
  packets: [],
  exits: [],
  invalid: [],
  ...more,
})

t.test('judge: the op table names the answering event, not the last event of the step', async t => {
  // send_fd answers with sendmsg, connect_unspec with connect, gate with setsockopt
  const sendFd = step({ id: 's1', do: 'send_fd', sock: 'c', pass: 'x', expect: { ret: 1 } })
  const unspec = step({ id: 's2', do: 'connect_unspec', sock: 'c', expect: { ret: 0 } })
  const gate = step({ id: 's3', do: 'gate', sock: 'c', drop: ['syn'], expect: { ret: 0 } })
  const j = judge(
    input(
      [sendFd, unspec, gate],
      [
        { step: sendFd, events: [ev({ op: 'sendmsg', t0: 1, ret: 1 }), ev({ op: 'getsockname', t0: 2, ret: -1 })] },
        { step: unspec, events: [ev({ op: 'connect', t0: 3, ret: 0 }), ev({ op: 'close', t0: 4, ret: -1 })] },
        { step: gate, events: [ev({ op: 'setsockopt', t0: 5, ret: 0 })] },
      ],
    ),
  )
  t.equal(j.verdict, 'pass', j.message)
  t.same(
    j.checks.map(c => [c.step, c.field, c.observed, c.ok]),
    [
      ['s1', 'ret', '1', true],
      ['s2', 'ret', '0', true],
      ['s3', 'ret', '0', true],
    ],
  )
  // the same events under a wrong op: no sendmsg, so no answer
  const wrong = step({ id: 's1', do: 'send', sock: 'c', bytes: 1, expect: { ret: 1 } })
  const k = judge(input([wrong], [{ step: wrong, events: [ev({ op: 'sendmsg', t0: 1, ret: 1 })] }]))
  t.equal(k.verdict, 'fail')
  t.equal(k.message, 's1 client event: expected a syscall result, got no event')
  t.throws(() => judge(input([], [{ step: step({ id: 's1', do: 'no_such_op' }), events: [] }])), /not an op of the op table/)
})

t.test("judge: skip_if turns the kernel's refusal into skip with the reason; another answer is judged as usual", async t => {
  const why = 'no io_uring here'
  const setup = step({ id: 's1', do: 'uring_setup', ring: 'R', expect: { ret: '>=0' }, skip_if: { errno: ['ENOSYS', 'EPERM'], why } })
  const wait = step({ id: 's2', do: 'uring_wait', ring: 'R', user_data: 'P', expect: { ret: 0 } })
  const refused = judge(
    input(
      [setup, wait],
      [
        { step: setup, events: [ev({ op: 'io_uring_setup', t0: 1, ret: -1, errno: 'EPERM' })] },
        // what follows a refused setup is a consequence of it, not a problem of the kit
        { step: wait, events: [ev({ op: 'uring_wait', t0: 2, error: "unknown handle 'R'" })] },
      ],
    ),
  )
  t.equal(refused.verdict, 'skip')
  t.equal(refused.message, 'no io_uring here (step s1: EPERM)')
  const other = judge(input([setup], [{ step: setup, events: [ev({ op: 'io_uring_setup', t0: 1, ret: -1, errno: 'EMFILE' })] }]))
  t.equal(other.verdict, 'fail', 'an errno not named by skip_if is a kernel answer to judge')
  const ok = judge(input([setup], [{ step: setup, events: [ev({ op: 'io_uring_setup', t0: 1, ret: 3 })] }]))
  t.equal(ok.verdict, 'pass', ok.message)
  // a problem before the refusal is still the kit's
  const broken = judge(
    input(
      [setup],
      [{ problem: 'capture did not start' }, { step: setup, events: [ev({ op: 'io_uring_setup', t0: 1, ret: -1, errno: 'ENOSYS' })] }],
    ),
  )
  t.equal(broken.verdict, 'error')
  // a failure judged before the refusal is not hidden by the skip
  const sock = step({ id: 's0', do: 'socket', sock: 'c', expect: { ret: 3 } })
  const failedFirst = judge(
    input(
      [sock, setup],
      [
        { step: sock, events: [ev({ op: 'socket', t0: 0, ret: 4 })] },
        { step: setup, events: [ev({ op: 'io_uring_setup', t0: 1, ret: -1, errno: 'ENOSYS' })] },
      ],
    ),
  )
  t.equal(failedFirst.verdict, 'fail')
  t.match(failedFirst.message, /^s0 client ret: expected 3, got 4; then skipped: no io_uring here \(step s1: ENOSYS\)$/)
})

t.test('judge: problems keep the order of the run; a refusal is one; a dead probe is named once', async t => {
  const s1 = step({ id: 's1', do: 'send_fd', sock: 'c', pass: 'x', expect: { ret: 1 } })
  const s2 = step({ id: 's2', actor: 'server', do: 'listen', sock: 'l' })
  const j = judge(
    input(
      [s1, s2],
      [
        { problem: 'packet capture on local did not start' },
        // a refused command answers with an error event named by its protocol command
        { step: s1, events: [ev({ op: 'sendfd', t0: 1, error: "unknown handle 'x'" })] },
        { problem: "probe for actor 'client' exited during step s2 (listen)" },
        { step: s2, events: [] },
      ],
      {
        exits: [
          { actor: 'client', exit: { code: 1, signal: undefined } },
          { actor: 'server', exit: { code: undefined, signal: 'SIGSEGV' } },
          { actor: 'idle', exit: { code: 0, signal: undefined } },
        ],
        invalid: [
          { actor: 'server', raw: '{', problem: 'not JSON' },
          { actor: 'server', raw: '}', problem: 'not JSON either' },
        ],
      },
    ),
  )
  t.equal(j.verdict, 'error')
  t.equal(
    j.message,
    [
      'packet capture on local did not start',
      "probe refused step s1: unknown handle 'x'",
      "probe for actor 'client' exited during step s2 (listen)",
      "probe for actor 'server' ended with SIGSEGV",
      '2 invalid probe output line(s), first: not JSON',
    ].join('; '),
  )
  t.same(
    j.checks.map(c => [c.field, c.observed, c.ok]),
    [['event', "probe error: unknown handle 'x'", false]],
  )
})

t.test('judge: claims are kept apart from the verdict', async t => {
  const s1 = step({ id: 's1', do: 'connect', sock: 'c', to: 'l', expect: { ret: -1 }, claim: { errno: 'ECONNREFUSED' } })
  const steps = [s1]
  const claim = { id: 7, statement: 'refused' }
  const answer = (errno: string): LogEntry[] => [{ step: s1, events: [ev({ op: 'connect', t0: 1, ret: -1, errno })] }]
  const holds = judge({ ...input(steps, answer('ECONNREFUSED')), scenario: { steps, claim } })
  t.same([holds.verdict, holds.claim, holds.message], ['pass', 'holds', ''])
  const refuted = judge({ ...input(steps, answer('ETIMEDOUT')), scenario: { steps, claim } })
  t.same([refuted.verdict, refuted.claim], ['pass', 'refuted'])
  t.equal(refuted.message, 'claim refuted: s1 client errno: expected ECONNREFUSED, got ETIMEDOUT')
  const noClaim = judge(input(steps, answer('ETIMEDOUT')))
  t.equal(noClaim.claim, undefined, 'a scenario without a claim has no claim outcome')
  const broken = judge({ ...input(steps, [{ problem: 'interrupted' }, ...answer('ETIMEDOUT')]), scenario: { steps, claim } })
  t.same([broken.verdict, broken.claim], ['error', undefined], 'an error decides nothing about the claim')
})

t.test('judge: `since` reads an earlier step on the same clock only', async t => {
  const s1 = step({ id: 's1', actor: 'server', do: 'listen', sock: 'l' })
  const s2 = step({ id: 's2', do: 'epoll_wait', ep: 'e', timeout_ms: 100, expect: { time: { since: 's1', min_ms: 50, max_ms: 150 } } })
  const log: LogEntry[] = [
    { step: s1, events: [ev({ op: 'listen', t0: 1_000_000_000, ret: 0 })] },
    { step: s2, events: [ev({ op: 'epoll_wait', t0: 1_050_000_000, t1: 1_100_000_000, ret: 0 })] },
  ]
  const same = judge(input([s1, s2], log))
  t.same(
    same.checks.map(c => [c.field, c.observed, c.ok]),
    [['time', '100.0 ms', true]],
  )
  const apart = judge(input([s1, s2], log, { clockOf: a => (a === 'server' ? 'host-a' : 'host-b') }))
  t.same(
    apart.checks.map(c => [c.field, c.observed, c.ok]),
    [['time', 'unknown', false]],
    'times on two clocks never compare',
  )
  const later = judge(input([s1, s2], [log[1]!, log[0]!]))
  t.same(
    later.checks.map(c => c.observed),
    ['unknown'],
    'a step answered later is not a start yet',
  )
})

t.test('judge: packet expectations after the walk, with ports learned from getsockname', async t => {
  const s1 = step({ id: 's1', do: 'getsockname', sock: 'c' })
  const s2 = step({ id: 's2', actor: 'server', do: 'accept4', sock: 'l', new: 'a', expect: { after_packet: { flags: 'ACK', from: 'c' } } })
  const accept = ev({ op: 'accept4', t0: 400e6, t1: 600e6, ret: 5 })
  const segment = (t0: number, sport: number): ProbeEvent => ({ ...ev({ op: 'packet', t0 }), sport, dport: 8080, tcp_flags: ['ACK'] })
  const named: LogEntry = {
    step: s1,
    events: [ev({ op: 'getsockname', t0: 100e6, ret: 0, h: 'c', addr: { family: 'inet', addr: '127.0.0.1', port: 40000 } })],
  }
  const after = judge(input([s1, s2], [named, { step: s2, events: [accept] }], { packets: [segment(300e6, 9), segment(500e6, 40000)] }))
  t.equal(after.verdict, 'pass', after.message)
  t.same(
    after.checks.map(c => [c.field, c.observed]),
    [['after_packet', 'returned 100.000 ms after it']],
  )
  const before = judge(input([s1, s2], [named, { step: s2, events: [accept] }], { packets: [segment(700e6, 40000)] }))
  t.equal(before.verdict, 'fail', 'the ACK came after accept returned')
  const unknown = judge(input([s1, s2], [{ step: s2, events: [accept] }], { packets: [segment(500e6, 40000)] }))
  t.same(
    unknown.checks.map(c => c.observed),
    ['socket port unknown (add a getsockname step)'],
  )
})

t.test(
  'probe reuse is invisible in traces: a scenario on reused probes (after one that left sockets, gates, epoll sets and a netns) traces as on fresh ones',
  { skip: process.getuid?.() !== 0 ? 'needs root (netns)' : false },
  async t => {
    const { parseScenario } = await import('../harness/scenario/load.js')
    const { variantsOf } = await import('../harness/scenario/expand.js')
    const { runScenario } = await import('../harness/runner/run-scenario.js')
    const { loopbackHost } = await import('../harness/hosts/loopback.js')
    const { systemInfo } = await import('../harness/hosts/system-info.js')
    const { ProbePool } = await import('../harness/probe/pool.js')
    // leaves everything open: sockets, a socket gate, an epoll set with a registration, probes inside a host namespace
    const messy = parseScenario(
      `title: messy
variants: [ipv4]
hosts: { a: {}, b: {} }
actors: { client: { host: a }, server: { host: b } }
steps:
  - { actor: server, do: socket, sock: L }
  - { actor: server, do: bind, sock: L }
  - { actor: server, do: listen, sock: L, backlog: 4 }
  - { actor: server, do: gate, sock: L, drop: [syn] }
  - { actor: server, do: epoll_create1, ep: E }
  - { actor: server, do: epoll_ctl, ep: E, op: add, sock: L, events: [in] }
  - { actor: client, do: socket, sock: C, nonblock: true }
  - { actor: client, do: epoll_create1, ep: F }
  - { actor: client, do: epoll_ctl, ep: F, op: add, sock: C, events: [out] }
`,
      'messy.yaml',
    )
    const subject = parseScenario(
      `title: subject
variants: [ipv4]
steps:
  - { actor: server, do: socket, sock: L, nonblock: true }
  - { actor: server, do: bind, sock: L }
  - { actor: server, do: listen, sock: L, backlog: 4 }
  - { actor: client, do: socket, sock: C, nonblock: true }
  - { actor: client, do: connect, sock: C, to: L, expect: { ret: -1, errno: EINPROGRESS } }
  - { actor: client, do: epoll_create1, ep: E }
  - { actor: client, do: epoll_ctl, ep: E, op: add, sock: C, events: [out] }
  - { actor: client, do: epoll_wait, ep: E, timeout_ms: 2000, expect: { ready: { C: OUT } } }
  - { actor: server, do: accept4, sock: L, new: S, expect: { ret: ">=0" } }
`,
      'subject.yaml',
    )
    const host = loopbackHost()
    const system = systemInfo()
    const pool = new ProbePool()
    try {
      const opts = { host, system, capture: false }
      // ports and times differ between any two runs; everything else, seq and descriptor numbers included, must not
      const shape = (events: readonly TraceEvent[]): string =>
        JSON.stringify(events, (k, v: unknown) => (['t0', 't1', 'port', 'pid'].includes(k) ? undefined : v))
      const fresh = await runScenario(subject, variantsOf(subject)[0]!, opts)
      t.equal(fresh.verdict, 'pass', fresh.message)
      const dirty = await runScenario(messy, variantsOf(messy)[0]!, { ...opts, probePool: pool })
      t.equal(dirty.verdict, 'pass', dirty.message)
      t.same(pool.counts, { spawned: 2, reused: 0, discarded: 0 }, 'the messy scenario spawned its two probes and gave them back clean')
      const idle = pool.idleProbes()
      t.equal(idle.length, 2, 'both probes idle in the pool')
      const reused = await runScenario(subject, variantsOf(subject)[0]!, { ...opts, probePool: pool })
      t.equal(reused.verdict, 'pass', reused.message)
      t.same(pool.counts, { spawned: 2, reused: 2, discarded: 0 }, 'the subject ran on the two reused probes')
      t.ok(
        pool.idleProbes().every(p => idle.includes(p)),
        'the same processes',
      )
      t.equal(shape(reused.events), shape(fresh.events), 'same trace on fresh and on reused probes')
      t.ok(reused.events.length > 8, 'the trace holds the steps')
      // a probe that ran a step reset cannot undo is stopped, never pooled
      const capDrop = parseScenario(
        `title: drop\nvariants: [ipv4]\nsteps:\n  - { actor: client, do: drop_cap, cap: CAP_BLOCK_SUSPEND }\n`,
        'drop.yaml',
      )
      const dropped = await runScenario(capDrop, variantsOf(capDrop)[0]!, { ...opts, probePool: pool })
      t.not(dropped.verdict, 'error', dropped.message)
      t.equal(pool.idleProbes().length, 1, 'the client probe that dropped a capability was not given back')
    } finally {
      await pool.close()
      await host.close?.()
    }
  },
)
