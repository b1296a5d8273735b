/**
 * How an error reaches the user: one line on stderr ("pinet: error: what;
 * how to fix it"), the stack trace only with --debug, the JSON error
 * document with --json, and the exit code the error carries.
 */
import { exitCodeOf, formatError, PinetError } from '../errors.js';
import { Output } from './output.js';

/** Prints an error as one line (plus the stack under --debug) and returns its exit code. */
export function reportError(err: unknown, opts: { debug: boolean; json: boolean; out?: Output }): number {
  const out = opts.out ?? new Output({ json: opts.json, color: !process.argv.includes('--no-color') });
  const exitCode = exitCodeOf(err);
  out.error(formatError(err));
  if (opts.debug && err instanceof Error && err.stack) {
    out.stderr.write(`${err.stack}\n`);
    if (err.cause instanceof Error && err.cause.stack) out.stderr.write(`caused by: ${err.cause.stack}\n`);
  } else if (!(err instanceof PinetError)) {
    out.stderr.write('(this looks like a bug in pinet; run again with --debug for the stack trace and report it)\n');
  }
  if (opts.json && !out.jsonDone) {
    const hint = err instanceof PinetError ? err.hint : undefined;
    out.emitJson({ error: { exitCode, message: err instanceof Error ? err.message : String(err), hint } });
  }
  return exitCode;
}
