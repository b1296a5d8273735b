/**
 * Send each unique boot file once (issue 14): which Pi sends which content.
 *
 * Each Pi hashes the files enroll has to copy (only those: sizes and times
 * decide which, as before). Files with the same SHA-256 and size, on one Pi
 * or on many, are one content: it crosses the network once per run, sent by
 * one of the Pis that have it, into the boot server's content store
 * (src/server/content-store.ts), and every Pi's directory is filled from
 * there with local copies. The senders are chosen so that each Pi sends
 * about as many bytes as the others: the largest contents first, each to
 * the Pi that has it and has the fewest bytes to send so far (ties: the Pi
 * named first). Pure and deterministic: the same Pis and files give the same
 * plan, so a dry run's JSON is stable.
 */
import type { PlanTransfer } from '../../plan/model.js';
import { contentName, type ContentKey } from '../../server/content-store.js';

/** The files one Pi has to copy, with their hashes. */
export interface PiFiles {
  pi: string;
  files: { path: string; sha256: string; size: number }[];
}

/** A content and who sends it. */
export interface SendContent extends ContentKey {
  /** The content store's name for it. */
  name: string;
  sender: string;
  /** Its path on the sender. */
  path: string;
  /** Every Pi that has it (in the order the Pis were given). */
  holders: string[];
}

/** What one Pi sends. */
export interface SenderLoad {
  files: { path: string; content: SendContent }[];
  bytes: number;
}

export interface SendPlan {
  /** Every content to send, largest first. */
  contents: SendContent[];
  /** By sender, in the order the Pis were given. */
  bySender: Map<string, SenderLoad>;
  /** Copies of each content into the Pis' directories (by content name). */
  uses: Map<string, number>;
  /** What the plan shows and `--json` reports (see PlanTransfer). */
  transfer: PlanTransfer;
}

/**
 * Chooses a sender for every content of `pis` (or only for the contents
 * named in `only`, e.g. those a failed sender did not deliver).
 */
export function planSending(pis: readonly PiFiles[], only?: ReadonlySet<string>): SendPlan {
  const order = new Map(pis.map((p, i) => [p.pi, i]));
  const contents = new Map<string, SendContent>();
  const uses = new Map<string, number>();
  let files = 0;
  let bytes = 0;
  const destinations = new Set<string>();
  for (const p of pis) {
    for (const f of [...p.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
      const name = contentName(f);
      if (only && !only.has(name)) continue;
      files++;
      bytes += f.size;
      destinations.add(p.pi);
      uses.set(name, (uses.get(name) ?? 0) + 1);
      const c = contents.get(name);
      if (!c) contents.set(name, { name, sha256: f.sha256, size: f.size, sender: '', path: f.path, holders: [p.pi] });
      else if (!c.holders.includes(p.pi)) c.holders.push(p.pi);
    }
  }
  const paths = new Map<string, string>(); // `${pi}\0${name}` → the Pi's first path with it
  for (const p of pis) {
    for (const f of p.files) {
      const k = `${p.pi}\0${contentName(f)}`;
      const had = paths.get(k);
      if (had === undefined || f.path < had) paths.set(k, f.path);
    }
  }
  const sorted = [...contents.values()].sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const load = new Map<string, SenderLoad>();
  for (const c of sorted) {
    let best: string | undefined;
    let bestBytes = Infinity;
    for (const h of c.holders) {
      const b = load.get(h)?.bytes ?? 0;
      // Holders are in the order the Pis were given: on a tie the first one stays.
      if (b < bestBytes) {
        best = h;
        bestBytes = b;
      }
    }
    c.sender = best!;
    c.path = paths.get(`${best}\0${c.name}`)!;
    const l = load.get(best!) ?? { files: [], bytes: 0 };
    l.files.push({ path: c.path, content: c });
    l.bytes += c.size;
    load.set(best!, l);
  }
  const bySender = new Map([...load].sort((a, b) => order.get(a[0])! - order.get(b[0])!));
  const networkBytes = sorted.reduce((n, c) => n + c.size, 0);
  return {
    contents: sorted,
    bySender,
    uses,
    transfer: {
      files,
      bytes,
      pis: destinations.size,
      network: { files: sorted.length, bytes: networkBytes, senders: bySender.size, largestSender: Math.max(0, ...[...bySender.values()].map((l) => l.bytes)) },
      local: { files: files - sorted.length, bytes: bytes - networkBytes },
    },
  };
}
