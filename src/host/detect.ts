/**
 * Detect: read everything about a Pi in one round trip, and interpret it.
 *
 * `gather` is what `pinet info`, enroll and doctor start with: one SSH
 * connection, one remote script (scripts/remote/gather.sh), then the pure parsers of
 * src/pi. The result keeps the raw sections too, so later steps (the boot
 * file listing, the pending bootloader config, installed hooks) need no
 * further round trip.
 */
import type { RemoteHost } from '../remote/index.js';
import { lastLine } from '../remote/errors.js';
import { runScript } from '../remote/script.js';
import { isSha256 } from '../util/hash.js';
import { parseHashes, type FileHash } from '../remote/tree.js';
import { interpretPi, type PiFacts, type RawPi } from '../pi/facts.js';
import { parseFindListing, type BootEntry } from './gather.js';
import { HOOK_PATHS, PI_BACKUP_DIR } from './pi-layout.js';

export interface NetInterface {
  name: string;
  mac: string;
  wired: boolean;
}

export interface Login {
  uid: number;
  user: string;
  /** How privileged steps run: as root, through passwordless sudo, or not at all. */
  privilege: 'root' | 'sudo' | 'sudo-needs-password' | 'no-sudo';
}

export interface EepromRead {
  /** rpi-eeprom-config is installed. */
  tool: boolean;
  /** Its output, when it ran successfully. */
  config?: string;
  /** What went wrong, when it did not. */
  error?: string;
  /** The config inside a staged update (pieeprom.upd), when one is staged. */
  pendingConfig?: string;
  /** The staged update's SHA-256, when one is staged and could be hashed. */
  pendingSha256?: string;
  /** pendingConfig was read on the Pi this time (not known by its SHA-256). */
  pendingRead?: boolean;
}

export interface GatherOptions {
  /** Configs of staged updates read before, by the file's SHA-256: such a file is hashed, not read. */
  knownPending?: ReadonlyMap<string, string>;
  /** Also hash every boot file (a Pi's first enroll copies them all), in the same round trip. */
  hashBoot?: boolean;
}

export interface Detected {
  /** The destination as the user gave it. */
  dest: string;
  label: string;
  /** The SSH port pinet reached the Pi on (set by gather; absent in Detected built from recorded output). */
  port?: number;
  hostname: string;
  login: Login;
  facts: PiFacts;
  /** The directory holding the boot files (`/boot/firmware` or `/boot`), as found on the Pi. */
  bootDir?: string;
  /** Every entry below bootDir (relative paths). */
  bootList: BootEntry[];
  eeprom: EepromRead;
  interfaces: NetInterface[];
  /** Hook files in /etc/kernel/postinst.d and /etc/initramfs/post-update.d. */
  hooks: string[];
  /** Content of pinet's hook files that exist, by path. */
  hookContents: Record<string, string>;
  /** Backup directory names under /var/lib/pinet/backup. */
  backups: string[];
  /** Text files at the top of the boot directory. */
  texts: Record<string, string>;
  /** With hashBoot: SHA-256, bytes read and mtime of every regular boot file, by relative path. */
  bootHashes?: Map<string, FileHash>;
  raw: RawPi;
}

/** `…output…\nrc=N\n` → output and status. */
function splitRc(text: string | undefined): { out: string; rc: number } | undefined {
  if (text === undefined) return undefined;
  const m = /(?:^|\n)rc=(\d+)\n?$/.exec(text);
  if (!m) return { out: text, rc: -1 };
  return { out: text.slice(0, m.index === 0 ? 0 : m.index + 1), rc: Number(m[1]) };
}

function pickWired(ifaces: NetInterface[]): NetInterface | undefined {
  const wired = ifaces.filter((i) => i.wired && i.name !== 'lo' && i.mac !== '00:00:00:00:00:00');
  return wired.find((i) => i.name === 'eth0') ?? wired.find((i) => /^(eth|end|enx|enp)/.test(i.name)) ?? undefined;
}

