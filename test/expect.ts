// Expectation matching: return values, errno, epoll/poll masks, option
// values, timing windows, and the rule that claim checks are kept apart.
import t from 'tap'
import { checkErrno, checkRet, matchStep, timeWindow, wheelAllowanceMs } from '../harness/expect/match.js'
import { matchAcross } from '../harness/expect/across.js'
import { parseScenario } from '../harness/scenario/load.js'
import { resolveExpectation } from '../harness/scenario/expand.js'
import type { MatchContext } from '../harness/expect/match.js'
import { formatMask, maskMatches, parseMaskString } from '../harness/expect/mask.js'
import type { ProbeEvent } from '../harness/trace/event.js'

const ctx = (starts: Record<string, number> = {}, claim = false): MatchContext => ({
  step: 's9',
  actor: 'client',
  claim,
  stepStart: id => starts[id],
})
const ev = (fields: Partial<ProbeEvent>): ProbeEvent => ({ seq: 1, op: 'connect', t0: 1_000_000, t1: 1_100_000, ...fields })

t.test('return values', async t => {
  t.ok(checkRet(-1, -1))
  t.notOk(checkRet(0, -1))
  t.ok(checkRet('>=0', 5))
  t.notOk(checkRet('>=0', -1))
  t.ok(checkRet('!=0', 3))
  t.ok(checkRet('<0', -1))
  t.notOk(checkRet('>0', 0))
  t.notOk(checkRet(0, undefined), 'no return value never matches')
})

t.test('errno forms', async t => {
  t.ok(checkErrno('EINPROGRESS', 'EINPROGRESS'))
  t.notOk(checkErrno('EINPROGRESS', 'EAGAIN'))
  t.notOk(checkErrno('EINPROGRESS', undefined))
  t.ok(checkErrno(['EAGAIN', 'EWOULDBLOCK'], 'EAGAIN'))
  t.ok(checkErrno(null, undefined))
  t.notOk(checkErrno(null, 'EAGAIN'))
  t.ok(checkErrno({ not: 'EINPROGRESS' }, 'ETIMEDOUT'))
  t.ok(checkErrno({ not: 'EINPROGRESS' }, undefined))
  t.notOk(checkErrno({ not: ['EINPROGRESS', 'EALREADY'] }, 'EALREADY'))
})

t.test('masks: names with or without prefix, exact and partial', async t => {
  t.same(parseMaskString('OUT|HUP', 'EPOLL'), ['EPOLLOUT', 'EPOLLHUP'])
  t.same(parseMaskString('0', 'EPOLL'), [])
  t.equal(formatMask(['EPOLLHUP', 'EPOLLOUT', 'EPOLLIN']), 'EPOLLIN|EPOLLOUT|EPOLLHUP')
  t.ok(maskMatches(['EPOLLOUT', 'EPOLLHUP'], 'HUP|OUT', 'EPOLL'))
  t.notOk(maskMatches(['EPOLLOUT', 'EPOLLHUP', 'EPOLLERR'], 'OUT|HUP', 'EPOLL'), 'exact means exact')
  t.ok(maskMatches(['EPOLLOUT', 'EPOLLHUP', 'EPOLLERR'], { includes: ['ERR'] }, 'EPOLL'))
  t.notOk(maskMatches(['EPOLLOUT', 'EPOLLHUP'], { excludes: ['HUP'] }, 'EPOLL'))
  t.ok(maskMatches(['POLLIN'], 'EPOLLIN', 'POLL'), 'poll masks accept epoll spellings')
})

t.test('matchStep: ret and errno', async t => {
  const checks = matchStep({ ret: -1, errno: 'EINPROGRESS' }, ev({ ret: -1, errno: 'EINPROGRESS' }), ctx())
  t.same(
    checks.map(c => [c.field, c.ok]),
    [
      ['ret', true],
      ['errno', true],
    ],
  )
  const bad = matchStep({ ret: -1, errno: 'EINPROGRESS' }, ev({ ret: 0 }), ctx())
  t.same(
    bad.map(c => [c.field, c.expected, c.observed, c.ok]),
    [
      ['ret', '-1', '0', false],
      ['errno', 'EINPROGRESS', 'none', false],
    ],
  )
})

