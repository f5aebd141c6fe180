/**
 * One running probe (one actor): writes command lines, reads event lines,
 * validates each event against schemas/event.schema.json and groups them by
 * step. A probe that exits, hangs or writes garbage never throws here: the
 * outcome says what happened and the runner turns it into an `error`.
 *
 * This is the hot path of a step, so: a plain line splitter on the stdout
 * chunks (readline adds an event emitter hop and a string copy per line),
 * one deadline timer per probe however many steps wait (setTimeout and
 * clearTimeout per step were a third of a step's cost), and the validator
 * precompiled at build time (deps/ajv.ts).
 */
import { join } from 'node:path'
import { compileSchemaFile } from '../deps/ajv.js'
import { spawnLongLived } from '../deps/process.js'
import type { LongLivedChild } from '../deps/process.js'
import { schemaDir } from '../paths.js'
import type { ProbeEvent } from '../trace/event.js'
import { keepRawLine } from '../trace/raw-line.js'
import type { InvalidLine } from '../trace/result.js'

export interface StepOutcome {
  events: ProbeEvent[]
  /** done: the probe finished the command; timeout: the limit passed; exit: the probe died */
  status: 'done' | 'timeout' | 'exit'
}

interface Waiter {
  /** performance.now() at which the wait ends with `timeout` */
  deadline: number
  resolve: (o: StepOutcome) => void
}

interface Pending {
  step: string
  /**
   * Made with the first event as `[event]` (a step has one event mostly;
   * a push onto `[]` reserves 17 slots), or empty when an outcome hands it
   * out first: later events still reach the array the outcome holds.
   */
  events: ProbeEvent[] | undefined
  done: boolean
  /** Created by the first waitStep: most steps of a pipelined batch are never awaited one by one. */
  waiters: Waiter[] | undefined
  /** The step is printable ASCII without '"' or '\\': its done frame and its events carry it as written, no escapes. */
  plain: boolean
}

/** The probe's completion frame, as it writes it: printable ASCII step without '"' or '\\' (anything else goes through JSON.parse). */
const DONE_FRAME = /^\{"done":"([\x20\x21\x23-\x5b\x5d-\x7e]*)","events":\d+\}$/
const DONE_HEAD = '{"done":"'
const DONE_TAIL = '","events":'

/** Printable ASCII without '"' and '\\': the characters DONE_FRAME takes in a step. */
function plainStep(step: string): boolean {
  for (let i = 0; i < step.length; i++) {
    const c = step.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false
  }
  return true
}

/** True when `line` is exactly DONE_FRAME with this step: '{"done":"STEP","events":N}', N digits. */
function isDoneFrameOf(line: string, step: string): boolean {
  const tail = DONE_HEAD.length + step.length
  if (!line.startsWith(DONE_HEAD) || !line.startsWith(step, DONE_HEAD.length) || !line.startsWith(DONE_TAIL, tail)) return false
  const last = line.length - 1
  const digits = tail + DONE_TAIL.length
  if (last <= digits || line.charCodeAt(last) !== 125) return false
  for (let i = digits; i < last; i++) {
    const c = line.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

const STDERR_LIMIT = 64 * 1024
/** A line longer than this is garbage, not an event: it is dropped as invalid instead of growing without bound. */
export const LINE_LIMIT = 64 * 1024 * 1024

/**
 * Splits a byte stream into lines ('\n', an optional '\r' before it is
 * dropped), decoding UTF-8 across chunk boundaries. A last line without
 * '\n' is delivered by end().
 */
export class LineSplitter {
  private rest = ''
  private readonly decoder = new TextDecoder('utf-8')
  private overlong = false
  /** The last chunk did not end with '\n': the streaming decoder may hold part of a character. */
  private carry = false

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: (head: string) => void = () => {},
    private readonly limit = LINE_LIMIT,
  ) {}

  push(chunk: Uint8Array | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decode(chunk)
    let start = 0
    let nl = text.indexOf('\n')
    if (nl < 0) {
      this.append(text)
      return
    }
    // the first line may continue what earlier chunks left
    this.emit(this.rest ? this.rest + text.slice(0, nl) : text.slice(0, nl))
    this.rest = ''
    start = nl + 1
    while ((nl = text.indexOf('\n', start)) >= 0) {
      this.emit(text.slice(start, nl))
      start = nl + 1
    }
    if (start < text.length) this.append(text.slice(start))
  }

  /**
   * A probe's writes end with '\n', so most chunks end on a whole character:
   * those decode in one step (Buffer's decoder, a third of TextDecoder's
   * streaming cost). A chunk after one that ended mid-line goes through the
   * streaming decoder, which may hold the start of a character split there.
   */
  private decode(chunk: Uint8Array): string {
    const whole = chunk.length > 0 && chunk[chunk.length - 1] === 10
    const text = whole && !this.carry && Buffer.isBuffer(chunk) ? chunk.toString('utf8') : this.decoder.decode(chunk, { stream: true })
    this.carry = !whole
    return text
  }

  end(): void {
    const tail = this.rest + this.decoder.decode()
    this.rest = ''
    if (tail) this.emit(tail)
  }

  private append(text: string): void {
    if (this.overlong) return
    if (this.rest.length + text.length > this.limit) {
      this.overlong = true
      this.onOverlong((this.rest.slice(0, 200) + text.slice(0, 200)).slice(0, 200))
      this.rest = ''
      return
    }
    this.rest += text
  }

  private emit(line: string): void {
    if (this.overlong) {
      // the end of an overlong line: already reported
      this.overlong = false
      return
    }
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line)
  }
}

