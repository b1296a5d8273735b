/**
 * Errors pinet reports to users, and the exit code each one maps to.
 *
 * Every error a user can meet is a PinetError: one line that says what was
 * wrong, plus an optional hint that says how to fix it. The CLI prints
 * `pinet: error: <message>; <hint>` and exits with `exitCode`. Anything else
 * that escapes is a bug and is printed the same way, with the stack trace only
 * under --debug or DEBUG=1.
 */

export const EXIT_OK = 0;
/** The operation or a check failed. */
export const EXIT_FAILED = 1;
/** Usage or configuration error: bad flag, bad value, unreadable config. */
export const EXIT_USAGE = 2;

export interface PinetErrorOptions {
  exitCode?: number;
  hint?: string;
  cause?: unknown;
}

export class PinetError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, options: PinetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PinetError';
    this.exitCode = options.exitCode ?? EXIT_FAILED;
    this.hint = options.hint;
  }
}

/** A bad flag or value given by the user (exit 2). Nothing has been changed. */
export class UsageError extends PinetError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT_USAGE, hint });
    this.name = 'UsageError';
  }
}

/** A broken or unreadable configuration file (exit 2). */
export class ConfigError extends PinetError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT_USAGE, hint });
    this.name = 'ConfigError';
  }
}

export function exitCodeOf(err: unknown): number {
  return err instanceof PinetError ? err.exitCode : EXIT_FAILED;
}

/** One line: the message and, when there is one, the fix. No newlines inside. */
export function formatError(err: unknown): string {
  const base = err instanceof Error ? err.message : String(err);
  const hint = err instanceof PinetError ? err.hint : undefined;
  const line = hint ? `${base}; ${hint}` : base;
  return line.replace(/\s*\n\s*/g, ' ').trim();
}

export function isDebug(argv: readonly string[] = process.argv): boolean {
  const env = process.env.DEBUG;
  return argv.includes('--debug') || (env !== undefined && env !== '' && env !== '0');
}
