/**
 * Start and stop a fleet of fake Raspberry Pis on this machine (root only):
 * each Pi has its own network, mount, PID, UTS and IPC namespaces, an
 * overlayfs root over the host's `/` (nothing it writes reaches the host), a
 * boot partition, a fake /proc/cpuinfo and device tree, the fake rpi-eeprom
 * tools, and a real OpenSSH sshd reachable as 127.0.0.1:<port> through a
 * relay in the fleet's boot-server namespace (whose link into the LAN can be
 * rate-limited). Boot partitions are small by default, or real-size
 * (`bootImage: 'real'`) with the files Pis share stored once.
 *
 *   const fleet = await startFleet({ pis: [{ name: 'pi-01', variant: 'ubuntu-2404-pi4' }] });
 *   try { ... ssh -F fleet.sshConfig pi-01 ... } finally { await fleet.stop(); }
 *
 * Everything created is recorded in a ledger and removed in reverse order by
 * stop(), by a failed start, at process exit, and (for crashed runs) by
 * cleanupStale().
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import net from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DaemonClient } from './daemon-client.js';
import { FakePi } from './fake-pi.js';
import { ASSETS_DIR, hidePlan, writeCommonLayer, writeEepromLayer, writeHideLayer } from './layers.js';
import { Ledger } from './ledger.js';
import { makeSpecialNodes, writePiState } from './materialize.js';
import type { DeviceNode } from './materialize.js';
import {
  bootServerNet,
  createBootServerNet,
  createLan,
  createPiNets,
  deleteNamespaces,
  deleteNamespacesSync,
  lanInfo,
  linkCounters,
  linkRate,
  piNet,
  setLinkRate,
} from './netns.js';
import type { BootServerNet, LanInfo, LinkCounters } from './netns.js';
import { mountBootOverlays, writeBootTrees } from './boot-layers.js';
import type { BootMount, BootTreeRequest } from './boot-layers.js';
import { buildPiImage, resolveIdentity } from './pi-image.js';
import type { PiIdentity } from './pi-image.js';
import { realBootLayout } from './real-boot.js';
import type { BootImage } from './real-boot.js';
import type { HostAccounts, PiSpec } from './pi-image.js';
import { claimSlot, FLEET_FILES, processStart } from './slot.js';
import { generateKey, renderKnownHosts, renderSshConfig } from './ssh-keys.js';
import type { SshHost } from './ssh-keys.js';
import { cleanupSlot } from './stale.js';

export interface FleetOptions {
  pis: PiSpec[];
  /** Size of each Pi's boot partition files, in MiB (default 7), for Pis with the small boot partition. */
  bootFilesMB?: number;
  /**
   * The boot partition of every Pi that does not say otherwise (PiSpec
   * `bootImage`): `small` (default; `bootFilesMB`, contents unique per Pi) or
   * `real` (the real layout and sizes of Ubuntu 24.04 / Raspberry Pi OS
   * Bookworm, shared files stored once; see real-boot.ts).
   */
  bootImage?: BootImage;
  /**
   * The NFS export a Pi's /etc/fstab may mount its boot partition from:
   * any `server:/path/<name>` is served from `<exportDir>/<name>`.
   */
  exportDir?: string;
  /** Exact exports: `'nfs-host:/picluster-boot'` → host directory (`.../<name>` below it too). */
  exports?: Record<string, string>;
  /** Directory for the client-side files (ssh config, keys); created if missing. Default: a new temp dir. */
  dir?: string;
  /** User of the generated ssh config's Host blocks (default root). */
  sshUser?: string;
  /** How long each Pi may take to boot (default 60 s). */
  bootTimeoutMs?: number;
  /**
   * Limit the boot server's link to all Pis together, in megabits per second
   * each direction (e.g. 1000 for 1 Gb/s, 100 for a slow LAN). Default: no
   * limit. Change it later with `fleet.setLinkRate()`.
   */
  linkMbps?: number;
}

