/**
 * IP → MAC from the boot server's neighbour (ARP) table, `/proc/net/arp` of
 * the network namespace watch runs in. TFTP lines name only the client's
 * address and DHCP lines only its MAC; the table ties them together for a
 * Pi that is not in the inventory. Re-read when an unknown address shows
 * up, at most ten times a second.
 */
import { readFile } from 'node:fs/promises';

export function parseArp(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [ip, , flags, mac] = f;
    // Flags 0x0: an incomplete entry (no answer yet); 00:00:… likewise.
    if (!ip || !mac || flags === '0x0' || /^(00:){5}00$/.test(mac)) continue;
    out.set(ip, mac.toLowerCase());
  }
  return out;
}

export class Neighbors {
  private table = new Map<string, string>();
  private readAt = -Infinity;

  constructor(private readonly file = '/proc/net/arp') {}

  lookup = (ip: string): string | undefined => this.table.get(ip);

  /** Make sure these addresses are looked up (re-reading the table when one is new). */
  async learn(ips: Iterable<string>, nowMs: number): Promise<void> {
    let missing = false;
    for (const ip of ips) if (!this.table.has(ip)) missing = true;
    if (!missing || nowMs - this.readAt < 100) return;
    this.readAt = nowMs;
    const text = await readFile(this.file, 'utf8').catch(() => '');
    for (const [ip, mac] of parseArp(text)) this.table.set(ip, mac);
  }
}
