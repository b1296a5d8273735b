/**
 * pinet's state on the boot server: the inventory of enrolled Pis, local
 * copies of each Pi's backups, and the locks that keep two pinet runs from
 * working on the same Pi at once.
 *
 * The state directory is never inside the export (TFTP serves the export to
 * anyone): `--state-dir`, else `/var/lib/pinet` for root, else
 * `$XDG_STATE_HOME/pinet` (default `~/.local/state/pinet`). It is created
 * with mode 0700; files in it are written atomically.
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { PinetError } from '../errors.js';
import { checkSerial, checkTftpDirName } from '../pi/ids.js';
import { writeFileAtomic } from '../util/fs.js';
import { isPort } from '../util/port.js';

export function defaultStateDir(env = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/pinet';
  const xdg = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'pinet');
}

/** Refuses a state directory inside the export directory. */
export function checkStateDir(stateDir: string, exportDir?: string): string {
  const abs = resolve(stateDir);
  if (exportDir) {
    const rel = relative(resolve(exportDir), abs);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new PinetError(`the state directory ${abs} is inside the export ${exportDir}, which TFTP serves to anyone`, {
        exitCode: 2,
        hint: 'choose another --state-dir',
      });
    }
  }
  return abs;
}

export interface InventoryEntry {
  /** Full 16-digit serial. */
  serial: string;
  /** Directory name in the export (what the bootloader asks TFTP for). */
  dir: string;
  /** How the bootloader names its directory: serial (TFTP_PREFIX=0), string (1) or MAC (2). */
  prefixMode: 'serial' | 'string' | 'mac';
  mac?: string;
  /** The destination as the user gave it (alias, user@host…). */
  host: string;
  /** Where pinet connected: "alias (hostname)", or the hostname when they are the same. */
  address?: string;
  /** The SSH port pinet connected to, when not 22 (pinet watch checks SSH there once the Pi is up). */
  port?: number;
  board?: string;
  revision?: string;
  model?: string;
  os?: string;
  /** The Pi's boot partition mount point (/boot/firmware or /boot). */
  bootMount: string;
  exportDir: string;
  nfs: string;
  enrolledAt: string;
  updatedAt: string;
  /** One line per change pinet made. */
  changes: string[];
  backup?: { pi: string; local: string };
  hooks: string[];
  bootOrder?: { before?: string; after?: string };
  /** The root file system cmdline.txt in the export mounts, when enroll wrote it (--root nfs/rbd); absent: the Pi's own (keep). */
  root?: 'nfs' | 'rbd';
  /** Set when an enroll was cut off while changing the Pi: run enroll again to finish. */
  partial?: boolean;
}

export interface Inventory {
  version: 1;
  pis: Record<string, InventoryEntry>;
  /** Export directories of rolled-back Pis that were kept (by serial): enroll may use them again. */
  kept?: Record<string, { dir: string; exportDir: string }>;
}

const INVENTORY = 'inventory.json';

export class StateStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get inventoryPath(): string {
    return join(this.dir, INVENTORY);
  }

  async ensure(): Promise<void> {
    try {
      await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
      await mkdir(join(this.dir, 'backups'), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new PinetError(`cannot create the state directory ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
        hint: 'pass --state-dir with a directory you can write, or run as root',
        cause: err,
      });
    }
  }

  /** The inventory; an absent file is an empty inventory, a broken one an error. */
  async readInventory(): Promise<Inventory> {
    let text: string;
    try {
      text = await readFile(this.inventoryPath, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { version: 1, pis: {} };
      throw new PinetError(`cannot read the inventory ${this.inventoryPath}: ${code ?? err}`, { cause: err });
    }
    try {
      const data = JSON.parse(text) as Inventory;
      if (data?.version !== 1 || typeof data.pis !== 'object' || data.pis === null) throw new Error('unexpected layout');
      for (const [key, e] of Object.entries(data.pis)) {
        // Serials and directory names reach lock files, paths and dnsmasq's config: check them like any input.
        const serial = checkSerial(key);
        if (!serial.ok || e?.serial !== key) throw new Error(`entry ${JSON.stringify(key)}: ${serial.ok ? 'its serial differs from its key' : serial.error}`);
        const dir = checkTftpDirName(String(e.dir));
        if (!dir.ok) throw new Error(`entry ${key}: ${dir.error}`);
        if (e.port !== undefined && !isPort(e.port)) throw new Error(`entry ${key}: port ${JSON.stringify(e.port)} is not a TCP port (1-65535)`);
      }
      return data;
    } catch (err) {
      throw new PinetError(`the inventory ${this.inventoryPath} is damaged (${(err as Error).message})`, {
        hint: `restore it from ${this.inventoryPath}.bak or move it away`,
      });
    }
  }

  /** Read-modify-write of the inventory under a lock, so concurrent runs never lose an entry. */
  async updateInventory(fn: (inv: Inventory) => void): Promise<Inventory> {
    await this.ensure();
    const lock = await this.lock('inventory', { waitMs: 30_000 });
    try {
      const inv = await this.readInventory();
      const before = JSON.stringify(inv);
      fn(inv);
      const after = `${JSON.stringify(inv, null, 2)}\n`;
      if (before !== JSON.stringify(inv)) {
        const old = await readFile(this.inventoryPath).catch(() => null);
        if (old) await writeFileAtomic(`${this.inventoryPath}.bak`, old, { mode: 0o600 });
        await writeFileAtomic(this.inventoryPath, after, { mode: 0o600 });
      }
      return inv;
    } finally {
      await lock.release();
    }
  }

  /**
   * An exclusive lock (a file created with O_EXCL holding our PID). A lock
   * whose process is gone is taken over. Without `waitMs`, a held lock is an
   * error that names the holder.
   */
  async lock(name: string, opts: { waitMs?: number; what?: string } = {}): Promise<Lock> {
    await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
    const path = join(this.dir, 'locks', `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        const fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
        await fh.writeFile(`${process.pid} ${hostname()}\n`);
        await fh.close();
        return new Lock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readFile(path, 'utf8').catch(() => '');
      const pid = Number(holder.split(' ')[0]);
      const sameHost = holder.split(' ')[1]?.trim() === hostname();
      if (sameHost && Number.isInteger(pid) && pid > 0 && !isAlive(pid)) {
        await unlink(path).catch(() => undefined); // stale: its process is gone
        continue;
      }
      if (Date.now() >= deadline) {
        throw new PinetError(`${opts.what ?? name} is locked by another pinet run (pid ${pid || '?'})`, {
          hint: `wait for it to finish; if no pinet is running, remove ${path}`,
        });
      }
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
  }

  /** A JSON document of the state directory (server.json …); undefined when there is none. */
  async readJson(name: string): Promise<unknown> {
    const path = join(this.dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new PinetError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new PinetError(`${path} is damaged (${(err as Error).message})`, { hint: 'move it away and run again' });
    }
  }

  async writeJson(name: string, data: unknown): Promise<void> {
    await this.ensure();
    await writeFileAtomic(join(this.dir, name), `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  }

  backupDir(serial: string, stamp: string): string {
    return join(this.dir, 'backups', serial, stamp);
  }


}

export class Lock {
  constructor(readonly path: string) {}
  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A sortable, filesystem-safe UTC timestamp: 20261125T104455Z. */
export function stamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
