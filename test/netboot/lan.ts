/**
 * A Pi LAN for tests of the emulator: a namespace with a bridge `br0` (the
 * boot server's address on it, where the real dnsmasq runs as pinet renders
 * it), optional other hosts on the bridge (the LAN's router: a dnsmasq that
 * hands out addresses, no PXE), and the Pis' NICs (one namespace each,
 * `eth0` with the Pi's MAC). Built on test/net/helpers/netns.ts's Lab, so
 * dnsmasq, namespaces and temp dirs are removed by `cleanup()`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Dnsmasq, Lab, renderDnsmasqConfig, startDnsmasq, type RenderOptions } from '../net/helpers/netns.js';
import { createPiNic, ip, waitForCarrier, type CreatedNic } from './nic.js';
import type { PiNic } from './types.js';

export interface LanOptions {
  /** Short tag in namespace names (letters and digits). */
  tag: string;
  /** Three octets, e.g. `10.251.176`: the LAN is <base>.0/24. */
  base: string;
  /** Host part of the boot server's address on the bridge; default 1. */
  serverHost?: number;
}

export interface LanPi {
  nic: PiNic;
  mac: string;
  /** The veth end on the bridge. */
  bridgePort: string;
  /** Pull / plug the cable: the bridge end goes down / up (the Pi's port loses / regains its carrier). */
  unplug(): Promise<void>;
  plug(): Promise<void>;
  remove(): Promise<void>;
}

/** The unprivileged user dnsmasq's TFTP server runs as here (Debian: `dnsmasq`, else `nobody`). */
export function tftpUser(): string {
  return /^dnsmasq:/m.test(readFileSync('/etc/passwd', 'utf8')) ? 'dnsmasq' : 'nobody';
}

export class NetbootLan {
  readonly lab: Lab;
  readonly bridge = 'br0';
  readonly prefixLength = 24;
  namespace = '';
  private pis: CreatedNic[] = [];
  private hosts = 0;
  private piCount = 0;

  private constructor(readonly o: Required<LanOptions>) {
    this.lab = new Lab(o.tag);
  }

  get subnet(): string {
    return `${this.o.base}.0/24`;
  }

  get serverIp(): string {
    return `${this.o.base}.${this.o.serverHost}`;
  }

  /** `<base>.<host>` */
  addr(host: number): string {
    return `${this.o.base}.${host}`;
  }

  static async create(o: LanOptions): Promise<NetbootLan> {
    if (!/^[a-z0-9]{1,12}$/.test(o.tag)) throw new Error(`LAN tag ${JSON.stringify(o.tag)} must be 1-12 lowercase letters or digits`);
    const lan = new NetbootLan({ serverHost: 1, ...o });
    try {
      lan.namespace = await lan.lab.namespace('lan');
      // A fixed bridge MAC: otherwise it follows the lowest port MAC and changes as Pis join, staling ARP caches.
      await ip(['-n', lan.namespace, 'link', 'add', lan.bridge, 'address', '02:00:0a:fb:b0:01', 'type', 'bridge']);
      await ip(['-n', lan.namespace, 'addr', 'add', `${lan.serverIp}/24`, 'dev', lan.bridge]);
      await ip(['-n', lan.namespace, 'link', 'set', lan.bridge, 'up']);
    } catch (err) {
      await lan.cleanup().catch(() => undefined);
      throw err;
    }
    return lan;
  }

  /** A Pi's NIC: its own namespace, `eth0` with `mac` on the bridge. */
  async addPi(mac: string): Promise<LanPi> {
    const n = this.piCount++;
    const nic = await createPiNic({ netns: `${this.lab.prefix}-p${n}`, mac, lanNetns: this.namespace, bridge: this.bridge, bridgePort: `nbp${n}` });
    this.pis.push(nic);
    return {
      nic: { netns: nic.netns, iface: nic.iface },
      mac,
      bridgePort: nic.bridgePort,
      unplug: () => ip(['-n', this.namespace, 'link', 'set', nic.bridgePort, 'down']).then(() => undefined),
      plug: () => ip(['-n', this.namespace, 'link', 'set', nic.bridgePort, 'up']).then(() => undefined),
      remove: async () => {
        this.pis = this.pis.filter((p) => p !== nic);
        await nic.remove();
      },
    };
  }

  /** Another host on the bridge (e.g. the router), in its own namespace, with one address. */
  async host(role: string, hostPart: number): Promise<string> {
    const ns = await this.lab.namespace(role);
    const port = `nbh${this.hosts++}`;
    await ip(['link', 'add', port, 'netns', this.namespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await ip(['-n', this.namespace, 'link', 'set', port, 'master', this.bridge, 'up']);
    await ip(['-n', ns, 'addr', 'add', `${this.addr(hostPart)}/24`, 'dev', 'eth0']);
    await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    await waitForCarrier(ns, 'eth0');
    return ns;
  }

  /** pinet's rendered dnsmasq config for this LAN (proxy mode unless told otherwise). */
  renderConfig(tftpRoot: string, extra: Partial<RenderOptions> = {}): Promise<string> {
    return renderDnsmasqConfig({ subnet: this.subnet, tftpRoot, ...extra });
  }

  /** The real dnsmasq on the bridge, as the unprivileged TFTP user; `config` as pinet renders it by default. */
  async startBootServer(tftpRoot: string, config?: string, extraArgs: string[] = []): Promise<Dnsmasq> {
    const text = config ?? (await this.renderConfig(tftpRoot));
    return startDnsmasq(this.lab, this.namespace, text, [`--user=${tftpUser()}`, ...extraArgs]);
  }

  /** The LAN's router: a dnsmasq in its own namespace handing out <base>.100-.199, no PXE, no TFTP. */
  async startRouter(hostPart = 254): Promise<Dnsmasq> {
    const ns = await this.host('router', hostPart);
    const dir = await this.lab.dir('router');
    const conf = join(dir, 'dnsmasq.conf');
    const logFile = join(dir, 'dnsmasq.log');
    await writeFile(conf, `port=0\ndhcp-range=${this.addr(100)},${this.addr(199)},255.255.255.0,1h\ndhcp-option=option:router,${this.addr(hostPart)}\nno-ping\nlog-dhcp\ndhcp-authoritative\n`);
    const args = ['netns', 'exec', ns, 'dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`, `--pid-file=${join(dir, 'pid')}`, `--log-facility=${logFile}`, `--dhcp-leasefile=${join(dir, 'leases')}`, `--user=${tftpUser()}`];
    const d = new Dnsmasq(spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }), dir, logFile);
    this.lab.track(d);
    // startDnsmasq waits for the TFTP line; a router has no TFTP, so wait for its DHCP range.
    const deadline = Date.now() + 15_000;
    while (!/DHCP, IP range/.test(await d.log())) {
      if (Date.now() > deadline) throw new Error(`the router's dnsmasq did not start: ${d.stderr} ${await d.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return d;
  }

  async cleanup(): Promise<void> {
    const errors: string[] = [];
    for (const p of this.pis.splice(0)) await p.remove().catch((e: Error) => errors.push(e.message));
    await this.lab.cleanup().catch((e: Error) => errors.push(e.message));
    if (errors.length > 0) throw new Error(`LAN cleanup: ${errors.join('; ')}`);
  }
}
