/**
 * Prompts on a real terminal: a passphrase for an encrypted key, and a
 * password with --ask-pass. The connecting code runs in a child process
 * under `script` (util-linux), which gives it a pseudo-terminal; the test
 * types the answers when the prompts appear.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { shellJoin } from '../../src/util/shell.js';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { BOB, BOB_PASSWORD, createUsers, KEY_PASSPHRASE, removeUsers, type Sshd, startSshd, type TestUsers } from './sshd-fixture.js';

const CHILD = fileURLToPath(new URL('./tty-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the child on a terminal, answering each prompt matching `prompt` with the next answer. */
function onTerminal(args: string[], prompt: RegExp, answers: string[], whole?: string): Promise<{ result: string; prompts: number; screen: string }> {
  const command = whole ?? shellJoin([process.execPath, '--import', 'tsx', CHILD, ...args]);
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
  let screen = '';
  let prompts = 0;
  // Where the current, unanswered part of the screen starts; inquirer redraws
  // a prompt on every keystroke and marks it done with "✔".
  let from = 0;
  let waitingForDone = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no result; the terminal showed:\n${screen}`));
    }, 50_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      screen += d;
      if (waitingForDone) {
        // The finished prompt is shown once more with "✔", then the cursor comes back.
        const done = screen.indexOf('✔', from);
        const shown = done >= 0 ? screen.indexOf('\x1b[?25h', done) : -1;
        if (shown >= 0) {
          waitingForDone = false;
          from = shown + 6;
        }
      }
      if (!waitingForDone && prompt.test(screen.slice(from))) {
        prompts++;
        const answer = answers.shift();
        if (answer !== undefined) {
          child.stdin.write(`${answer}\r`);
          waitingForDone = true;
        }
        from = screen.length;
      }
      const m = /RESULT (.*)/.exec(screen);
      if (m) {
        clearTimeout(timer);
        child.stdin.end();
        resolve({ result: (m[1] ?? '').trim(), prompts, screen });
      }
    });
    child.on('exit', () => {
      if (!/RESULT/.test(screen)) {
        clearTimeout(timer);
        reject(new Error(`child exited without a result:\n${screen}`));
      }
    });
  });
}

describeAsRoot('prompts on a terminal', () => {
  let users: TestUsers;
  let sshd: Sshd;
  let n = 0;

  beforeAll(async () => {
    users = createUsers();
    sshd = await startSshd(users, 'tty');
  });
  afterAll(async () => {
    try {
      await sshd?.stop();
    } finally {
      if (users) removeUsers(users);
    }
  });

  function config(user: string, key: string): string {
    n++;
    const kh = join(users.dir, `kh${n}`);
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${sshd.hostKeys.ed25519.line}\n`);
    const cfg = join(users.dir, `cfg${n}`);
    writeFileSync(
      cfg,
      `Host t\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${user}\n  IdentityFile ${key}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile ${kh}\n`,
    );
    return cfg;
  }

  it.skipIf(!hasCommand('script'))('asks for the passphrase of an encrypted key the server accepts', async () => {
    const r = await onTerminal(['t', config('root', users.keys.enc), '0'], /Enter passphrase for key '[^']*id_enc'/, [KEY_PASSPHRASE]);
    expect(r.result).toBe('ok root');
    expect(r.prompts).toBe(1);
  });

  it.skipIf(!hasCommand('script'))('the pinet command itself asks on its terminal (the CLI gives the SSH layer the terminal prompter)', async () => {
    const pinet = fileURLToPath(new URL('../../bin/pinet.js', import.meta.url));
    const cli = `${shellJoin([process.execPath, pinet, 'info', '-F', config('root', users.keys.enc), 't'])}; echo "RESULT exit $?"`;
    const r = await onTerminal([], /Enter passphrase for key '[^']*id_enc'/, [KEY_PASSPHRASE], cli);
    expect(r.prompts).toBe(1);
    expect(r.result).toBe('exit 0');
    expect(r.screen).toMatch(/^\s*serial\s+/m); // info's report of the host it reached
  });

  it.skipIf(!hasCommand('script'))('a wrong passphrase three times fails clearly', async () => {
    const r = await onTerminal(['t', config('root', users.keys.enc), '0'], /Enter passphrase for key/, ['wrong', 'wrong', 'wrong']);
    expect(r.prompts).toBe(3);
    expect(r.result).toMatch(/^err auth .*permission denied for user root.*HINT wrong passphrase for .*id_enc \(3 tries\)/);
  });

  it.skipIf(!hasCommand('script'))('--ask-pass asks for a password on the terminal', async () => {
    const r = await onTerminal(['t', config(BOB, users.keys.other), '1'], new RegExp(`${BOB}@127\\.0\\.0\\.1's password:`), [BOB_PASSWORD]);
    expect(r.result).toBe(`ok ${BOB}`);
    expect(r.prompts).toBe(1);
  });

  it.skipIf(!hasCommand('script'))('a wrong password three times: permission denied listing what was tried', async () => {
    const r = await onTerminal(['t', config(BOB, users.keys.other), '1'], /password:/, ['nope', 'nope', 'nope']);
    expect(r.prompts).toBe(3);
    expect(r.result).toMatch(/^err auth .*permission denied for user pinet-bob \(tried: .*id_other, password \(3 tries\)/);
  });

  it.skipIf(!hasCommand('script'))('without --ask-pass there is no password prompt, even on a terminal', async () => {
    const r = await onTerminal(['t', config(BOB, users.keys.other), '0'], /password:/, []);
    expect(r.prompts).toBe(0);
    expect(r.result).toMatch(/^err auth .*HINT .*--ask-pass/);
  });
});
