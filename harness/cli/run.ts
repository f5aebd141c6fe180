/** `sockspec run`: load, run on the loopback host, store, report. */
import { SockspecError } from '../errors.js'
import { loopbackHost } from '../hosts/loopback.js'
import { ensureBeacon, liveBeaconToken } from '../hosts/netns.js'
import { systemInfo } from '../hosts/system-info.js'
import { parseKernelSpec } from '../hosts/vm/kernel-spec.js'
import { probeStaticBinary, scenarioDir } from '../paths.js'
import type { RemoteHosts } from '../hosts/loopback.js'
import { parseHostFlag, prepareRemote } from '../hosts/ssh.js'
import type { RemoteInfo, SshOptions, SshTarget } from '../hosts/ssh.js'
import { jsonReporter } from '../reporters/json.js'
import { junitReporter } from '../reporters/junit.js'
import type { JunitFlavour } from '../reporters/junit.js'
import { ktapReporter } from '../reporters/ktap.js'
import type { Reporter } from '../reporters/reporter.js'
import { tapReporter } from '../reporters/tap.js'
import { ProgressLine } from '../reporters/progress.js'
import { ttyReporter } from '../reporters/tty.js'
import { loadScenarios } from '../scenario/load.js'
import { variantsOf } from '../scenario/expand.js'
import { TraceStore, withStoreErrors } from '../store/store.js'
import { runOnHost } from './run-on-host.js'
import { failedInLastRun, filterScenarios, onlyFailed } from './select-scenarios.js'
import { stdoutClosed } from './stdout.js'

export interface RunOptions {
  db: string
  jobs?: number
  filter?: string[]
  exclude?: string[]
  /** true: the --db store; a string: that store */
  rerunFailed?: string | boolean
  repeat: number
  reporter: 'tty' | 'tap' | 'ktap' | 'junit' | 'json'
  junitFlavour?: JunitFlavour
  variant?: string[]
  report?: string | boolean
  /** host, all, debian:<series> (5.10, 7.3), debian:<linux-image package> (repeatable; default host) */
  kernel?: string[]
  host?: string[]
  sshIdentity?: string
  sshOption?: string[]
  /** literal destinations outside loopback, the scenario's namespaces and --host machines are allowed */
  allowExternal?: boolean
}

/** --host NAME=ssh://... flags: parse, copy the probe, learn each remote's kernel. */
async function remoteHosts(opts: RunOptions): Promise<RemoteHosts | undefined> {
  if (!opts.host?.length) return undefined
  const targets = new Map<string, SshTarget>()
  for (const flag of opts.host) {
    const t = parseHostFlag(flag)
    targets.set(t.name, t)
  }
  const options: SshOptions = { identity: opts.sshIdentity, options: opts.sshOption ?? [] }
  const prepared = new Map<string, RemoteInfo>()
  for (const t of targets.values()) prepared.set(t.name, await prepareRemote(t, options, probeStaticBinary))
  return { targets, prepared, options }
}

function reporterFor(name: RunOptions['reporter'], junitFlavour?: JunitFlavour): Reporter {
  switch (name) {
    case 'tap':
      return tapReporter()
    case 'ktap':
      return ktapReporter()
    case 'junit':
      return junitReporter(process.stdout, junitFlavour)
    case 'json':
      return jsonReporter()
    default:
      return ttyReporter()
  }
}

/** `sockspec run` (named apart from deps/process.ts runCommand, which runs an external program). */
export async function runScenariosCommand(paths: string[], opts: RunOptions): Promise<number> {
  // the status line (stderr, a TTY only) steps aside for every log line and every result, and goes before an error is shown
  const progress = new ProgressLine(process.stderr)
  try {
    return await runScenarios(paths, opts, progress)
  } finally {
    progress.stop()
  }
}

