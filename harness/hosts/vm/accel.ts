/**
 * KVM or software emulation. /dev/kvm can exist while KVM guests hang (nested
 * virtualisation without support): the first boot tries KVM with a short
 * limit and falls back to TCG; the verdict is kept per host kernel in the
 * cache so later runs do not pay for the failed attempt again.
 * SOCKSPEC_VM_ACCEL=kvm|tcg forces one.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { Guest } from './guest.js'
import type { BootOptions } from './guest.js'
import type { Accel } from './qemu-argv.js'

const KVM_TRIAL_MS = 20_000

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

interface Verdict {
  hostKernel: string
  kvm: boolean
}

function readVerdict(file: string): boolean | undefined {
  if (!existsSync(file)) return undefined
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Verdict
    return v.hostKernel === os.release() ? v.kvm : undefined
  } catch {
    return undefined
  }
}

export async function bootGuest(opts: Omit<BootOptions, 'accel'>, cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<Guest> {
  const forced = env.SOCKSPEC_VM_ACCEL
  if (forced === 'kvm' || forced === 'tcg') return Guest.boot({ ...opts, accel: forced as Accel })
  const file = join(cacheRoot, 'accel.json')
  const known = readVerdict(file)
  if (!kvmUsable() || known === false) return Guest.boot({ ...opts, accel: 'tcg' })
  const record = (kvm: boolean): void => {
    mkdirSync(cacheRoot, { recursive: true })
    writeFileSync(file, `${JSON.stringify({ hostKernel: os.release(), kvm } satisfies Verdict)}\n`)
  }
  try {
    const guest = await Guest.boot({ ...opts, accel: 'kvm', bootTimeoutMs: Math.min(opts.bootTimeoutMs ?? KVM_TRIAL_MS, KVM_TRIAL_MS) })
    record(true)
    return guest
  } catch {
    record(false)
    return Guest.boot({ ...opts, accel: 'tcg' })
  }
}
