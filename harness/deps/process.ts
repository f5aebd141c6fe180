/**
 * Adapter for execa 9: the one place that spawns child processes, so its
 * options and quirks live here. Long-lived children (probes) get raw streams;
 * short commands get their output captured.
 */
import { execa } from 'execa'
import type { Readable, Writable } from 'node:stream'

/**
 * Processes spawned through this adapter, by program (for `npm run bench`:
 * the kit spawns only here, so this is the per-run spawn count). `ip netns
 * exec NS PROG` is one process that becomes PROG, counted under PROG.
 */
const spawned = new Map<string, number>()

function countSpawn(argv: readonly string[]): void {
  let prog = argv[0] ?? ''
  if (prog === 'ip' && argv[1] === 'netns' && argv[2] === 'exec' && argv[4]) prog = argv[4]
  const name = prog.slice(prog.lastIndexOf('/') + 1)
  spawned.set(name, (spawned.get(name) ?? 0) + 1)
}

/** Spawn counts by program name since the process started (or since the last reset). */
export function spawnCounts(reset = false): Map<string, number> {
  const copy = new Map(spawned)
  if (reset) spawned.clear()
  return copy
}

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
  countSpawn(argv)
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
  countSpawn(argv)
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : undefined,
  })
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), failed: r.failed }
}
