/** Where fetched kernels and built initramfs images are kept between runs. */
import { homedir } from 'node:os'
import { join } from 'node:path'

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SOCKSPEC_CACHE_DIR) return env.SOCKSPEC_CACHE_DIR
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sockspec')
}
