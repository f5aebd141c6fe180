/**
 * Adapter for ajv 8 (draft 2020-12). One validator per schema file.
 *
 * `npm run build` compiles every schema into standalone code
 * (dist/validators/NAME.cjs, see ajv-standalone.ts), so a run loads plain
 * functions instead of compiling schemas (about 1 s on a small machine) and
 * does not even load ajv. A precompiled validator is used only when it was
 * made from the schema file as it is now (sha256 recorded in it); otherwise,
 * e.g. a schema edited after the build, the schema is compiled here.
 */
import type { Ajv2020 } from 'ajv/dist/2020.js'
import type * as AjvModule from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, join } from 'node:path'
import { kitRoot } from '../paths.js'

export type { ErrorObject }

/** Options of every compile, at build time and at run time alike. */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true, strictRequired: false } as const

export const validatorDir = join(kitRoot, 'dist', 'validators')
export const validatorFile = (schemaPath: string): string => join(validatorDir, `${basename(schemaPath, '.json')}.cjs`)
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

const require = createRequire(import.meta.url)
const cache = new Map<string, ValidateFunction>()
let ajv: Ajv2020 | undefined

/** How the last validator of each schema was obtained (for tests and the bench). */
export const validatorOrigin = new Map<string, 'precompiled' | 'compiled'>()

function precompiled(path: string, text: string): ValidateFunction | undefined {
  const file = validatorFile(path)
  if (!existsSync(file)) return undefined
  const mod = require(file) as ValidateFunction & { schemaSha256?: string }
  return mod.schemaSha256 === sha256(text) ? mod : undefined
}

function compile(schema: Record<string, unknown>): ValidateFunction {
  if (!ajv) {
    // loaded only when a schema has to be compiled at run time
    const { Ajv2020: Ctor } = require('ajv/dist/2020.js') as typeof AjvModule
    ajv = new Ctor({ ...AJV_OPTIONS })
  }
  const id = typeof schema['$id'] === 'string' ? schema['$id'] : undefined
  return (id ? ajv.getSchema(id) : undefined) ?? ajv.compile(schema)
}

export function compileSchemaFile(path: string): ValidateFunction {
  let fn = cache.get(path)
  if (!fn) {
    const text = readFileSync(path, 'utf8')
    fn = precompiled(path, text)
    validatorOrigin.set(path, fn ? 'precompiled' : 'compiled')
    fn ??= compile(JSON.parse(text) as Record<string, unknown>)
    cache.set(path, fn)
  }
  return fn
}
