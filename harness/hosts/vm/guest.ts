/**
 * A running guest: qemu started with the plan from qemu-argv.ts, its control
 * port connected, and a pool of probe ports leased to scenario sessions.
 * A port's probe serves one session after another (its `reset DIR` empties
 * the port's scratch dir); only an unfit one is killed through the control
 * port and respawned by the guest. The last two ports hold the guest's two
 * run-wide packet captures (its loopback, and the scenarios' namespaces).
 * Bounded everywhere: the boot, each port reset and the shutdown have limits;
 * past one the guest is killed and marked down, so its remaining scenarios
 * become `error` instead of hanging. Every qemu started here is killed when
 * this process exits: by an exit hook, and by PR_SET_PDEATHSIG (setpriv)
 * when it dies of a signal.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import type { Socket } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { spawnLongLived } from '../../deps/process.js'
import type { CommandResult, LongLivedChild } from '../../deps/process.js'
import { SharedCapture } from '../../probe/capture.js'
import { ProbePool } from '../../probe/pool.js'
import { emptyGuestInfo, readInfoLine } from './guest-info.js'
import type { GuestInfo } from './guest-info.js'
import { guestEscape, guestScratchDir } from './init-script.js'
import { GUEST_PORT_PROGRAM } from './port-child.js'
import { consoleLog, controlSocket, probeSocket, qemuArgv } from './qemu-argv.js'
import type { Accel } from './qemu-argv.js'

export interface BootOptions {
  vmlinuz: string
  initramfs: string
  probePorts: number
  accel: Accel
  memoryMb?: number
  cpus?: number
  bootTimeoutMs?: number
}

export class GuestBootError extends Error {
  readonly consoleTail: string
  constructor(message: string, consoleTail: string) {
    super(consoleTail ? `${message}; console: ${consoleTail}` : message)
    this.consoleTail = consoleTail
  }
}

/**
 * vCPUs per guest: as many as this machine has cores, at most 4
 * (SOCKSPEC_VM_CPUS overrides). Under TCG each vCPU is a host thread; with
 * one, a guest building several scenarios' namespaces at once (every ip and
 * nft call a dynamically linked program under emulation) fell behind.
 */
export function guestCpus(): number {
  const env = Number(process.env['SOCKSPEC_VM_CPUS'])
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 16)
  return Math.max(1, Math.min(4, availableParallelism()))
}

/**
 * Pure: the lines of a console log that say the guest kernel broke (an Oops,
 * a BUG, a panic) with the faulting function, or undefined when none.
 */
export function consolePanic(log: string): string | undefined {
  const lines = log.split('\n').map(l => l.replace(/^\[\s*\d+\.\d+\]\s*/, '').trim())
  const first = lines.findIndex(l => /^(Oops|BUG:|kernel BUG|general protection fault|Kernel panic)/.test(l))
  if (first < 0) return undefined
  const picked = [lines[first]!]
  const rip = lines.slice(first).find(l => /^RIP: 0010:/.test(l))
  if (rip) picked.push(rip)
  const panic = lines.slice(first).find(l => /^Kernel panic/.test(l))
  if (panic && panic !== picked[0]) picked.push(panic)
  return picked.join(' | ').slice(0, 600)
}

/** Ports kept for the run-wide captures, the last of the guest's: its loopback's, then its namespaces'. */
export const GUEST_CAPTURE_PORTS = 2

/**
 * How long a guest capture with no scenario stays up: restarting one costs
 * the guest a probe respawn and a second hello, so it is kept through the
 * gaps between scenarios (it reads nothing while idle).
 */
const CAPTURE_LINGER_MS = 10_000

/**
 * How long a released port waits for the guest to say its stopped probe
 * ended (it reads EOF when the host end closes) before it is killed instead.
 */
const EXIT_WAIT_MS = 3000

/** An exec the guest did not answer: why, as stderr, with a shell-like exit code. */
const notRun = (exitCode: number, why: string): CommandResult => ({ exitCode, stdout: '', stderr: why, failed: true })