t.test('matchStep: a scalar value may be a bound; a name or "0" stays exact', async t => {
  const outq = (value: number) => ev({ op: 'ioctl', ret: 0, value })
  const ok = (expected: string | number, e = outq(148480)) => matchStep({ value: expected }, e, ctx()).map(c => [c.observed, c.ok])
  t.same(ok('>=131072'), [['148480', true]])
  t.same(ok('<131072'), [['148480', false]])
  t.same(ok('!=0'), [['148480', true]])
  t.same(ok('0', outq(0)), [['0', true]], 'a plain number as a string is equality')
  t.same(ok('>=1', ev({ op: 'getsockopt', ret: 0, value: 111, value_name: 'ECONNREFUSED' })), [['ECONNREFUSED', true]])
  t.same(ok('ECONNREFUSED', ev({ op: 'getsockopt', ret: 0, value: 111, value_name: 'ECONNREFUSED' })), [['ECONNREFUSED', true]])
})

t.test('matchStep: no event or a probe error fails every expectation', async t => {
  t.same(
    matchStep({ ret: 0 }, undefined, ctx()).map(c => c.ok),
    [false],
  )
  t.same(
    matchStep({ ret: 0 }, ev({ error: 'unknown handle X', ret: undefined }), ctx()).map(c => c.observed),
    ['probe error: unknown handle X'],
  )
})

t.test('matchStep: epoll ready sets are strict about extra handles', async t => {
  const e = ev({
    op: 'epoll_wait',
    ret: 2,
    ready: [
      { h: 'C', events: ['EPOLLOUT'] },
      { h: 'L', events: ['EPOLLIN'] },
    ],
  })
  const ok = matchStep({ ready: { C: 'OUT', L: 'IN' } }, e, ctx())
  t.ok(ok.every(c => c.ok))
  const extra = matchStep({ ready: { C: 'OUT' } }, e, ctx())
  t.same(
    extra.filter(c => !c.ok).map(c => c.field),
    ['ready'],
  )
  const none = matchStep({ ready: {} }, ev({ op: 'epoll_wait', ret: 0, ready: [] }), ctx())
  t.same(
    none.map(c => [c.expected, c.observed, c.ok]),
    [['no events', 'no events', true]],
  )
  const missing = matchStep({ ready: { L: 'IN' } }, ev({ op: 'epoll_wait', ret: 0, ready: [] }), ctx())
  t.same(
    missing.map(c => [c.field, c.observed, c.ok]),
    [['ready.L', 'not ready', false]],
  )
})

t.test('matchStep: poll revents and option values', async t => {
  const p = ev({
    op: 'poll',
    ret: 1,
    revents: [
      { h: 'C', events: ['POLLOUT'] },
      { h: 'L', events: [] },
    ],
  })
  t.ok(matchStep({ revents: { C: 'OUT', L: '0' } }, p, ctx()).every(c => c.ok))
  const soError = ev({ op: 'getsockopt', ret: 0, value: 111, value_name: 'ECONNREFUSED' })
  t.ok(matchStep({ value: 'ECONNREFUSED' }, soError, ctx())[0]?.ok)
  t.notOk(matchStep({ value: '0' }, soError, ctx())[0]?.ok)
  const info = ev({ op: 'getsockopt', ret: 0, value: { state: 'TCP_SYN_SENT', retransmits: 1 } })
  t.ok(matchStep({ value: { state: 'TCP_SYN_SENT' } }, info, ctx())[0]?.ok)
  t.notOk(matchStep({ value: { state: 'TCP_ESTABLISHED' } }, info, ctx())[0]?.ok)
  t.ok(matchStep({ data: 'hello' }, ev({ op: 'recv', ret: 5, data: 'hello' }), ctx())[0]?.ok)
})

