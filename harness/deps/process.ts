/**
 * Adapter for execa 9: the one place that spawns child processes, so its
 * options and quirks live here. Long-lived children (probes) get raw streams;
 * short commands get their output captured.
 */
import { execa } from 'execa'
import type { Readable, Writable } from 'node:stream'

export interface LongLivedChild {
  pid: number | undefined
  stdin: Writable
  stdout: Readable
  stderr: Readable
  /** Resolves when the process has exited, never rejects. */
  exited: Promise<{ code: number | undefined; signal: string | undefined }>
  kill(signal?: NodeJS.Signals): void
}

export function spawnLongLived(argv: readonly string[], env?: Record<string, string>): LongLivedChild {
  const [file, ...args] = argv
  if (!file) throw new Error('spawnLongLived: empty argv')
  const child = execa(file, args, {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    stripFinalNewline: false,
    cleanup: true, // killed if this process exits
    env,
    extendEnv: true,
  })
  const exited = child.then(
    r => ({ code: r.exitCode, signal: r.signal }),
    (e: { exitCode?: number; signal?: string }) => ({ code: e.exitCode, signal: e.signal }),
  )
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal)
    },
  }
}

export interface CommandResult {
  exitCode: number | undefined
  stdout: string
  stderr: string
  failed: boolean
}

/** Run a short command and capture its output; never throws for a non-zero exit. */
export async function runCommand(
  argv: readonly string[],
  opts: { timeoutMs?: number; input?: string | Uint8Array } = {},
): Promise<CommandResult> {
  const [file, ...args] = argv
  if (!file) throw new Error('runCommand: empty argv')
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : undefined,
  })
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), failed: r.failed }
}
