/**
 * The fleet daemon: one process per fleet, started by fleet.ts inside the
 * fleet's boot-server network namespace (whose one link into the LAN is the
 * boot server's NIC, see netns.ts), so that the Pis keep running and their
 * SSH ports keep answering while the test process is busy (or blocked in a
 * synchronous `ssh` call).
 *
 * It owns every process of the fleet:
 *   - the holder, a process in a private mount namespace with the fleet's
 *     tmpfs mounted over the state directory (the host never sees that
 *     mount; it disappears with the holder);
 *   - per Pi, `unshare` with the Pi's PID 1 (assets/init.sh, then sshd);
 *     when it exits without being asked to (the Pi rebooted), the Pi is
 *     booted again;
 *   - per Pi, the relay from its host loopback port (relay.ts).
 * Every child gets PR_SET_PDEATHSIG=SIGKILL, and stdin closing (the fleet's
 * process died) makes the daemon stop everything and remove what the fleet
 * created.
 *
 * Protocol: protocol.ts. Run as `node --import tsx daemon.ts`.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { PiRelay } from './relay.js';
import type { DaemonConfig, DaemonEvent, DaemonPi, PiStatus, Reply, Request } from './protocol.js';

function send(msg: Reply | DaemonEvent): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

let label = `pid ${process.pid}`;
function log(text: string): void {
  process.stderr.write(`[fleet daemon ${label}] ${text}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Can we open a TCP connection to host:port (from the boot server's namespace)? */
function reachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The holder: a sleeping process whose private mount namespace holds the fleet's tmpfs. */
async function startHolder(config: DaemonConfig): Promise<ChildProcess> {
  const script = 'mount -t tmpfs -o "mode=0755,size=$2" pinet-fleet "$1" && echo ready && exec sleep infinity';
  const child = spawn(
    'setpriv',
    ['--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--propagation', 'slave', '--', '/bin/sh', '-c', script, 'holder', config.stateDir, String(config.tmpfsBytes)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the fleet's mount holder exited (code ${code}) before mounting its tmpfs`)));
  });
  return child;
}

interface Waiter {
  after: number;
  resolve: (s: PiStatus) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One Pi's life: boot, watch, reboot, power off. */
class PiMachine {
  private state: PiStatus['state'] = 'off';
  private boot = 0;
  private initPid: number | null = null;
  private child: ChildProcess | null = null;
  private wantOn = false;
  private generation = 0;
  private fastFailures = 0;
  private error: string | undefined;
  private readonly waiters = new Set<Waiter>();

  constructor(
    readonly pi: DaemonPi,
    private readonly config: DaemonConfig,
    private readonly holderPid: number,
  ) {}

  private get dir(): string {
    return join(this.config.stateDir, `pi-${this.pi.index}`);
  }

  status(): PiStatus {
    return { state: this.state, boot: this.boot, initPid: this.initPid, ...(this.error ? { error: this.error } : {}) };
  }

  start(): void {
    this.wantOn = true;
    if (this.child) return;
    this.state = 'booting';
    this.error = undefined;
    const gen = ++this.generation;
    const child = spawn(
      'setpriv',
      [
        '--pdeathsig', 'KILL', '--',
        'nsenter', `--mount=/proc/${this.holderPid}/ns/mnt`, `--net=/run/netns/${this.pi.netns}`, '--',
        'unshare', '--mount', '--uts', '--ipc', '--pid', '--fork', '--kill-child', '--propagation', 'slave', '--',
        '/bin/bash', join(this.config.assetsDir, 'init.sh'), this.dir, this.config.stateDir, this.config.assetsDir,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    child.on('error', (err) => log(`${this.pi.name}: cannot start: ${err.message}`));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.once('exit', (code, signal) => this.onExit(gen, code, signal, stderr));
    void this.watchBoot(gen, child);
  }

  private async watchBoot(gen: number, child: ChildProcess): Promise<void> {
    const deadline = performance.now() + 60_000;
    while (gen === this.generation && this.initPid === null && performance.now() < deadline) {
      try {
        const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
        if (children) this.initPid = Number(children.split(/\s+/)[0]);
      } catch {
        return;
      }
      if (this.initPid === null) await sleep(5);
    }
    while (gen === this.generation && this.child === child && performance.now() < deadline) {
      if (await reachable(this.pi.ip, 22, 500)) {
        if (gen !== this.generation || this.child !== child) return;
        this.state = 'up';
        this.boot++;
        this.fastFailures = 0;
        send({ event: 'booted', pi: this.pi.index, boot: this.boot, initPid: this.initPid ?? 0 });
        for (const w of [...this.waiters]) if (this.boot > w.after) this.settle(w, null);
        return;
      }
      await sleep(20);
    }
    if (gen === this.generation && this.child === child && this.state === 'booting') {
      this.fail('sshd did not answer within 60 s of power-on');
      child.kill('SIGKILL');
    }
  }

  private consoleTail(): string {
    try {
      return readFileSync(`/proc/${this.holderPid}/root${this.dir}/console.log`, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }

  private fail(reason: string): void {
    this.state = 'failed';
    this.error = reason;
    send({ event: 'failed', pi: this.pi.index, reason });
    for (const w of [...this.waiters]) this.settle(w, new Error(`${this.pi.name}: ${reason}`));
  }

  private onExit(gen: number, code: number | null, signal: string | null, stderr: string): void {
    if (gen !== this.generation) return;
    this.child = null;
    this.initPid = null;
    if (!this.wantOn) {
      this.state = 'off';
      return;
    }
    const early = this.state !== 'up';
    if (early) {
      this.fastFailures++;
      if (this.fastFailures >= 3) {
        this.fail(`boot failed 3 times (exit ${code ?? signal}): ${stderr.trim()}\n${this.consoleTail()}`);
        return;
      }
      log(`${this.pi.name}: boot ended early (exit ${code ?? signal}); trying again`);
    }
    // The Pi rebooted (or crashed after booting): power it on again.
    this.start();
  }

  /** Reboot as `reboot` inside the Pi does: SIGTERM to its PID 1. */
  reboot(): void {
    if (this.initPid === null) throw new Error(`${this.pi.name} is not running (${this.state})`);
    process.kill(this.initPid, 'SIGTERM');
  }

  async powerOff(): Promise<void> {
    this.wantOn = false;
    const child = this.child;
    if (!child) {
      this.state = 'off';
      return;
    }
    // Killing the Pi's PID 1 ends its PID namespace; unshare reaps it and exits.
    // Only if that does not happen is unshare itself killed.
    let killed = false;
    if (this.initPid !== null) {
      try {
        process.kill(this.initPid, 'SIGKILL');
        killed = true;
      } catch {
        // Already gone.
      }
    }
    if (!killed || !(await Promise.race([exited(child).then(() => true), sleep(5_000).then(() => false)]))) {
      child.kill('SIGKILL');
      await Promise.race([exited(child), sleep(5_000)]);
    }
    this.state = 'off';
    for (const w of [...this.waiters]) this.settle(w, new Error(`${this.pi.name} was powered off`));
  }

  waitBoot(after: number, timeoutMs: number): Promise<PiStatus> {
    if (this.state === 'up' && this.boot > after) return Promise.resolve(this.status());
    if (this.state === 'failed') return Promise.reject(new Error(`${this.pi.name}: ${this.error}`));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        after,
        resolve,
        reject,
        timer: setTimeout(
          () => this.settle(w, new Error(`${this.pi.name} did not boot within ${timeoutMs} ms (state ${this.state}, boot ${this.boot})`)),
          timeoutMs,
        ),
      };
      this.waiters.add(w);
    });
  }

  private settle(w: Waiter, err: Error | null): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    if (err) w.reject(err);
    else w.resolve(this.status());
  }
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const config = JSON.parse(first.value) as DaemonConfig;
  label = `${config.fleetId} (pid ${process.pid})`;

