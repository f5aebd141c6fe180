/**
 * Store schema, versioned with PRAGMA user_version. Each migration takes the
 * store from version i to i+1 and runs in one transaction. Never edit a
 * released migration: add one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: runs, scenarios, results, events, checks
  `
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    host_kind TEXT NOT NULL,
    kernel_release TEXT NOT NULL,
    kernel_version TEXT NOT NULL,
    arch TEXT NOT NULL,
    distro TEXT,
    kit_version TEXT NOT NULL,
    kit_commit TEXT,
    sysctls TEXT NOT NULL,
    argv TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted'))
  ) STRICT;
  CREATE TABLE scenarios (
    id INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    hash TEXT NOT NULL,
    pack TEXT NOT NULL,
    title TEXT NOT NULL,
    sources TEXT NOT NULL,
    claim INTEGER,
    body TEXT NOT NULL,
    UNIQUE (scenario, hash)
  ) STRICT;
  CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    scenario_id INTEGER NOT NULL REFERENCES scenarios(id),
    variant TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'error', 'skip')),
    claim TEXT CHECK (claim IN ('holds', 'refuted')),
    duration_ms REAL NOT NULL,
    message TEXT NOT NULL,
    stderr TEXT NOT NULL,
    kernels TEXT NOT NULL,
    invalid TEXT NOT NULL,
    UNIQUE (run_id, scenario_id, variant, attempt)
  ) STRICT;
  CREATE INDEX results_by_scenario ON results (scenario_id, variant);
  CREATE TABLE events (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    actor TEXT NOT NULL,
    seq INTEGER NOT NULL,
    step TEXT,
    t_ns INTEGER NOT NULL,
    dur_ns INTEGER,
    op TEXT NOT NULL,
    sockets TEXT,
    ret INTEGER,
    errno TEXT,
    mask TEXT,
    details TEXT NOT NULL,
    PRIMARY KEY (result_id, idx)
  ) STRICT;
  CREATE TABLE checks (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    step TEXT NOT NULL,
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    expected TEXT NOT NULL,
    observed TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
    claim INTEGER NOT NULL,
    PRIMARY KEY (result_id, idx)
  ) STRICT;
  `,
  // 2: the machines a run used besides this one (ssh hosts, VMs): name -> kind, kernel, arch
  `
  ALTER TABLE runs ADD COLUMN hosts TEXT NOT NULL DEFAULT '{}';
  `,
  // 3: a run whose process died is marked 'aborted' with a reason; liveness facts of the
  // writer (beacon token, boot id, network namespace) tell a dead run from a live one.
  // SQLite cannot change a CHECK in place: the runs table is rebuilt (foreign keys are
  // off while migrating, so results keep pointing at the same run ids).
  `
  CREATE TABLE runs_v3 (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    host_kind TEXT NOT NULL,
    kernel_release TEXT NOT NULL,
    kernel_version TEXT NOT NULL,
    arch TEXT NOT NULL,
    distro TEXT,
    kit_version TEXT NOT NULL,
    kit_commit TEXT,
    sysctls TEXT NOT NULL,
    argv TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'aborted')),
    hosts TEXT NOT NULL DEFAULT '{}',
    reason TEXT,
    beacon TEXT,
    boot_id TEXT,
    net_ns TEXT
  ) STRICT;
  INSERT INTO runs_v3 (id, uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, finished_at, status, hosts)
    SELECT id, uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, finished_at, status, hosts FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_v3 RENAME TO runs;
  CREATE INDEX runs_running ON runs (boot_id) WHERE status = 'running';
  `,
  // 4: a result's trace in one row of traces: its checks (a JSON array of
  // [idx, step, actor, field, expected, observed, verdict, claim]) and its events (a JSON
  // array of [idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask, details]).
  // One insert per result instead of one per event and per check, each with its composite
  // key, which capped a run's writes at a few tens of thousands of events per second.
  // events and checks stay readable with the same columns, as views. checks comes
  // first in the row: reading it does not walk the events' overflow pages.
  // results.signature is the normalised trace signature (compare/signature.ts) written with
  // the result, so compare and the report's diff pages load and normalise only the pairs
  // that differ. Old results keep a NULL signature and get theirs computed when read.
  // results.failed_checks counts its failed checks: compare reads the checks of only those.
  `
  CREATE TABLE traces (
    result_id INTEGER PRIMARY KEY REFERENCES results(id) ON DELETE CASCADE,
    checks TEXT NOT NULL,
    events TEXT NOT NULL
  ) STRICT;
  INSERT INTO traces (result_id, checks, events)
    SELECT r.id,
      coalesce((SELECT json_group_array(json_array(idx, step, actor, field, expected, observed, verdict, claim) ORDER BY idx)
                FROM checks c WHERE c.result_id = r.id), '[]'),
      coalesce((SELECT json_group_array(json_array(idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask,
                  CASE WHEN json_valid(details) THEN json(details) ELSE details END) ORDER BY idx)
                FROM events e WHERE e.result_id = r.id), '[]')
    FROM results r;
  ALTER TABLE results ADD COLUMN failed_checks INTEGER NOT NULL DEFAULT 0;
  UPDATE results SET failed_checks = (SELECT count(*) FROM checks c WHERE c.result_id = results.id AND c.verdict = 'fail');
  DROP TABLE events;
  DROP TABLE checks;
  CREATE VIEW events AS
    SELECT t.result_id AS result_id, e.value ->> 0 AS idx, e.value ->> 1 AS actor, e.value ->> 2 AS seq, e.value ->> 3 AS step,
           e.value ->> 4 AS t_ns, e.value ->> 5 AS dur_ns, e.value ->> 6 AS op, e.value ->> 7 AS sockets, e.value ->> 8 AS ret,
           e.value ->> 9 AS errno, e.value ->> 10 AS mask,
           CASE json_type(e.value, '$[11]') WHEN 'text' THEN e.value ->> 11 ELSE e.value -> 11 END AS details
    FROM traces t, json_each(t.events) e;
  CREATE VIEW checks AS
    SELECT t.result_id AS result_id, c.value ->> 0 AS idx, c.value ->> 1 AS step, c.value ->> 2 AS actor, c.value ->> 3 AS field,
           c.value ->> 4 AS expected, c.value ->> 5 AS observed, c.value ->> 6 AS verdict, c.value ->> 7 AS claim
    FROM traces t, json_each(t.checks) c;
  ALTER TABLE results ADD COLUMN signature TEXT;
  `,
  // 5: new traces rows hold each event as [actor, event] ([actor, event, clock] off this machine's clock):
  // the probe's own JSON line, written as it came, nothing derived. The derived columns (idx, t_ns from
  // the first event of the same clock, dur_ns, sockets, mask) are computed when read. Written this way a
  // result costs a quarter fewer bytes and no per-event encoding. Rows written before stay as they are
  // (their first element is an integer, idx; here it is the actor, a string): readers take both, and
  // the events view unions the two. The view lists a mask's flags in the probe's order.
  `
  DROP VIEW events;
  CREATE VIEW events AS
    SELECT t.result_id AS result_id, e.value ->> 0 AS idx, e.value ->> 1 AS actor, e.value ->> 2 AS seq, e.value ->> 3 AS step,
           e.value ->> 4 AS t_ns, e.value ->> 5 AS dur_ns, e.value ->> 6 AS op, e.value ->> 7 AS sockets, e.value ->> 8 AS ret,
           e.value ->> 9 AS errno, e.value ->> 10 AS mask,
           CASE json_type(e.value, '$[11]') WHEN 'text' THEN e.value ->> 11 ELSE e.value -> 11 END AS details
    FROM traces t, json_each(t.events) e WHERE json_type(e.value, '$[0]') = 'integer'
    UNION ALL
    SELECT t.result_id, e.key, e.value ->> 0, e.value ->> '$[1].seq', e.value ->> '$[1].step',
           (e.value ->> '$[1].t0') - (SELECT min(o.value ->> '$[1].t0') FROM json_each(t.events) o
                                      WHERE coalesce(o.value ->> 2, 'local') = coalesce(e.value ->> 2, 'local')),
           (e.value ->> '$[1].t1') - (e.value ->> '$[1].t0'), e.value ->> '$[1].op',
           CASE WHEN e.value ->> '$[1].h' IS NOT NULL AND e.value ->> '$[1].new' IS NOT NULL
                THEN (e.value ->> '$[1].h') || '>' || (e.value ->> '$[1].new') ELSE coalesce(e.value ->> '$[1].h', e.value ->> '$[1].new') END,
           e.value ->> '$[1].ret', e.value ->> '$[1].errno',
           CASE WHEN coalesce(e.value -> '$[1].ready', e.value -> '$[1].revents') IS NOT NULL THEN
             (SELECT CASE WHEN count(*) = 0 THEN '-' ELSE group_concat((r.value ->> 'h') || ':' ||
                       coalesce((SELECT group_concat(f.value, '|') FROM json_each(r.value, '$.events') f), '0'), ' ') END
              FROM json_each(coalesce(e.value -> '$[1].ready', e.value -> '$[1].revents')) r) END,
           e.value -> 1
    FROM traces t, json_each(t.events) e WHERE json_type(e.value, '$[0]') = 'text';
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length
