/**
 * `pinet server rollback`: undo `pinet server setup` from what it recorded
 * (server.json in the state directory), with a plan and confirmation: the
 * export's files on the NFS server come back from their backup (the ones
 * setup created go) and the server is told; the boot server's export is
 * unmounted and its fstab line goes (a line it replaced comes back); pinet's
 * dnsmasq config is restored or removed and dnsmasq restarted. The exported
 * directory and the boot files in it are never deleted.
 */
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatError, PinetError } from '../../errors.js';
import { PI_STATE_DIR } from '../../host/pi-layout.js';
import { removeNfsMount } from '../../pi/fstab.js';
import type { Change, Plan } from '../../plan/model.js';
import { connect, type ConnectOptions, type RemoteHost } from '../../remote/index.js';
import { LocalHost } from '../../remote/local-host.js';
import { runScript } from '../../remote/script.js';
import type { StateStore } from '../../server/state.js';
import type { Progress } from '../../ui/progress.js';
import { unifiedDiff } from '../../util/diff.js';
import { writeFileAtomic } from '../../util/fs.js';
import { describeOutcome, Job, tasksIn, type Task } from '../runner.js';
import type { ServerResult } from './job.js';
import { mountedFrom } from './plan.js';
import { isServerRecord, type ServerRecord } from './record.js';

interface RollbackTarget {
  record?: ServerRecord;
  host?: RemoteHost | LocalHost;
  fstab?: { before: string; after: string };
  unmount?: boolean;
  dnsmasq?: { action: 'restore'; text: string } | { action: 'remove' };
  changes: Change[];
}

export interface ServerRollbackOptions {
  conn: ConnectOptions;
  state: StateStore;
  dryRun: boolean;
  dnsmasqService: { restart(): Promise<string>; exists(): Promise<boolean> };
  confirm: (plan: Plan, changing: number) => Promise<boolean>;
  showPlan: (plan: Plan) => void;
  progress: (names: string[]) => Progress;
}

const local = new LocalHost();

