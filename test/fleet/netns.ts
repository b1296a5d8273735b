/**
 * The fleet's network: a LAN namespace with a bridge (the boot server's
 * side, where a test may run dnsmasq), one namespace per Pi whose `eth0`
 * (a veth with the Pi's MAC) is plugged into that bridge, and the "boot
 * server" namespace where the fleet daemon relays SSH from the host: its one
 * link into the bridge is what every relayed byte crosses, so a limit on
 * that link (tc) is the boot server's NIC. Addresses come from the fleet's
 * /24 in 10.251.64.0/18; the host's own namespace gets nothing.
 *
 *   <slot>-lan   br0 10.251.X.1/24  (.2-.9 free for tests, e.g. a home router)
 *   <slot>-srv   eth0 10.251.X.254/24; its peer `vsrv` is a port of br0
 *   <slot>-pN    eth0 10.251.X.(10+N)/24, default route via .1
 */
import { execFile, execFileSync } from 'node:child_process';

export const BRIDGE = 'br0';
export const FIRST_PI_HOST = 10;
export const MAX_PIS = 240;

export interface LanInfo {
  /** `ip netns exec <namespace> ...` runs a command on the LAN. */
  namespace: string;
  bridge: string;
  subnet: string;
  prefixLength: number;
  /** The bridge's address: where a boot server on the LAN listens. */
  serverIp: string;
  /** Addresses nobody uses, for a test's extra servers or clients. */
  freeIps: string[];
}

/** The boot server's namespace: the fleet daemon (and its relay) runs there. */
export interface BootServerNet {
  namespace: string;
  ip: string;
  /** Its interface, inside its namespace (egress: boot server to Pis). */
  dev: string;
  /** The peer in the LAN namespace, a port of the bridge (egress: Pis to boot server). */
  lanPort: string;
}

export function bootServerNet(slotId: string, octet: number): BootServerNet {
  return { namespace: `${slotId}-srv`, ip: `10.251.${octet}.254`, dev: 'eth0', lanPort: 'vsrv' };
}

export interface PiNet {
  index: number;
  netns: string;
  ip: string;
  mac: string;
}

export function lanInfo(slotId: string, octet: number): LanInfo {
  const base = `10.251.${octet}`;
  return {
    namespace: `${slotId}-lan`,
    bridge: BRIDGE,
    subnet: `${base}.0/24`,
    prefixLength: 24,
    serverIp: `${base}.1`,
    freeIps: [2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${base}.${n}`),
  };
}

export function piNet(slotId: string, octet: number, index: number, mac: string): PiNet {
  if (index >= MAX_PIS) throw new Error(`a fleet holds at most ${MAX_PIS} fake Pis`);
  return { index, netns: `${slotId}-p${index}`, ip: `10.251.${octet}.${FIRST_PI_HOST + index}`, mac };
}

function ipBatch(args: string[], lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', [...args, '-batch', '-'], (err, _out, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')} -batch failed: ${stderr.trim() || err.message}\n${lines.join('\n')}`));
      else resolve();
    });
    child.stdin!.end(lines.join('\n') + '\n');
  });
}

/** Create the LAN namespace and bridge. `owner` goes into the bridge's alias (for cleanupStale). */
export async function createLan(lan: LanInfo, owner: string): Promise<void> {
  if (!/^[\w:=.-]+$/.test(owner)) throw new Error(`bad LAN owner tag ${owner}`);
  await ipBatch([], [`netns add ${lan.namespace}`]);
  await ipBatch(['-n', lan.namespace], [
    'link set lo up',
    // A fixed address: a Linux bridge otherwise takes the lowest MAC of its ports, which changes
    // under the clients' ARP caches when a test plugs in another namespace.
    `link add ${lan.bridge} address ${bridgeMac(lan)} type bridge`,
    `link set ${lan.bridge} alias ${owner}`,
    `addr add ${lan.serverIp}/${lan.prefixLength} dev ${lan.bridge}`,
    `link set ${lan.bridge} up`,
  ]);
}

/** A locally administered MAC for the LAN bridge, from its subnet (unique per running fleet). */
export function bridgeMac(lan: Pick<LanInfo, 'serverIp'>): string {
  const [, , third] = lan.serverIp.split('.').map(Number);
  return `02:70:6e:66:${(third ?? 0).toString(16).padStart(2, '0')}:01`;
}

/** Create the boot server's namespace and plug its eth0 into the LAN. */
export async function createBootServerNet(lan: LanInfo, srv: BootServerNet): Promise<void> {
  await ipBatch([], [
    `netns add ${srv.namespace}`,
    `link add ${srv.lanPort} netns ${lan.namespace} type veth peer name ${srv.dev} netns ${srv.namespace}`,
  ]);
  await ipBatch(['-n', lan.namespace], [`link set ${srv.lanPort} master ${lan.bridge}`, `link set ${srv.lanPort} up`]);
  await ipBatch(['-n', srv.namespace], ['link set lo up', `addr add ${srv.ip}/${lan.prefixLength} dev ${srv.dev}`, `link set ${srv.dev} up`]);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, out, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(out);
    });
  });
}