async function runScenarios(paths: string[], opts: RunOptions, progress: ProgressLine): Promise<number> {
  // a --host machine's own addresses are destinations the user named
  const remoteAddresses = (opts.host ?? []).flatMap(flag => {
    const t = parseHostFlag(flag)
    return [t.inet, t.inet6].filter((a): a is string => a !== undefined)
  })
  const sshHostNames = (opts.host ?? []).map(flag => parseHostFlag(flag).name)
  const policy = { allowExternal: opts.allowExternal === true, remoteAddresses, remoteHosts: sshHostNames }
  let scenarios = filterScenarios(loadScenarios(paths.length ? paths : [scenarioDir], policy), opts.filter, opts.exclude)
  if (opts.rerunFailed) {
    const from = typeof opts.rerunFailed === 'string' ? opts.rerunFailed : opts.db
    const old = TraceStore.open(from, { readonly: true, mustExist: true })
    let failed: ReturnType<typeof failedInLastRun>
    try {
      failed = withStoreErrors(from, () => failedInLastRun(old, from))
    } finally {
      old.close()
    }
    if (!failed.pairs.size) {
      process.stderr.write(`sockspec: nothing failed in run ${failed.runUuid} of ${from}\n`)
      return 0
    }
    const narrowed = onlyFailed(scenarios, failed)
    // a failed scenario from other paths (or filtered out) cannot be run from here: said, not silently dropped
    if (narrowed.missing.length)
      process.stderr.write(
        `sockspec: ${narrowed.missing.length} failed scenario(s) of run ${failed.runUuid} not among the scenarios given: ${narrowed.missing.join(', ')}\n`,
      )
    scenarios = narrowed.scenarios
  }
  if (opts.variant?.length) {
    const wanted = new Set(opts.variant)
    for (const v of wanted) if (!['ipv4', 'ipv6', 'default'].includes(v)) throw new SockspecError('E_USAGE', `unknown variant '${v}'`)
    scenarios = scenarios
      .map(s => ({
        ...s,
        variants: variantsOf(s)
          .map(v => v.name)
          .filter(n => wanted.has(n)),
      }))
      .filter(s => s.variants.length > 0)
  }
  if (!scenarios.length) throw new SockspecError('E_USAGE', 'no scenario matches')
  const log = (line: string): void => progress.write(() => void process.stderr.write(`sockspec: ${line}\n`))
  const parsed = (opts.kernel?.length ? opts.kernel : ['host']).map(parseKernelSpec)
  // `all`: the host and every Debian series the kit's apt indexes carry
  let kernels = parsed
  if (parsed.some(k => k.kind === 'all')) {
    progress.phase("reading Debian's kernel indexes")
    kernels = await (await import('../hosts/vm/launch.js')).expandKernelSpecs(parsed, log)
    progress.stop()
  }
  const guests = kernels.flatMap(k => (k.kind === 'debian' ? [k] : []))
  // Every run holds the beacon while it lives: a run left `running` by a dead
  // process is marked aborted by the next open, and its probes (which inherit
  // the token in their environment) are found by `sockspec cleanup`.
  await ensureBeacon()
  process.env['SOCKSPEC_RUN_TOKEN'] = liveBeaconToken() ?? ''
  const store = TraceStore.open(opts.db)
  let code = 0
  let interrupted = false
  if (kernels.some(k => k.kind === 'host')) {
    const remotes = await remoteHosts(opts)
    const host = loopbackHost(undefined, undefined, remotes)
    const system = systemInfo()
    try {
      const hosts = Object.fromEntries(
        [...(remotes?.prepared ?? [])].map(([name, info]) => {
          const t = remotes!.targets.get(name)!
          return [
            name,
            {
              kind: 'ssh',
              address: `${t.user ? `${t.user}@` : ''}${t.host}:${t.port}`,
              kernelRelease: info.kernelRelease,
              kernelVersion: info.kernelVersion,
              arch: info.arch,
            },
          ]
        }),
      )
      const outcome = await runOnHost({
        store,
        host,
        system,
        scenarios,
        reporter: () => reporterFor(opts.reporter, opts.junitFlavour),
        jobs: opts.jobs,
        repeat: opts.repeat,
        hosts,
        progress,
        progressLabel: guests.length ? `host ${system.kernelRelease}` : '',
      })
      // a closed stdout stops the run like Ctrl-C, but ends with the code of what was recorded
      interrupted = outcome.interrupted || !!outcome.stdoutClosed
      if (opts.kernel?.length) log(`kernel host: ${system.kernelRelease}: ${outcome.results.length} results`)
      code = outcome.code
    } finally {
      if (!guests.length) store.close()
    }
  }
  if (guests.length) {
    try {
      const { runGuestKernels } = await import('./run-kernels.js')
      if (!interrupted && !stdoutClosed()) {
        const r = await runGuestKernels(guests, scenarios, {
          store,
          progress,
          reporter: () => reporterFor(opts.reporter, opts.junitFlavour),
          jobs: opts.jobs,
          repeat: opts.repeat,
          log,
        })
        interrupted = r.interrupted
        code = r.interrupted ? 130 : Math.max(code === 130 ? 0 : code, r.code)
      }
      log(`kernels run: ${kernels.map(k => k.name).join(', ')}`)
    } finally {
      progress.stop()
      store.close()
    }
  }
  if (opts.report) {
    const { reportCommand } = await import('./report.js')
    reportCommand({ db: opts.db, out: typeof opts.report === 'string' ? opts.report : 'reports' }, process.stderr)
  }
  return code
}