t.test('matchStep: value fields compared as numbers, one of several, and mib deltas where absent means 0', async t => {
  const info = ev({ op: 'getsockopt', ret: 0, value: { state: 'TCP_FIN_WAIT2', retransmits: 2 } })
  t.ok(matchStep({ value: { state: { one_of: ['TCP_FIN_WAIT1', 'TCP_FIN_WAIT2'] } } }, info, ctx())[0]?.ok)
  t.notOk(matchStep({ value: { state: { one_of: ['TCP_CLOSING', 'TCP_TIME_WAIT'] } } }, info, ctx())[0]?.ok)
  t.ok(matchStep({ value: { retransmits: '>=1' } }, info, ctx())[0]?.ok)
  t.notOk(matchStep({ value: { retransmits: '<2' } }, info, ctx())[0]?.ok)
  t.notOk(matchStep({ value: { state: '>=1' } }, info, ctx())[0]?.ok, 'a comparison never matches a name')
  t.notOk(matchStep({ value: { missing: 0 } }, info, ctx())[0]?.ok, 'a field the kernel did not report is not 0 outside mib')
  const so = ev({ op: 'getsockopt', ret: 0, value: 104, value_name: 'ECONNRESET' })
  t.ok(matchStep({ value: { one_of: ['EPIPE', 'ECONNRESET'] } }, so, ctx())[0]?.ok)
  const zero = ev({ op: 'getsockopt', ret: 0, value: 0, value_name: '0' })
  t.ok(matchStep({ value: { one_of: ['EHOSTUNREACH', '0'] } }, zero, ctx())[0]?.ok, 'SO_ERROR 0 among the alternatives')
  t.notOk(matchStep({ value: { one_of: ['EHOSTUNREACH', 'ECONNREFUSED'] } }, zero, ctx())[0]?.ok)
  const mib = ev({ op: 'mib', ret: 2, value: { TcpExtListenOverflows: 1, TcpExtListenDrops: 1 } })
  t.ok(matchStep({ value: { TcpExtListenOverflows: 1, TcpPassiveOpens: 0 } }, mib, ctx())[0]?.ok, 'unchanged counters are left out: 0')
  t.notOk(matchStep({ value: { TcpPassiveOpens: 1 } }, mib, ctx())[0]?.ok)
  const shown = matchStep({ value: { TcpPassiveOpens: 1 } }, mib, ctx())[0]
  t.equal(shown?.observed, '{"TcpPassiveOpens":0}', 'the observed side shows the 0')
})

t.test('expectations per variant: base fields, then the variant, then the kernel case', async t => {
  const exp = {
    ret: 0,
    value: { A: 1 },
    variants: { ipv6: { value: { A: 6 } } },
    kernels: [{ range: '<5.0', ret: -1 }],
  }
  t.same(resolveExpectation(exp, '6.18.0', 'ipv4'), { ret: 0, value: { A: 1 } })
  t.same(resolveExpectation(exp, '6.18.0', 'ipv6'), { ret: 0, value: { A: 6 } })
  t.same(resolveExpectation(exp, '4.19.0', 'ipv6'), { ret: -1, value: { A: 6 } })
  const doc = `title: t
steps:
  - { actor: a, do: socket, sock: S }
  - { actor: a, do: close, sock: S, expect: { variants: { ipv5: { ret: 0 } } } }
`
  t.throws(() => parseScenario(doc, 'v.yaml'), /ipv5|variants/)
  const unixOnly = `title: t
steps:
  - { actor: a, do: socket, family: unix, sock: S }
  - { actor: a, do: close, sock: S, expect: { ret: 0, variants: { ipv6: { ret: 0 } } } }
`
  t.throws(() => parseScenario(unixOnly, 'u.yaml'), /'ipv6' is not a variant this scenario runs \(default\)/)
  const mibOnHost = `title: t
steps:
  - { actor: a, do: mib, mark: m0 }
`
  t.throws(() => parseScenario(mibOnHost, 'm.yaml'), /place 'a' on a scenario host/, 'the shared namespace would count other jobs too')
})

