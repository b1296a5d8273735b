/**
 * Findings: what a check in src/pi says about a file or a value.
 *
 * Checks return findings rather than booleans so `pinet doctor` can show the
 * evidence and the fix. `ok` confirms something, `info` is worth knowing,
 * `warn` may cause trouble, `fail` will stop the Pi from netbooting.
 */

export type FindingLevel = 'ok' | 'info' | 'warn' | 'fail';

export interface Finding {
  level: FindingLevel;
  /** Stable identifier for tests and JSON consumers, e.g. `fstab.no-netdev`. */
  code: string;
  /** One line: what was found, with the evidence (file, line, value). */
  message: string;
  /** For warn/fail: how to fix it. */
  fix?: string;
}

export function finding(level: FindingLevel, code: string, message: string, fix?: string): Finding {
  return fix === undefined ? { level, code, message } : { level, code, message, fix };
}