/** One shell word: single quotes, with embedded ones closed, escaped and reopened. */
export const shellQuote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`

const live = new Set<LongLivedChild>()
let exitHookInstalled = false
function track(child: LongLivedChild): void {
  live.add(child)
  void child.exited.then(() => live.delete(child))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL')
    })
  }
}

function connectWithRetry(path: string, deadline: number, child: LongLivedChild): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let exited = false
    void child.exited.then(() => (exited = true))
    const attempt = (): void => {
      const sock = createConnection(path)
      sock.once('connect', () => resolve(sock))
      sock.once('error', err => {
        sock.destroy()
        if (exited || Date.now() > deadline) reject(err)
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

export class Guest {
  readonly info: GuestInfo
  readonly workDir: string
  readonly accel: Accel
  readonly bootMs: number
  /** probe ports scenario sessions lease (the capture ports are not among them) */
  readonly ports: number
  /** the ports' probes between sessions: a session takes its ports' probes from here and gives them back */
  readonly probes: ProbePool
  /** run-wide capture of the guest's loopback (a scenario's window: from a sync at join to one after its steps) */
  readonly loWire: SharedCapture
  /** run-wide capture of the scenarios' namespaces (`capture --empty`; each adds its interfaces for its window) */
  readonly netnsWire: SharedCapture
  /** probes killed through the control port on release (stuck in a step, or not known to have ended) */
  kills = 0
  /** commands run through exec and their summed round trips (ms): where a guest's slot time goes */
  readonly execStats = { count: 0, ms: 0 }
  /** why the guest is unusable, once it is */
  downReason: string | undefined
  private readonly qemu: LongLivedChild
  private readonly control: Socket
  private readonly free: number[]
  private readonly leaseWaiters: Array<{ count: number; resolve: (ports: number[]) => void; reject: (e: Error) => void }> = []
  private readonly resetWaiters = new Map<number, () => void>()
  private readonly execWaiters = new Map<number, (r: CommandResult) => void>()
  private execSeq = 0
  private readonly portOf: (argv: readonly string[]) => number | undefined
  /** per port: pids of probes the guest said ended (`exited N PID`) and nobody waited for yet */
  private readonly ended = new Map<number, Set<number>>()
  private readonly endWaiters = new Map<string, (ended: boolean) => void>()
  /** per port: the pid of the probe the pool stopped though it was idle (it ends on EOF, no reset needed) */
  private readonly stoppedIdle = new Map<number, number>()

  private constructor(
    qemu: LongLivedChild,
    control: Socket,
    lines: ReturnType<typeof createInterface>,
    info: GuestInfo,
    workDir: string,
    opts: BootOptions,
    bootMs: number,
  ) {
    this.qemu = qemu
    this.control = control
    this.info = info
    this.workDir = workDir
    this.accel = opts.accel
    this.bootMs = bootMs
    this.ports = opts.probePorts - GUEST_CAPTURE_PORTS
    this.free = Array.from({ length: this.ports }, (_, i) => i)
    const portOf = new Map(this.free.map(p => [this.socketOf(p), p]))
    // a probe's argv ends with its port's socket (vm-host.ts)
    const port = (argv: readonly string[]): number | undefined => portOf.get(argv[argv.length - 1] ?? '')
    this.probes = new ProbePool({
      accepts: argv => port(argv) !== undefined,
      resetArg: argv => guestScratchDir(port(argv)!),
      // an emulated guest on a busy machine answers slower than a local probe
      resetTimeoutMs: 5000,
      // one stuck in a step never sees EOF, one without a hello is unknown: those are reset through the control port
      onStop: (probe, why) => {
        const pid = (probe.hello as { pid?: unknown } | undefined)?.pid
        const p = port(probe.argv)
        if (p !== undefined && typeof pid === 'number' && why !== 'busy') this.stoppedIdle.set(p, pid)
      },
    })
    this.portOf = port
    const wire = (i: number, command: string[], host: string): SharedCapture =>
      new SharedCapture([GUEST_PORT_PROGRAM, this.socketOf(this.ports + i)], host, CAPTURE_LINGER_MS, {
        command,
        foreignClock: true,
        // a capture given up may still run in the guest, holding the port: killed there, the port's next probe says hello
        abandon: () => this.reset(this.ports + i),
      })
    this.loWire = wire(0, ['capture', 'lo'], 'local')
    this.netnsWire = wire(1, ['capture', '--empty'], 'netns')
    lines.on('line', line => {
      const m = /^reset (\d+)$/.exec(line)
      if (m) this.resetWaiters.get(Number(m[1]))?.()
      const e = /^exited (\d+) (\d+)$/.exec(line)
      if (e) {
        const [p, pid] = [Number(e[1]), Number(e[2])]
        const waiter = this.endWaiters.get(`${p} ${pid}`)
        if (waiter) waiter(true)
        else this.ended.set(p, (this.ended.get(p) ?? new Set()).add(pid))
      }
      const x = /^exec (\d+) (\d+) b(\S*) b(\S*)$/.exec(line)
      if (x) {
        const exitCode = Number(x[2])
        const text = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8')
        this.execWaiters.get(Number(x[1]))?.({ exitCode, stdout: text(x[3]!), stderr: text(x[4]!), failed: exitCode !== 0 })
      }
    })
    control.on('error', () => {})
    // oops=panic and panic=-1 with -no-reboot: a kernel Oops ends qemu, and the console log says why
    void qemu.exited.then(exit => {
      const oops = consolePanic(this.consoleText())
      this.markDown(oops ? `guest kernel panic: ${oops}` : `qemu exited (${exit.signal ?? `code ${exit.code}`})`)
    })
  }

  static async boot(opts: BootOptions): Promise<Guest> {
    const started = performance.now()
    const workDir = mkdtempSync(join(tmpdir(), 'sockspec-vm-'))
    const argv = qemuArgv({
      vmlinuz: opts.vmlinuz,
      initramfs: opts.initramfs,
      workDir,
      probePorts: opts.probePorts,
      accel: opts.accel,
      memoryMb: opts.memoryMb ?? 384,
      cpus: opts.cpus ?? guestCpus(),
    })
    // PR_SET_PDEATHSIG: the kernel kills qemu when this process dies, even by SIGKILL or a signal no handler saw.
    const qemu = spawnLongLived(existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...argv] : argv)
    track(qemu)
    let qemuStderr = ''
    qemu.stderr.setEncoding('utf8')
    // KVM that cannot run this guest says so on stderr (an internal error with a register dump, or
    // `failed to set MSR`) and then pauses or aborts: give up at once instead of at the boot limit
    let kvmBroke: (() => void) | undefined
    qemu.stderr.on('data', (c: string) => {
      qemuStderr = (qemuStderr + c).slice(-4000)
      if (/KVM internal error|failed to set MSR|kvm run failed|KVM: entry failed/.test(qemuStderr)) kvmBroke?.()
    })
    qemu.stdout.resume()
    const deadline = Date.now() + (opts.bootTimeoutMs ?? 90_000)
    const tail = (): string => {
      const log = existsSync(consoleLog(workDir)) ? readFileSync(consoleLog(workDir), 'utf8') : ''
      return `${qemuStderr}${log}`.trim().split('\n').slice(-5).join(' | ')
    }
    const failBoot = async (why: string): Promise<never> => {
      qemu.kill('SIGKILL')
      await qemu.exited
      const err = new GuestBootError(why, tail())
      rmSync(workDir, { recursive: true, force: true })
      throw err
    }
    let control: Socket
    try {
      control = await connectWithRetry(controlSocket(workDir), deadline, qemu)
    } catch (err) {
      return failBoot(`qemu did not open its control socket: ${(err as Error).message}`)
    }
    const info = emptyGuestInfo()
    const lines = createInterface({ input: control, crlfDelay: Infinity })
    // readline re-emits its input's errors: qemu dying (a KVM abort) resets the control socket, and
    // an 'error' nobody listens to on the interface would end this process
    lines.on('error', () => {})
    let timer: NodeJS.Timeout | undefined
    const why = await new Promise<string | undefined>(resolve => {
      kvmBroke = () => resolve(`KVM cannot run this guest (accel ${opts.accel})`)
      timer = setTimeout(
        () => resolve(`guest did not report ready within ${opts.bootTimeoutMs ?? 90_000} ms (accel ${opts.accel})`),
        Math.max(0, deadline - Date.now()),
      )
      const onLine = (line: string): void => {
        if (readInfoLine(info, line)) {
          lines.off('line', onLine)
          resolve(undefined)
        }
      }
      lines.on('line', onLine)
      void qemu.exited.then(exit =>
        resolve(`qemu exited before the guest was ready (${exit.signal ?? `code ${exit.code}`}, accel ${opts.accel})`),
      )
    })
    clearTimeout(timer)
    kvmBroke = undefined
    if (why) {
      control.destroy()
      return failBoot(why)
    }
    return new Guest(qemu, control, lines, info, workDir, opts, performance.now() - started)
  }

  socketOf(port: number): string {
    return probeSocket(this.workDir, port)
  }

  get consoleLog(): string {
    return consoleLog(this.workDir)
  }

  /** The console log so far ('' once removed). */
  consoleText(): string {
    try {
      return readFileSync(this.consoleLog, 'utf8')
    } catch {
      return ''
    }
  }

  /** `count` free probe ports, waiting for other sessions to give theirs back. */
  lease(count: number): Promise<number[]> {
    if (this.downReason) return Promise.reject(new Error(`guest is down: ${this.downReason}`))
    if (count > this.ports) return Promise.reject(new Error(`scenario needs ${count} probes, the guest has ${this.ports} probe ports`))
    return new Promise((resolve, reject) => {
      this.leaseWaiters.push({ count, resolve, reject })
      this.grant()
    })
  }

  private grant(): void {
    while (this.leaseWaiters.length && this.leaseWaiters[0]!.count <= this.free.length) {
      const w = this.leaseWaiters.shift()!
      const ports = this.free.splice(0, w.count)
      // what ended before this lease is no news to it (and keeps the sets small)
      for (const p of ports) this.ended.delete(p)
      w.resolve(ports)
    }
  }

  /**
   * Free these ports. A port whose probe went back to the pool keeps it; one
   * whose probe the guest said ended has a fresh one already; on any other the
   * guest kills whatever still runs (a probe stuck in a blocking call never
   * sees EOF) and starts a fresh one.
   */
  async release(ports: readonly number[]): Promise<void> {
    const kept = new Set(this.probes.idleProbes().flatMap(probe => (probe.exit ? [] : [this.portOf(probe.argv)])))
    await Promise.all(
      ports
        .filter(p => !kept.has(p))
        .map(async p => {
          const pid = this.stoppedIdle.get(p)
          this.stoppedIdle.delete(p)
          if (pid === undefined || !(await this.probeEnded(p, pid))) await this.reset(p)
        }),
    )
    if (this.downReason) return
    this.free.push(...ports)
    this.grant()
  }

  /** Whether the guest says port `port`'s probe `pid` ended (bounded wait). */
  private probeEnded(port: number, pid: number): Promise<boolean> {
    if (this.ended.get(port)?.delete(pid)) return Promise.resolve(true)
    if (this.downReason) return Promise.resolve(false)
    const key = `${port} ${pid}`
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.endWaiters.delete(key)
        resolve(false)
      }, EXIT_WAIT_MS)
      this.endWaiters.set(key, ended => {
        clearTimeout(timer)
        this.endWaiters.delete(key)
        resolve(ended)
      })
    })
  }

  private reset(port: number): Promise<void> {
    if (this.downReason) return Promise.resolve()
    this.kills++
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.resetWaiters.delete(port)
        this.kill(`guest did not reset probe port ${port} within 10 s`)
        resolve()
      }, 10_000)
      this.resetWaiters.set(port, () => {
        clearTimeout(timer)
        this.resetWaiters.delete(port)
        resolve()
      })
      this.control.write(`reset ${port}\n`)
    })
  }

  /**
   * Run argv in the guest (through its shell, as root) and collect its exit
   * code and output, like runCommand on this machine. Bounded: past the
   * limit the result is a timeout (the guest command is left to finish).
   */
  exec(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    if (this.downReason) return Promise.resolve(notRun(255, `guest is down: ${this.downReason}`))
    const id = ++this.execSeq
    const sent = performance.now()
    const script = `${argv.map(shellQuote).join(' ')}\n`
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.execWaiters.delete(id)
        resolve(notRun(124, `no answer from the guest within ${opts.timeoutMs ?? 30_000} ms`))
      }, opts.timeoutMs ?? 30_000)
      this.execWaiters.set(id, r => {
        this.execStats.count++
        this.execStats.ms += performance.now() - sent
        clearTimeout(timer)
        this.execWaiters.delete(id)
        resolve(r)
      })
      this.control.write(`exec ${id} b${guestEscape(script)} b${guestEscape(opts.input ?? '')}\n`)
    })
  }

  private markDown(reason: string): void {
    if (this.downReason) return
    this.downReason = reason
    for (const w of this.leaseWaiters.splice(0)) w.reject(new Error(`guest is down: ${reason}`))
    for (const done of [...this.resetWaiters.values()]) done()
    for (const done of [...this.endWaiters.values()]) done(false)
    for (const done of [...this.execWaiters.values()]) done(notRun(255, `guest is down: ${reason}`))
  }

  /** Kill qemu now (a hanging guest); its sessions' probes see their sockets close. */
  kill(reason: string): void {
    this.markDown(reason)
    this.qemu.kill('SIGKILL')
  }

  /** Power the guest off (bounded), then remove its sockets and logs unless asked to keep them. */
  async shutdown(opts: { keepLogs?: boolean } = {}): Promise<void> {
    if (!this.downReason) {
      this.control.write('poweroff\n')
      const timer = setTimeout(() => this.qemu.kill('SIGKILL'), 5000)
      await this.qemu.exited
      clearTimeout(timer)
    } else {
      this.qemu.kill('SIGKILL')
      await this.qemu.exited
    }
    this.markDown('shut down')
    // qemu is gone: every port's socket closed, so these end at once
    await Promise.all([this.probes.close(), this.loWire.close(), this.netnsWire.close()])
    this.control.destroy()
    if (!opts.keepLogs) rmSync(this.workDir, { recursive: true, force: true })
  }
}