t.test('matchStep: select sets and epoll registrations', async t => {
  const sel = ev({
    op: 'select',
    ret: 2,
    sets: [
      { h: 'C', sets: ['read', 'write'] },
      { h: 'L', sets: [] },
    ],
  })
  t.ok(
    matchStep({ sets: { C: ['write', 'read'] } }, sel, ctx()).every(c => c.ok),
    'order of the sets does not matter; L in none',
  )
  t.same(
    matchStep({ sets: { C: ['write'] } }, sel, ctx()).map(c => [c.field, c.expected, c.observed, c.ok]),
    [['sets.C', 'write', 'read,write', false]],
  )
  const other = matchStep({ sets: { L: [] } }, sel, ctx())
  t.same(
    other.map(c => [c.field, c.ok]),
    [
      ['sets.L', true],
      ['sets', false],
    ],
    'a handle left in a set it was not expected in fails',
  )
  const reg = ev({ op: 'epoll_fdinfo', ret: 1, registered: [{ h: 'S', events: ['EPOLLIN', 'EPOLLERR', 'EPOLLHUP'] }] })
  t.ok(matchStep({ registered: { S: 'IN|ERR|HUP' } }, reg, ctx()).every(c => c.ok))
  t.notOk(matchStep({ registered: { S: 'IN|ERR|HUP|WAKEUP' } }, reg, ctx()).every(c => c.ok))
  t.same(
    matchStep({ registered: {} }, reg, ctx()).map(c => [c.expected, c.ok]),
    [['no registrations', false]],
  )
  t.same(
    matchStep({ registered: { T: 'IN' } }, reg, ctx()).map(c => [c.field, c.observed, c.ok]),
    [
      ['registered.T', 'not registered', false],
      ['registered', 'S:EPOLLIN|EPOLLERR|EPOLLHUP', false],
    ],
  )
})

t.test('across: how many of several steps answered as expected', async t => {
  const answers: Record<string, ProbeEvent> = {
    a: ev({ op: 'epoll_wait', ret: 1, ready: [{ h: 'L', events: ['EPOLLIN'] }] }),
    b: ev({ op: 'epoll_wait', ret: 0, ready: [] }),
    c: ev({ op: 'epoll_wait', ret: 1, ready: [{ h: 'L2', events: ['EPOLLIN'] }] }),
  }
  const judge = (entry: Parameters<typeof matchAcross>[0][number]) => matchAcross([entry], id => answers[id])[0]!
  t.ok(judge({ steps: ['a', 'b'], of: { ret: 1 }, count: 1 }).ok, 'exactly one of two')
  t.match(judge({ steps: ['a', 'b'], of: { ret: 1 }, count: 1 }), { observed: '1 (a)', claim: false })
  t.notOk(judge({ steps: ['a', 'c'], of: { ret: 1 }, count: 1 }).ok, 'two woken is not exactly one')
  t.ok(judge({ steps: ['a', 'c'], of: { ret: 1 }, count: 2 }).ok)
  t.ok(judge({ steps: ['a', 'b', 'c'], of: { ret: 1 }, count: '>=1' }).ok, 'a comparison')
  t.ok(judge({ steps: ['a', 'b'], of: { ret: 1 } }).ok, 'count defaults to 1')
  t.notOk(judge({ steps: ['a', 'c'], of: { ret: 1, ready: { L: 'IN' } }, count: 2 }).ok, 'every field of `of` must hold')
  t.notOk(judge({ steps: ['a', 'x'], of: { ret: 1 }, count: 2 }).ok, 'a step that never answered does not count')
})

t.test('timing windows', async t => {
  t.same(timeWindow({ ms: 1000 }), { lo: 950, hi: 1100 })
  t.same(timeWindow({ ms: 1000, tol: 0.1, slack_ms: 0 }), { lo: 900, hi: 1100 })
  t.same(timeWindow({ min_ms: 5 }), { lo: 5, hi: Number.POSITIVE_INFINITY })
  // The wheel levels of kernel/time/timer.c: a 4 s timer sits at level 2 at HZ=250
  // (granularity 64 jiffies = 256 ms), a 2 s one at level 2 at HZ=300 (213 ms),
  // a 1 s one at level 1 at HZ=100 (80 ms); plus one jiffy each.
  t.equal(wheelAllowanceMs(4000), 260)
  t.equal(Math.round(wheelAllowanceMs(2000)), 217)
  t.equal(wheelAllowanceMs(1000), 90)
  t.equal(wheelAllowanceMs(10), 20, 'level 0: one jiffy of granularity plus the jiffy it was armed in, at HZ=100')
  const chain = timeWindow({ timers_ms: [1000, 2000, 4000], tol: 0.02, slack_ms: 150 })
  t.equal(chain.lo, 6860, 'timers never fire early: the lower bound is the sum less tol')
  t.equal(Math.round(chain.hi), 7857, 'the CI run that saw 7302 ms for this chain is inside')
  // connect step started at 0, this event ends at 3.05 s
  const e = ev({ op: 'epoll_wait', t0: 2_000_000_000, t1: 3_050_000_000 })
  t.ok(matchStep({ time: { since: 'connect', ms: 3000 } }, e, ctx({ connect: 0 }))[0]?.ok)
  t.notOk(matchStep({ time: { since: 'connect', ms: 1000 } }, e, ctx({ connect: 0 }))[0]?.ok)
  t.ok(matchStep({ time: { max_ms: 1100 } }, e, ctx())[0]?.ok, 'default start is the step itself')
  t.same(matchStep({ time: { since: 'gone', ms: 1 } }, e, ctx())[0]?.observed, 'unknown')
})

