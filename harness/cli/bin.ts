#!/usr/bin/env node
/**
 * Executable entry of the `sockspec` bin. Whatever goes wrong ends in one
 * line on stderr and exit 2; the stack trace only with SOCKSPEC_DEBUG set.
 */
import { main } from './main.js'
import { guardStdout } from './stdout.js'

function internalError(err: unknown): void {
  const debug = !!process.env['SOCKSPEC_DEBUG']
  const text = err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err)
  const line = debug ? text : text.split('\n')[0]
  try {
    process.stderr.write(`sockspec: internal error: ${line}${debug ? '' : ' (set SOCKSPEC_DEBUG=1 for the stack trace)'}\n`)
  } catch {
    // stderr closed too: the exit code still tells
  }
  process.exitCode = 2
}

guardStdout()
process.on('uncaughtException', err => {
  internalError(err)
  process.exit(2)
})
process.on('unhandledRejection', err => {
  internalError(err)
  process.exit(2)
})

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code
  },
  (err: unknown) => internalError(err),
)