function prepare(o: ServerRollbackOptions): Task<RollbackTarget>[] {
  return [
    {
      name: 'read the record',
      title: 'reading what server setup did',
      async run(c) {
        const r = await o.state.readJson('server.json');
        if (r === undefined) throw new PinetError(`pinet server setup has not run with this state directory (no ${join(o.state.dir, 'server.json')})`, { hint: 'pass the --state-dir it used' });
        if (!isServerRecord(r)) throw new PinetError(`${join(o.state.dir, 'server.json')} is damaged`, { hint: 'move it away; pinet cannot tell what to restore' });
        c.record = r;
      },
    },
    {
      name: 'connect',
      title: 'connecting to the NFS server',
      when: (c) => c.record!.backups.nfs !== undefined || c.record!.backups.ceph !== undefined,
      async run(c, t) {
        if (!c.record!.on) {
          c.host = local;
          return;
        }
        const remote = await connect(c.record!.on, o.conn);
        c.host = remote;
        t.cleanup(() => remote.close());
      },
    },
    {
      name: 'lock',
      title: 'locking',
      async run(_c, t) {
        const lock = await o.state.lock('server', { what: 'the boot server setup' });
        t.cleanup(() => lock.release());
      },
    },
    {
      name: 'plan',
      title: 'planning',
      async run(c) {
        const r = c.record!;
        const fstab = await readFile('/etc/fstab', 'utf8');
        const edit = removeNfsMount(fstab, { source: r.nfs, mountpoint: r.exportDir });
        const mounted = mountedFrom(await readFile('/proc/self/mounts', 'utf8'), r.exportDir);
        if (mounted && mounted.source.replace(/\/+$/, '') === r.nfs.replace(/\/+$/, '')) {
          c.unmount = true;
          c.changes.push({ id: 'unmount', kind: 'delete-file', target: 'boot server', path: r.exportDir, summary: `unmount ${r.exportDir}`, reason: 'its fstab line goes' });
        }
        if (edit.changed) {
          c.fstab = { before: fstab, after: edit.text };
          c.changes.push({ id: 'fstab', kind: 'write-file', target: 'boot server', path: '/etc/fstab', summary: `/etc/fstab: remove pinet's line for ${r.exportDir}`, reason: 'undo pinet server setup', diff: await unifiedDiff('/etc/fstab', fstab, edit.text) });
        }
        if (r.backups.dnsmasq) {
          const text = await readFile(r.backups.dnsmasq, 'utf8').catch(() => undefined);
          if (text === undefined) throw new PinetError(`the backup ${r.backups.dnsmasq} is gone`, { hint: `restore ${r.dnsmasqConf} by hand` });
          c.dnsmasq = { action: 'restore', text };
          c.changes.push({ id: 'dnsmasq', kind: 'write-file', target: 'boot server', path: r.dnsmasqConf, summary: `${r.dnsmasqConf}: the config from before setup comes back; restart dnsmasq`, reason: 'undo pinet server setup' });
        } else if (r.backups.dnsmasqCreated) {
          c.dnsmasq = { action: 'remove' };
          c.changes.push({ id: 'dnsmasq', kind: 'delete-file', target: 'boot server', path: r.dnsmasqConf, summary: `remove ${r.dnsmasqConf}; restart dnsmasq`, reason: 'setup created it' });
        }
        // The NFS server last: the boot server lets go of the export first.
        const nfsChanges: Change[] = [];
        if (r.backups.ceph) {
          const k = r.backups.ceph;
          nfsChanges.push(
            k.created
              ? { id: 'ceph', kind: 'delete-file', target: r.on ?? 'this machine', summary: `ceph nfs export rm ${k.cluster} ${k.pseudo}`, reason: 'setup created it; the subvolume and its boot files stay' }
              : { id: 'ceph', kind: 'write-file', target: r.on ?? 'this machine', summary: `ceph nfs export apply ${k.cluster}: the export ${k.pseudo} as it was before setup`, reason: 'undo pinet server setup', diff: `${JSON.stringify(k.before, null, 2)}\n` },
          );
        }
        if (r.backups.nfs) {
          nfsChanges.push({ id: 'export', kind: 'write-file', target: r.backups.nfs.host, summary: `${r.backups.nfs.files.join(', ')} on ${r.backups.nfs.host}: ${r.backups.nfs.created.length ? `remove ${r.backups.nfs.created.join(', ')}, ` : ''}restore the rest from ${r.backups.nfs.dir}, and tell the NFS server`, reason: 'undo pinet server setup; the exported directory and its boot files stay' });
        }
        c.changes.push(...nfsChanges);
        c.changes.push({ id: 'record', kind: 'inventory', target: 'boot server', summary: 'forget the setup (server.json is kept as server.json.rolled-back)', reason: 'enroll and doctor read it' });
      },
    },
  ];
}

