/**
 * Kernel names on the command line: `host` (the running kernel) or
 * `debian:<alias|package>`. Aliases name Debian's cloud kernel meta packages,
 * so `debian:6.1` follows bookworm's latest 6.1 ABI; a full package name
 * (`debian:linux-image-6.1.0-56-cloud-amd64`) pins one build.
 */
import { SockspecError } from '../../errors.js'

export type KernelSpec = { kind: 'host'; name: 'host' } | { kind: 'debian'; name: string; package: string }

/** Meta packages per alias; `apt-cache depends` resolves them to the current image. */
export const DEBIAN_ALIASES: Readonly<Record<string, string>> = {
  '6.1': 'linux-image-cloud-amd64',
  '6.12': 'linux-image-6.12-cloud-amd64',
}

const PACKAGE_RE = /^linux-image-[a-z0-9][a-z0-9.+~-]*$/

export function parseKernelSpec(text: string): KernelSpec {
  if (text === 'host') return { kind: 'host', name: 'host' }
  const m = /^debian:(.+)$/.exec(text)
  if (m) {
    const what = m[1]!
    const pkg = DEBIAN_ALIASES[what] ?? (PACKAGE_RE.test(what) ? what : undefined)
    if (pkg) return { kind: 'debian', name: text, package: pkg }
  }
  const known = ['host', ...Object.keys(DEBIAN_ALIASES).map(a => `debian:${a}`), 'debian:linux-image-<version>-cloud-amd64']
  throw new SockspecError('E_USAGE', `unknown kernel '${text}' (known: ${known.join(', ')})`)
}
