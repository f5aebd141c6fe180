/**
 * The one place that spawns child processes, so their options and quirks
 * live here. Short commands go through execa 9 (output captured, time-outs),
 * loaded on first use: importing it costs about 0.3 s of start-up, before
 * the first scenario, which needs only probes. Long-lived children (probes,
 * capture, qemu) are spawned with node:child_process and raw streams, and
 * killed when this process exits, as execa's `cleanup` did.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
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

/** Live long-lived children, killed if this process exits or dies of a signal nobody else handles. */
const live = new Set<ChildProcess>()
let cleanupInstalled = false

function killLive(): void {
  for (const c of live) c.kill('SIGKILL')
  live.clear()
}

function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.once('exit', killLive)
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    const onSignal = (): void => {
      // Only when this handler is the last: then the signal would end the
      // process anyway, so kill the children and die of it as before.
      if (process.listenerCount(sig) > 1) return
      killLive()
      process.removeListener(sig, onSignal)
      process.kill(process.pid, sig)
    }
    process.on(sig, onSignal)
  }
}

/**
 * Programs served inside this process instead of spawned (a vm guest's probe
 * port: a socket, where a child process per probe only relayed bytes).
 */
const inProcess = new Map<string, (args: readonly string[]) => LongLivedChild>()

export function serveInProcess(program: string, start: (args: readonly string[]) => LongLivedChild): void {
  inProcess.set(program, start)
}

export function spawnLongLived(argv: readonly string[], env?: Record<string, string>): LongLivedChild {
  const [file, ...args] = argv
  if (!file) throw new Error('spawnLongLived: empty argv')
  const own = inProcess.get(file)
  if (own) return own(args)
  countSpawn(argv)
  installCleanup()
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env })
  live.add(child)
  // 'close' comes after the exit and after stdout and stderr ended, so every line is read before `exited` resolves
  const exited = new Promise<{ code: number | undefined; signal: string | undefined }>(resolve => {
    child.once('close', (code, signal) => resolve({ code: code ?? undefined, signal: signal ?? undefined }))
    child.once('error', () => resolve({ code: undefined, signal: undefined })) // could not be started
  }).finally(() => live.delete(child))
  return {
    pid: child.pid,
    stdin: child.stdin!,
    stdout: child.stdout!,
    stderr: child.stderr!,
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
  const { execa } = await import('execa')
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : undefined,
  })
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), failed: r.failed }
}
