/**
 * Evidence from inside the kernel: `mib` reads the namespace's SNMP/MIB
 * counters (what nstat shows: TcpExtListenOverflows, TcpExtSyncookiesSent,
 * TcpExtTCPChallengeACK...) and reports the ones that changed since an
 * earlier mark, so a step can be checked by what the kernel counted.
 */
import { line } from './format.js'
import type { OpDef, OpFamily } from './types.js'

const mib: OpDef = {
  name: 'mib',
  doc: "Reads the SNMP/MIB counters of the actor's network namespace (/proc/net/snmp, netstat, snmp6; nstat's names) and keeps them as `mark`; with `since`, `value` holds the counters that changed since that earlier mark, as deltas (unchanged ones are left out and match 0).",
  answers: 'mib',
  fields: { mark: 'required', since: 'optional' },
  commands: [
    {
      name: 'mib',
      handler: 'op_mib',
      minArgs: 1,
      maxArgs: 2,
      usage: 'mib <mark> [since]',
      doc: '`open()`+`read()` of `/proc/self/net/{snmp,netstat,snmp6}` (op `mib`, `mark`, `since`); ret = counters read, or with `since` the number that changed; `value` = `{"TcpExtListenOverflows": 1, ...}` deltas since that mark',
    },
  ],
  format: step =>
    step.since === undefined ? line(['mib', 'op'], [step.mark, 'mark']) : line(['mib', 'op'], [step.mark, 'mark'], [step.since, 'since']),
}

export const family: OpFamily = { ops: [mib] }
