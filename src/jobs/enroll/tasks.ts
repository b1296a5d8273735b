/**
 * The tasks of `pinet enroll`, per Pi, in the order the runner runs them.
 *
 * prepare: connect → detect → lock → plan → hash (nothing changes yet).
 * fetch:   send (the Pis chosen to send a content, into the content store; transfer.ts).
 * apply:   backup (local) → copy (from the content store) → modes → owners → cmdline →
 *          verify → the Pi (backup (Pi), fstab, hooks, bootloader: one round trip) →
 *          read-back → inventory → reboot.
 *
 * Safe order: the export is made ready and checked before the Pi is
 * pointed at it. When a task fails, the runner undoes the earlier ones (the
 * Pi-side script undoes its own steps), so the Pi boots as before; when the
 * connection drops while the Pi is being changed, nothing is undone (the Pi
 * may already use its directory) and the inventory marks the Pi "partial",
 * so a second run finishes the job.
 */
import { randomBytes } from 'node:crypto';
import { lchown, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PinetError } from '../../errors.js';
import { gather, type Detected } from '../../host/detect.js';
import { PI_BACKUP_DIR, PI_STATE_DIR } from '../../host/pi-layout.js';
import { connect, type ConnectOptions, type RemoteHost } from '../../remote/index.js';
import { runScript, ScriptError, sectionText, type ScriptOutput } from '../../remote/script.js';
import type { FileHash } from '../../remote/tree.js';
import type { ContentStore } from '../../server/content-store.js';
import type { StagedUpdates } from '../../server/staged-updates.js';
import { listTree, normalizeModes } from '../../server/export.js';
import { canRead, type UnixUser } from '../../server/perms.js';
import type { Inventory, StateStore } from '../../server/state.js';
import { sha256 } from '../../util/hash.js';
import { writeFileAtomic } from '../../util/fs.js';
import { KeepChangesError, type Task } from '../runner.js';
import { cmdlineNameOf, exportDirOf, planPi, type EnrollSettings, type PiPlan } from './plan.js';
import type { MovedKind } from '../../ui/progress.js';
import type { NetbootWatch } from './netboot-watch.js';
import { rebootAndWait, type RebootReport } from './reboot.js';
import type { Filler } from './fill.js';
import type { SendPlan } from './send-once.js';
import { hashesFromDetection, hashTask } from './transfer.js';

/** One Pi's state through the job. */
export interface EnrollPi {
  host: string;
  remote?: RemoteHost;
  detected?: Detected;
  plan?: PiPlan;
  /** SHA-256 and size of each file the plan copies, as the Pi read them (task `hash`). */
  hashes?: Map<string, FileHash>;
  /** Backups this run made of the Pi's originals. */
  backup?: { pi: string; local: string };
  /** This run created the Pi's directory in the export. */
  createdDir?: boolean;
  /** What the Pi-side script read back. */
  piOutput?: ScriptOutput;
  reboot?: RebootReport;
}

/** What every task of the job shares. */
export interface EnrollEnv {
  settings: EnrollSettings;
  conn: ConnectOptions;
  state: StateStore;
  inventory: Inventory;
  /** The backup name of this run (a timestamp). */
  stamp: string;
  reboot: boolean;
  rebootTimeoutMs: number;
  /** dnsmasq's log, followed while the Pis reboot (opened at the first reboot; undefined when it cannot be). */
  netboot?: () => Promise<NetbootWatch | undefined>;
  /** The boot server's copy of every content to copy, sent once (opened after the plan is confirmed). */
  store?: ContentStore;
  /** Fills the Pis' staging directories from the store as the contents arrive. */
  filler?: Filler;
  /** Who sends what in the current round of the fetch phase. */
  sending?: SendPlan;
  /** Configs of staged bootloader updates read before (the gather script hashes such a file instead of reading it). */
  staged?: StagedUpdates;
  /** Tells the progress view the bytes moved for a Pi (sent over the network, or copied here). */
  moved?: (host: string, kind: MovedKind, bytes: number, total: number, since?: number) => void;
}

const plan = (c: EnrollPi): PiPlan => c.plan!;
const piChanges = (p: PiPlan): boolean => Boolean(p.fstab || p.eeprom || p.cmdline);