/**
 * Limit the boot server's link to `bitsPerSecond` in each direction (a token
 * bucket on both ends of its veth, like a NIC's line rate), or lift the limit
 * (null). The queue holds about 50 ms at the rate, like a switch port's buffer.
 */
export async function setLinkRate(lan: LanInfo, srv: BootServerNet, bitsPerSecond: number | null): Promise<void> {
  const ends: Array<[string, string]> = [
    [lan.namespace, srv.lanPort],
    [srv.namespace, srv.dev],
  ];
  if (bitsPerSecond === null) {
    await Promise.all(ends.map(([ns, dev]) => run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined)));
    return;
  }
  if (!(Number.isFinite(bitsPerSecond) && bitsPerSecond >= 1000)) throw new Error(`link rate must be at least 1000 bit/s, not ${bitsPerSecond}`);
  const bytesPerSecond = bitsPerSecond / 8;
  // The bucket holds 16 ms at the rate (smaller ones cost throughput at 1 Gb/s here) and at least one 64 KiB GSO packet.
  const burst = Math.max(65_536, Math.round(bytesPerSecond / 62.5));
  await Promise.all(
    ends.map(([ns, dev]) =>
      run('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(bitsPerSecond)}bit`, 'burst', String(burst), 'latency', '50ms']),
    ),
  );
}

/** The rate limit on the boot server's link, in bits per second, or null. */
export async function linkRate(srv: BootServerNet): Promise<number | null> {
  const out = JSON.parse(await run('tc', ['-n', srv.namespace, '-j', 'qdisc', 'show', 'dev', srv.dev, 'root'])) as Array<{ kind: string; options?: { rate?: number } }>;
  const tbf = out.find((q) => q.kind === 'tbf');
  // tc -j reports the rate in bytes per second.
  return tbf?.options?.rate !== undefined ? tbf.options.rate * 8 : null;
}

export interface LinkCounters {
  /** What the Pis sent to the boot server: bytes (with Ethernet/IP/TCP headers) and packets. */
  fromPis: { bytes: number; packets: number };
  /** What the boot server sent to the Pis. */
  toPis: { bytes: number; packets: number };
}

/** The kernel's counters of the boot server's link since the fleet started. */
export async function linkCounters(lan: LanInfo, srv: BootServerNet): Promise<LinkCounters> {
  const out = JSON.parse(await run('ip', ['-n', lan.namespace, '-j', '-s', 'link', 'show', 'dev', srv.lanPort])) as Array<{
    stats64: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } };
  }>;
  const st = out[0]!.stats64;
  // vsrv is the LAN's end: what it transmits goes to the boot server.
  return { fromPis: { bytes: st.tx.bytes, packets: st.tx.packets }, toPis: { bytes: st.rx.bytes, packets: st.rx.packets } };
}

/** Create the Pis' namespaces and plug their eth0 into the LAN. */
export async function createPiNets(lan: LanInfo, pis: PiNet[]): Promise<void> {
  if (pis.length === 0) return;
  await ipBatch(
    [],
    pis.flatMap((p) => [
      `netns add ${p.netns}`,
      `link add vp${p.index} netns ${lan.namespace} type veth peer name eth0 address ${p.mac} netns ${p.netns}`,
    ]),
  );
  await ipBatch(['-n', lan.namespace], pis.flatMap((p) => [`link set vp${p.index} master ${lan.bridge}`, `link set vp${p.index} up`]));
  await Promise.all(
    pis.map((p) =>
      ipBatch(['-n', p.netns], [
        'link set lo up',
        `addr add ${p.ip}/${lan.prefixLength} dev eth0`,
        'link set eth0 up',
        `route add default via ${lan.serverIp}`,
      ]),
    ),
  );
}

/** Delete namespaces (missing ones are fine). */
export async function deleteNamespaces(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await new Promise<void>((resolve) => {
    const child = execFile('ip', ['-force', '-batch', '-'], () => resolve());
    child.stdin!.end(names.map((n) => `netns del ${n}`).join('\n') + '\n');
  });
}

export function deleteNamespacesSync(names: string[]): void {
  if (names.length === 0) return;
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
  } catch {
    // Best effort at exit.
  }
}

export async function listNamespaces(): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'list'], (err, out) => {
      if (err) resolve([]);
      else resolve(out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== ''));
    });
  });
}

/** The owner text stored in a LAN bridge's alias, or null. */
export async function lanOwner(namespace: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('ip', ['-n', namespace, '-o', 'link', 'show', BRIDGE], (err, out) => {
      if (err) return resolve(null);
      const m = /alias (.*)$/.exec(out.trim());
      resolve(m ? m[1]! : null);
    });
  });
}
