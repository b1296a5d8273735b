/**
 * One live SSH connection to a host, and the commands run over it.
 *
 * Every command line is built here, from argument lists, by `shellJoin`
 * (src/util/shell.ts): `exec(argv)` runs `shellJoin(argv)`, and
 * `execScript(script, args)` runs `sh -c <script> sh <args…>`, a constant
 * script that receives its values as positional parameters, so several steps
 * take one round trip without any value inside the script text. Privileged
 * steps (`sudo: true`) run directly as root, or through `sudo -n --` for
 * other users; a sudo that wants a password stops with an error that says
 * what to change.
 *
 * Commands share the connection: up to 8 run at once (sshd allows 10
 * sessions per connection by default); more wait their turn. A command with
 * `timeoutMs` is also wrapped in the remote `timeout` (coreutils) so the
 * host stops it even when we cannot reach it any more; locally the channel
 * is signalled and closed and the promise rejects. When the connection
 * drops, every running command rejects at once with "connection lost while
 * <step>".
 */
import type { Readable, Writable } from 'node:stream';
import type { Channel, Client, ClientChannel } from 'ssh2';
import { shellJoin } from '../util/shell.js';
import { RemoteCommandError, RemoteError } from './errors.js';
import type { ResolvedHost } from './ssh-config.js';
import { hostLabel } from './ssh-config.js';
import * as files from './files.js';
import * as tree from './tree.js';

export interface ExecOptions {
  /** What this command does, for errors: "reading the bootloader config". */
  step?: string;
  /** Run as root: directly when logged in as root, else through `sudo -n`. */
  sudo?: boolean;
  /** Bytes for the command's stdin (stdin is closed at once otherwise). */
  input?: string | Buffer;
  /** Stop the command after this many milliseconds. */
  timeoutMs?: number;
  /** false: resolve with the result even for a non-zero exit status. */
  reject?: boolean;
}

export interface ExecResult<T extends string | Buffer = string> {
  /** Exit status; null when the command was killed by a signal. */
  code: number | null;
  signal?: string;
  stdout: T;
  stderr: string;
  /** The command line that ran (for logs). */
  command: string;
}

export interface StartedCommand {
  stdout: Readable;
  stdin: Writable;
  /** Settles when the command ended: rejects on a sudo problem, timeout or lost connection. */
  done: Promise<{ code: number | null; signal?: string; stderr: string }>;
  /** Stops the command (signal + channel close). */
  kill(): void;
}

const MAX_CHANNELS = 8;

export class RemoteHost {
  /** The resolved configuration this connection was made with. */
  readonly host: ResolvedHost;
  /** "pi-07 (10.0.0.17)" */
  readonly label: string;
  /** The login user. */
  readonly user: string;
  /** Logged in as root: privileged steps need no sudo. */
  readonly isRoot: boolean;
  /** Notes from config resolution and authentication (unusable keys, ignored Match …). */
  readonly notes: string[];

  private readonly client: Client;
  private readonly jump: RemoteHost | undefined;
  private lost: RemoteError | undefined;
  private lostReason = '';
  private closing = false;
  private readonly running = new Set<(err: RemoteError) => void>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly closed: Promise<void>;

