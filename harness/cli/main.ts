/**
 * sockspec command line. Thin: parses arguments with commander and loads each
 * command's module lazily. Exit codes: 0 all expectations met, 1 failures or
 * errors, 2 usage or input errors.
 */
import { Command, CommanderError, Option } from 'commander'
import { SockspecError } from '../errors.js'
import { kitVersion } from '../kit.js'

function intArg(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new SockspecError('E_USAGE', `${name} must be an integer >= ${min}, got '${value}'`)
    return n
  }
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
    .option('-j, --jobs <n>', 'scenarios run in parallel (default: number of cores)', intArg('--jobs', 1))
    .option('-f, --filter <pattern...>', 'only scenario ids matching a glob or substring (repeatable)')
    .option('--repeat <n>', 'run every scenario variant N times', intArg('--repeat', 1), 1)
    .addOption(new Option('--reporter <name>', 'output format').choices(['tty', 'tap', 'junit', 'json']).default('tty'))
    .option('--variant <name...>', 'only these variants (ipv4, ipv6, default)')
    .action(async (paths: string[], opts) => {
      const { runCommand } = await import('./run.js')
      exitCode = await runCommand(paths, opts)
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
    .action(async (what: string | undefined, opts) => {
      const { showCommand } = await import('./show.js')
      exitCode = showCommand(what, opts)
    })

  program
    .command('runs')
    .description('list the runs in a trace store')
    .option('--db <file>', 'trace store file', 'traces.db')
    .action(async opts => {
      const { runsCommand } = await import('./runs.js')
      exitCode = runsCommand(opts)
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
      process.stderr.write(`sockspec: ${err.format()}\n`)
      return err.exitCode
    }
    throw err
  }
}
