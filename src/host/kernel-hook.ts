/**
 * The hook enroll installs on a Pi so kernel and initramfs updates keep the
 * boot files readable by the TFTP server (the 0600-kernel pitfall), from
 * templates/kernel-hook.sh.mustache, and the rule doctor checks it by: it
 * must run after every other hook in its directory (pi-layout.ts says where
 * it goes and why its name sorts last).
 */
import { readFile } from 'node:fs/promises';
import Mustache from 'mustache';
import { HOOK_NAME } from './pi-layout.js';
import { packageFile } from '../util/package-files.js';
const TEMPLATE = packageFile('templates/kernel-hook.sh.mustache');

/** The hook script for a boot mount point (only the two known ones are accepted). */
export async function hookScript(bootMount: string): Promise<string> {
  if (bootMount !== '/boot/firmware' && bootMount !== '/boot') {
    throw new Error(`internal error: unexpected boot mount point ${JSON.stringify(bootMount)}`);
  }
  const template = await readFile(TEMPLATE, 'utf8');
  return Mustache.render(template, { bootMount }, {}, { escape: (v: unknown) => String(v) });
}

/** Does the hook in `dir` run after every other hook there (run-parts order)? */
export function runsLast(hookFiles: readonly string[], dir: string): { last: boolean; after: string[] } {
  const names = hookFiles.filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1));
  const sorted = [...names].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.from(a) > Buffer.from(b) ? 1 : 0));
  const i = sorted.indexOf(HOOK_NAME);
  return { last: i === sorted.length - 1 && i >= 0, after: i < 0 ? [] : sorted.slice(i + 1) };
}
