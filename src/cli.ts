/**
 * The `pinet` program: global flags, output mode, error reporting and exit
 * codes. Subcommands are declared in `commands/index.ts`; their code is
 * imported only when they run, so `pinet --help` and light commands start
 * fast.
 *
 * Exit codes: 0 success, 1 the operation or a check failed, 2 usage or
 * configuration error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, isDebug } from './errors.js';
import { registerCommands, usageErrorWriter } from './commands/index.js';
import { stableStringify } from './ui/json.js';
import { loadColors } from './ui/output.js';
import { packageFile } from './util/package-files.js';

export const VERSION: string = (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('pinet');
  program
    .description('Turn running Raspberry Pis into a network-booted fleet.')
    .version(VERSION, '-V, --version', 'print the pinet version')
    .option('--json', 'print one JSON document on stdout instead of text')
    .option('--no-color', 'never colour the output (also: NO_COLOR=1)')
    .option('--debug', 'print stack traces for errors (also: DEBUG=1)')
    .option('-c, --config <path>', 'configuration file (default: ./pinet.yaml, then ~/.config/pinet/config.yaml)')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ outputError: usageErrorWriter('pinet') });
  program.addHelpText(
    'after',
    `
Examples:
  pinet render-dnsmasq --subnet 10.86.5.0/24 -o /etc/dnsmasq.d/pinet.conf --check
  pinet info pi-07                                      what pinet sees on a Pi
  pinet enroll pi-07 --nfs nfs-host:/picluster-boot --dry-run
  pinet enroll --hosts-file pis.txt -j 20 --yes         a fleet (settings from pinet.yaml)
  pinet doctor --all                                    why a Pi does not netboot

Exit codes: 0 success, 1 an operation or check failed, 2 usage or configuration error.
Documentation: README.md in the pinet directory.`,
  );
  registerCommands(program);
  return program;
}

/** Runs pinet with `argv` (as in process.argv) and returns the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const debug = isDebug(argv);
  const jsonWanted = argv.slice(2).includes('--json');
  await loadColors(!argv.slice(2).includes('--no-color'));
  const program = buildProgram();
  let code = EXIT_OK;
  program.hook('postAction', (_this, action) => {
    const result = (action as Command & { pinetExitCode?: number }).pinetExitCode;
    if (typeof result === 'number') code = result;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      // Commander has printed its message (unknown option, missing argument, no command).
      if (jsonWanted) process.stdout.write(stableStringify({ error: { exitCode: EXIT_USAGE, message: err.message.replace(/^error:\s*/i, '') } }));
      return EXIT_USAGE;
    }
    const { reportError } = await import('./ui/report-error.js');
    return reportError(err, { debug, json: jsonWanted });
  }
}

