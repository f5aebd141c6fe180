/** `sockspec cleanup`: remove network namespaces (and their processes) that a killed run left behind. */
import { cleanupNamespaces } from '../hosts/netns.js'
import { SockspecError } from '../errors.js'

export async function cleanupCommand(opts: { force?: boolean }): Promise<number> {
  if (process.getuid?.() !== 0) throw new SockspecError('E_USAGE', 'cleanup needs root (it deletes network namespaces)')
  const removed = await cleanupNamespaces(opts.force ?? false)
  process.stdout.write(removed.length ? `removed ${removed.length} namespace(s): ${removed.join(' ')}\n` : 'nothing to clean up\n')
  return 0
}
