/**
 * The qemu-system-x86_64 command line for a guest: pure. One vCPU (the box
 * running the kit is small and other actors share it), no NIC, no display;
 * the serial console goes to a log file; one virtio-serial port for control
 * and one per concurrently running probe, each a unix socket qemu listens on.
 */
import { join } from 'node:path'
import { CONTROL_PORT, probePortName } from './init-script.js'

export type Accel = 'kvm' | 'tcg'

export interface QemuPlan {
  vmlinuz: string
  initramfs: string
  workDir: string
  probePorts: number
  accel: Accel
  memoryMb: number
  /** vCPUs (TCG runs them on host threads: -accel tcg,thread=multi) */
  cpus?: number
}

export const controlSocket = (workDir: string): string => join(workDir, 'ctl.sock')
export const probeSocket = (workDir: string, i: number): string => join(workDir, `p${i}.sock`)
export const consoleLog = (workDir: string): string => join(workDir, 'console.log')

/**
 * Probe ports a guest gets at most: with 32 the guest never reported ready
 * under TCG, 24 boot; sessions beyond share them (Guest.lease queues).
 */
export const MAX_PROBE_PORTS = 24

export function qemuArgv(plan: QemuPlan): string[] {
  const ports: string[] = []
  const add = (id: string, path: string, name: string): void => {
    ports.push(
      '-chardev',
      `socket,id=${id},path=${path},server=on,wait=off`,
      '-device',
      `virtserialport,bus=vs.0,chardev=${id},name=${name}`,
    )
  }
  add('ctl', controlSocket(plan.workDir), CONTROL_PORT)
  for (let i = 0; i < plan.probePorts; i++) add(`p${i}`, probeSocket(plan.workDir, i), probePortName(i))
  return [
    'qemu-system-x86_64',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-machine',
    'pc',
    '-accel',
    plan.accel === 'tcg' && (plan.cpus ?? 1) > 1 ? 'tcg,thread=multi' : plan.accel,
    '-cpu',
    plan.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(plan.cpus ?? 1),
    '-m',
    String(plan.memoryMb),
    '-kernel',
    plan.vmlinuz,
    '-initrd',
    plan.initramfs,
    '-append',
    // an Oops panics (a half-dead kernel would answer wrongly), and a panic ends qemu: the host sees it at once;
    // no_timer_check: on a loaded host an emulated guest's IO-APIC timer check can miss its ticks and panic the boot
    'console=ttyS0 panic=-1 oops=panic loglevel=4 rdinit=/init no_timer_check',
    '-chardev',
    `file,id=con,path=${consoleLog(plan.workDir)}`,
    '-serial',
    'chardev:con',
    '-device',
    `virtio-serial-pci,id=vs,max_ports=${plan.probePorts + 2}`,
    ...ports,
  ]
}
