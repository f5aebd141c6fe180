/**
 * Typed errors. Input errors carry a file:line:col position; every error has a
 * code and the process exit code it maps to (0 pass, 1 conformance failure,
 * 2 usage or input error).
 */

export interface SourcePosition {
  file: string
  line: number
  col: number
}

export type ErrorCode = 'E_SYNTAX' | 'E_SCHEMA' | 'E_SCENARIO' | 'E_USAGE' | 'E_NOT_FOUND' | 'E_STORE' | 'E_PROBE'

export class SockspecError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  readonly position: SourcePosition | undefined

  constructor(code: ErrorCode, message: string, position?: SourcePosition, exitCode = 2) {
    super(message)
    this.name = 'SockspecError'
    this.code = code
    this.position = position
    this.exitCode = exitCode
  }

  /** `file:line:col: message`, the form editors and terminals link. */
  format(): string {
    const where = this.position ? `${formatPosition(this.position)}: ` : ''
    return `${where}${this.message}`
  }
}

export function formatPosition(pos: SourcePosition): string {
  return `${pos.file}:${pos.line}:${pos.col}`
}

/** A list of input errors reported together (all schema errors of a file). */
export class InputErrors extends SockspecError {
  readonly errors: SockspecError[]
  constructor(errors: SockspecError[]) {
    super(errors[0]?.code ?? 'E_SCENARIO', errors.map(e => e.format()).join('\n'), errors[0]?.position)
    this.errors = errors
  }
  override format(): string {
    return this.message
  }
}
