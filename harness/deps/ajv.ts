/** Adapter for ajv 8 (draft 2020-12). One compiled validator per schema file. */
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { readFileSync } from 'node:fs'

export type { ErrorObject }

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, strictRequired: false })
const cache = new Map<string, ValidateFunction>()

export function compileSchemaFile(path: string): ValidateFunction {
  let fn = cache.get(path)
  if (!fn) {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    const id = typeof schema['$id'] === 'string' ? schema['$id'] : undefined
    const existing = id ? ajv.getSchema(id) : undefined
    fn = existing ?? ajv.compile(schema)
    cache.set(path, fn)
  }
  return fn
}
