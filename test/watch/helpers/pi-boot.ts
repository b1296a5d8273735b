/**
 * A Pi-like network boot played with pinet's own clients (src/net), so the
 * real dnsmasq writes the log lines a real boot writes: the PXE DISCOVER
 * (MAC, option 97), the size probe of <prefix>start4.elf ("Early
 * terminate"), the optional probes, the firmware files, config.txt, the
 * device tree and overlays, cmdline.txt, a size probe of the kernel, the
 * kernel and the initramfs, in the bootloader's order (docs/pi-netboot.md
 * and the seed article's log). A required file that fails ends the boot, as
 * on a Pi. It is a script, not an emulator: test/netboot's bootloader
 * emulator replaces it where it is available.
 *
 * Run inside a network namespace (a Node process cannot change its own):
 *   ip netns exec <ns> node --import tsx pi-boot.ts '<json BootRequest>'
 * prints one JSON line: BootResult[]. Several Pis in one request boot at
 * once, each from its own local address.
 */
import { probeDhcp } from '../../../src/net/dhcp.js';
import { tftpGet, tftpProbe, TftpError } from '../../../src/net/tftp.js';

export interface PiToBoot {
  mac: string;
  /** 8 hex digits: option 97 and the TFTP prefix. */
  serial: string;
  /** Bind TFTP to this address (one address per Pi, so dnsmasq tells them apart). */
  localAddress?: string;
  /** The directory it asks for (default: the serial; a MAC form for TFTP_PREFIX=2). */
  prefix?: string;
  /** Files after config.txt, in order (default: a Pi 4 with Ubuntu's names). */
  files?: string[];
  /** Size-probe these before fetching them (default: the kernel). */
  probe?: string[];
}

export interface BootRequest {
  server: string;
  /** The LAN's broadcast address for the DISCOVER. */
  broadcast: string;
  pis: PiToBoot[];
  /** Skip DHCP (a Pi whose DHCP was logged already). */
  noDhcp?: boolean;
  /** Start the Pis this many ms apart (default 0: all at once). */
  staggerMs?: number;
}

export interface BootResult {
  mac: string;
  offered: boolean;
  /** The prefix used ("" when <prefix>start4.elf was not found). */
  prefix: string;
  requests: { file: string; outcome: 'sent' | 'probe' | 'not-found' | 'denied' | 'error'; message?: string }[];
  /** The file that ended the boot, when one did. */
  failedAt?: string;
  ms: number;
}

export const UBUNTU_PI4_FILES = ['bcm2711-rpi-4-b.dtb', 'overlays/overlay_map.dtb', 'cmdline.txt', 'vmlinuz', 'initrd.img'];
const OPTIONAL_FIRST = ['pieeprom.sig', 'recover4.elf', 'recovery.elf'];
const OPTIONAL_AFTER_CONFIG = ['dt-blob.bin', 'bootcfg.txt'];

async function bootOne(req: BootRequest, pi: PiToBoot): Promise<BootResult> {
  const t0 = Date.now();
  const result: BootResult = { mac: pi.mac, offered: true, prefix: '', requests: [], ms: 0 };
  const common = { server: req.server, timeoutMs: 1000, retries: 4, ...(pi.localAddress && { localAddress: pi.localAddress }) };
  if (!req.noDhcp) {
    const d = await probeDhcp({ sendTo: req.broadcast, mac: pi.mac, serial: pi.serial, timeoutMs: 1200, retransmitMs: [0], ...(pi.localAddress && { bindAddress: '0.0.0.0' }) });
    result.offered = d.answers.some((a) => a.hasRaspberryPiBootMenu);
    if (!result.offered) {
      result.ms = Date.now() - t0;
      return result;
    }
  }
  const prefix = `${pi.prefix ?? pi.serial}/`;
  const first = await tftpProbe({ ...common, file: `${prefix}start4.elf` });
  const use = first.ok ? prefix : '';
  result.prefix = use.replace(/\/$/, '');
  result.requests.push(first.ok ? { file: `${prefix}start4.elf`, outcome: 'probe' } : { file: `${prefix}start4.elf`, outcome: 'not-found', message: first.error.serverMessage ?? first.error.message });

  const get = async (file: string, required: boolean): Promise<boolean> => {
    try {
      await tftpGet({ ...common, file: `${use}${file}`, onData: () => undefined });
      result.requests.push({ file, outcome: 'sent' });
      return true;
    } catch (err) {
      const e = err as TftpError;
      const message = e.serverMessage ?? e.message;
      result.requests.push({ file, outcome: e.code === 1 ? 'not-found' : e.code === 2 ? 'denied' : 'error', message });
      if (required) result.failedAt = file;
      return !required;
    }
  };
  const probe = async (file: string): Promise<void> => {
    const r = await tftpProbe({ ...common, file: `${use}${file}` });
    result.requests.push(r.ok ? { file, outcome: 'probe' } : { file, outcome: r.error.code === 2 ? 'denied' : 'not-found', message: r.error.serverMessage ?? r.error.message });
  };

  const files = pi.files ?? UBUNTU_PI4_FILES;
  const probes = new Set(pi.probe ?? files.filter((f) => /vmlinuz|kernel/.test(f)));
  done: {
    for (const f of OPTIONAL_FIRST) await get(f, false);
    for (const f of ['start4.elf', 'fixup4.dat', 'config.txt']) if (!(await get(f, true))) break done;
    for (const f of OPTIONAL_AFTER_CONFIG) await get(f, false);
    for (const f of files) {
      if (probes.has(f)) await probe(f);
      if (!(await get(f, true))) break done;
    }
  }
  result.ms = Date.now() - t0;
  return result;
}

export async function bootPis(req: BootRequest): Promise<BootResult[]> {
  return Promise.all(req.pis.map(async (pi, i) => {
    if (req.staggerMs) await new Promise((r) => setTimeout(r, i * req.staggerMs!));
    return bootOne(req, pi);
  }));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const arg = process.argv[2];
  if (!arg) {
    process.stderr.write('usage: pi-boot <json BootRequest>\n');
    process.exit(2);
  }
  bootPis(JSON.parse(arg) as BootRequest).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