  const relays = new Map<number, PiRelay>();
  for (const pi of config.pis) {
    const server = net.createServer({ allowHalfOpen: true });
    server.listen({ fd: pi.fd });
    relays.set(pi.index, new PiRelay(server, { host: pi.ip, port: 22 }));
  }

  const holder = await startHolder(config);
  send({ event: 'holder', pid: holder.pid! });
  const machines = new Map(config.pis.map((pi) => [pi.index, new PiMachine(pi, config, holder.pid!)]));

  let stopping: Promise<void> | null = null;
  const stopAll = (orphaned: boolean): Promise<void> => {
    stopping ??= (async () => {
      for (const r of relays.values()) r.close();
      await Promise.all([...machines.values()].map((m) => m.powerOff()));
      holder.kill('SIGKILL');
      await Promise.race([exited(holder), sleep(5000)]);
      if (orphaned) {
        for (const ns of config.orphan.netns) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        for (const p of config.orphan.paths) rmSync(p, { recursive: true, force: true });
      }
    })();
    return stopping;
  };

  const machine = (index: number): PiMachine => {
    const m = machines.get(index);
    if (!m) throw new Error(`no Pi with index ${index}`);
    return m;
  };
  const relay = (index: number): PiRelay => {
    const r = relays.get(index);
    if (!r) throw new Error(`no Pi with index ${index}`);
    return r;
  };

  const handle = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'boot':
        for (const i of req.pis) machine(i).start();
        return null;
      case 'status':
        return machine(req.pi).status();
      case 'waitBoot':
        return machine(req.pi).waitBoot(req.after, req.timeoutMs);
      case 'reboot':
        machine(req.pi).reboot();
        return null;
      case 'powerOff':
        await machine(req.pi).powerOff();
        return null;
      case 'powerOn':
        machine(req.pi).start();
        return null;
      case 'cut':
        return relay(req.pi).cut(req.mode);
      case 'throttle':
        relay(req.pi).throttle(req.bytesPerSecond);
        return null;
      case 'block':
        relay(req.pi).setBlock(req.mode);
        return null;
      case 'stats':
        return relay(req.pi).stats();
      case 'shutdown':
        await stopAll(false);
        return null;
    }
  };

  const onSignal = () => {
    void stopAll(true).then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    let req: Request;
    try {
      req = JSON.parse(next.value) as Request;
    } catch {
      log(`ignoring a line that is not JSON: ${next.value.slice(0, 200)}`);
      continue;
    }
    handle(req).then(
      (result) => {
        send({ id: req.id, ok: true, result: result ?? null });
        if (req.op === 'shutdown') process.stdout.end(() => process.exit(0));
      },
      (err: Error) => send({ id: req.id, ok: false, error: err.message }),
    );
  }
  // stdin closed: the fleet's process is gone (or is done with us).
  if (!stopping) {
    log('the fleet process went away; stopping every Pi and removing the fleet');
    await stopAll(true);
  } else {
    await stopping;
  }
  process.exit(0);
}

main().catch((err: Error) => {
  log(`fatal: ${err.stack ?? err.message}`);
  process.exit(1);
});
