/**
 * A real OpenSSH sshd on 127.0.0.1 for the SSH tests, with test users that
 * exist only inside its private mount namespace.
 *
 * `createUsers()` copies /etc/passwd, /etc/shadow, /etc/group and
 * /etc/sudoers.d into a temporary directory and adds:
 *   pinet-alice  key login, passwordless sudo
 *   pinet-bob    key and password login (password BOB_PASSWORD), sudo asks for a password
 * (root logs in with keys too). `startSshd()` runs
 *   unshare --mount --propagation private -- sh -c '<bind mounts>; exec sshd -D -e -f <config>'
 * so the copies are bind-mounted over the real files for sshd and every
 * process it starts, and the host's files are never touched. A tmpfs on
 * /run inside the namespace gives sshd its privilege separation directory.
 * Host keys and client keys are generated per run. Only the PIDs started
 * here are stopped.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ALICE = 'pinet-alice';
export const BOB = 'pinet-bob';
export const BOB_PASSWORD = 'b0b secret!';
export const KEY_PASSPHRASE = 'correct horse';
const ALICE_UID = 61871;
const BOB_UID = 61872;

export interface TestUsers {
  dir: string;
  passwd: string;
  shadow: string;
  group: string;
  sudoers: string;
  /** Client private keys: plain (authorized), enc (authorized, passphrase), agent (authorized), other (not authorized). */
  keys: { plain: string; enc: string; agent: string; other: string };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(file: string, type: string, passphrase = '', comment = 'pinet-test'): void {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', comment, '-f', file]);
}

export function createUsers(): TestUsers {
  const dir = mkdtempSync(join(tmpdir(), 'pinet-sshd-'));
  chmodSync(dir, 0o755);
  const etc = join(dir, 'etc');
  mkdirSync(etc);
  const hash = execFileSync('perl', ['-e', 'print crypt($ARGV[0], q($6$pinettestsalt$))', BOB_PASSWORD], { encoding: 'utf8' });
  const home = (u: string): string => join(dir, 'home', u);
  const passwd = join(etc, 'passwd');
  writeFileSync(
    passwd,
    `${readFileSync('/etc/passwd', 'utf8').trimEnd()}\n` +
      `${ALICE}:x:${ALICE_UID}:${ALICE_UID}:pinet test:${home(ALICE)}:/bin/sh\n` +
      `${BOB}:x:${BOB_UID}:${BOB_UID}:pinet test:${home(BOB)}:/bin/sh\n`,
  );
  const shadow = join(etc, 'shadow');
  // "*" (not "!"): without PAM, sshd refuses even key logins to locked accounts.
  const shadowLines = readFileSync('/etc/shadow', 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => (l.startsWith('root:') ? l.replace(/^root:[^:]*:/, 'root:*:') : l));
  writeFileSync(shadow, `${shadowLines.join('\n')}\n${ALICE}:*:19000:0:99999:7:::\n${BOB}:${hash}:19000:0:99999:7:::\n`, { mode: 0o640 });
  const group = join(etc, 'group');
  writeFileSync(group, `${readFileSync('/etc/group', 'utf8').trimEnd()}\n${ALICE}:x:${ALICE_UID}:\n${BOB}:x:${BOB_UID}:\n`);
  const sudoers = join(etc, 'sudoers.d');
  mkdirSync(sudoers, { mode: 0o755 });
  for (const f of readdirSync('/etc/sudoers.d')) copyFileSync(join('/etc/sudoers.d', f), join(sudoers, f));
  writeFileSync(join(sudoers, 'pinet-test'), `${ALICE} ALL=(ALL) NOPASSWD: ALL\n${BOB} ALL=(ALL) ALL\n`, { mode: 0o440 });

  for (const [u, uid] of [
    [ALICE, ALICE_UID],
    [BOB, BOB_UID],
  ] as const) {
    mkdirSync(home(u), { recursive: true });
    chownSync(home(u), uid, uid);
  }
  const client = join(dir, 'client');
  mkdirSync(client, { mode: 0o700 });
  const keys = {
    plain: join(client, 'id_plain'),
    enc: join(client, 'id_enc'),
    agent: join(client, 'id_agent'),
    other: join(client, 'id_other'),
  };
  keygen(keys.plain, 'ed25519');
  keygen(keys.enc, 'ed25519', KEY_PASSPHRASE);
  keygen(keys.agent, 'ecdsa');
  keygen(keys.other, 'ed25519');
  const auth = join(dir, 'authorized_keys');
  mkdirSync(auth, { mode: 0o755 });
  const authorized = [keys.plain, keys.enc, keys.agent].map((k) => readFileSync(`${k}.pub`, 'utf8')).join('');
  for (const u of ['root', ALICE, BOB]) writeFileSync(join(auth, u), authorized, { mode: 0o644 });
  return { dir, passwd, shadow, group, sudoers, keys };
}

export interface Sshd {
  port: number;
  pid: number;
  /** Host keys: type → public key line "type base64". */
  hostKeys: Record<'ed25519' | 'ecdsa', { line: string; pub: string; blob: Buffer }>;
  /** What sshd printed on stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

export async function startSshd(users: TestUsers, name: string, opts: { logLevel?: string } = {}): Promise<Sshd> {
  const dir = join(users.dir, name);
  mkdirSync(dir);
  const hostKeys = {} as Sshd['hostKeys'];
  const keyLines: string[] = [];
  for (const type of ['ed25519', 'ecdsa'] as const) {
    const file = join(dir, `ssh_host_${type}_key`);
    keygen(file, type, '', `host-${name}`);
    const pub = readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    hostKeys[type] = { line: pub, pub: `${file}.pub`, blob: Buffer.from(pub.split(' ')[1] as string, 'base64') };
    keyLines.push(`HostKey ${file}`);
  }
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      ...keyLines,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      `AuthorizedKeysFile ${join(users.dir, 'authorized_keys')}/%u`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'X11Forwarding no',
      'PrintMotd no',
      'MaxStartups 100',
      'MaxAuthTries 10',
      `LogLevel ${opts.logLevel ?? 'VERBOSE'}`,
      '',
    ].join('\n'),
  );
  const script =
    'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && ' +
    'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && mount --bind "$3" /etc/group && ' +
    'mount --bind "$4" /etc/sudoers.d && exec /usr/sbin/sshd -D -e -f "$5"';
  const child: ChildProcess = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', users.passwd, users.shadow, users.group, users.sudoers, config],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    log += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd ${name} did not start:\n${log}`)), 20_000);
    const check = (): void => {
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd ${name} exited with ${code}:\n${log}`));
    });
  });
  const pid = child.pid as number;
  return {
    port,
    pid,
    hostKeys,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
    },
  };
}

/** An OpenSSH client config for the tests: one block per host alias. */
export function writeClientConfig(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

export function removeUsers(users: TestUsers): void {
  rmSync(users.dir, { recursive: true, force: true });
}
