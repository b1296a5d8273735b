/**
 * Test topology for the real-dnsmasq integration tests (root only):
 * network namespaces joined by veth pairs created directly inside them (no
 * link or address ever appears in the host's namespace), the real dnsmasq
 * started in one of them with a config rendered by pinet, and the src/net
 * clients run in another as child processes.
 *
 * Everything is named with the test process id, recorded, and removed by
 * `cleanup()`: dnsmasq by its PID, namespaces by name, temp dirs by path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import {
  DEFAULT_TEMPLATE,
  MINIMAL_TEMPLATE,
  loadTemplate,
  renderTemplate,
  templateView,
  validateDnsmasqSettings,
  type DnsmasqInput,
} from '../../../src/server/dnsmasq-render.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${String(r.stderr).trim()}`);
  return String(r.stdout);
}

/** What a test creates, so it can remove exactly that. */
export class Lab {
  readonly prefix: string;
  private namespaces: string[] = [];
  private dirs: string[] = [];
  private daemons: Dnsmasq[] = [];

  constructor(tag: string) {
    this.prefix = `pinet-${tag}-${process.pid}`;
  }

  async namespace(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`;
    await sh('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A veth pair from `a` (named `aName`, address `aCidr`) to `b`, created inside the namespaces. */
  async link(a: string, aName: string, aCidr: string, b: string, bName: string, bCidr: string): Promise<void> {
    await sh('ip', ['link', 'add', aName, 'netns', a, 'type', 'veth', 'peer', 'name', bName, 'netns', b]);
    await sh('ip', ['-n', a, 'addr', 'add', aCidr, 'dev', aName]);
    await sh('ip', ['-n', b, 'addr', 'add', bCidr, 'dev', bName]);
    await sh('ip', ['-n', a, 'link', 'set', aName, 'up']);
    await sh('ip', ['-n', b, 'link', 'set', bName, 'up']);
    // Node lists only interfaces that are up *and running*: wait for the carrier on both ends.
    for (const [ns, dev] of [[a, aName], [b, bName]] as const) {
      const deadline = Date.now() + 10_000;
      while (!(await sh('ip', ['-n', ns, '-o', 'link', 'show', 'dev', dev])).includes('LOWER_UP')) {
        if (Date.now() > deadline) throw new Error(`${dev} in ${ns} has no carrier after 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** A temp dir that the unprivileged dnsmasq user can search (0755). */
  async dir(name: string): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `${this.prefix}-${name}-`));
    await chmod(d, 0o755);
    this.dirs.push(d);
    return d;
  }

  track(d: Dnsmasq): void {
    this.daemons.push(d);
  }

  async cleanup(): Promise<void> {
    const errors: string[] = [];
    for (const d of this.daemons.splice(0)) await d.stop().catch((e: Error) => errors.push(e.message));
    for (const ns of this.namespaces.splice(0)) await sh('ip', ['netns', 'del', ns]).catch((e: Error) => errors.push(e.message));
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true }).catch((e: Error) => errors.push(e.message));
    if (errors.length > 0) throw new Error(`cleanup: ${errors.join('; ')}`);
  }
}

export interface RenderOptions {
  subnet: string;
  tftpRoot: string;
  minimal?: boolean;
  allClients?: boolean;
  mode?: 'proxy' | 'standalone';
  range?: string;
  interface?: string;
}

/** The config exactly as `pinet render-dnsmasq` writes it for these flags. */
export async function renderDnsmasqConfig(o: RenderOptions): Promise<string> {
  const input: DnsmasqInput = {
    subnet: { value: o.subnet, source: '--subnet' },
    tftpRoot: { value: o.tftpRoot, source: '--tftp-root' },
    ...(o.mode && { mode: { value: o.mode, source: '--mode' } }),
    ...(o.range && { range: { value: o.range, source: '--range' } }),
    ...(o.interface && { interface: { value: o.interface, source: '--interface' } }),
    allClients: o.allClients ?? false,
    minimal: o.minimal ?? false,
  };
  const settings = validateDnsmasqSettings(input);
  const template = await loadTemplate(settings.minimal ? MINIMAL_TEMPLATE : DEFAULT_TEMPLATE, 'built-in template');
  return renderTemplate(template, templateView(settings), 'built-in template');
}

export class Dnsmasq {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  stderr = '';

  constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve((this.exitCode = code))));
    child.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  async log(): Promise<string> {
    return readFile(this.logFile, 'utf8').catch(() => '');
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    process.kill(this.pid, 'SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
    if ((await Promise.race([this.exited, timeout])) === 'timeout') {
      process.kill(this.pid, 'SIGKILL');
      await this.exited;
    }
  }

  /** Wait until dnsmasq has logged that its TFTP server is ready (sockets are open by then). */
  async ready(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (this.exitCode !== undefined) throw new Error(`dnsmasq exited with ${this.exitCode}: ${this.stderr.trim()} ${await this.log()}`);
      const log = await this.log();
      if (/TFTP root is /.test(log)) return;
      if (Date.now() > deadline) throw new Error(`dnsmasq did not start within 15 s; log: ${log}; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Start the real dnsmasq in `ns` with `config`; it touches only files in its own temp dir. */
export async function startDnsmasq(lab: Lab, ns: string, config: string, extraArgs: string[] = []): Promise<Dnsmasq> {
  const dir = await lab.dir('dnsmasq');
  const conf = join(dir, 'dnsmasq.conf');
  const logFile = join(dir, 'dnsmasq.log');
  await writeFile(conf, config);
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'dnsmasq',
      '--keep-in-foreground',
      `--conf-file=${conf}`,
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      `--log-facility=${logFile}`,
      `--dhcp-leasefile=${join(dir, 'leases')}`,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const d = new Dnsmasq(child, dir, logFile);
  lab.track(d);
  await d.ready();
  return d;
}

/** The runner a namespace runs (TypeScript, started with the tsx loader). */
export async function buildNetRunner(_lab: Lab): Promise<string> {
  return join(REPO, 'test/net/helpers/netns-runner.ts');
}

/** Run one client call in namespace `ns`; returns its parsed JSON result. */
export async function runIn<T = any>(ns: string, runner: string, request: Record<string, unknown>): Promise<T> {
  const r = await execa('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', runner, JSON.stringify(request)], { cwd: REPO, reject: false, timeout: 60_000 });
  const line = String(r.stdout).trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`runner in ${ns} printed no JSON (exit ${r.exitCode}): ${String(r.stdout)} ${String(r.stderr)}`);
  }
}