/** What one result saw of a probe: its events, bad lines, stderr, hello and (if it ended) its exit. */
export interface ProbeRecord {
  events: ProbeEvent[]
  invalid: InvalidLine[]
  stderr: string
  hello: ProbeEvent | undefined
  exit: { code: number | undefined; signal: string | undefined } | undefined
}

/** Step token of the reset command (never a scenario step id: those take no '~'). */
const RESET_STEP = '~reset'

export class ProbeProcess {
  /** The actor it plays in the current result (a reused probe plays another one in the next). */
  actor: string
  readonly argv: readonly string[]
  events: ProbeEvent[] = []
  invalid: InvalidLine[] = []
  hello: ProbeEvent | undefined
  stderr = ''
  exit: { code: number | undefined; signal: string | undefined } | undefined
  private readonly child: LongLivedChild
  private readonly steps = new Map<string, Pending>()
  /**
   * The steps sent and not yet done, in the order sent. The probe answers
   * in that order, so a line's step is almost always the one at `head`:
   * a string compare instead of slicing the step out and hashing it for
   * the map. Anything else (a step never sent, a lost frame) goes through
   * the map as before.
   */
  private order: Pending[] = []
  private head = 0
  private helloWaiters: Array<(ok: boolean) => void> = []
  private endWaiters: Array<() => void> = []
  private readonly validate = compileSchemaFile(join(schemaDir, 'event.schema.json'))
  /** Steps with someone waiting on a deadline; the one timer serves them all. */
  private readonly timed = new Set<Pending>()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  /** Command lines of this tick, not written yet. */
  private outgoing: string | undefined

