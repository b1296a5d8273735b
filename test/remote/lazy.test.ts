/**
 * Commands that never connect must not pay for ssh2 or the prompt library:
 * importing the remote module loads neither; connecting does.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('importing src/remote loads neither ssh2 nor @inquirer; loadSsh2() does load ssh2', () => {
  const script = `
    import { createRequire } from 'node:module';
    const req = createRequire(import.meta.url);
    const loaded = (name) => Object.keys(req.cache).some((k) => k.includes('/node_modules/' + name + '/'));
    const remote = await import('./src/remote/index.ts');
    const before = { ssh2: loaded('ssh2'), inquirer: loaded('@inquirer') };
    remote.resolveHost('pi@pi-07', { sources: [], local: { home: '/h', user: 'u', uid: 1, hostname: 'x', env: {} } });
    const { loadSsh2 } = await import('./src/remote/ssh2-lib.ts');
    await loadSsh2();
    console.log(JSON.stringify({ before, after: loaded('ssh2') }));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  expect(JSON.parse(out)).toEqual({ before: { ssh2: false, inquirer: false }, after: true });
});