const REQUIRED_COMMANDS = ['ip', 'unshare', 'nsenter', 'setpriv', 'ssh-keygen', 'python3', 'run-parts', 'mount'];

/** The fleets of this process, stopped synchronously (best effort) if it exits without stop(). */
const live = new Set<Ledger>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of live) l.unwindSync();
  });
}

function checkEnvironment(): void {
  if (process.getuid?.() !== 0) throw new Error('the fake-Pi fleet needs root (network and mount namespaces); run the tests as root');
  const missing = REQUIRED_COMMANDS.filter((c) => {
    try {
      execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  try {
    execFileSync('test', ['-x', '/usr/sbin/sshd']);
  } catch {
    missing.push('sshd (Debian package openssh-server)');
  }
  if (missing.length > 0) throw new Error(`the fake-Pi fleet needs these commands: ${missing.join(', ')}`);
}

function hostAccounts(): HostAccounts {
  const skel: Record<string, Buffer> = {};
  try {
    for (const name of readdirSync('/etc/skel')) {
      try {
        skel[name] = readFileSync(join('/etc/skel', name));
      } catch {
        // A directory or unreadable entry: not needed.
      }
    }
  } catch {
    // No /etc/skel.
  }
  return { passwd: readFileSync('/etc/passwd', 'utf8'), group: readFileSync('/etc/group', 'utf8'), skel };
}

function listen(): Promise<net.Server> {
  return new Promise((resolvePromise, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolvePromise(s));
  });
}

function exportLines(opts: FleetOptions): string {
  const lines: string[] = [];
  for (const [source, dir] of Object.entries(opts.exports ?? {})) {
    if (!/^[A-Za-z0-9.-]+:\/[^\s]*$/.test(source) || source.endsWith('/')) {
      throw new Error(`NFS export ${JSON.stringify(source)} must look like server:/path (e.g. nfs-host:/picluster-boot)`);
    }
    if (!isAbsolute(dir) || /[\t\n]/.test(dir)) throw new Error(`export directory ${JSON.stringify(dir)} must be an absolute path`);
    lines.push(`${source}\t${dir}`);
  }
  if (opts.exportDir !== undefined) {
    if (!isAbsolute(opts.exportDir) || /[\t\n]/.test(opts.exportDir)) throw new Error(`exportDir ${JSON.stringify(opts.exportDir)} must be an absolute path`);
    lines.push(`*\t${opts.exportDir}`);
  }
  return lines.map((l) => l + '\n').join('');
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

export interface WriteSshConfigOptions {
  /** Only these Pis (default all). */
  pis?: FakePi[];
  user?: string;
  /** UserKnownHostsFile (default the fleet's known_hosts). */
  knownHostsFile?: string;
  strictHostKeyChecking?: 'yes' | 'no' | 'accept-new';
}

export class Fleet {
  /** When stop() has begun. */
  private stopping: Promise<void> | null = null;
  readonly pis: FakePi[];
  /** The fleet's directory (client files; its state/ holds the Pis, visible only through stateRoot). */
  readonly dir: string;
  /** OpenSSH client config: `Host <name>` for each Pi (User root unless sshUser). */
  readonly sshConfig: string;
  /** known_hosts with every Pi's host key as `[127.0.0.1]:port` (as at start). */
  readonly knownHosts: string;
  /** The fleet's client private key (authorized for root, pi and locked on every Pi). */
  readonly identityFile: string;
  readonly lan: LanInfo;
  /** The boot server's namespace: the relays to the Pis run there, and its one link into the LAN is the one `linkMbps` limits. */
  readonly bootServer: BootServerNet;
  /** How long startFleet took, in milliseconds. */
  readonly startupMs: number;
  /**
   * The shared boot trees of Pis with real boot partitions: how many distinct
   * ones (one per image and kernel) and the bytes stored for them (each
   * distinct file once).
   */
  readonly sharedBoot: { trees: number; bytes: number };
  /** The fleet's tmpfs, as the host reaches it (statfs gives its use). */
  private readonly stateRoot: string;

  constructor(
    init: {
      pis: FakePi[];
      dir: string;
      sshConfig: string;
      knownHosts: string;
      identityFile: string;
      lan: LanInfo;
      bootServer: BootServerNet;
      stateRoot: string;
      sharedBoot: { trees: number; bytes: number };
      startupMs: number;
    },
    private readonly ledger: Ledger,
    private readonly daemon: DaemonClient,
    private readonly sshUser: string,
  ) {
    this.pis = init.pis;
    this.dir = init.dir;
    this.sshConfig = init.sshConfig;
    this.knownHosts = init.knownHosts;
    this.identityFile = init.identityFile;
    this.lan = init.lan;
    this.bootServer = init.bootServer;
    this.stateRoot = init.stateRoot;
    this.sharedBoot = init.sharedBoot;
    this.startupMs = init.startupMs;
  }

  /**
   * Limit the boot server's link to all Pis together to `mbps` megabits per
   * second in each direction, or lift the limit (null).
   */
  setLinkRate(mbps: number | null): Promise<void> {
    return setLinkRate(this.lan, this.bootServer, mbps === null ? null : mbps * 1e6);
  }

  /** The boot server's link limit in megabits per second, or null for none. */
  async linkRateMbps(): Promise<number | null> {
    const bits = await linkRate(this.bootServer);
    return bits === null ? null : bits / 1e6;
  }

  /**
   * The kernel's counters of the boot server's link (bytes with their
   * Ethernet/IP/TCP headers, packets) since the fleet started. Per Pi, the
   * payload bytes are in `pi.connectionStats()`.
   */
  linkCounters(): Promise<LinkCounters> {
    return linkCounters(this.lan, this.bootServer);
  }

  /** What the fleet's tmpfs (every Pi's files, shared boot files once) holds now, and its limit, in bytes. */
  async memoryUsage(): Promise<{ usedBytes: number; sizeBytes: number }> {
    const s = await statfs(this.stateRoot);
    return { usedBytes: (s.blocks - s.bfree) * s.bsize, sizeBytes: s.blocks * s.bsize };
  }

  /** `ip netns exec <lanNamespace> ...` runs on the Pis' LAN. */
  get lanNamespace(): string {
    return this.lan.namespace;
  }

  /** The fleet daemon's PID (it owns every Pi process). */
  get daemonPid(): number {
    return this.daemon.child.pid ?? -1;
  }

  pi(name: string): FakePi {
    const p = this.pis.find((x) => x.name === name);
    if (!p) throw new Error(`no fake Pi named ${JSON.stringify(name)} in this fleet (have ${this.pis.map((x) => x.name).join(', ')})`);
    return p;
  }

  /** Write a known_hosts file with the current host keys of `pis` (default all; [] gives an empty file). */
  async writeKnownHosts(path: string, pis: FakePi[] = this.pis): Promise<string> {
    await writeFile(path, renderKnownHosts(pis.map(sshHost)));
    return path;
  }

  /** Write another client config, e.g. for user pi, or with an empty known_hosts. */
  async writeSshConfig(path: string, opts: WriteSshConfigOptions = {}): Promise<string> {
    await writeFile(
      path,
      renderSshConfig((opts.pis ?? this.pis).map(sshHost), {
        user: opts.user ?? this.sshUser,
        identityFile: this.identityFile,
        knownHostsFile: opts.knownHostsFile ?? this.knownHosts,
        strictHostKeyChecking: opts.strictHostKeyChecking,
      }),
    );
    return path;
  }

  /** Stop every Pi and remove everything the fleet created. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const errors = await this.ledger.unwind();
      live.delete(this.ledger);
      if (errors.length > 0) throw new Error(`stopping the fake-Pi fleet left problems:\n${errors.join('\n')}`);
    })();
    return this.stopping;
  }
}

function sshHost(p: FakePi): SshHost {
  return { name: p.name, port: p.port, hostKey: p.hostKey };
}

let fleetsStarted = 0;

/** With PINET_FLEET_DEBUG=1, print how long each start-up stage took (stderr). */
function stageTimer(t0: number): (stage: string) => void {
  let last = t0;
  return (stage) => {
    if (!process.env.PINET_FLEET_DEBUG) return;
    const now = performance.now();
    process.stderr.write(`[fleet] ${stage}: ${Math.round(now - last)} ms (total ${Math.round(now - t0)} ms)\n`);
    last = now;
  };
}

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const t0 = performance.now();
  const stage = stageTimer(t0);
  checkEnvironment();
  if (!Array.isArray(opts.pis) || opts.pis.length === 0) throw new Error('startFleet: give at least one Pi ({ name, variant })');
  const names = new Set<string>();
  for (const spec of opts.pis) {
    if (names.has(spec.name)) throw new Error(`startFleet: two Pis are named ${JSON.stringify(spec.name)}`);
    names.add(spec.name);
  }
  const taken = new Set<string>();
  const ids = opts.pis.map((spec, i) => resolveIdentity(spec, i, taken, { bootImage: opts.bootImage }));
  const bootFilesMB = opts.bootFilesMB ?? 7;
  if (!(bootFilesMB > 0 && bootFilesMB <= 512)) throw new Error(`bootFilesMB must be between 0 and 512, not ${bootFilesMB}`);
  const bootFilesBytes = Math.round(bootFilesMB * 1024 * 1024);
  const nfsExports = exportLines(opts);
  const accounts = hostAccounts();

  const ledger = new Ledger();
  installExitHook();
  live.add(ledger);
  try {
    // The fleet's directory.
    let dir: string;
    let createdDir = true;
    if (opts.dir !== undefined) {
      dir = resolve(opts.dir);
      createdDir = !(await stat(dir).then(
        () => true,
        () => false,
      ));
      await mkdir(dir, { recursive: true });
    } else {
      dir = await mkdtemp(join(tmpdir(), 'pinet-fleet-'));
    }
    if (createdDir) ledger.add(`directory ${dir}`, () => rm(dir, { recursive: true, force: true }), () => execFileSync('rm', ['-rf', dir]));
    if (/[:,\s\\]/.test(dir)) throw new Error(`fleet directory ${dir} must not contain ':', ',', '\\' or spaces (overlayfs options)`);
    const own = FLEET_FILES.map((f) => join(dir, f));
    ledger.add('fleet files', () => Promise.all(own.map((f) => rm(f, { recursive: true, force: true }))).then(() => undefined));

    // Slot, network.
    const slot = await claimSlot(dir, process.pid * 7 + fleetsStarted++, cleanupSlot);
    ledger.add(`slot ${slot.index}`, () => rm(slot.lockFile, { force: true }), () => execFileSync('rm', ['-f', slot.lockFile]));
    const lan = lanInfo(slot.id, slot.octet);
    const nets = ids.map((id) => piNet(slot.id, slot.octet, id.index, id.mac));
    ledger.add(`namespace ${lan.namespace}`, () => deleteNamespaces([lan.namespace]), () => deleteNamespacesSync([lan.namespace]));
    await createLan(lan, `pinet-fleet:pid=${process.pid}:start=${processStart(process.pid) ?? 'unknown'}`);
    stage('slot and LAN');
    const srv = bootServerNet(slot.id, slot.octet);
    ledger.add(`namespace ${srv.namespace}`, () => deleteNamespaces([srv.namespace]), () => deleteNamespacesSync([srv.namespace]));
    const piNamespaces = nets.map((n) => n.netns);
    ledger.add(`namespaces of ${nets.length} Pis`, () => deleteNamespaces(piNamespaces), () => deleteNamespacesSync(piNamespaces));
    await Promise.all([
      createBootServerNet(lan, srv).then(() => (opts.linkMbps !== undefined ? setLinkRate(lan, srv, opts.linkMbps * 1e6) : undefined)),
      createPiNets(lan, nets),
    ]);

    stage('Pi namespaces');
    // Relay ports on the host's loopback, then the daemon that serves them.
    const servers = await Promise.all(ids.map(() => listen()));
    ledger.add('listening sockets', () => {
      for (const s of servers) s.close();
    });
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    const stateDir = join(dir, 'state');
    await mkdir(stateDir, { recursive: true });
    const logFile = join(dir, 'daemon.log');
    const log = await open(logFile, 'a');
    let daemon: DaemonClient;
    try {
      daemon = DaemonClient.start(
        srv.namespace,
        servers,
        {
          fleetId: slot.id,
          stateDir,
          tmpfsBytes: tmpfsLimit(ids, bootFilesBytes),
          assetsDir: ASSETS_DIR,
          pis: ids.map((id, i) => ({ index: id.index, name: id.name, netns: nets[i]!.netns, ip: nets[i]!.ip })),
          orphan: { netns: [...piNamespaces, srv.namespace, lan.namespace], paths: [slot.lockFile, ...(createdDir ? [dir] : own)] },
        },
        log.fd,
      );
    } finally {
      await log.close();
      for (const s of servers) s.close();
    }
    const d = daemon;
    ledger.add(
      `fleet daemon ${d.child.pid}`,
      () => d.shutdown(),
      () => {
        if (d.running) d.child.kill('SIGKILL');
      },
    );

    // Keys (while the daemon starts).
    const [clientKey, hostKeys] = await Promise.all([
      generateKey(join(dir, 'id_ed25519'), `pinet-fleet@${slot.id}`),
      mkdir(join(dir, 'hostkeys'), { recursive: true }).then(() =>
        Promise.all(ids.map((id) => generateKey(join(dir, 'hostkeys', `${id.name}_ed25519`), `root@${id.name}`))),
      ),
    ]);

    stage('keys');
    let holderPid: number;
    try {
      holderPid = await d.holderPid;
    } catch (err) {
      const text = await readFileText(logFile);
      throw new Error(`${(err as Error).message}\n${text}`);
    }
    stage('daemon and holder');
    const stateRoot = `/proc/${holderPid}/root${stateDir}`;
    const layers = join(stateDir, 'layers');
    const layersHost = join(stateRoot, 'layers');
    const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
    const privatePaths = [projectRoot, dir, tmpdir(), homedir(), process.cwd()].flatMap((p) => {
      try {
        return [p, realpathSync(p)];
      } catch {
        return [p];
      }
    });
    const plan = hidePlan(readdirSync('/'), privatePaths);
    await Promise.all([
      writeHideLayer(join(layersHost, 'hide'), plan),
      writeCommonLayer(join(layersHost, 'common')),
      writeEepromLayer(join(layersHost, 'eeprom')),
      writeFile(join(stateRoot, 'nfs-exports'), nfsExports),
    ]);

    stage('layers');
    const whiteouts: string[] = [];
    const devices: DeviceNode[] = [];
    const sharedBoot: BootTreeRequest[] = [];
    await inBatches(ids, 8, async (id) => {
      const image = buildPiImage(
        id,
        { clientPublicKey: clientKey.publicKey, hostKey: hostKeys[id.index]!, accounts, bootFilesBytes },
        opts.pis[id.index]!.files ?? {},
      );
      const special = await writePiState(join(stateRoot, `pi-${id.index}`), image, {
        lower: [join(layers, 'common'), ...(id.bootloaderConfig !== null ? [join(layers, 'eeprom')] : []), join(layers, 'hide'), '/'].join(':'),
      });
      whiteouts.push(...special.whiteouts);
      devices.push(...special.devices);
      if (id.bootImage === 'real') sharedBoot.push({ pi: id.index, files: special.sharedBoot });
    });
    await makeSpecialNodes(whiteouts, {}, devices);
    const trees = await writeBootTrees(layersHost, sharedBoot);
    await mountBootOverlays(
      holderPid,
      sharedBoot.map((r): BootMount => {
        const piDir = join(stateDir, `pi-${r.pi}`);
        return { lower: join(layers, trees.treeOf.get(r.pi)!), upper: join(piDir, 'boot-upper'), work: join(piDir, 'boot-work'), target: join(piDir, 'boot') };
      }),
    );

    let rekeys = 0;
    const host = {
      daemon: d,
      stateRoot,
      bootFilesBytes,
      newHostKey: (name: string) => generateKey(join(dir, 'hostkeys', `${name}_ed25519.${++rekeys}`), `root@${name}`),
    };
    const pis = ids.map((id, i) => new FakePi(id, { ip: nets[i]!.ip, port: ports[i]!, netns: nets[i]!.netns }, hostKeys[id.index]!.publicKey, host));

    stage('Pi files');
    await d.request({ op: 'boot', pis: ids.map((id) => id.index) });
    try {
      await Promise.all(pis.map((p) => p.waitForBoot({ timeoutMs: opts.bootTimeoutMs ?? 60_000 })));
    } catch (err) {
      const logs = await Promise.all(pis.map(async (p) => `--- ${p.name}\n${await p.consoleLog().catch(() => '')}`));
      throw new Error(`${(err as Error).message}\n${logs.join('\n').slice(-6000)}`);
    }

    stage('boot');
    const knownHosts = join(dir, 'known_hosts');
    const sshConfig = join(dir, 'ssh_config');
    const sshUser = opts.sshUser ?? 'root';
    await writeFile(knownHosts, renderKnownHosts(pis.map(sshHost)));
    await writeFile(sshConfig, renderSshConfig(pis.map(sshHost), { user: sshUser, identityFile: clientKey.path, knownHostsFile: knownHosts }));
    return new Fleet(
      {
        pis,
        dir,
        sshConfig,
        knownHosts,
        identityFile: clientKey.path,
        lan,
        bootServer: srv,
        stateRoot,
        sharedBoot: { trees: trees.trees, bytes: trees.bytes },
        startupMs: Math.round(performance.now() - t0),
      },
      ledger,
      d,
      sshUser,
    );
  } catch (err) {
    const errors = await ledger.unwind();
    live.delete(ledger);
    if (errors.length > 0) (err as Error).message += `\n(cleanup after the failed start: ${errors.join('; ')})`;
    throw err;
  }
}

/**
 * The fleet tmpfs's size limit (pages are only used as files are written):
 * small boot partitions per Pi, the real ones' distinct shared files once,
 * and room for every real Pi to copy up a kernel update.
 */
function tmpfsLimit(ids: PiIdentity[], bootFilesBytes: number): number {
  const MB = 1024 * 1024;
  let bytes = 64 * MB;
  const seen = new Set<string>();
  for (const id of ids) {
    bytes += 8 * MB;
    if (id.bootImage !== 'real') {
      bytes += bootFilesBytes;
      continue;
    }
    bytes += 160 * MB;
    const layout = realBootLayout(
      id.os.name,
      id.board,
      { version: id.kernelVersion, previous: id.previousKernelVersion, ownInitramfs: id.ownInitramfs },
      { name: id.name, serial: id.serial },
      { configTxt: '', cmdline: '' },
    );
    for (const f of layout.shared) {
      const key = `${f.path}\t${f.label}\t${f.size}`;
      if (!seen.has(key)) {
        seen.add(key);
        bytes += f.size + 4096;
      }
    }
  }
  return bytes;
}

async function readFileText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}
