/**
 * Build step (`npm run build`, after tsc): every schema in schemas/ compiled
 * by ajv into standalone CommonJS code in dist/validators/, with the sha256
 * of the schema text it was made from, which ajv.ts checks before using it.
 * Generated, not committed: it follows the schemas on every build.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import standaloneCode from 'ajv/dist/standalone/index.js'
import { AJV_OPTIONS, sha256, validatorDir, validatorFile } from './ajv.js'
import { schemaDir } from '../paths.js'

mkdirSync(validatorDir, { recursive: true })
for (const name of readdirSync(schemaDir).filter(f => f.endsWith('.schema.json'))) {
  const path = join(schemaDir, name)
  const text = readFileSync(path, 'utf8')
  const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true } })
  const validate = ajv.compile(JSON.parse(text) as Record<string, unknown>)
  const code = standaloneCode.default(ajv, validate)
  writeFileSync(validatorFile(path), `${code}\nmodule.exports.schemaSha256 = ${JSON.stringify(sha256(text))};\n`)
}
