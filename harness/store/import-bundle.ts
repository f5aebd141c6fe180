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
import { writeTransaction } from '../deps/sqlite.js'
import { SockspecError } from '../errors.js'
import { schemaDir } from '../paths.js'
import { BUNDLE_FORMAT, BUNDLE_VERSION } from './run-bundle.js'
import type { RunBundle } from './run-bundle.js'
import { encodeChecks, encodeEntries, encodeEvents } from './store.js'
import { signatureOf } from '../compare/signature.js'

export interface ImportStats {
  uuid: string
  runAdded: boolean
  scenariosAdded: number
  resultsAdded: number
  resultsKept: number
  eventsAdded: number
  checksAdded: number
}

/** Deeper than this is no bundle the kit wrote (a scenario body is a few levels): refused before anything recurses. */
export const MAX_BUNDLE_DEPTH = 64
/** A bundle is read whole into memory; larger ones are refused rather than exhausting it. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024

/** Deepest nesting of [ and { outside strings, by one linear scan (no recursion, stops early). */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/** What the schema cannot say: integers SQLite can hold exactly, unique positions. */
function checkBundleValues(bundle: RunBundle, file: string): void {
  const fail = (where: string, problem: string): never => {
    throw new SockspecError('E_SCHEMA', `${file}: invalid run bundle: ${where}: ${problem}`)
  }
  const int = (where: string, v: number | null): void => {
    if (v !== null && !Number.isSafeInteger(v)) fail(where, `${v} is not an integer in ±2^53`)
  }
  const seen = new Set<string>()
  bundle.results.forEach((r, i) => {
    const at = `/results/${i}`
    if (!Number.isFinite(r.duration_ms)) fail(`${at}/duration_ms`, `${r.duration_ms} is not a finite number`)
    int(`${at}/attempt`, r.attempt)
    const key = `${r.scenario}\u0000${r.hash}\u0000${r.variant}\u0000${r.attempt}`
    if (seen.has(key)) fail(at, `result ${r.scenario} [${r.variant}] attempt ${r.attempt} appears twice`)
    seen.add(key)
    const idx = new Set<number>()
    r.events.forEach((e, j) => {
      for (const f of ['idx', 'seq', 't_ns', 'dur_ns', 'ret'] as const) int(`${at}/events/${j}/${f}`, e[f])
      if (idx.has(e.idx)) fail(`${at}/events/${j}/idx`, `event index ${e.idx} appears twice`)
      idx.add(e.idx)
    })
    const cidx = new Set<number>()
    r.checks.forEach((c, j) => {
      int(`${at}/checks/${j}/idx`, c.idx)
      if (cidx.has(c.idx)) fail(`${at}/checks/${j}/idx`, `check index ${c.idx} appears twice`)
      cidx.add(c.idx)
    })
  })
}

/** Parse and validate a bundle document (schemas/run.schema.json). */
export function parseRunBundle(text: string, file: string): RunBundle {
  if (text.length > MAX_BUNDLE_BYTES)
    throw new SockspecError('E_SCHEMA', `${file}: bundle too large (${text.length} bytes, limit ${MAX_BUNDLE_BYTES})`)
  if (jsonDepthExceeds(text, MAX_BUNDLE_DEPTH))
    throw new SockspecError('E_SCHEMA', `${file}: invalid run bundle: nested deeper than ${MAX_BUNDLE_DEPTH} levels`)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new SockspecError('E_SYNTAX', `${file}: not JSON: ${(err as Error).message}`)
  }
  return checkRunBundle(doc, file)
}

/** Validate a bundle document: schemas/run.schema.json, then what the schema cannot say. Also for what export and merge write. */
export function checkRunBundle(doc: unknown, file: string): RunBundle {
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
    // one line, like every input error: the first problem, and how many more
    const errors = validate.errors ?? []
    const first = errors[0]
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''
    throw new SockspecError(
      'E_SCHEMA',
      `${file}: invalid run bundle: ${first ? `${first.instancePath || '/'}: ${first.message ?? 'invalid'}` : 'invalid'}${more}`,
    )
  }
  const bundle = doc as RunBundle
  checkBundleValues(bundle, file)
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
  return writeTransaction(db, (): ImportStats => {
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
        db.prepare(`UPDATE runs SET finished_at = ?, status = ?, reason = ? WHERE id = ?`).run(
          run.finished_at,
          run.status,
          run.reason ?? null,
          runId,
        )
      }
    } else {
      const r = db
        .prepare(
          `INSERT INTO runs (uuid, host, host_kind, kernel_release, kernel_version, arch, distro, kit_version, kit_commit, sysctls, argv, started_at, finished_at, status, hosts, reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          run.reason ?? null,
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
      `INSERT INTO results (run_id, scenario_id, variant, attempt, verdict, claim, duration_ms, message, stderr, kernels, invalid, signature, failed_checks)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertTrace = db.prepare(`INSERT INTO traces (result_id, checks, events) VALUES (?, ?, ?)`)
    for (const r of bundle.results) {
      const scenarioId = scenarioIds.get(`${r.scenario}\u0000${r.hash}`)
      if (scenarioId === undefined)
        throw new SockspecError('E_SCHEMA', `result ${r.scenario} [${r.variant}] refers to a scenario the bundle does not carry`)
      if (findResult.get(runId, scenarioId, r.variant, r.attempt)) {
        stats.resultsKept++
        continue
      }
      const events = [...r.events].sort((x, y) => x.idx - y.idx)
      const checks = [...r.checks].sort((x, y) => x.idx - y.idx)
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
          signatureOf(
            events.map(e => ({ actor: e.actor, op: e.op, raw: e.details })),
            checks,
          ),
          checks.filter(c => c.verdict === 'fail').length,
        ).lastInsertRowid,
      )
      stats.resultsAdded++
      // schema 5 when the events read back the same from it (every bundle the kit exports), else the rows as they are
      insertTrace.run(resultId, encodeChecks(checks), encodeEntries(events) ?? encodeEvents(events))
      stats.eventsAdded += r.events.length
      stats.checksAdded += r.checks.length
    }
    return stats
  })
}
