/**
 * Lazy access to the ssh2 library. Importing ssh2 costs tens of
 * milliseconds at startup, so nothing imports it at module level: commands
 * that never connect never pay for it.
 */
import type * as Ssh2 from 'ssh2';

export type Ssh2Module = typeof Ssh2;

let loaded: Promise<Ssh2Module> | undefined;

export function loadSsh2(): Promise<Ssh2Module> {
  loaded ??= import('ssh2').then((m) => ((m as unknown as { default?: Ssh2Module }).default ?? m) as Ssh2Module);
  return loaded;
}
