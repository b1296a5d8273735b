/**
 * The Pi's Ethernet port in a network namespace: creating one (a namespace
 * whose `eth0` is a veth with the Pi's MAC, plugged into a bridge in the
 * LAN's namespace), and what the bootloader does to it: bring the link up,
 * route the limited broadcast out of it while it has no address, take the
 * address DHCP gave (and a default route when the TFTP server is behind a
 * router), and drop the address again when the boot ends. Every command is
 * `ip` with an argument list, run against the namespace with `ip -n`; the
 * host's own namespace is never touched.
 */
import { execFile } from 'node:child_process';

export function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

export interface CreatedNic {
  netns: string;
  iface: string;
  mac: string;
  /** The veth end on the bridge, in the LAN namespace. */
  bridgePort: string;
  lanNetns: string;
  remove(): Promise<void>;
}

export interface CreateNicOptions {
  /** The Pi's namespace to create (must not exist). */
  netns: string;
  mac: string;
  /** The LAN: a namespace holding a bridge. */
  lanNetns: string;
  bridge: string;
  /** The veth end's name on the bridge (at most 15 characters, unique in the LAN namespace). */
  bridgePort: string;
  /** The Pi side's name; default `eth0`. */
  iface?: string;
}

/** A namespace with `eth0` (the Pi's MAC) plugged into `bridge`; `remove()` deletes both. */
export async function createPiNic(o: CreateNicOptions): Promise<CreatedNic> {
  const iface = checkName('interface', o.iface ?? 'eth0');
  for (const [what, v] of [['namespace', o.netns], ['LAN namespace', o.lanNetns], ['bridge', o.bridge], ['bridge port', o.bridgePort]] as const) checkName(what, v);
  if (o.bridgePort.length > 15 || iface.length > 15) throw new Error(`interface names ${o.bridgePort} / ${iface} must be at most 15 characters`);
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(o.mac)) throw new Error(`${JSON.stringify(o.mac)} is not a MAC address`);
  await ip(['netns', 'add', o.netns]);
  const remove = async (): Promise<void> => {
    // Deleting the namespace deletes its veth end, and with it the peer on the bridge.
    await ip(['netns', 'del', o.netns]).catch(() => undefined);
  };
  try {
    await ip(['-n', o.netns, 'link', 'set', 'lo', 'up']);
    await ip(['link', 'add', iface, 'netns', o.netns, 'address', o.mac, 'type', 'veth', 'peer', 'name', o.bridgePort, 'netns', o.lanNetns]);
    // No IPv6 link-local address: the Pi's port stays silent between boots (no NDP frames from its MAC),
    // so a VM given the same MAC later is not shadowed on the bridge.
    await ip(['-n', o.netns, 'link', 'set', iface, 'addrgenmode', 'none']);
    await ip(['-n', o.lanNetns, 'link', 'set', o.bridgePort, 'master', o.bridge, 'up']);
    await ip(['-n', o.netns, 'link', 'set', iface, 'up']);
  } catch (err) {
    await remove();
    throw err;
  }
  return { netns: o.netns, iface, mac: o.mac, bridgePort: o.bridgePort, lanNetns: o.lanNetns, remove };
}

/** Names validated before they reach an `ip -batch` line (no spaces, no newlines). */
export function checkName(what: string, value: string): string {
  if (!/^[A-Za-z0-9_.:@+-]{1,64}$/.test(value)) throw new Error(`${what} ${JSON.stringify(value)} has characters not allowed in a namespace or interface name`);
  return value;
}

export async function linkUp(netns: string, iface: string): Promise<void> {
  await ip(['-n', netns, 'link', 'set', iface, 'up']);
}

/** Wait until the link has a carrier (a veth does once both ends are up). */
export async function waitForCarrier(netns: string, iface: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await ip(['-n', netns, '-o', 'link', 'show', 'dev', iface]);
    if (out.includes('LOWER_UP')) return;
    if (Date.now() > deadline) throw new Error(`${iface} in ${netns} has no link after ${timeoutMs / 1000} s (is the other end up?)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function addressesOf(netns: string, iface: string): Promise<string[]> {
  const out = await ip(['-n', netns, '-o', '-4', 'addr', 'show', 'dev', iface]);
  return [...out.matchAll(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/g)].map((m) => m[1]!);
}

export async function addAddress(netns: string, iface: string, cidr: string): Promise<void> {
  await ip(['-n', netns, 'addr', 'add', cidr, 'dev', iface]);
}

export async function delAddress(netns: string, iface: string, cidr: string): Promise<void> {
  await ip(['-n', netns, 'addr', 'del', cidr, 'dev', iface]).catch(() => undefined);
}

/**
 * Let 255.255.255.255 leave through `iface` while it has no address (a DHCP
 * client's first packets). Returns whether a route was added (to be removed
 * with `delLimitedBroadcast`); an existing one is left as it is.
 */
export async function routeLimitedBroadcast(netns: string, iface: string): Promise<boolean> {
  if ((await ip(['-n', netns, 'route', 'show', '255.255.255.255/32'])).trim() !== '') return false;
  await ip(['-n', netns, 'route', 'add', '255.255.255.255/32', 'dev', iface]);
  return true;
}

export async function delLimitedBroadcast(netns: string, iface: string): Promise<void> {
  await ip(['-n', netns, 'route', 'del', '255.255.255.255/32', 'dev', iface]).catch(() => undefined);
}

export async function defaultRoute(netns: string, iface: string, gateway: string): Promise<void> {
  await ip(['-n', netns, 'route', 'replace', 'default', 'via', gateway, 'dev', iface]);
}

export async function delDefaultRoute(netns: string, gateway: string): Promise<void> {
  await ip(['-n', netns, 'route', 'del', 'default', 'via', gateway]).catch(() => undefined);
}
