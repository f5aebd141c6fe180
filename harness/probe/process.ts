/**
 * One running probe (one actor): writes command lines, reads event lines,
 * validates each event against schemas/event.schema.json and groups them by
 * step. A probe that exits, hangs or writes garbage never throws here: the
 * outcome says what happened and the runner turns it into an `error`.
 */
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { compileSchemaFile } from '../deps/ajv.js'
import { spawnLongLived } from '../deps/process.js'
import type { LongLivedChild } from '../deps/process.js'
import { schemaDir } from '../paths.js'
import type { ProbeEvent } from './event.js'

export interface InvalidLine {
  actor: string
  raw: string
  problem: string
}

export interface StepOutcome {
  events: ProbeEvent[]
  /** done: the probe finished the command; timeout: the limit passed; exit: the probe died */
  status: 'done' | 'timeout' | 'exit'
}

interface Pending {
  events: ProbeEvent[]
  done: boolean
  waiters: Array<(o: StepOutcome) => void>
}

const STDERR_LIMIT = 64 * 1024

export class ProbeProcess {
  readonly actor: string
  readonly events: ProbeEvent[] = []
  readonly invalid: InvalidLine[] = []
  hello: ProbeEvent | undefined
  stderr = ''
  exit: { code: number | undefined; signal: string | undefined } | undefined
  private readonly child: LongLivedChild
  private readonly steps = new Map<string, Pending>()
  private helloWaiters: Array<(ok: boolean) => void> = []
  private endWaiters: Array<() => void> = []
  private readonly validate = compileSchemaFile(join(schemaDir, 'event.schema.json'))

  constructor(argv: readonly string[], actor: string) {
    this.actor = actor
    this.child = spawnLongLived(argv)
    this.child.stdin.on('error', () => {
      /* EPIPE after the probe died: reported through `exit` */
    })
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (chunk: string) => {
      if (this.stderr.length < STDERR_LIMIT) this.stderr += chunk.slice(0, STDERR_LIMIT - this.stderr.length)
    })
    const lines = createInterface({ input: this.child.stdout, crlfDelay: Infinity })
    lines.on('line', line => this.onLine(line))
    void this.child.exited.then(exit => {
      this.exit = exit
      for (const w of this.helloWaiters) w(false)
      this.helloWaiters = []
      for (const w of this.endWaiters.splice(0)) w()
      for (const p of this.steps.values()) {
        if (!p.done) for (const w of p.waiters.splice(0)) w({ events: p.events, status: 'exit' })
      }
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** Forget the hello seen so far: the next waitHello waits for another (the probe's `capture` command says hello again). */
  expectAnotherHello(): void {
    this.hello = undefined
  }

  /** Wait for the hello event; false if the probe died or stayed silent. */
  waitHello(timeoutMs: number): Promise<boolean> {
    if (this.hello) return Promise.resolve(true)
    if (this.exit) return Promise.resolve(false)
    return new Promise(resolve => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.helloWaiters.push(ok => {
        clearTimeout(timer)
        resolve(ok)
      })
    })
  }

  private onLine(line: string): void {
    if (!line.trim()) return
    let obj: unknown
    try {
      obj = JSON.parse(line)
    } catch {
      this.invalid.push({ actor: this.actor, raw: line, problem: 'not JSON' })
      return
    }
    if (obj && typeof obj === 'object' && 'done' in obj && !('seq' in obj)) {
      const step = String((obj as { done: unknown }).done)
      const p = this.pending(step)
      p.done = true
      for (const w of p.waiters.splice(0)) w({ events: p.events, status: 'done' })
      return
    }
    if (!this.validate(obj)) {
      const problem = (this.validate.errors ?? []).map(e => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ')
      this.invalid.push({ actor: this.actor, raw: line, problem: `event does not match event.schema.json: ${problem}` })
      return
    }
    const event = obj as ProbeEvent
    if (event.op === 'hello') {
      this.hello = event
      for (const w of this.helloWaiters) w(true)
      this.helloWaiters = []
      return
    }
    this.events.push(event)
    if (event.step !== undefined) this.pending(event.step).events.push(event)
    if (event.op === 'capture_end') for (const w of this.endWaiters.splice(0)) w()
  }

  private pending(step: string): Pending {
    let p = this.steps.get(step)
    if (!p) {
      p = { events: [], done: false, waiters: [] }
      this.steps.set(step, p)
    }
    return p
  }

  /** Send one command line (without the step token, which is prepended). */
  send(step: string, command: string): void {
    this.pending(step)
    this.child.stdin.write(`${step} ${command}\n`)
  }

  /**
   * Run plumbing commands before a scenario (`netns NAME`), each under step
   * token `${prefix}${i}`; stops at the first that fails. Returns why it
   * failed, or undefined when all succeeded.
   */
  async runSetup(lines: readonly string[], prefix: string, timeoutMs: number): Promise<string | undefined> {
    for (const [i, line] of lines.entries()) {
      const token = `${prefix}${i}`
      this.send(token, line)
      const outcome = await this.waitStep(token, timeoutMs)
      const bad = outcome.events.find(e => e.error !== undefined || (e.ret ?? 0) < 0)
      if (outcome.status !== 'done' || bad)
        return `'${line}' failed: ${bad ? (bad.error ?? `${bad.op} ${bad.errno ?? bad.ret}`) : outcome.status}`
    }
    return undefined
  }

  /** Wait until the probe reports the step done, the limit passes or the probe exits. */
  waitStep(step: string, timeoutMs: number): Promise<StepOutcome> {
    const p = this.pending(step)
    if (p.done) return Promise.resolve({ events: p.events, status: 'done' })
    if (this.exit) return Promise.resolve({ events: p.events, status: 'exit' })
    return new Promise(resolve => {
      const timer = setTimeout(
        () => {
          const i = p.waiters.indexOf(finish)
          if (i >= 0) p.waiters.splice(i, 1)
          resolve({ events: p.events, status: 'timeout' })
        },
        Math.max(0, timeoutMs),
      )
      const finish = (o: StepOutcome): void => {
        clearTimeout(timer)
        resolve(o)
      }
      p.waiters.push(finish)
    })
  }

  /** Close stdin (the probe closes its handles and exits); kill it if it lingers. */
  /**
   * End a capture process: `quit`, then wait (bounded) for its `capture_end`
   * event, which follows the last segment. A guest's port drops everything
   * the guest writes once the host end closes, so EOF alone could lose the
   * last segments; then stop as usual.
   */
  async endCapture(timeoutMs = 2000): Promise<void> {
    if (!this.exit && !this.events.some(e => e.op === 'capture_end')) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, timeoutMs)
        this.endWaiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
        this.child.stdin.write('quit\n')
      })
    }
    await this.stop()
  }

  async stop(graceMs = 1000): Promise<void> {
    if (!this.exit) this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await this.child.exited
    clearTimeout(timer)
  }

  kill(): void {
    this.child.kill('SIGKILL')
  }
}
