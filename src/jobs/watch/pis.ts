/**
 * Who is who in a dnsmasq log. DHCP lines name a Pi by its MAC, TFTP lines
 * by its client address and the directory it asks for; the inventory ties
 * MAC, directory, serial and host together for enrolled Pis. A Pi not in
 * the inventory is named by its directory (serial or MAC form), else its
 * MAC, else its client address. The neighbour table (IP → MAC) and
 * standalone DHCP's DHCPACK lines tie an address to a MAC.
 *
 * One `PiState` per Pi holds its current boot attempt: a new PXE request
 * after the Pi got past DHCP starts a new attempt.
 */
import { macToTftpDir } from '../../pi/eeprom-config.js';
import type { InventoryEntry } from '../../server/state.js';
import type { FileOutcome, Level, PiRef, Stage } from './events.js';

export interface FileRecord {
  outcome: FileOutcome;
  /** Times requested in this attempt. */
  count: number;
}

export interface PiState {
  /** Order of first sight, for stable sorting. */
  seq: number;
  id: string;
  entry?: InventoryEntry;
  dir?: string;
  mac?: string;
  ips: Set<string>;
  attempt: number;
  /** PXE requests answered in this attempt (a Pi that ignores the offer asks again every second or so). */
  offers: number;
  firstMs: number;
  lastMs: number;
  stage: Stage;
  files: Map<string, FileRecord>;
  /** Files really sent (not probes), and their bytes. */
  sent: Set<string>;
  bytes: number;
  /** A transfer ended with "failed sending" and the file has not been sent since: file → time. */
  failedPending: Map<string, number>;
  /** One line: the last thing that happened. */
  last: string;
  /** Verdicts given in this attempt (id → level and finding), each once. */
  verdicts: Map<string, { level: Level; finding: string }>;
  /** When the last boot file was sent, and the boot time once SSH answered. */
  loadedMs?: number;
  bootSeconds?: number;
  /** How the attempt ended, and the file a failure stopped at. */
  ended?: 'booted' | 'failed';
  failedAt?: string;
}

export function sameMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ':');
}

function macOfDir(dir: string): string | undefined {
  return /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/.test(dir) ? dir.replace(/-/g, ':') : undefined;
}

export class Registry {
  readonly all: PiState[] = [];
  private readonly byDir = new Map<string, PiState>();
  private readonly byMac = new Map<string, PiState>();
  private readonly byIp = new Map<string, PiState>();
  private readonly entryByDir = new Map<string, InventoryEntry>();
  private readonly entryByMac = new Map<string, InventoryEntry>();

  constructor(entries: InventoryEntry[]) {
    for (const e of entries) {
      this.entryByDir.set(e.dir, e);
      // A directory renamed by hand: the Pi asks by serial or by MAC whatever the inventory says.
      this.entryByDir.set(e.serial.slice(-8).toLowerCase(), e);
      if (e.mac) {
        this.entryByMac.set(sameMac(e.mac), e);
        const md = macToTftpDir(e.mac);
        if (md) this.entryByDir.set(md, e);
      }
    }
  }

  private create(timeMs: number, id: string, fields: { entry?: InventoryEntry; dir?: string; mac?: string }): PiState {
    const pi: PiState = {
      seq: this.all.length,
      id,
      ips: new Set(),
      attempt: 1,
      offers: 0,
      firstMs: timeMs,
      lastMs: timeMs,
      stage: 'dhcp',
      files: new Map(),
      sent: new Set(),
      bytes: 0,
      failedPending: new Map(),
      last: '',
      verdicts: new Map(),
    };
    this.all.push(pi);
    if (fields.entry) this.bindEntry(pi, fields.entry);
    if (fields.dir !== undefined) this.bindDir(pi, fields.dir);
    if (fields.mac) this.bindMac(pi, fields.mac);
    return pi;
  }

  private bindEntry(pi: PiState, entry: InventoryEntry): void {
    pi.entry = entry;
    this.bindDir(pi, entry.dir);
    if (entry.mac) this.bindMac(pi, entry.mac);
  }

  private bindDir(pi: PiState, dir: string): void {
    if (dir === '') return;
    pi.dir ??= dir;
    this.byDir.set(dir, pi);
    const mac = macOfDir(dir);
    if (mac && !pi.mac) this.bindMac(pi, mac);
  }

  private bindMac(pi: PiState, mac: string): void {
    const m = sameMac(mac);
    const other = this.byMac.get(m);
    if (other && other !== pi && other.dir === undefined && other.ips.size === 0 && other.files.size === 0) {
      // The Pi seen so far only in DHCP under this MAC is this one: one row, from its first packet.
      this.all.splice(this.all.indexOf(other), 1);
      pi.firstMs = Math.min(pi.firstMs, other.firstMs);
    }
    pi.mac ??= m;
    this.byMac.set(m, pi);
  }

