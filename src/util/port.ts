/**
 * TCP and UDP port numbers: one rule (an integer from 1 to 65535) for every
 * place that takes one, from a flag, an ssh_config, the inventory or code.
 */

/** A port number, 1-65535. */
export function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65_535;
}

/** A port written as decimal digits (as ssh_config and `host:port` write it). */
export function isPortText(text: string): boolean {
  return /^[0-9]{1,5}$/.test(text) && isPort(Number(text));
}