export function prepareTasks(env: EnrollEnv): Task<EnrollPi>[] {
  const enrolledHosts = new Set(Object.values(env.inventory.pis).map((e) => e.host));
  return [
    {
      name: 'connect',
      title: 'connecting',
      async run(c, t) {
        c.remote = await connect(c.host, env.conn);
        const remote = c.remote;
        t.cleanup(() => remote.close());
      },
    },
    {
      name: 'detect',
      title: 'reading the Pi',
      async run(c) {
        // A Pi not in the inventory is (most likely) enrolled for the first time: all its boot
        // files will be copied, so they are hashed now, in this round trip, rather than in another.
        c.detected = await gather(c.remote!, c.host, { knownPending: env.staged?.known, hashBoot: !enrolledHosts.has(c.host) });
        const e = c.detected.eeprom;
        if (e.pendingRead && e.pendingConfig !== undefined) env.staged?.add(e.pendingSha256, e.pendingConfig);
      },
    },
    {
      name: 'lock',
      title: 'locking',
      when: (c) => c.detected!.facts.serial.known,
      async run(c, t) {
        const d = c.detected!;
        const serial = d.facts.serial.known ? d.facts.serial.value.full : '';
        const lock = await env.state.lock(`pi-${serial}`, { what: `${d.label} (serial ${serial})` });
        t.cleanup(() => lock.release());
      },
    },
    {
      name: 'plan',
      title: 'planning',
      async run(c) {
        // What the export already holds for this Pi (nothing when its directory is unknown or new).
        const d = c.detected!;
        const dir = exportDirOf(d);
        const localDir = dir ? join(env.settings.exportDir, dir) : undefined;
        const local = localDir ? await listTree(localDir) : new Map();
        // Its text matters only to a cmdline.txt enroll manages (--root nfs/rbd, or the root a previous
        // --root recorded); otherwise whether it is there is enough, and an up-to-date run reads no file
        // of the export, only its listing.
        const name = cmdlineNameOf(d);
        const serial = d.facts.serial.known ? d.facts.serial.value.full : undefined;
        const managed = env.settings.root.kind !== 'keep' || (serial !== undefined && env.inventory.pis[serial]?.root !== undefined);
        const there = local.get(name)?.type === 'file';
        const localCmdline = !localDir || !there ? null : managed ? await readFile(join(localDir, name), 'utf8').catch(() => null) : '';
        c.plan = await planPi({ detected: d, settings: env.settings, inventory: env.inventory, local, localCmdline });
        const hashed = hashesFromDetection(c.plan);
        if (hashed) c.hashes = hashed;
      },
    },
    hashTask(),
  ];
}

const OTHERS: UnixUser = { name: 'others', uid: -1, gid: -1, groups: [] };

/** The script's step names, as reports name them. */
const PI_STEPS: Record<string, string> = { backup: 'backup (Pi)', fstab: 'fstab', hooks: 'hooks', bootloader: 'bootloader' };