  /** @internal use connect() */
  constructor(client: Client, host: ResolvedHost, jump: RemoteHost | undefined, notes: string[]) {
    this.client = client;
    this.host = host;
    this.label = hostLabel(host);
    this.user = host.user;
    this.isRoot = host.user === 'root';
    this.jump = jump;
    this.notes = notes;
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        this.markLost(undefined);
        resolve();
      });
    });
    client.on('error', (err: Error & { level?: string }) => {
      this.markLost(err);
    });
  }

  /** True while the connection is usable. */
  get connected(): boolean {
    return this.lost === undefined && !this.closing;
  }

  private markLost(err: (Error & { level?: string; code?: string }) | undefined): void {
    if (this.lost) return;
    this.lostReason =
      err?.level === 'client-timeout'
        ? 'no answer to keepalives'
        : err
          ? err.message
          : this.closing
            ? ''
            : 'the connection was closed';
    this.lost = new RemoteError('connection-lost', this.label, 'connection', `connection lost${this.lostReason ? ` (${this.lostReason})` : ''}`, {
      cause: err,
    });
    const lost = this.lost;
    for (const fail of [...this.running]) fail(lost);
    this.running.clear();
  }

  private lostDuring(step: string): RemoteError {
    const what = this.closing && !this.lostReason ? 'connection closed' : 'connection lost';
    return new RemoteError('connection-lost', this.label, step, `${what} while ${step}${this.lostReason ? ` (${this.lostReason})` : ''}`, {
      cause: this.lost?.cause,
      hint: 'check that the host is up and reachable, then run again',
    });
  }

  private async acquire(): Promise<void> {
    if (this.active < MAX_CHANNELS) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  /** The command line for an argv, with sudo and timeout wrappers. */
  commandLine(argv: readonly string[], opts: { sudo?: boolean; timeoutMs?: number } = {}): string {
    let words = [...argv];
    if (opts.timeoutMs !== undefined) {
      const secs = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
      words = ['timeout', '-k', '5', String(secs), ...words];
    }
    if (opts.sudo && !this.isRoot) words = ['sudo', '-n', '--', ...words];
    return shellJoin(words);
  }

  /**
   * Starts a command and gives its streams; `exec` and `execScript` are
   * built on this. The caller must consume `stdout`.
   */
  async start(argv: readonly string[], opts: Omit<ExecOptions, 'reject'> = {}): Promise<StartedCommand> {
    const step = opts.step ?? `running ${argv[0] ?? 'a command'}`;
    const command = this.commandLine(argv, opts);
    if (this.lost || this.closing) throw this.lostDuring(step);
    await this.acquire();
    if (this.lost || this.closing) {
      this.release();
      throw this.lostDuring(step);
    }
    let channel: ClientChannel;
    try {
      channel = await new Promise<ClientChannel>((resolve, reject) => {
        const onLost = (): void => reject(this.lostDuring(step));
        this.running.add(onLost);
        try {
          this.client.exec(command, (err, ch) => {
            this.running.delete(onLost);
            if (err) reject(this.lost ? this.lostDuring(step) : new RemoteError('protocol', this.label, step, `cannot start a command for ${step}: ${err.message}`));
            else resolve(ch);
          });
        } catch {
          this.running.delete(onLost);
          reject(this.lostDuring(step));
        }
      });
    } catch (err) {
      this.release();
      throw err;
    }

    let stderr = '';
    channel.stderr.setEncoding('utf8');
    channel.stderr.on('data', (d: string) => {
      if (stderr.length < 1_000_000) stderr += d;
    });

    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const kill = (): void => {
      try {
        channel.signal('KILL');
      } catch {
        // the channel may already be gone
      }
      try {
        channel.close();
      } catch {
        // ditto
      }
    };
    const done = new Promise<{ code: number | null; signal?: string; stderr: string }>((resolve, reject) => {
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        this.running.delete(onLost);
        this.release();
        fn();
      };
      const onLost = (): void => {
        finish(() => reject(this.lostDuring(step)));
        // Let the stream consumers see the end.
        channel.destroy();
      };
      this.running.add(onLost);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          finish(() =>
            reject(
              new RemoteError('command-timeout', this.label, step, `${step} timed out after ${formatSeconds(opts.timeoutMs as number)}`, {
                hint: 'the command was stopped; check the host (load, a hung mount) or allow more time',
              }),
            ),
          );
          kill();
          channel.destroy();
        }, opts.timeoutMs);
      }
      let exitCode: number | null | undefined;
      let exitSignal: string | undefined;
      channel.on('exit', (code: number | null, signal?: string) => {
        exitCode = code;
        exitSignal = signal ?? undefined;
      });
      channel.on('close', (code?: number | null, signal?: string) => {
        // ssh2 passes the exit status (or signal) to 'close' when it got one.
        if (exitCode === undefined && (typeof code === 'number' || typeof signal === 'string')) {
          exitCode = typeof code === 'number' ? code : null;
          exitSignal = signal;
        }
        if (exitCode === undefined) {
          // Closed without an exit status: the connection (or the channel) died.
          finish(() => reject(this.lostDuring(step)));
          return;
        }
        const problem = opts.sudo && !this.isRoot ? this.sudoProblem(exitCode, stderr, step) : undefined;
        finish(() => (problem ? reject(problem) : resolve({ code: exitCode ?? null, signal: exitSignal, stderr })));
      });
    });

    if (opts.input !== undefined) channel.end(opts.input);
    else channel.end();

    // Callers often read stdout before awaiting `done`; a connection lost meanwhile must not
    // become an unhandled rejection (they still see it when they await `done`).
    done.catch(() => undefined);
    return { stdout: channel as unknown as Readable, stdin: channel as unknown as Writable, done, kill };
  }

  /** sudo's own refusals, told apart from the command's failures. */
  private sudoProblem(code: number | null, stderr: string, step: string): RemoteError | undefined {
    if (code === 0) return undefined;
    const first = stderr.split('\n').find((l) => l.trim() !== '') ?? '';
    if (/^sudo: (a password is required|a terminal is required|no tty present)/.test(first)) {
      return new RemoteError('sudo-password', this.label, step, `sudo needs a password on ${this.host.alias} (${step})`, {
        hint: `log in as root, or allow passwordless sudo for user ${this.user} (e.g. "${this.user} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/)`,
      });
    }
    if (/^sudo: /.test(first) && /(not in the sudoers file|not allowed to (execute|run)|may not run sudo)/.test(stderr)) {
      return new RemoteError('sudo-denied', this.label, step, `user ${this.user} may not use sudo on ${this.host.alias} (${step})`, {
        hint: `log in as root, or give ${this.user} passwordless sudo`,
      });
    }
    if (code === 127 && /sudo: (command )?not found/.test(stderr)) {
      return new RemoteError('sudo-denied', this.label, step, `sudo is not installed on ${this.host.alias} (${step})`, {
        hint: 'log in as root, or install sudo',
      });
    }
    return undefined;
  }

  /** Runs `shellJoin(argv)`; stdout as text. */
  exec(argv: readonly string[], opts?: ExecOptions & { encoding?: 'utf8' }): Promise<ExecResult<string>>;
  /** Runs `shellJoin(argv)`; stdout as bytes. */
  exec(argv: readonly string[], opts: ExecOptions & { encoding: 'buffer' }): Promise<ExecResult<Buffer>>;
  async exec(argv: readonly string[], opts: ExecOptions & { encoding?: 'utf8' | 'buffer' } = {}): Promise<ExecResult<string | Buffer>> {
    if (argv.length === 0) throw new Error('internal error: exec without a command');
    const step = opts.step ?? `running ${argv[0]}`;
    const started = await this.start(argv, { ...opts, step });
    const chunks: Buffer[] = [];
    started.stdout.on('data', (d: Buffer) => chunks.push(d));
    const r = await started.done;
    const out = Buffer.concat(chunks);
    const result: ExecResult<string | Buffer> = {
      code: r.code,
      stdout: opts.encoding === 'buffer' ? out : out.toString('utf8'),
      stderr: r.stderr,
      command: this.commandLine(argv, opts),
    };
    if (r.signal !== undefined) result.signal = r.signal;
    if (r.code !== 0 && opts.reject !== false) {
      throw new RemoteCommandError(this.label, step, {
        command: result.command,
        code: r.code,
        signal: r.signal,
        stdout: out.toString('utf8'),
        stderr: r.stderr,
      });
    }
    return result;
  }

  /**
   * Runs a constant script as `sh -c <script> sh <args…>`: the values
   * arrive as "$1", "$2"…, never inside the script text.
   */
  execScript(script: string, args: readonly string[], opts?: ExecOptions & { encoding?: 'utf8' }): Promise<ExecResult<string>>;
  execScript(script: string, args: readonly string[], opts: ExecOptions & { encoding: 'buffer' }): Promise<ExecResult<Buffer>>;
  execScript(script: string, args: readonly string[], opts: ExecOptions & { encoding?: 'utf8' | 'buffer' } = {}): Promise<ExecResult<string | Buffer>> {
    const argv = scriptArgv(script, args);
    const o = { step: 'running a script', ...opts };
    return o.encoding === 'buffer' ? this.exec(argv, { ...o, encoding: 'buffer' }) : this.exec(argv, { ...o, encoding: 'utf8' });
  }

  /** Opens a TCP connection from the host to `host:port` (for ProxyJump). */
  forwardOut(host: string, port: number, step = `opening a tunnel to ${host}:${port}`): Promise<Channel> {
    if (this.lost || this.closing) return Promise.reject(this.lostDuring(step));
    return new Promise((resolve, reject) => {
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          if (err) {
            const reason = (err as Error & { reason?: number }).reason;
            const why = reason === 2 ? 'connection refused or host unreachable' : err.message;
            reject(new RemoteError(reason === 2 ? 'refused' : 'protocol', this.label, step, `cannot reach ${host} port ${port} from here: ${why}`));
          } else resolve(stream);
        });
      } catch {
        reject(this.lostDuring(step));
      }
    });
  }

  readFile(path: string, opts?: files.ReadOptions): Promise<Buffer> {
    return files.readFile(this, path, opts);
  }

  readFiles(paths: readonly string[], opts?: files.ReadOptions): Promise<Map<string, files.FileRead>> {
    return files.readFiles(this, paths, opts);
  }

  stat(path: string, opts?: files.StatOptions): Promise<files.RemoteStat | null> {
    return files.stat(this, path, opts);
  }

  statMany(paths: readonly string[], opts?: files.StatOptions): Promise<Map<string, files.RemoteStat | null>> {
    return files.statMany(this, paths, opts);
  }

  writeFileAtomic(path: string, content: string | Buffer, opts?: files.WriteOptions): Promise<files.WriteResult> {
    return files.writeFileAtomic(this, path, content, opts);
  }

  listTree(remoteDir: string, opts?: tree.ListTreeOptions): Promise<tree.TreeEntry[]> {
    return tree.listTree(this, remoteDir, opts);
  }

  streamTree(remoteDir: string, localDir: string, opts?: tree.StreamTreeOptions): Promise<tree.StreamTreeResult> {
    return tree.streamTree(this, remoteDir, localDir, opts);
  }

  /** Ends the connection (and the jump host's). */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      try {
        this.client.end();
      } catch {
        // already gone
      }
      const timer = setTimeout(() => this.client.destroy(), 2000);
      await this.closed;
      clearTimeout(timer);
    }
    await this.jump?.close();
  }
}

/** `sh -c <script> sh <args…>` as an argv. */
export function scriptArgv(script: string, args: readonly string[]): string[] {
  return ['sh', '-c', script, 'sh', ...args];
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

