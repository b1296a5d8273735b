/**
 * The catalog (src/watch/catalog.ts) read from the export on disk: each Pi
 * directory's boot files from its config.txt, for its board (from the
 * inventory, else assumed a Pi 4 as doctor does), with `bootFiles` from
 * src/pi; each file's size, owner and mode, and whether the TFTP server's
 * user can read it (src/server/perms.ts, doctor's judgement and words).
 *
 * `prepare(lines)` fills in what the next lines need before the engine
 * sees them; answers are cached (directories until their config.txt
 * changes, file facts for a second, "Permission denied" facts never).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bootFiles } from '../../pi/boot-files.js';
import { decodeRevision } from '../../pi/revision.js';
import { splitTftpPath, type LogLine } from '../../server/dnsmasq-log.js';
import { canRead, octal, parseGroup, parsePasswd, type UnixUser } from '../../server/perms.js';
import type { InventoryEntry } from '../../server/state.js';
import type { Catalog, DirInfo, FileFacts } from './catalog.js';

const ASSUMED_BOARD = 'c03111';

export class ExportCatalog implements Catalog {
  private readonly dirs = new Map<string, { info?: DirInfo; configMtime: number }>();
  private readonly files = new Map<string, { facts: FileFacts; at: number }>();
  private users = new Map<number, string>();
  private groups = new Map<number, string>();

  constructor(
    readonly root: string | undefined,
    private readonly user: UnixUser | undefined,
    private readonly inventory: InventoryEntry[],
  ) {}

  get tftpUser(): string | undefined {
    return this.user?.name;
  }

  async load(): Promise<void> {
    const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((p) => readFile(p, 'utf8').catch(() => '')));
    this.users = new Map([...parsePasswd(passwd!)].map(([name, u]) => [u.uid, name]));
    this.groups = new Map(parseGroup(group!).map((g) => [g.gid, g.name]));
  }

  dir(name: string): DirInfo | undefined {
    return this.dirs.get(name)?.info;
  }

  file(path: string): FileFacts | undefined {
    return this.files.get(path)?.facts;
  }

  /** Fetch what these lines will ask about. */
  async prepare(lines: LogLine[], nowMs: number): Promise<void> {
    const dirs = new Set<string>();
    const paths = new Map<string, boolean>();
    for (const l of lines) {
      const e = l.event;
      if (!e || (e.kind !== 'tftp-sent' && e.kind !== 'tftp-denied' && e.kind !== 'tftp-failed' && e.kind !== 'tftp-not-found')) continue;
      const { prefix } = splitTftpPath(e.path, this.root);
      if (prefix !== '') dirs.add(prefix);
      if (e.kind === 'tftp-denied') paths.set(e.path, true);
      else if (e.kind === 'tftp-sent') {
        const known = this.files.get(e.path);
        if (!known || nowMs - known.at > 1000) paths.set(e.path, paths.get(e.path) ?? false);
      }
    }
    await Promise.all([...[...dirs].map((d) => this.prepareDir(d)), ...[...paths].map(([p]) => this.prepareFile(p, nowMs))]);
  }

  private async prepareDir(name: string): Promise<void> {
    if (!this.root || name.includes('/') || name === '..' || name === '.') return;
    const dir = join(this.root, name);
    const st = await stat(join(dir, 'config.txt')).catch(() => undefined);
    const known = this.dirs.get(name);
    if (known && known.configMtime === (st?.mtimeMs ?? -1)) return;
    if (!st) {
      this.dirs.set(name, { configMtime: -1 });
      return;
    }
    const texts: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      if (n.endsWith('.txt')) {
        const t = await readFile(join(dir, n), 'utf8').catch(() => undefined);
        if (t !== undefined) texts[n] = t;
      }
    }
    const entry = this.inventory.find((e) => e.dir === name);
    const rev = decodeRevision(entry?.revision ?? ASSUMED_BOARD);
    if (!rev.ok || texts['config.txt'] === undefined) {
      this.dirs.set(name, { configMtime: st.mtimeMs });
      return;
    }
    const { ok: _ok, ...board } = rev;
    const bf = bootFiles(texts['config.txt'], board, { include: (n) => texts[n] });
    if (!bf.ok) {
      this.dirs.set(name, { configMtime: st.mtimeMs });
      return;
    }
    const required = bf.files.filter((f) => f.required && !f.conditional).map((f) => f.path);
    const cmd = bf.files.findIndex((f) => f.why.startsWith('cmdline=') || f.why.startsWith('the kernel command line'));
    const kernel = cmd >= 0 ? bf.files[cmd + 1]?.path : undefined;
    const initramfs: string[] = [];
    for (const f of cmd >= 0 ? bf.files.slice(cmd + 2) : []) {
      if (/^(initramfs |ramfsfile=)/.test(f.why)) initramfs.push(f.path);
      else if (f.why.startsWith('auto_initramfs') && (await stat(join(dir, f.path)).catch(() => undefined))) initramfs.push(f.path);
    }
    const info: DirInfo = { dir: name, required, initramfs, board: board.name, assumed: entry?.revision === undefined };
    if (kernel) info.kernel = kernel;
    this.dirs.set(name, { info, configMtime: st.mtimeMs });
  }

  private async prepareFile(path: string, nowMs: number): Promise<void> {
    const st = await stat(path).catch(() => undefined);
    const facts: FileFacts = {};
    if (st) {
      facts.size = st.size;
      facts.owner = `${this.users.get(st.uid) ?? st.uid}:${this.groups.get(st.gid) ?? st.gid}`;
      facts.mode = octal(st.mode);
      if (this.user) {
        const a = await canRead(this.user, path);
        if (!a.ok) facts.unreadable = `${a.path}: ${a.reason}`;
      }
    }
    this.files.set(path, { facts, at: nowMs });
  }
}
