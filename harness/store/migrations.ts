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
]

export const SCHEMA_VERSION = MIGRATIONS.length
