/**
 * Expand a scenario into its variants (ipv4, ipv6, default) and resolve
 * kernel-dependent expectations for one kernel. Pure.
 */
import { kernelInRange } from './kernel-range.js'
import type { Expectation, ExpectFields, Scenario, VariantName } from './types.js'

export interface VariantPlan {
  name: VariantName
  /** Address family that `ip` sockets get, and the loopback address for bind/connect defaults. */
  family: 'inet' | 'inet6' | undefined
  loopback: string | undefined
}

export function usesVariantFamily(scenario: Scenario): boolean {
  return scenario.steps.some(s => s.do === 'socket' && (s.family === undefined || s.family === 'ip'))
}

export function variantsOf(scenario: Scenario): VariantPlan[] {
  const names: VariantName[] = scenario.variants ?? (usesVariantFamily(scenario) ? ['ipv4', 'ipv6'] : ['default'])
  return names.map(name => planFor(name))
}

export function planFor(name: VariantName): VariantPlan {
  if (name === 'ipv4') return { name, family: 'inet', loopback: '127.0.0.1' }
  if (name === 'ipv6') return { name, family: 'inet6', loopback: '::1' }
  // `default` on a scenario with ip sockets behaves as ipv4.
  return { name, family: 'inet', loopback: '127.0.0.1' }
}

/**
 * The expectation in force on this kernel and variant: base fields, then the
 * variant's fields (IPv4 and IPv6 differ as data, not as two scenarios), then
 * the first matching kernel case.
 */
export function resolveExpectation(exp: Expectation | undefined, kernelRelease: string, variant?: string): ExpectFields | undefined {
  if (!exp) return undefined
  const { kernels, why: _why, variants, ...base } = exp
  const forVariant = variant === undefined ? undefined : variants?.[variant as VariantName]
  const withVariant = forVariant ? { ...base, ...forVariant } : base
  const match = kernels?.find(k => kernelInRange(kernelRelease, k.range))
  if (!match) return withVariant
  const { range: _range, source: _source, ...override } = match
  return { ...withVariant, ...override }
}
