/** Event masks: normalise flag names and compare them against expectations. */
import type { MaskExpectation } from '../scenario/types.js'

export type MaskKind = 'EPOLL' | 'POLL'

export function normaliseFlag(name: string, kind: MaskKind): string {
  const upper = name.toUpperCase()
  if (upper.startsWith('EPOLL')) return kind === 'EPOLL' ? upper : 'POLL' + upper.slice(5)
  if (upper.startsWith('POLL')) return kind === 'POLL' ? upper : 'EPOLL' + upper.slice(4)
  return kind + upper
}

export function parseMaskString(text: string, kind: MaskKind): string[] {
  if (text === '0' || text === '') return []
  return text.split('|').map(f => normaliseFlag(f.trim(), kind))
}

/** Canonical text of a mask: flags sorted by bit order, joined by |; "0" when empty. */
const ORDER = ['IN', 'PRI', 'OUT', 'ERR', 'HUP', 'NVAL', 'RDNORM', 'RDBAND', 'WRNORM', 'WRBAND', 'MSG', 'RDHUP']
export function formatMask(flags: readonly string[]): string {
  if (!flags.length) return '0'
  const rank = (f: string): number => {
    const bare = f.replace(/^E?POLL/, '')
    const i = ORDER.indexOf(bare)
    return i < 0 ? 99 : i
  }
  return [...flags].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1)).join('|')
}

export function describeMaskExpectation(exp: MaskExpectation, kind: MaskKind): string {
  if (typeof exp === 'string') return formatMask(parseMaskString(exp, kind))
  const parts: string[] = []
  if (exp.exact) parts.push(formatMask(exp.exact.map(f => normaliseFlag(f, kind))))
  if (exp.includes) parts.push(`includes ${formatMask(exp.includes.map(f => normaliseFlag(f, kind)))}`)
  if (exp.excludes) parts.push(`excludes ${formatMask(exp.excludes.map(f => normaliseFlag(f, kind)))}`)
  return parts.join(', ')
}

export function maskMatches(observed: readonly string[], exp: MaskExpectation, kind: MaskKind): boolean {
  const have = new Set(observed.map(f => normaliseFlag(f, kind)))
  const exact = typeof exp === 'string' ? parseMaskString(exp, kind) : exp.exact?.map(f => normaliseFlag(f, kind))
  if (exact) {
    if (exact.length !== have.size || !exact.every(f => have.has(f))) return false
  }
  if (typeof exp !== 'string') {
    if (exp.includes && !exp.includes.every(f => have.has(normaliseFlag(f, kind)))) return false
    if (exp.excludes && exp.excludes.some(f => have.has(normaliseFlag(f, kind)))) return false
  }
  return true
}
