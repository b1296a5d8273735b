/**
 * The fleet's side of its daemon (daemon.ts): start it in the boot server's namespace
 * with the relay's listening sockets, send requests, receive replies and
 * events. See protocol.ts for the messages.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DaemonConfig, DaemonEvent, Reply, Request } from './protocol.js';

const DAEMON = fileURLToPath(new URL('./daemon.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Request without its id (the client numbers them). */
type Op = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class DaemonClient {
  readonly events = new EventEmitter();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; op: string }>();
  private exitInfo: string | null = null;
  readonly exited: Promise<void>;
  readonly holderPid: Promise<number>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = `the fleet daemon exited (${code ?? signal})`;
        for (const p of this.pending.values()) p.reject(new Error(`${this.exitInfo} during ${p.op}`));
        this.pending.clear();
        this.events.emit('exit', this.exitInfo);
        resolve();
      });
    });
    this.holderPid = new Promise((resolve, reject) => {
      this.events.once('holder', (e: { pid: number }) => resolve(e.pid));
      this.events.once('exit', (info: string) => reject(new Error(`${info} before mounting the fleet's tmpfs; see its log`)));
    });
    this.holderPid.catch(() => undefined);
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
  }

  /**
   * Start the daemon inside network namespace `namespace` (the boot
   * server's), handing it the listening sockets
   * (as fds 3, 4, ...) and its configuration. Its stderr goes to `logFd`.
   */
  static start(namespace: string, servers: net.Server[], config: Omit<DaemonConfig, 'pis'> & { pis: Array<Omit<DaemonConfig['pis'][number], 'fd'>> }, logFd: number): DaemonClient {
    const fds = servers.map((s) => {
      const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Error('cannot hand a listening socket to the fleet daemon (no file descriptor)');
      return fd;
    });
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${namespace}`, '--', process.execPath, '--import', 'tsx', DAEMON],
      { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', logFd, ...fds] },
    );
    const client = new DaemonClient(child);
    const full: DaemonConfig = { ...config, pis: config.pis.map((p, i) => ({ ...p, fd: 3 + i })) };
    child.stdin!.write(JSON.stringify(full) + '\n');
    child.stdin!.on('error', () => undefined);
    return client;
  }

  private onLine(line: string): void {
    let msg: Reply | DaemonEvent;
    try {
      msg = JSON.parse(line) as Reply | DaemonEvent;
    } catch {
      return;
    }
    if ('event' in msg) {
      this.events.emit(msg.event, msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error));
  }

  request<T = unknown>(op: Op): Promise<T> {
    if (this.exitInfo) return Promise.reject(new Error(`${this.exitInfo}; cannot ${op.op}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, op: op.op });
      this.child.stdin!.write(JSON.stringify({ ...op, id }) + '\n');
    });
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** Ask the daemon to stop everything; kill it if it does not within `ms`. */
  async shutdown(ms = 30_000): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      await this.request({ op: 'shutdown' }).catch(() => undefined);
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
