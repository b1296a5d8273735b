/**
 * What the test machine can do. Tests that need root (network namespaces,
 * mount namespaces, binding port 67/69) run only as root; CI runs as root,
 * so they always run there. Elsewhere they are skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

export const isRoot = process.getuid?.() === 0;

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name} || test -x /usr/sbin/${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe` for suites that need root; skipped (with a note on stderr) for
 * other users. CI runs as root, so these suites always run in CI.
 */
export function describeAsRoot(name: string, fn: () => void): void {
  if (isRoot) {
    describe(name, fn);
  } else {
    process.stderr.write(`skipping "${name}": needs root (network/mount namespaces); CI runs it as root\n`);
    describe.skip(name, fn);
  }
}