export function applyTasks(env: EnrollEnv): Task<EnrollPi>[] {
  return [
    {
      name: 'backup (local)',
      title: 'backing up',
      when: (c) => plan(c).firstEnroll && piChanges(plan(c)),
      async run(c) {
        const p = plan(c);
        const dir = env.state.backupDir(p.serial, env.stamp);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFile(join(dir, 'fstab'), p.detected.raw.fstab ?? '', { mode: 0o600 });
        const cmd = p.detected.texts[p.cmdlineName];
        if (cmd !== undefined) await writeFile(join(dir, 'cmdline.txt'), cmd, { mode: 0o600 });
        await writeFile(join(dir, 'bootloader.conf'), p.eepromText, { mode: 0o600 });
        const meta = { host: p.host, serial: p.serial, dir: p.dir, bootDir: p.bootDir, cmdlineName: p.cmdlineName, at: env.stamp };
        await writeFile(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
        c.backup = { pi: `${PI_BACKUP_DIR}/${env.stamp}`, local: dir };
      },
    },
    {
      name: 'copy',
      title: (c) => `copying ${plan(c).bootDir}: ${plan(c).copy.files.length} file${plan(c).copy.files.length === 1 ? '' : 's'} into ${plan(c).localDir}/ from the boot server's copy`,
      when: (c) => plan(c).copy.files.length > 0 || plan(c).copy.create,
      async run(c) {
        const p = plan(c);
        // Filled from the content store as the contents arrived (fill.ts), or empty.
        let staging = join(dirname(p.localDir), `.${p.dir.replace(/\//g, '_')}.pinet-${process.pid}-${randomBytes(3).toString('hex')}`);
        try {
          if (p.copy.files.length > 0) staging = await env.filler!.take(c.host);
          else await mkdir(staging, { recursive: true, mode: 0o755 });
          await normalizeModes(staging);
          if (env.settings.owner) await chownTree(staging, env.settings.owner);
          if (p.copy.create) {
            await mkdir(dirname(p.localDir), { recursive: true });
            await rename(staging, p.localDir);
            c.createdDir = true;
          } else {
            for (const rel of p.copy.files) {
              await mkdir(dirname(join(p.localDir, rel)), { recursive: true, mode: 0o755 });
              await rename(join(staging, rel), join(p.localDir, rel));
            }
            await rm(staging, { recursive: true, force: true });
            if (env.settings.owner) await chownTree(p.localDir, env.settings.owner); // directories made for new files
          }
        } catch (err) {
          await rm(staging, { recursive: true, force: true }).catch(() => undefined);
          throw err;
        }
      },
      async undo(c) {
        // This run created the Pi's directory: remove it, nothing refers to it.
        if (c.createdDir) await rm(plan(c).localDir, { recursive: true, force: true });
        else throw new Error('the copied files stay (the directory existed before)');
      },
    },
    {
      name: 'modes',
      title: 'making the boot files readable',
      when: (c) => plan(c).copy.modeFixes.length > 0,
      async run(c) {
        await normalizeModes(plan(c).localDir);
      },
    },
    {
      name: 'owners',
      title: (c) => `giving the boot files to ${env.settings.owner ? `${env.settings.owner.uid}:${env.settings.owner.gid}` : ''}`,
      when: (c) => plan(c).copy.ownerFixes.length > 0,
      async run(c) {
        await chownTree(plan(c).localDir, env.settings.owner!);
      },
    },
    {
      name: 'cmdline',
      title: (c) => `writing ${plan(c).cmdlineName}`,
      when: (c) => plan(c).cmdline !== undefined,
      async run(c) {
        await writeFileAtomic(plan(c).cmdline!.path, plan(c).cmdline!.after, { mode: 0o644, forceMode: true });
        if (env.settings.owner) await chownTree(plan(c).cmdline!.path, env.settings.owner);
      },
      async undo(c) {
        const cmd = plan(c).cmdline!;
        if (cmd.before === null) await rm(cmd.path, { force: true });
        else await writeFileAtomic(cmd.path, cmd.before);
      },
    },
    {
      name: 'verify',
      title: 'checking the export',
      async run(c) {
        // Before the Pi changes: every boot file the bootloader will request (and the Pi has) is in the export and readable by others.
        const p = plan(c);
        const onPi = new Set(p.detected.bootList.map((e) => e.path));
        const files = p.detected.facts.bootFiles.known ? p.detected.facts.bootFiles.value.files : [];
        const missing: string[] = [];
        for (const f of files.filter((x) => x.required && !x.conditional && (onPi.has(x.path) || x.path === p.cmdlineName))) {
          const a = await canRead(OTHERS, join(p.localDir, f.path));
          if (!a.ok) missing.push(`${f.path}: ${a.reason === 'missing' ? 'missing' : a.reason}`);
        }
        if (missing.length) throw new PinetError(`the export is not ready for netboot: ${missing.join('; ')}`);
      },
    },
    {
      name: 'pi',
      title: 'changing the Pi (fstab, hooks, bootloader)',
      when: (c) => piChanges(plan(c)) || plan(c).hooks.length > 0,
      steps: [
        { name: 'backup (Pi)', when: (c) => plan(c).firstEnroll && piChanges(plan(c)) },
        { name: 'fstab', when: (c) => plan(c).fstab !== undefined },
        { name: 'hooks', when: (c) => plan(c).hooks.length > 0 },
        { name: 'bootloader', when: (c) => plan(c).eeprom !== undefined },
      ],
      async run(c, t) {
        const p = plan(c);
        const args = [
          PI_STATE_DIR,
          p.firstEnroll && piChanges(p) ? env.stamp : '',
          p.bootDir,
          p.cmdlineName,
          p.eepromText,
          p.fstab ? sha256(p.fstab.before) : '',
          p.fstab?.after ?? '',
          p.eeprom?.after ?? '',
          p.hooks[0]?.content ?? '',
          ...p.hooks.map((h) => h.path),
        ];
        let out: ScriptOutput;
        try {
          out = await runScript(c.remote!, 'enroll-apply', args, { sudo: true, step: 'changing /etc/fstab and the bootloader config', onFail: 'return', timeoutMs: 120_000 });
        } catch (err) {
          // The connection dropped mid-script: each file is the old or the new one (atomic renames),
          // but which is unknown. Keep the export as it is so a second run completes the job.
          if (err instanceof ScriptError) throw err;
          throw new KeepChangesError(err, 'the connection dropped while the Pi was being changed');
        }
        for (const s of out.done) t.step(PI_STEPS[s] ?? s, 'done');
        for (const s of out.undone) t.step(PI_STEPS[s] ?? s, 'undone');
        if (out.failure) {
          throw Object.assign(new PinetError(out.failure.message), { failedStep: PI_STEPS[out.failure.step] ?? out.failure.step });
        }
        c.piOutput = out;
      },
    },
    {
      name: 'read-back',
      title: 'verifying the Pi',
      when: (c) => piChanges(plan(c)) || plan(c).hooks.length > 0,
      async run(c) {
        const p = plan(c);
        const out = c.piOutput!;
        const problems: string[] = [];
        if (p.fstab && sectionText(out, 'fstab') !== p.fstab.after) problems.push('/etc/fstab does not read back as written');
        if (p.eeprom) {
          const staged = sectionText(out, 'pending') ?? '';
          if (!new RegExp(`^BOOT_ORDER=${p.eeprom.afterOrder}\\s*$`, 'mi').test(staged)) {
            problems.push(`the staged bootloader config does not have BOOT_ORDER=${p.eeprom.afterOrder}`);
          } else env.staged?.add(sectionText(out, 'pending-sha256')?.trim(), staged);
        }
        for (const h of p.hooks) if (sectionText(out, `hook ${h.path}`) !== h.content) problems.push(`${h.path} does not read back as written`);
        if (problems.length) throw new KeepChangesError(new PinetError(problems.join('; ')), 'the Pi was changed, but does not read back as planned');
      },
    },
    {
      name: 'inventory',
      title: 'recording in the inventory',
      async run(c) {
        await recordInventory(env, c, false);
      },
    },
    {
      name: 'reboot',
      title: 'rebooting',
      when: () => env.reboot,
      async run(c, t) {
        const watch = await env.netboot?.();
        c.reboot = await rebootAndWait(c.remote!, c.host, {
          conn: env.conn,
          timeoutMs: env.rebootTimeoutMs,
          step: (s) => t.title(s),
          bytes: (n) => t.bytes(n),
          ...(watch && { net: { watch, entry: plan(c).inventoryEntry } }),
        });
      },
    },
  ];
}

/**
 * Gives a file or a tree to the export's anonymous identity. Through a mount
 * that squashes this machine too, what pinet writes is that identity's
 * already: a refused chown is then no error.
 */
async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  const st = await lstat(path);
  if (st.uid !== owner.uid || st.gid !== owner.gid) {
    try {
      await lchown(path, owner.uid, owner.gid);
    } catch (err) {
      const again = await lstat(path);
      if (again.uid !== owner.uid || again.gid !== owner.gid) {
        throw new PinetError(`cannot give ${path} to ${owner.uid}:${owner.gid} (${(err as NodeJS.ErrnoException).code ?? err})`, { hint: 'the export squashes this boot server too, so only the NFS server can give them away: run pinet server setup again (it gives the files in the export to the anonymous identity there), then enroll again' });
      }
    }
  }
  if (st.isDirectory()) for (const name of await readdir(path)) await chownTree(join(path, name), owner);
}

/** Writes the Pi's entry; `partial` when the Pi was changed but the job did not finish. */
export async function recordInventory(env: EnrollEnv, c: EnrollPi, partial: boolean): Promise<void> {
  const p = plan(c);
  await env.state.updateInventory((inv) => {
    const prev = inv.pis[p.serial];
    const entry = { ...p.inventoryEntry };
    delete entry.partial;
    const backup = c.backup ?? prev?.backup;
    if (backup) entry.backup = backup;
    if (partial) entry.partial = true;
    else entry.changes = [...(prev?.changes ?? []), ...p.target.changes.map((ch) => `${entry.updatedAt}: ${ch.summary}`)].slice(-50);
    inv.pis[p.serial] = entry;
    if (!partial && inv.kept) delete inv.kept[p.serial];
  });
}
