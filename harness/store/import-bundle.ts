/**
 * Write a run bundle into a store. Idempotent, like merge: the run is keyed
 * by uuid, scenarios by (scenario, hash), results by (run, scenario, variant,
 * attempt); what is already there is kept, what is missing is added with
 * fresh local ids. A run copied while it was still running can be completed
 * by merging it again later.
 */
import { join } from 'node:path'
import { compileSchemaFile } from '../deps/ajv.js'
import type { SqliteDatabase } from '../deps/sqlite.js'
import { SockspecError } from '../errors.js'
import { schemaDir } from '../paths.js'
import { BUNDLE_FORMAT, BUNDLE_VERSION } from './run-bundle.js'
import type { RunBundle } from './run-bundle.js'

export interface ImportStats {
  uuid: string
  runAdded: boolean
  scenariosAdded: number
  resultsAdded: number
  resultsKept: number
  eventsAdded: number
  checksAdded: number
}

/** Parse and validate a bundle document (schemas/run.schema.json). */
export function parseRunBundle(text: string, file: string): RunBundle {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new SockspecError('E_SYNTAX', `${file}: not JSON: ${(err as Error).message}`)
  }
  const head = (doc ?? {}) as { format?: unknown; version?: unknown }
  if (head.format !== BUNDLE_FORMAT)
    throw new SockspecError(
      'E_SCHEMA',
      `${file}: not a sockspec run bundle (format is ${JSON.stringify(head.format)}, expected "${BUNDLE_FORMAT}")`,
    )
  if (head.version !== BUNDLE_VERSION) {
    throw new SockspecError(
      'E_SCHEMA',
      `${file}: run bundle version ${JSON.stringify(head.version)} is not one this kit reads (${BUNDLE_VERSION})`,
    )
  }
  const validate = compileSchemaFile(join(schemaDir, 'run.schema.json'))
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).slice(0, 10).map(e => `  ${e.instancePath || '/'}: ${e.message ?? 'invalid'}`)
    throw new SockspecError('E_SCHEMA', `${file}: invalid run bundle:\n${problems.join('\n')}`)
  }
  const bundle = doc as RunBundle
  const known = new Set(bundle.scenarios.map(s => `${s.scenario}\u0000${s.hash}`))
  for (const r of bundle.results) {
    if (!known.has(`${r.scenario}\u0000${r.hash}`))
      throw new SockspecError(
        'E_SCHEMA',
        `${file}: result ${r.scenario} [${r.variant}] refers to a scenario (hash ${r.hash}) the bundle does not carry`,
      )
  }
  return bundle
}

export function importRunBundle(db: SqliteDatabase, bundle: RunBundle): ImportStats {
  return db.transaction((): ImportStats => {
    const stats: ImportStats = {
      uuid: bundle.run.uuid,
      runAdded: false,
      scenariosAdded: 0,
      resultsAdded: 0,
      resultsKept: 0,
      eventsAdded: 0,
      checksAdded: 0,
    }
    const run = bundle.run
    const existing = db.prepare(`SELECT id, status FROM runs WHERE uuid = ?`).get(run.uuid) as { id: number; status: string } | undefined
    let runId: number
    if (existing) {
      runId = existing.id
      // a copy taken mid-run is completed by a later copy of the finished run
      if (existing.status === 'running' && run.status !== 'running') {
        db.prepare(`UPDATE runs SET finished_at = ?, status = ? WHERE id = ?`).run(run.finished_at, run.status, runId)
      }
    } else {
      const r = db
        .prepare(
          `INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, finished_at, status, hosts)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.uuid,
          run.host,
          run.host_kind,
          run.kernel_release,
          run.kernel_version,
          run.arch,
          run.distro,
          run.kit_version,
          run.kit_commit,
          JSON.stringify(run.sysctls),
          JSON.stringify(run.argv),
          run.started_at,
          run.finished_at,
          run.status,
          JSON.stringify(run.hosts),
        )
      runId = Number(r.lastInsertRowid)
      stats.runAdded = true
    }

    const findScenario = db.prepare(`SELECT id FROM scenarios WHERE scenario = ? AND hash = ?`)
    const insertScenario = db.prepare(
      `INSERT INTO scenarios (scenario, hash, pack, title, sources, claim, body) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    const scenarioIds = new Map<string, number>()
    for (const s of bundle.scenarios) {
      const found = findScenario.get(s.scenario, s.hash) as { id: number } | undefined
      let id = found?.id
      if (id === undefined) {
        id = Number(
          insertScenario.run(s.scenario, s.hash, s.pack, s.title, JSON.stringify(s.sources), s.claim, JSON.stringify(s.body))
            .lastInsertRowid,
        )
        stats.scenariosAdded++
      }
      scenarioIds.set(`${s.scenario}\u0000${s.hash}`, id)
    }

    const findResult = db.prepare(`SELECT id FROM results WHERE run_id = ? AND scenario_id = ? AND variant = ? AND attempt = ?`)
    const insertResult = db.prepare(
      `INSERT INTO results (run_id, scenario_id, variant, attempt, verdict, claim, duration_ms, message, stderr, kernels, invalid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertEvent = db.prepare(
      `INSERT INTO events (result_id, idx, actor, seq, step, t_ns, dur_ns, op, sockets, ret, errno, mask, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertCheck = db.prepare(
      `INSERT INTO checks (result_id, idx, step, actor, field, expected, observed, verdict, claim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    for (const r of bundle.results) {
      const scenarioId = scenarioIds.get(`${r.scenario}\u0000${r.hash}`)
      if (scenarioId === undefined)
        throw new SockspecError('E_SCHEMA', `result ${r.scenario} [${r.variant}] refers to a scenario the bundle does not carry`)
      if (findResult.get(runId, scenarioId, r.variant, r.attempt)) {
        stats.resultsKept++
        continue
      }
      const resultId = Number(
        insertResult.run(
          runId,
          scenarioId,
          r.variant,
          r.attempt,
          r.verdict,
          r.claim,
          r.duration_ms,
          r.message,
          JSON.stringify(r.stderr),
          JSON.stringify(r.kernels),
          JSON.stringify(r.invalid),
        ).lastInsertRowid,
      )
      stats.resultsAdded++
      for (const e of r.events) {
        insertEvent.run(
          resultId,
          e.idx,
          e.actor,
          e.seq,
          e.step,
          e.t_ns,
          e.dur_ns,
          e.op,
          e.sockets,
          e.ret,
          e.errno,
          e.mask,
          JSON.stringify(e.details),
        )
        stats.eventsAdded++
      }
      for (const c of r.checks) {
        insertCheck.run(resultId, c.idx, c.step, c.actor, c.field, c.expected, c.observed, c.verdict, c.claim)
        stats.checksAdded++
      }
    }
    return stats
  })()
}
