/** `sockspec validate PATH...`: schema and semantic checks, errors as file:line:col. */
import { loadScenarios } from '../scenario/load.js'
import { variantsOf } from '../scenario/expand.js'

export function validateCommand(paths: string[]): number {
  const scenarios = loadScenarios(paths) // throws SockspecError (exit 2) with positions
  const variants = scenarios.reduce((n, s) => n + variantsOf(s).length, 0)
  process.stdout.write(`ok: ${scenarios.length} scenarios, ${variants} variants\n`)
  return 0
}
