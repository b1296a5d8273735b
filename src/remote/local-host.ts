/**
 * This machine as a host pinet runs its scripts on, like a RemoteHost but
 * without SSH: the boot server's own steps (its fstab, its mount, dnsmasq)
 * and an NFS server that is this machine. The same scripts
 * (scripts/remote/*.sh), the same quoting (argument lists only), the same
 * sudo rule (privileged steps run directly as root, else through `sudo -n`,
 * whose refusal is an error saying what to change).
 */
import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { RemoteCommandError, RemoteError } from './errors.js';
import type { ExecOptions, ExecResult, StartedCommand } from './remote-host.js';

export class LocalHost {
  readonly label: string;
  readonly user = userInfo().username;
  readonly isRoot = process.getuid?.() === 0;

  /**
   * `as`: run every command with this uid and gid and no supplementary group
   * (Node's spawn drops them), e.g. as dnsmasq's TFTP user; needs root.
   */
  constructor(private readonly opts: { as?: { uid: number; gid: number; name: string } } = {}) {
    this.label = opts.as ? `this machine (as ${opts.as.name})` : 'this machine';
  }

  private argv(argv: readonly string[], opts: { sudo?: boolean; timeoutMs?: number }): string[] {
    let words = [...argv];
    if (opts.timeoutMs !== undefined) words = ['timeout', '-k', '5', String(Math.max(1, Math.ceil(opts.timeoutMs / 1000))), ...words];
    if (opts.sudo && !this.isRoot) words = ['sudo', '-n', '--', ...words];
    return words;
  }

  async start(argv: readonly string[], opts: Omit<ExecOptions, 'reject'> = {}): Promise<StartedCommand> {
    const step = opts.step ?? `running ${argv[0] ?? 'a command'}`;
    const [cmd, ...args] = this.argv(argv, opts);
    const as = this.opts.as;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(as ? { uid: as.uid, gid: as.gid } : {}) });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 1_000_000) stderr += d;
    });
    const done = new Promise<{ code: number | null; signal?: string; stderr: string }>((resolve, reject) => {
      child.on('error', (err) => reject(new RemoteError('command-failed', this.label, step, `cannot run ${argv[0]}: ${err.message}`, { cause: err })));
      child.on('close', (code, signal) => {
        if (opts.sudo && !this.isRoot && code !== 0 && /^sudo: (a password is required|a terminal is required)/m.test(stderr)) {
          reject(new RemoteError('sudo-password', this.label, step, `sudo needs a password here (${step})`, { hint: 'run pinet as root (sudo pinet …)' }));
          return;
        }
        resolve({ code, ...(signal ? { signal } : {}), stderr });
      });
    });
    done.catch(() => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    return { stdout: child.stdout as Readable, stdin: child.stdin as Writable, done, kill: () => child.kill('SIGKILL') };
  }

  exec(argv: readonly string[], opts?: ExecOptions & { encoding?: 'utf8' }): Promise<ExecResult<string>>;
  exec(argv: readonly string[], opts: ExecOptions & { encoding: 'buffer' }): Promise<ExecResult<Buffer>>;
  async exec(argv: readonly string[], opts: ExecOptions & { encoding?: 'utf8' | 'buffer' } = {}): Promise<ExecResult<string | Buffer>> {
    const step = opts.step ?? `running ${argv[0]}`;
    const started = await this.start(argv, { ...opts, step });
    const chunks: Buffer[] = [];
    started.stdout.on('data', (d: Buffer) => chunks.push(d));
    const r = await started.done;
    const out = Buffer.concat(chunks);
    const command = this.argv(argv, opts).join(' ');
    if (r.code !== 0 && opts.reject !== false) {
      throw new RemoteCommandError(this.label, step, { command, code: r.code, ...(r.signal ? { signal: r.signal } : {}), stdout: out.toString('utf8'), stderr: r.stderr });
    }
    return { code: r.code, ...(r.signal ? { signal: r.signal } : {}), stdout: opts.encoding === 'buffer' ? out : out.toString('utf8'), stderr: r.stderr, command };
  }

  execScript(script: string, args: readonly string[], opts?: ExecOptions & { encoding?: 'utf8' }): Promise<ExecResult<string>>;
  execScript(script: string, args: readonly string[], opts: ExecOptions & { encoding: 'buffer' }): Promise<ExecResult<Buffer>>;
  execScript(script: string, args: readonly string[], opts: ExecOptions & { encoding?: 'utf8' | 'buffer' } = {}): Promise<ExecResult<string | Buffer>> {
    const argv = ['sh', '-c', script, 'sh', ...args];
    return opts.encoding === 'buffer' ? this.exec(argv, { ...opts, encoding: 'buffer' }) : this.exec(argv, { ...opts, encoding: 'utf8' });
  }

  async close(): Promise<void> {}
}
