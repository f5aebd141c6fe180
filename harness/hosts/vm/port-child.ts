/**
 * The host end of one guest probe, inside this process (it used to be a Node
 * child process per probe): a unix socket to the virtio-serial port, output before
 * the probe's hello dropped, the init's guest-stderr/guest-exit frames turned
 * into stderr and an exit code, shaped as a LongLivedChild so ProbeProcess
 * drives it like any probe. Under emulation a Node child per probe cost
 * about as much host CPU as the guest's own work for that probe.
 */
import { createConnection } from 'node:net'
import { PassThrough } from 'node:stream'
import type { LongLivedChild } from '../../deps/process.js'
import { serveInProcess } from '../../deps/process.js'

/** The argv[0] a vm session's probe argv starts with; the socket path follows. */
export const GUEST_PORT_PROGRAM = 'sockspec-guest-port'

export function guestPortChild(path: string): LongLivedChild {
  const socket = createConnection(path)
  const stdin = new PassThrough()
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let live = false
  let pending = ''
  let settle: (exit: { code: number | undefined; signal: string | undefined }) => void = () => {}
  const exited = new Promise<{ code: number | undefined; signal: string | undefined }>(resolve => (settle = resolve))
  let done = false
  const finish = (code: number | undefined, signal?: string): void => {
    if (done) return
    done = true
    socket.destroy()
    stdin.unpipe(socket)
    stdin.resume()
    stderr.end()
    // `exited` after stdout ended, as a process's 'close': every line is read first
    stdout.end(() => settle({ code, signal }))
  }
  const onLine = (line: string): void => {
    if (line.startsWith('{"guest-stderr":') || line.startsWith('{"guest-exit":')) {
      if (!live) return
      try {
        const frame = JSON.parse(line) as { 'guest-stderr'?: string; 'guest-exit'?: number }
        if (frame['guest-stderr'] !== undefined) stderr.write(`${frame['guest-stderr']}\n`)
        if (frame['guest-exit'] !== undefined) {
          if (frame['guest-exit'] > 128) stderr.write(`guest probe killed by signal ${frame['guest-exit'] - 128}\n`)
          finish(frame['guest-exit'])
        }
      } catch {
        stderr.write(line)
      }
      return
    }
    if (!live) {
      // what a previous lease of the port left behind
      if (!/^\{"seq":0,"op":"hello"/.test(line)) return
      live = true
    }
    stdout.write(line)
  }
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    pending += chunk
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      onLine(pending.slice(0, nl + 1))
      pending = pending.slice(nl + 1)
    }
  })
  socket.on('error', err => {
    stderr.write(`guest port ${path}: ${err.message}\n`)
    finish(1)
  })
  socket.on('close', () => {
    if (!live) stderr.write(`guest port ${path} closed before the probe said hello\n`)
    finish(live ? 0 : 1)
  })
  stdin.pipe(socket)
  return {
    pid: undefined,
    stdin,
    stdout,
    stderr,
    exited,
    // the socket closing is the probe's EOF; one stuck in a blocking call is killed by the port's reset on release
    kill: signal => finish(undefined, signal ?? 'SIGKILL'),
  }
}

serveInProcess(GUEST_PORT_PROGRAM, args => guestPortChild(args[0] ?? ''))