  constructor(argv: readonly string[], actor: string) {
    this.actor = actor
    this.argv = [...argv]
    this.child = spawnLongLived(argv)
    this.child.stdin.on('error', () => {
      /* EPIPE after the probe died: reported through `exit` */
    })
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (chunk: string) => {
      if (this.stderr.length < STDERR_LIMIT) this.stderr += chunk.slice(0, STDERR_LIMIT - this.stderr.length)
    })
    const lines = new LineSplitter(
      line => this.onLine(line),
      head => this.invalid.push({ actor: this.actor, raw: `${head}...`, problem: `line longer than ${LINE_LIMIT} bytes` }),
    )
    this.child.stdout.on('data', (chunk: Buffer) => lines.push(chunk))
    this.child.stdout.on('end', () => lines.end())
    void this.child.exited.then(exit => {
      this.exit = exit
      for (const w of this.helloWaiters) w(false)
      this.helloWaiters = []
      for (const w of this.endWaiters.splice(0)) w()
      for (const p of this.steps.values()) if (!p.done) this.settle(p, 'exit')
      this.disarm()
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** True while a command was sent and its done frame has not come (a step still blocked, a background step never awaited). */
  busy(): boolean {
    if (this.outgoing) return true
    for (const p of this.steps.values()) if (!p.done) return true
    return false
  }

  /** This result's view of the probe; the probe starts a new one (empty events, lines, stderr and steps). */
  detach(): ProbeRecord {
    const record = { events: this.events, invalid: this.invalid, stderr: this.stderr, hello: this.hello, exit: this.exit }
    this.events = []
    this.invalid = []
    this.stderr = ''
    this.steps.clear()
    this.order = []
    this.head = 0
    this.timed.clear()
    return record
  }

  /**
   * Return the probe to the state of a fresh one (the probe's `reset`
   * command; with `dir`, that scratch dir is emptied too). Undefined when it
   * answered clean, else why not: then it must not be reused. Whatever it
   * answered is dropped from its events.
   */
  async reset(timeoutMs: number, dir?: string): Promise<string | undefined> {
    this.send(RESET_STEP, dir ? `reset ${dir}` : 'reset')
    const outcome = await this.waitStep(RESET_STEP, timeoutMs)
    const answer = outcome.events.find(e => e.op === 'reset') as (ProbeEvent & { fds?: number }) | undefined
    const why =
      outcome.status !== 'done'
        ? `reset: ${outcome.status}`
        : this.invalid.length
          ? `reset: ${this.invalid[0]!.problem}`
          : !answer || answer.ret !== 0 || answer.fds !== 0
            ? `reset: not clean (${JSON.stringify(answer ?? outcome.events[0] ?? null)})`
            : undefined
    this.detach()
    return why
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

  /** The step the probe answers now (the oldest sent that is not done), if any. */
  private current(): Pending | undefined {
    let p = this.order[this.head]
    while (p?.done) p = this.order[++this.head]
    if (!p && this.head) {
      // all answered: start over (a sequential run empties it every step)
      this.order.length = 0
      this.head = 0
    }
    return p
  }

  private onLine(line: string): void {
    // Half the lines are done frames: read the probe's exact form without JSON.parse (events start '{"seq"', never '{"d').
    if (line.charCodeAt(2) === 100) {
      const cur = this.current()
      if (cur?.plain && isDoneFrameOf(line, cur.step)) {
        this.finish(cur)
        return
      }
      const frame = DONE_FRAME.exec(line)
      if (frame) {
        this.finish(this.pending(frame[1]!))
        return
      }
    }
    if (!line.trim()) return
    let obj: unknown
    try {
      obj = JSON.parse(line)
    } catch {
      this.invalid.push({ actor: this.actor, raw: line, problem: 'not JSON' })
      return
    }
    if (obj && typeof obj === 'object' && 'done' in obj && !('seq' in obj)) {
      this.finish(this.pending(String((obj as { done: unknown }).done)))
      return
    }
    if (!this.validate(obj)) {
      const problem = (this.validate.errors ?? []).map(e => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ')
      this.invalid.push({ actor: this.actor, raw: line, problem: `event does not match event.schema.json: ${problem}` })
      return
    }
    // the line itself is kept: the store writes it as it came (trace/raw-line.ts)
    const event = keepRawLine(obj as ProbeEvent, line)
    if (event.op === 'hello') {
      this.hello = event
      for (const w of this.helloWaiters) w(true)
      this.helloWaiters = []
      return
    }
    this.events.push(event)
    if (event.step !== undefined) {
      const cur = this.current()
      const p = cur?.step === event.step ? cur : this.pending(event.step)
      if (p.events) p.events.push(event)
      else p.events = [event]
    }
    if (event.op === 'capture_end') for (const w of this.endWaiters.splice(0)) w()
  }

  private pending(step: string): Pending {
    let p = this.steps.get(step)
    if (!p) {
      p = { step, events: undefined, done: false, waiters: undefined, plain: plainStep(step) }
      this.steps.set(step, p)
    }
    return p
  }

  private finish(p: Pending): void {
    p.done = true
    this.settle(p, 'done')
  }

  /** Send one command line (without the step token, which is prepended). */
  send(step: string, command: string): void {
    this.order.push(this.pending(step))
    // Commands sent in one tick (pipelined, or several actors' setup) leave in one write.
    if (this.outgoing === undefined) {
      this.outgoing = ''
      process.nextTick(() => {
        const text = this.outgoing
        this.outgoing = undefined
        if (text) this.child.stdin.write(text) // empty when stop() or quit already wrote it
      })
    }
    this.outgoing += `${step} ${command}\n`
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
    if (p.done) return Promise.resolve({ events: (p.events ??= []), status: 'done' })
    if (this.exit) return Promise.resolve({ events: (p.events ??= []), status: 'exit' })
    return new Promise(resolve => {
      const deadline = performance.now() + Math.max(0, timeoutMs)
      ;(p.waiters ??= []).push({ deadline, resolve })
      this.timed.add(p)
      if (deadline < this.timerAt) this.arm(deadline)
    })
  }

  /** Resolve every waiter of a step (done or exit) and forget it for the timer. */
  private settle(p: Pending, status: 'done' | 'exit'): void {
    if (!p.waiters) return
    this.timed.delete(p)
    const waiters = p.waiters
    p.waiters = undefined
    const events = (p.events ??= [])
    for (const w of waiters) w.resolve({ events, status })
    // The timer stays armed: re-arming per step is what this avoids. If it
    // fires for nobody it simply stops; it is unref'd and dropped at exit.
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(at - performance.now())))
    // a waiter always has a live child behind it, which keeps the loop alive
    this.timer.unref()
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
  }

  /** The timer fired: time out the waiters whose deadline passed, re-arm for the next. */
  private onTimer(): void {
    this.timer = undefined
    this.timerAt = Infinity
    // Node's timer clock is in whole ms and may run up to 1 ms behind performance.now()
    const now = performance.now() + 1
    let next = Infinity
    for (const p of [...this.timed]) {
      const keep: Waiter[] = []
      for (const w of p.waiters ?? []) {
        if (w.deadline <= now) w.resolve({ events: (p.events ??= []), status: 'timeout' })
        else {
          keep.push(w)
          next = Math.min(next, w.deadline)
        }
      }
      p.waiters = keep.length ? keep : undefined
      if (!keep.length) this.timed.delete(p)
    }
    if (next < Infinity) this.arm(next)
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
        this.flushOutgoing()
        this.child.stdin.write('quit\n')
      })
    }
    await this.stop()
  }

  private flushOutgoing(): void {
    if (this.outgoing) this.child.stdin.write(this.outgoing)
    this.outgoing = ''
  }

  async stop(graceMs = 1000): Promise<void> {
    this.flushOutgoing()
    if (!this.exit) this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await this.child.exited
    clearTimeout(timer)
  }

  kill(): void {
    this.child.kill('SIGKILL')
  }
}
