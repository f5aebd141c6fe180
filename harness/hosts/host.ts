/**
 * Where actors run. A host driver says how to start a probe for an actor and
 * what the host can do; loopback is the default (no root, one namespace).
 */
export interface HostDriver {
  /** loopback, netns, ssh, vm */
  readonly kind: string
  /** argv that starts a probe for this actor (stdin/stdout carry the protocol). */
  probeArgv(actor: string): string[]
  /** Remove whatever the driver created for a scenario (namespaces, files). */
  cleanup(): Promise<void>
}
