/**
 * UDP sockets inside a network namespace, for a process that stays in its
 * own: a small broker (socket-broker.mjs) is started in the namespace with
 * `ip netns exec` and passes each socket it opens back over Node's IPC
 * channel. One broker per namespace serves every socket a Pi needs (DHCP on
 * port 68, one fresh TFTP port per request). `close()` disconnects it; the
 * broker also exits when this process dies, so nothing outlives a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

const BROKER = fileURLToPath(new URL('./socket-broker.mjs', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface UdpRequest {
  address: string;
  port: number;
  broadcast?: boolean;
  reuseAddr?: boolean;
}

interface Pending {
  resolve: (s: dgram.Socket) => void;
  reject: (e: Error) => void;
}

export class NamespaceSockets {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;
  private stderr = '';

  private constructor(
    readonly netns: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (msg: { id?: number; ok?: boolean; error?: string }, handle: unknown) => {
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok && handle) p.resolve(handle as dgram.Socket);
      else p.reject(new Error(`namespace ${netns}: cannot open the UDP socket: ${msg.error ?? 'no socket came back'}`));
    });
    child.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString()));
    child.on('exit', (code, signal) => {
      this.exited = true;
      const err = new Error(`socket broker in namespace ${netns} exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** Start the broker in `netns` and wait until it is ready. */
  static async open(netns: string): Promise<NamespaceSockets> {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, BROKER], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const ns = new NamespaceSockets(netns, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket broker in namespace ${netns} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const onMessage = (m: { ready?: boolean }): void => {
        if (!m.ready) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`socket broker in namespace ${netns} exited with ${code}: ${ns.stderr.trim() || 'no message'} (does the namespace exist?)`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    return ns;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** A bound UDP socket living in the namespace. */
  udp(req: UdpRequest): Promise<dgram.Socket> {
    if (this.exited) return Promise.reject(new Error(`socket broker in namespace ${this.netns} is gone`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...req }, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  /** Stop the broker (it exits on disconnect); waits for it. */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => {
      if (!this.exited && this.child.pid) process.kill(this.child.pid, 'SIGKILL');
    }, 5000);
    await gone;
    clearTimeout(timer);
  }
}
