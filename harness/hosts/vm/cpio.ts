/**
 * A minimal writer for the cpio "newc" format (the one the kernel unpacks as
 * an initramfs, see Documentation/driver-api/early-userspace/buffer-format.rst).
 * Pure: entries in, bytes out. Directories, regular files, symlinks and
 * character devices are enough for a busybox initramfs.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4
}

function record(ino: number, mode: number, nlink: number, name: string, data: Uint8Array, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8')
  const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0]
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii')
  const headPad = pad4(header.length + nameBytes.length)
  return Buffer.concat([header, nameBytes, Buffer.alloc(headPad), data, Buffer.alloc(pad4(data.length))])
}

/** The archive for `entries`, in order (parents must come before children). */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '')
    switch (e.kind) {
      case 'dir':
        parts.push(record(ino++, S_IFDIR | (e.mode ?? 0o755), 2, path, new Uint8Array()))
        break
      case 'file':
        parts.push(record(ino++, S_IFREG | (e.mode ?? 0o644), 1, path, e.data))
        break
      case 'symlink':
        parts.push(record(ino++, S_IFLNK | 0o777, 1, path, Buffer.from(e.target, 'utf8')))
        break
      case 'chardev':
        parts.push(record(ino++, S_IFCHR | (e.mode ?? 0o600), 1, path, new Uint8Array(), [e.major, e.minor]))
        break
    }
  }
  parts.push(record(0, 0, 1, 'TRAILER!!!', new Uint8Array()))
  return Buffer.concat(parts)
}