  bindIp(pi: PiState, ip: string): void {
    pi.ips.add(ip);
    this.byIp.set(ip, pi);
  }

  private entryFor(dir?: string, mac?: string): InventoryEntry | undefined {
    return (dir ? this.entryByDir.get(dir) : undefined) ?? (mac ? this.entryByMac.get(sameMac(mac)) : undefined);
  }

  /** The Pi of a DHCP line. */
  forMac(mac: string, timeMs: number): PiState {
    const m = sameMac(mac);
    const known = this.byMac.get(m);
    if (known) return known;
    const entry = this.entryFor(undefined, m);
    if (entry) {
      const byDir = this.byDir.get(entry.dir);
      if (byDir) {
        this.bindMac(byDir, m);
        return byDir;
      }
    }
    return this.create(timeMs, entry?.host ?? m, { ...(entry && { entry }), mac: m });
  }

  /**
   * The Pi of a TFTP line: by directory (prefix) when the path has one,
   * else by client address. `macOf` answers from the neighbour table.
   */
  forTftp(prefix: string, client: string | undefined, timeMs: number, macOf: (ip: string) => string | undefined): PiState {
    let pi = prefix !== '' ? this.byDir.get(prefix) : undefined;
    if (!pi && client) pi = this.byIp.get(client);
    const mac = client ? macOf(client) : undefined;
    if (!pi && mac) {
      const byMac = this.byMac.get(sameMac(mac));
      // A Pi seen only in DHCP so far, or one whose directory is this prefix.
      if (byMac && (byMac.dir === undefined || prefix === '' || byMac.dir === prefix)) pi = byMac;
    }
    // One Pi seen only in DHCP lately and an address nobody knows: that Pi (ambiguous with two, so not then).
    if (!pi && !mac && client) pi = this.soleDhcpOnly(prefix, timeMs);
    if (!pi && prefix !== '') {
      const entry = this.entryFor(prefix, mac);
      if (entry) pi = this.byDir.get(entry.dir) ?? (entry.mac ? this.byMac.get(sameMac(entry.mac)) : undefined);
      pi ??= this.create(timeMs, entry?.host ?? prefix, { ...(entry && { entry }), dir: prefix, ...(mac && { mac }) });
    }
    if (!pi) {
      const entry = mac ? this.entryFor(undefined, mac) : undefined;
      pi = this.create(timeMs, entry?.host ?? (mac ? sameMac(mac) : (client ?? 'unknown')), { ...(entry && { entry }), ...(mac && { mac }) });
    }
    if (prefix !== '' && pi.dir === undefined) this.bindDir(pi, prefix);
    if (mac && !pi.mac) this.bindMac(pi, mac);
    if (client && !pi.ips.has(client)) this.bindIp(pi, client);
    return pi;
  }

  private soleDhcpOnly(prefix: string, timeMs: number): PiState | undefined {
    const candidates = this.all.filter((p) => p.dir === undefined && p.ips.size === 0 && p.mac !== undefined && p.files.size === 0 && timeMs - p.lastMs <= 30_000);
    const only = candidates.length === 1 ? candidates[0] : undefined;
    if (!only) return undefined;
    // Not when the prefix already belongs to another (enrolled) Pi.
    return prefix !== '' && this.entryFor(prefix, undefined) ? undefined : only;
  }

  /** A Pi already seen at this address, if any (for lines that name only the client). */
  atIp(ip: string): PiState | undefined {
    return this.byIp.get(ip);
  }

  /** The Pi of a directory, if seen (for lines that name no client). */
  atDir(dir: string): PiState | undefined {
    return this.byDir.get(dir);
  }

  /** Standalone DHCP: an address handed to a MAC. */
  linkIpMac(ip: string, mac: string, timeMs: number): void {
    const pi = this.forMac(mac, timeMs);
    if (!pi.ips.has(ip)) this.bindIp(pi, ip);
  }
}

export function refOf(pi: PiState): PiRef {
  const ref: PiRef = { id: pi.id, name: pi.entry?.host ?? pi.dir ?? pi.mac ?? pi.id };
  if (pi.entry) {
    ref.host = pi.entry.host;
    ref.serial = pi.entry.serial;
  }
  if (pi.dir !== undefined) ref.dir = pi.dir;
  if (pi.mac) ref.mac = pi.mac;
  const ip = [...pi.ips].pop();
  if (ip) ref.ip = ip;
  return ref;
}
