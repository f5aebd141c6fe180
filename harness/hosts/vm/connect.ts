/**
 * The host end of one guest probe: `node connect.js <socket>` pipes its stdin
 * and stdout to a virtio-serial port's unix socket, so a guest probe looks
 * like any local probe to ProbeProcess (argv in, NDJSON out).
 *
 * Output before the probe's hello event is dropped: it is what a previous
 * lease of the port left behind. The guest's init reports a probe that died
 * with `{"guest-stderr":...}` lines and `{"guest-exit":N}`; they become this
 * process's stderr and exit code, as if the probe had run here.
 */
import { createConnection } from 'node:net'

const path = process.argv[2]
if (!path) {
  process.stderr.write('usage: connect.js <unix socket of a guest probe port>\n')
  process.exit(2)
}

const socket = createConnection(path)
let live = false
let pending = ''

function finish(code: number): void {
  socket.destroy()
  process.stdout.write('', () => process.exit(code))
}

function onLine(line: string): void {
  if (line.startsWith('{"guest-stderr":') || line.startsWith('{"guest-exit":')) {
    if (!live) return
    try {
      const frame = JSON.parse(line) as { 'guest-stderr'?: string; 'guest-exit'?: number }
      if (frame['guest-stderr'] !== undefined) process.stderr.write(`${frame['guest-stderr']}\n`)
      if (frame['guest-exit'] !== undefined) {
        if (frame['guest-exit'] > 128) process.stderr.write(`guest probe killed by signal ${frame['guest-exit'] - 128}\n`)
        finish(frame['guest-exit'])
      }
    } catch {
      process.stderr.write(line)
    }
    return
  }
  if (!live) {
    if (!/^\{"seq":0,"op":"hello"/.test(line)) return
    live = true
  }
  process.stdout.write(line)
}

// the kit went away (killed the connector's reader): nothing left to tell, and no crash report on its stderr
process.stdout.on('error', () => process.exit(1))
socket.setEncoding('utf8')
socket.on('data', (chunk: string) => {
  pending += chunk
  for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
    onLine(pending.slice(0, nl + 1))
    pending = pending.slice(nl + 1)
  }
})
socket.on('error', err => {
  process.stderr.write(`guest port ${path}: ${err.message}\n`)
  finish(1)
})
socket.on('close', () => {
  if (!live) process.stderr.write(`guest port ${path} closed before the probe said hello\n`)
  finish(live ? 0 : 1)
})
process.stdin.pipe(socket)
