/** Where the kit's own files live, whether running from source (ts) or dist/. */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) return dir
    dir = dirname(dir)
  }
  throw new Error('sockspec: cannot find the package root (package.json + schemas/)')
}

export const kitRoot = findRoot()
export const schemaDir = join(kitRoot, 'schemas')
export const scenarioDir = join(kitRoot, 'scenarios')
export const probeBinary = join(kitRoot, 'harness', 'native', 'build', 'sockspec-probe')
export const probeStaticBinary = join(kitRoot, 'harness', 'native', 'build', 'sockspec-probe-static')
