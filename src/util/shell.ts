/**
 * POSIX shell quoting: the one place where values become shell words.
 *
 * Every command pinet runs on a Pi, and every command line it prints for a
 * user to copy, is built from an argument list with `shellJoin`. A value is
 * never pasted into a shell line any other way. NUL cannot be represented in
 * a shell word (or in a C string), so it is refused.
 */

/** Characters that never need quoting in a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@+:,./-]+$/;

export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    throw new Error('a shell argument cannot contain a NUL byte');
  }
  if (value !== '' && SAFE_WORD.test(value)) return value;
  // Inside single quotes nothing is special except the closing quote itself,
  // which is written as '\'' (close, escaped quote, reopen).
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
