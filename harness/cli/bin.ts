#!/usr/bin/env node
/** Executable entry of the `sockspec` bin. */
import { main } from './main.js'

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`sockspec: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = 2
  },
)