function apply(o: ServerRollbackOptions): Task<RollbackTarget>[] {
  return [
    {
      name: 'unmount',
      title: (c) => `unmounting ${c.record!.exportDir}`,
      when: (c) => c.unmount === true,
      async run(c) {
        const dir = c.record!.exportDir;
        // First, so that a mount in use stops the rollback before anything changed.
        try {
          await local.exec(['umount', dir], { sudo: true, step: `unmounting ${dir}` });
        } catch (err) {
          const busy = /busy/i.test(String((err as Error).message));
          throw new PinetError(`cannot unmount ${dir}${busy ? ': it is in use' : ''} (${formatError(err)})`, { hint: busy ? `stop what uses it (fuser -vm ${dir} lists it), then run pinet server rollback again; nothing was changed` : 'fix the cause and run pinet server rollback again; nothing was changed' });
        }
      },
    },
    {
      name: 'fstab',
      title: 'restoring /etc/fstab',
      when: (c) => c.fstab !== undefined,
      async run(c) {
        const now = await readFile('/etc/fstab', 'utf8');
        if (now !== c.fstab!.before) throw new PinetError('/etc/fstab changed since pinet read it', { hint: 'run pinet server rollback again' });
        await writeFileAtomic('/etc/fstab', c.fstab!.after);
      },
    },
    {
      name: 'dnsmasq',
      title: 'restoring dnsmasq',
      when: (c) => c.dnsmasq !== undefined,
      async run(c) {
        const path = c.record!.dnsmasqConf;
        if (c.dnsmasq!.action === 'restore') await writeFileAtomic(path, c.dnsmasq!.text);
        else await rm(path, { force: true });
        if (await o.dnsmasqService.exists()) await o.dnsmasqService.restart();
      },
    },
    {
      name: 'export',
      title: 'restoring the export on the NFS server',
      when: (c) => c.record!.backups.nfs !== undefined,
      async run(c) {
        const r = c.record!;
        const n = r.backups.nfs!;
        await runScript(c.host!, 'nfs-export-restore', [PI_STATE_DIR, r.backend, n.dir, ...n.files], { sudo: true, step: 'restoring the export', timeoutMs: 120_000 });
      },
    },
    {
      name: 'ceph',
      title: 'restoring the Ceph export',
      when: (c) => c.record!.backups.ceph !== undefined,
      async run(c) {
        const k = c.record!.backups.ceph!;
        if (k.created) await c.host!.exec(['ceph', 'nfs', 'export', 'rm', k.cluster, k.pseudo], { sudo: true, step: 'ceph nfs export rm', timeoutMs: 120_000 });
        else await c.host!.exec(['ceph', 'nfs', 'export', 'apply', k.cluster, '-i', '-'], { sudo: true, step: 'ceph nfs export apply', input: `${JSON.stringify(k.before, null, 2)}\n`, timeoutMs: 120_000 });
      },
    },
    {
      name: 'record',
      title: 'forgetting the setup',
      async run() {
        await rename(join(o.state.dir, 'server.json'), join(o.state.dir, 'server.json.rolled-back'));
      },
    },
  ];
}

export async function rollbackServer(o: ServerRollbackOptions): Promise<{ plan: Plan; result: ServerResult }> {
  const job = new Job<RollbackTarget>('server rollback', [{ target: 'boot server', ctx: { changes: [] } }], 1);
  try {
    await job.phase('prepare', prepare(o), { view: o.progress(['boot server']), describe: formatError, finished: (c) => ({ outcome: 'ok', detail: `${c.changes.length} change(s) planned` }) });
    const t = job.targets[0]!;
    const plan: Plan = { command: 'server rollback', targets: t.failed ? [] : [{ target: 'boot server', about: t.ctx.record ? `${t.ctx.record.backend} ${t.ctx.record.nfs}, mounted at ${t.ctx.record.exportDir}` : '', changes: t.ctx.changes, warnings: [], notes: ['the exported directory and the boot files in it are kept'] }] };
    o.showPlan(plan);
    if (t.failed) return { plan, result: { target: t.target, result: 'refused', changes: [], error: formatError(t.failed.error) } };
    const changes = t.ctx.changes.map((c) => c.summary);
    if (o.dryRun) return { plan, result: { target: t.target, result: 'planned', changes } };
    if (!(await o.confirm(plan, 1))) throw new PinetError('nothing was changed (not confirmed)');
    await job.phase('apply', apply(o), { view: o.progress(['boot server']), describe: formatError, finished: () => ({ outcome: 'ok', detail: 'rolled back' }) });
    const report = { done: tasksIn(t, 'done', 'apply'), notDone: [...tasksIn(t, 'failed', 'apply'), ...tasksIn(t, 'not done', 'apply')], undone: tasksIn(t, 'undone', 'apply') };
    const failed = job.targets[0]!.failed; // set by the apply phase
    if (!failed) return { plan, result: { target: t.target, result: 'rolled back', changes, report } };
    return { plan, result: { target: t.target, result: 'failed', changes, report, error: formatError(new PinetError(`rollback failed: ${formatError(failed.error)} (${describeOutcome(t, 'apply')})`, { hint: 'fix the cause and run pinet server rollback again' })) } };
  } finally {
    await job.close();
  }
}
