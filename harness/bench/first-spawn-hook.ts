/**
 * Preloaded (`node --import`) into a `sockspec run` by `npm run bench`: notes
 * when the run spawns its first process (the first scenario's probe or
 * topology command), so start-up is measured on the real CLI without a hook
 * in the kit itself. Writes {ns: CLOCK_MONOTONIC, uptimeMs, argv0} to the file
 * named by SOCKSPEC_BENCH_FIRST_SPAWN.
 */
import childProcess from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'

const out = process.env['SOCKSPEC_BENCH_FIRST_SPAWN']
if (out) {
  const spawn = childProcess.spawn
  let seen = false
  childProcess.spawn = function (this: unknown, ...args: Parameters<typeof spawn>) {
    if (!seen) {
      seen = true
      const ns = process.hrtime.bigint()
      writeFileSync(out, JSON.stringify({ ns: String(ns), uptimeMs: performance.now(), argv0: String(args[0]) }))
    }
    return spawn.apply(this, args)
  } as typeof spawn
  // named imports of node:child_process (execa's) see the wrapper too
  syncBuiltinESMExports()
}
