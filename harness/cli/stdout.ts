/**
 * A closed stdout (`sockspec runs | head -n 1`) is not an error of the
 * command: writes fail with EPIPE, the command ends quietly with the exit
 * code it would have had, and a run stops cleanly (runner/run.ts listens).
 */
const listeners = new Set<() => void>()
let closed = false
let guarded = false

function isClosedPipe(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET'
}

/** Install once, before any output: later write errors on stdout end output, not the process. */
export function guardStdout(stream: NodeJS.WriteStream = process.stdout): void {
  if (guarded) return
  guarded = true
  stream.on('error', (err: unknown) => {
    if (!isClosedPipe(err)) throw err
    if (closed) return
    closed = true
    for (const fn of listeners) fn()
  })
}

export function stdoutClosed(): boolean {
  return closed
}

/** Call `fn` once stdout is found closed; returns the unsubscribe. */
export function onStdoutClosed(fn: () => void): () => void {
  listeners.add(fn)
  return () => void listeners.delete(fn)
}
