/**
 * The result of checking a value: the value (perhaps normalised), or what is
 * wrong with it and how to fix it. Validators of every layer return this,
 * so the settings layer, the config file and the domain code share them
 * without throwing.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string; hint?: string };

export const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
export const bad = <T = never>(error: string, hint?: string): Checked<T> => (hint === undefined ? { ok: false, error } : { ok: false, error, hint });

/** A value with where it came from (`--subnet`, `dnsmasq.subnet in /etc/pinet.yaml`, `default`), so errors can name it. */
export interface Sourced<T> {
  value: T;
  source: string;
}
