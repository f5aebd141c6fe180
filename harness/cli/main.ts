/**
 * sockspec command line. Thin: parses arguments with commander and loads each
 * command's module lazily. Exit codes: 0 all expectations met, 1 failures or
 * errors, 2 usage or input errors.
 */
import { Command, CommanderError, Option } from 'commander'
import { formatPosition, InputErrors, SockspecError } from '../errors.js'
import { kitVersion } from '../kit.js'
import { terminalLines, terminalText } from '../reporters/terminal-text.js'

function intArg(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new SockspecError('E_USAGE', `${name} must be an integer >= ${min}, got '${value}'`)
    return n
  }
}

/** Repeatable single-value options (variadic ones would swallow the paths after them). */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
  program
    .name('sockspec')
    .description('Conformance kit and trace store for Linux socket readiness semantics')
    .version(kitVersion())
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: s => process.stderr.write(s) })
  let exitCode = 0

  program
    .command('run')
    .description('run scenarios against the kernel, record every event, print verdicts')
    .argument('[paths...]', 'scenario files or directories (default: the packaged scenarios)')
    .option('--db <file>', 'trace store file', 'traces.db')
    .option(
      '-j, --jobs <n>',
      'scenarios run in parallel (default: sized from their estimated waits, 1 to 16 per core)',
      intArg('--jobs', 1),
    )
    .option(
      '-f, --filter <glob>',
      "only scenarios whose id, pack or name matches the glob (picomatch: *, **, {a,b}, [..]; '!glob' excludes; a plain word matches a substring) (repeatable)",
      collect,
      [],
    )
    .option('-x, --exclude <glob>', 'leave out scenarios matching the glob (as --filter) (repeatable)', collect, [])
    .option('--rerun-failed [store]', 'run only the scenario variants that failed or errored in the last run of the store (default: --db)')
    .option('--repeat <n>', 'run every scenario variant N times', intArg('--repeat', 1), 1)
    .addOption(new Option('--reporter <name>', 'output format').choices(['tty', 'tap', 'ktap', 'junit', 'json']).default('tty'))
    .addOption(
      new Option('--junit-flavour <name>', 'junit: jenkins (junit-10.xsd) or gitlab (adds file on testcase)').choices([
        'jenkins',
        'gitlab',
      ]),
    )
    .option('--variant <name>', 'only this variant: ipv4, ipv6, default (repeatable)', collect, [])
    .option(
      '--host <name=url>',
      'put scenario host NAME on a remote machine: NAME=ssh://user@addr[:port][?inet6=ADDR] (repeatable)',
      collect,
      [],
    )
    .option(
      '--allow-external',
      "let scenarios connect, send and bind to literal addresses outside loopback, the scenario's namespaces and --host machines",
    )
    .option('--ssh-identity <file>', "private key for --host ssh:// (default: ssh's own)")
    .option('--ssh-option <option>', 'extra ssh -o option, e.g. StrictHostKeyChecking=accept-new (repeatable)', collect, [])
    .option('--report [dir]', 'write the HTML report after the run (default dir: reports)')
    .option(
      '--kernel <name>',
      'kernel to run on: host, all (host and every Debian series), debian:<series> (5.10, 6.1, 7.3: its newest cloud build), debian:<linux-image package>; guests boot in qemu; one run each (repeatable, default: host)',
      collect,
      [],
    )
    .action(async (paths: string[], opts) => {
      const { runScenariosCommand } = await import('./run.js')
      exitCode = await runScenariosCommand(paths, opts)
    })

  program
    .command('validate')
    .description('check scenario files against the schema; errors as file:line:col')
    .argument('<paths...>', 'scenario files or directories')
    .action(async (paths: string[]) => {
      const { validateCommand } = await import('./validate.js')
      exitCode = validateCommand(paths)
    })

  program
    .command('show')
    .description("print one result's trace as a timeline")
    .argument('[what]', 'result id, or a scenario id (substring) from the chosen run; default: the first failing result')
    .option('--db <file>', 'trace store file', 'traces.db')
    .option('--run <run>', 'run id, uuid prefix, or latest', 'latest')
    .option('--variant <name>', 'variant (ipv4, ipv6, default)')
    .option('--width <columns>', "columns no line may exceed (default: the terminal's, else COLUMNS, else 100)", intArg('--width', 40))
    .action(async (what: string | undefined, opts) => {
      const { showCommand } = await import('./show.js')
      exitCode = showCommand(what, opts)
    })

  program
    .command('list')
    .description('list scenarios: id, variants, requirements, sources (one line each)')
    .argument('[paths...]', 'scenario files or directories (default: the packaged scenarios)')
    .option('-f, --filter <glob>', 'only scenarios matching, as for run (repeatable)', collect, [])
    .option('-x, --exclude <glob>', 'leave out scenarios matching, as for run (repeatable)', collect, [])
    .option('--json', 'one JSON document: {"scenarios": [{id, pack, file, title, variants, requires, sources, claim}]}')
    .action(async (paths: string[], opts) => {
      const { listCommand } = await import('./list.js')
      exitCode = listCommand(paths, opts)
    })

  program
    .command('report')
    .description('write a static HTML report (runs, matrix, scenario timelines, seed claims) from a trace store')
    .option('--db <file>', 'trace store file', 'traces.db')
    .option('--out <dir>', 'output directory', 'reports')
    .option('--runs-per-page <n>', 'runs per matrix page', intArg('--runs-per-page', 1))
    .option('--latest <n>', 'timelines per scenario variant (latest runs)', intArg('--latest', 1))
    .option(
      '--baseline <run>',
      'also diff every run against this one (id, uuid prefix, latest, host:NAME, kernel:PREFIX, distro:PREFIX, arch:NAME)',
    )
    .action(async opts => {
      const { reportCommand } = await import('./report.js')
      exitCode = reportCommand(opts)
    })

  program
    .command('runs')
    .description('list the runs in a trace store')
    .option('--db <file>', 'trace store file', 'traces.db')
    .action(async opts => {
      const { runsCommand } = await import('./runs.js')
      exitCode = runsCommand(opts)
    })

  program
    .command('merge')
    .description('merge trace stores (e.g. one per CI leg) into one; idempotent, runs keyed by uuid')
    .argument('<stores...>', 'trace store files to read')
    .requiredOption('--into <file>', 'trace store to merge into (created if missing)')
    .action(async (stores: string[], opts) => {
      const { mergeCommand } = await import('./merge.js')
      exitCode = mergeCommand(stores, opts)
    })

  program
    .command('compare')
    .description(
      'compare two runs, or every run against a baseline: same, differs, expected, flaky, regression, fixed, new, missing, error, skip; exit 1 on regression',
    )
    .argument(
      '[runs...]',
      'RUN_A RUN_B (id, uuid prefix, latest, host:NAME, kernel:PREFIX, distro:PREFIX, arch:NAME; combine with commas); with --baseline: the runs to compare (default: all others)',
    )
    .option('--db <file>', 'trace store file', 'traces.db')
    .option('--baseline <run>', 'compare every other run against this one (same run syntax)')
    .addOption(new Option('--reporter <name>', 'output format').choices(['text', 'json']).default('text'))
    .option('--all', 'text output: also list pairs that are the same')
    .option(
      '--rerun [n]',
      "re-run regressions and differences N times (default 3) on b's kernel (this machine's, or a guest's build booted again); not reproduced every time: flaky",
    )
    .action(async (runs: string[], opts) => {
      const { compareCommand } = await import('./compare.js')
      exitCode = await compareCommand(runs, opts)
    })

  program
    .command('export')
    .description(
      'print one run as a self-contained JSON bundle (schemas/run.schema.json), or as KCIDB, KTAP, JUnit, results JSON, pcap, trace events',
    )
    .argument('<run>', 'id, uuid prefix, latest, or a selector (host:NAME, kernel:PREFIX, distro:PREFIX, arch:NAME)')
    .option('--db <file>', 'trace store file', 'traces.db')
    .addOption(
      new Option('--format <name>', 'bundle, kcidb (KCIDB v5), ktap, junit, json').choices(['bundle', 'kcidb', 'ktap', 'junit', 'json']),
    )
    .addOption(
      new Option('--junit-flavour <name>', 'jenkins (junit-10.xsd) or gitlab (adds file on testcase)').choices(['jenkins', 'gitlab']),
    )
    .option('--pcap <scenario>', "one result's captured segments as a pcap file (rebuilt headers, zero payload)")
    .option('--trace-event <scenario>', "one result's timeline as Trace Event JSON (chrome://tracing, Perfetto)")
    .option('--variant <name>', 'with --pcap/--trace-event: the variant (default: the first)')
    .option('--out <file>', 'write to FILE instead of stdout')
    .action(async (run: string, opts) => {
      const { exportCommand } = await import('./export.js')
      exitCode = exportCommand(run, opts)
    })

  program
    .command('import')
    .description('add run bundles (from `sockspec export`) to a trace store; idempotent')
    .argument('<bundles...>', 'bundle files, or - for stdin')
    .option('--db <file>', 'trace store file', 'traces.db')
    .action(async (bundles: string[], opts) => {
      const { importCommand } = await import('./import.js')
      exitCode = importCommand(bundles, opts)
    })

  program
    .command('cleanup')
    .description("remove network namespaces a killed run left behind (only the kit's own: name prefix sockspec-)")
    .option('--force', 'also remove namespaces of runs that are still alive')
    .option('--db <file>', 'also mark the dead runs of this trace store as aborted')
    .action(async opts => {
      const { cleanupCommand } = await import('./cleanup.js')
      exitCode = await cleanupCommand(opts)
    })

  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0
      return 2
    }
    if (err instanceof SockspecError) {
      // messages quote input (file names, keys, ids): no live control characters; a file name cannot forge a line
      const shown = (e: SockspecError): string =>
        `${e.position ? `${terminalText(formatPosition(e.position))}: ` : ''}${terminalLines(e.message)}`
      const lines = err instanceof InputErrors ? err.errors.map(shown) : [shown(err)]
      process.stderr.write(`sockspec: ${lines.join('\n')}\n`)
      return err.exitCode
    }
    // a store failure no command turned into a message: still one line, exit 2
    const code = (err as { code?: unknown } | null)?.code
    if (typeof code === 'string' && code.startsWith('SQLITE_')) {
      process.stderr.write(`sockspec: trace store failure: ${(err as Error).message} (${code})\n`)
      return 2
    }
    throw err
  }
}
