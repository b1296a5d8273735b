/**
 * A Pi's own names, and many Pis in one line.
 *
 * At fleet scale the same change, finding or error repeats once per Pi,
 * differing only in that Pi's names: its host, serial, directory in the
 * export (the serial's last 8 digits, or its MAC), its address, the
 * PARTUUID of its own disk. `abstractNames` replaces them with placeholders
 * (`<pi>`, `<serial>`, `<dir>`, `<mac>`, `<ip>`, `<partuuid>`) so texts
 * that are the same apart from those names compare equal and are printed
 * once. `listPis` writes the Pis a line applies to compactly: `pi-01 …
 * pi-40`, or a comma list when short.
 */

export interface OwnNames {
  /** How the Pi was named on the command line (host, user@host, alias). */
  pi: string;
  serial?: string;
  dir?: string;
  mac?: string;
  ips?: string[];
  /** Disk identifiers of its own partitions (the `a285926b` of PARTUUID=a285926b-01). */
  partuuids?: string[];
}

const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/;
const MAC_DIR = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/;

/**
 * The names of a Pi, from what its texts say about it: `serial <hex>` and
 * `directory <dir>` (the about line of enroll's and rollback's plans),
 * `<pi> (<address>)` (its label in messages), `PARTUUID=<id>-NN` (its own
 * fstab).
 */
export function namesOf(pi: string, texts: (string | undefined)[]): OwnNames {
  const n: OwnNames = { pi };
  const all = texts.filter((t): t is string => t !== undefined).join('\n');
  const serial = /\bserial ([0-9a-f]{8,16})\b/.exec(all);
  if (serial) n.serial = serial[1]!;
  const dir = /\bdirectory ([0-9a-z][0-9a-z._-]*)/.exec(all);
  if (dir) n.dir = dir[1]!;
  else if (n.serial) n.dir = n.serial.slice(-8);
  if (n.dir && MAC_DIR.test(n.dir)) n.mac = n.dir.replace(/-/g, ':');
  const ips = new Set<string>();
  for (const m of all.matchAll(new RegExp(`${escape(pi)} \\((${IPV4.source})\\)`, 'g'))) ips.add(m[1]!);
  if (IPV4.test(pi) && new RegExp(`^${IPV4.source}$`).test(pi)) ips.add(pi);
  if (ips.size) n.ips = [...ips];
  const disks = new Set<string>();
  for (const m of all.matchAll(/\bPARTUUID=([0-9a-fA-F]{8})-[0-9a-fA-F]{2}\b/g)) disks.add(m[1]!);
  if (disks.size) n.partuuids = [...disks];
  return n;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * [value, placeholder] pairs, longest value first (a serial before the
 * directory it ends with); a value that is also a more specific name (a Pi
 * named by its directory or address) takes that name's placeholder.
 */
function pairs(n: OwnNames): [string, string][] {
  const out: [string, string][] = [];
  if (n.serial) out.push([n.serial, '<serial>']);
  if (n.dir) out.push([n.dir, '<dir>']);
  if (n.mac) out.push([n.mac, '<mac>']);
  for (const ip of n.ips ?? []) out.push([ip, '<ip>']);
  for (const d of n.partuuids ?? []) out.push([d, '<partuuid>']);
  if (!out.some(([v]) => v === n.pi)) out.push([n.pi, '<pi>']);
  // A name too short to be told from a word is left alone.
  return out.filter(([v]) => v.length >= 2).sort((a, b) => b[0].length - a[0].length);
}

/**
 * `text` with the Pi's names replaced by placeholders. A name is replaced
 * only where it stands alone (no letter or digit right before or after it),
 * so pi-01 is not found inside pi-010 nor 10.0.0.1 inside 10.0.0.17.
 */
export function abstractNames(text: string, n: OwnNames): string {
  let out = text;
  for (const [value, ph] of pairs(n)) {
    if (!out.includes(value)) continue;
    out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escape(value)}(?![A-Za-z0-9])`, 'g'), ph);
  }
  return out;
}

/** Natural order: pi-2 before pi-10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

const NUMBERED = /^(.*?)(\d+)$/;

/**
 * The Pis, compactly: runs of numbered names become `pi-01 … pi-40`, the
 * rest a comma list; past `max` items, the first ones and "and N more".
 */
export function listPis(names: string[], max = 8): string {
  const sorted = [...new Set(names)].sort(naturalCompare);
  const items: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const m = NUMBERED.exec(sorted[i]!);
    let j = i;
    if (m) {
      const [, prefix, digits] = m;
      while (j + 1 < sorted.length) {
        const next = NUMBERED.exec(sorted[j + 1]!);
        const cur = NUMBERED.exec(sorted[j]!)!;
        if (!next || next[1] !== prefix || next[2]!.length !== digits!.length || Number(next[2]) !== Number(cur[2]) + 1) break;
        j++;
      }
    }
    if (j - i >= 2) items.push(`${sorted[i]} … ${sorted[j]}`);
    else for (let k = i; k <= j; k++) items.push(sorted[k]!);
    i = j + 1;
  }
  if (items.length <= max) return items.join(', ');
  const shown = items.slice(0, max - 1);
  const rest = sorted.length - countIn(shown);
  return `${shown.join(', ')} and ${rest} more`;
}

/** How many names the list items stand for (a run counts all its names). */
function countIn(items: string[]): number {
  let n = 0;
  for (const it of items) {
    const run = /^(.*) … (.*)$/.exec(it);
    if (!run) {
      n++;
      continue;
    }
    n += Number(NUMBERED.exec(run[2]!)![2]) - Number(NUMBERED.exec(run[1]!)![2]) + 1;
  }
  return n;
}

/** "1 Pi", "40 Pis". */
export function pis(n: number): string {
  return `${n} Pi${n === 1 ? '' : 's'}`;
}