t.test('claim checks are flagged as claims', async t => {
  const c = matchStep({ ret: 0 }, ev({ ret: -1, errno: 'EINPROGRESS' }), ctx({}, true))
  t.same(
    c.map(x => [x.claim, x.ok]),
    [[true, false]],
  )
})

t.test('matchStep: msg_flags and the control messages of recvmsg (the error queue)', async t => {
  const errq = ev({
    op: 'recvmsg',
    ret: 5,
    msg_flags: ['MSG_ERRQUEUE'],
    cmsg: [{ level: 'SOL_IP', type: 11, type_name: 'IP_RECVERR', ee_errno: 'ECONNREFUSED', ee_origin: 2, ee_type: 3, ee_code: 3 }],
  })
  const refused = { type_name: 'IP_RECVERR', ee_errno: 'ECONNREFUSED', ee_origin: 2, ee_type: 3, ee_code: 3 }
  t.ok(matchStep({ msg_flags: 'MSG_ERRQUEUE', cmsg: [refused] }, errq, ctx()).every(c => c.ok))
  const wrongCode = matchStep({ cmsg: [{ ...refused, ee_code: 4 }] }, errq, ctx())
  t.notOk(wrongCode[0]!.ok, 'one field differs: fails')
  t.match(wrongCode[0]!.observed, /"ee_code":3/, 'the observed side shows the fields the expectation names')
  t.notOk(matchStep({ cmsg: [] }, errq, ctx())[0]!.ok, '[] means no control message')
  t.notOk(matchStep({ cmsg: [refused, refused] }, errq, ctx())[0]!.ok, 'the count must match')
  t.notOk(matchStep({ msg_flags: 'MSG_TRUNC|MSG_ERRQUEUE' }, errq, ctx())[0]!.ok, 'exact set')
  t.ok(matchStep({ msg_flags: { includes: ['MSG_ERRQUEUE'], excludes: ['MSG_TRUNC'] } }, errq, ctx())[0]!.ok)
  const plain = ev({ op: 'recvmsg', ret: 0, msg_flags: [], cmsg: [] })
  t.ok(
    matchStep({ msg_flags: '0', cmsg: [] }, plain, ctx()).every(c => c.ok),
    "'0' is the empty set",
  )
  t.notOk(matchStep({ msg_flags: '0' }, ev({ op: 'recv', ret: 0 }), ctx())[0]!.ok, 'a recv event has no msg_flags: fails')
})

t.test('validation of the readiness additions: across names real steps, select names open handles, open takes files only', async t => {
  const text = [
    'title: t',
    'variants: [default]',
    'steps:',
    '  - { actor: a, do: open, sock: F, path: "@x" }',
    '  - { actor: a, do: select, sets: { G: [read] } }',
    'across:',
    '  - { steps: [s1, nope], of: { ret: 0 } }',
  ].join('\n')
  const err = (() => {
    try {
      parseScenario(text, 'bad.yaml')
    } catch (e) {
      return String(e)
    }
    return ''
  })()
  t.match(err, /bad\.yaml:4:\d+: open: '@x' is an abstract socket name/)
  t.match(err, /bad\.yaml:5:\d+: handle 'G' is not open/)
  t.match(err, /bad\.yaml:7:\d+: across: 'nope' is not a step/)
  const ok = parseScenario(text.replace('"@x"', 'f.txt').replace('G:', 'F:').replace('nope', 's2'), 'good.yaml')
  t.same(ok.across, [{ steps: ['s1', 's2'], of: { ret: 0 } }])
})