/** Pure: gathered sections → Detected (everything but the connection). */
export function interpretSections(dest: string, label: string, s: Map<string, string>, knownPending?: ReadonlyMap<string, string>): Detected {
  const idLines = (s.get('id') ?? '').split('\n');
  const priv = idLines[2]?.trim();
  const login: Login = {
    uid: Number(idLines[0]),
    user: idLines[1]?.trim() ?? '?',
    privilege: priv === 'root' ? 'root' : priv === 'ok' ? 'sudo' : priv === 'password' ? 'sudo-needs-password' : 'no-sudo',
  };
  const interfaces: NetInterface[] = [];
  for (const line of (s.get('net') ?? '').split('\n')) {
    const [name, mac, type, wireless] = line.trim().split(' ');
    if (!name || !mac) continue;
    interfaces.push({ name, mac: mac.toLowerCase(), wired: type === '1' && wireless === '0' });
  }
  const bootDir = (s.get('boot-dir') ?? '').trim() || undefined;
  const bootList = parseFindListing(s.get('boot-list') ?? '');
  const texts: Record<string, string> = Object.create(null) as Record<string, string>;
  const hookContents: Record<string, string> = {};
  for (const [k, v] of s) {
    if (k.startsWith('txt:')) texts[k.slice(4)] = v;
    if (k.startsWith('hook:')) hookContents[k.slice(5)] = v;
  }

  const tool = (s.get('eeprom-tool') ?? '').trim() !== '';
  const eepromRun = splitRc(s.get('eeprom'));
  const eeprom: EepromRead = { tool };
  if (tool && eepromRun) {
    if (eepromRun.rc === 0) eeprom.config = eepromRun.out;
    else eeprom.error = lastLine(eepromRun.out) || `exit status ${eepromRun.rc}`;
  } else if (!tool) {
    eeprom.error = 'rpi-eeprom-config is not installed';
  }
  const pendingSha = (s.get('eeprom-pending-sha256') ?? '').trim();
  if (isSha256(pendingSha)) eeprom.pendingSha256 = pendingSha;
  const pend = splitRc(s.get('eeprom-pending'));
  if (pend && pend.rc === 0) {
    eeprom.pendingConfig = pend.out;
    eeprom.pendingRead = true;
  } else if (!pend && eeprom.pendingSha256 && knownPending?.has(eeprom.pendingSha256)) {
    eeprom.pendingConfig = knownPending.get(eeprom.pendingSha256)!;
  }

  const wired = pickWired(interfaces);
  const raw: RawPi = {};
  const set = <K extends keyof RawPi>(k: K, v: RawPi[K] | undefined) => {
    if (v !== undefined) raw[k] = v;
  };
  set('cpuinfo', s.get('cpuinfo'));
  const dtSerial = s.get('dt-serial');
  if (dtSerial) raw.serialNumber = dtSerial;
  const dtModel = s.get('dt-model');
  if (dtModel) raw.model = dtModel;
  const otp = s.get('otp');
  if (otp && otp.trim()) raw.otpDump = otp;
  if (s.get('os-release')) raw.osRelease = s.get('os-release');
  raw.rpiIssue = (s.get('rpi-issue') ?? '') !== '';
  set('fstab', s.get('fstab'));
  set('mounts', s.get('mounts'));
  if (eeprom.config !== undefined) raw.eepromConfig = eeprom.config;
  raw.eepromUpdateDefaults = s.get('eeprom-defaults') || null;
  if (bootDir) {
    raw.bootFileNames = bootList.filter((e) => !e.path.includes('/')).map((e) => e.path);
    if (texts['config.txt'] !== undefined) raw.configTxt = texts['config.txt'];
    if (texts['cmdline.txt'] !== undefined) raw.cmdlineTxt = texts['cmdline.txt'];
    raw.includes = texts;
  }
  if (wired) raw.mac = wired.mac;

  const facts = interpretPi(raw);
  const detected: Detected = {
    dest,
    label,
    hostname: idLines[3]?.trim() ?? '',
    login,
    facts,
    bootList,
    eeprom,
    interfaces,
    hooks: (s.get('hooks') ?? '').split('\n').filter(Boolean),
    backups: (s.get('backups') ?? '').split('\n').filter(Boolean),
    texts,
    hookContents,
    raw,
  };
  if (bootDir) detected.bootDir = bootDir;
  return detected;
}

/** One round trip on an open connection. */
export async function gather(remote: RemoteHost, dest: string, opts: GatherOptions = {}): Promise<Detected> {
  const known = [...(opts.knownPending?.keys() ?? [])].filter(isSha256);
  const r = await runScript(remote, 'gather', [PI_BACKUP_DIR, known.join(' '), opts.hashBoot ? '1' : '', ...HOOK_PATHS], {
    step: 'reading the Pi (cpuinfo, fstab, bootloader config, boot files)',
    timeoutMs: 60_000,
  });
  const sections = new Map([...r.sections].map(([k, v]) => [k, v.toString('utf8')]));
  const d = interpretSections(dest, remote.label, sections, opts.knownPending);
  d.port = remote.host.port;
  const hashes = r.sections.get('boot-hashes');
  if (hashes) {
    // Only what was hashed cleanly; anything else is hashed again, on its own, if it is copied.
    try {
      d.bootHashes = new Map([...parseHashes(hashes)].filter((e): e is [string, FileHash] => !('error' in e[1])));
    } catch {
      // a cut-off list: the files are hashed in their own round trip
    }
  }
  return d;
}
