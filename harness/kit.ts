/** The kit's own identity, recorded with every run. */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitRoot } from './paths.js'

export function kitVersion(): string {
  const pkg = JSON.parse(readFileSync(join(kitRoot, 'package.json'), 'utf8')) as { version: string }
  return pkg.version
}

/** The git commit of the kit checkout, read from .git without spawning git. */
export function kitCommit(): string | undefined {
  try {
    const gitDir = join(kitRoot, '.git')
    if (!existsSync(gitDir)) return undefined
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim()
    if (!head.startsWith('ref: ')) return head
    const ref = head.slice(5)
    const loose = join(gitDir, ref)
    if (existsSync(loose)) return readFileSync(loose, 'utf8').trim()
    const packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8')
    return new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[/.]/g, '\\$&')}$`, 'm').exec(packed)?.[1]
  } catch {
    return undefined
  }
}
