/**
 * Enroll many Pis: detect and plan them concurrently, show the plan, ask,
 * apply concurrently, verify, record them in the inventory, optionally
 * reboot, and end with a summary. One failing Pi never stops the others.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatError, PinetError } from '../errors.js';
import { gather, type Detected } from '../host/detect.js';
import { withHost } from '../host/session.js';
import type { ConnectOptions, RemoteHost } from '../remote/index.js';
import { connect } from '../remote/index.js';
import { checkExportDir, listTree } from '../server/export.js';
import { stamp as makeStamp, type Lock, type StateStore } from '../server/state.js';
import type { Plan } from '../plan.js';
import type { Progress } from '../ui/progress.js';
import { mapLimit } from '../util/concurrency.js';
import { applyPlan, ApplyError, type ApplyReport } from './apply.js';
import { cmdlineNameOf, planPi, type EnrollSettings, type PiPlan } from './plan.js';

export interface PiResult {
  host: string;
  serial?: string;
  dir?: string;
  result: 'enrolled' | 'up to date' | 'failed' | 'planned' | 'refused' | 'rolled back';
  changes: string[];
  error?: string;
  report?: ApplyReport;
  reboot?: { ok: boolean; detail: string; bootMount?: string; bootOrder?: string };
}

export interface EnrollRunOptions {
  concurrency: number;
  dryRun: boolean;
  reboot: boolean;
  rebootTimeoutMs: number;
  /** Asked once, after the plan is shown; returns false to stop. */
  confirm: (plan: Plan, changing: number) => Promise<boolean>;
  showPlan: (plan: Plan) => void;
  progress: (names: string[]) => Progress;
}

interface Planned {
  host: string;
  remote?: RemoteHost;
  lock?: Lock;
  plan?: PiPlan;
  error?: unknown;
}

export async function enrollMany(
  hosts: string[],
  settings: EnrollSettings,
  conn: ConnectOptions,
  state: StateStore,
  opts: EnrollRunOptions,
): Promise<{ plan: Plan; results: PiResult[] }> {
  await checkExportDir(settings.exportDir);
  await state.ensure();
  const inventory = await state.readInventory();

  // Phase 1: connect, detect, lock, plan (concurrently)
  const progress = opts.progress(hosts);
  const planned: Planned[] = await mapLimit(hosts, opts.concurrency, async (host): Promise<Planned> => {
    const p: Planned = { host };
    try {
      progress.step(host, 'connecting');
      p.remote = await connect(host, conn);
      progress.step(host, 'reading the Pi');
      const d: Detected = await gather(p.remote, host);
      if (d.facts.serial.known) {
        p.lock = await state.lock(`pi-${d.facts.serial.value.full}`, { what: `${d.label} (serial ${d.facts.serial.value.full})` });
      }
      progress.step(host, 'planning');
      // What the export already holds for this Pi (nothing when its directory is unknown or new).
      const tftp = d.facts.bootloader.known ? d.facts.bootloader.value.tftp : undefined;
      const localDir = tftp?.ok && tftp.dir ? join(settings.exportDir, tftp.dir) : undefined;
      const local = localDir ? await listTree(localDir) : new Map();
      const cmdline = localDir ? await readFile(join(localDir, cmdlineNameOf(d)), 'utf8').catch(() => null) : null;
      p.plan = await planPi(d, settings, inventory, local, cmdline);
      progress.step(host, p.plan.target.changes.length ? `${p.plan.target.changes.length} change(s) planned` : 'up to date');
    } catch (err) {
      p.error = err;
      progress.done(host, 'failed', formatError(err));
    }
    return p;
  });
  progress.stop();

  const plan: Plan = { command: 'enroll', targets: planned.flatMap((p) => (p.plan ? [p.plan.target] : [])) };
  const failures = (p: Planned): PiResult => ({ host: p.host, result: 'refused', changes: [], error: formatError(p.error) });
  const release = async () => {
    await Promise.all(planned.map(async (p) => {
      await p.lock?.release();
      await p.remote?.close().catch(() => undefined);
    }));
  };

  const changing = planned.filter((p) => p.plan && p.plan.target.changes.length > 0);
  opts.showPlan(plan);
  const summaryOf = (p: PiPlan) => p.target.changes.map((c) => c.summary);

  if (opts.dryRun || changing.length === 0) {
    await release();
    const results = planned.map((p): PiResult =>
      p.plan
        ? { host: p.host, serial: p.plan.serial, dir: p.plan.dir, result: p.plan.target.changes.length ? 'planned' : 'up to date', changes: summaryOf(p.plan) }
        : failures(p),
    );
    return { plan, results };
  }

  let go = false;
  try {
    go = await opts.confirm(plan, changing.length);
  } catch (err) {
    await release();
    throw err;
  }
  if (!go) {
    await release();
    throw new PinetError('nothing was changed (not confirmed)', { exitCode: 1 });
  }

  // Phase 2: apply (concurrently)
  const totalBytes = changing.reduce((n, p) => n + (p.plan?.copy.bytes ?? 0), 0);
  try {
    await checkExportDir(settings.exportDir, totalBytes);
  } catch (err) {
    await release();
    throw err;
  }
  const runStamp = makeStamp();
  const names = changing.map((p) => p.host);
  const applyProgress = opts.progress(names);
  const applied = new Map<string, PiResult>();
  await mapLimit(changing, opts.concurrency, async (p) => {
    const pp = p.plan!;
    const result: PiResult = { host: p.host, serial: pp.serial, dir: pp.dir, result: 'enrolled', changes: summaryOf(pp) };
    try {
      const report = await applyPlan(pp, p.remote!, state, runStamp, {
        step: (s) => applyProgress.step(p.host, s),
        bytes: (b, t) => applyProgress.bytes(p.host, b, t),
      });
      result.report = report;
      applyProgress.step(p.host, 'recording in the inventory');
      await state.updateInventory((inv) => {
        const entry = { ...pp.inventoryEntry };
        delete entry.partial;
        const prev = inv.pis[pp.serial];
        if (report.backup) entry.backup = report.backup;
        else if (prev?.backup) entry.backup = prev.backup;
        entry.changes = [...(prev?.changes ?? []), ...summaryOf(pp).map((s) => `${entry.updatedAt}: ${s}`)].slice(-50);
        entry.files = Object.fromEntries([...pp.remoteFiles].map(([k, v]) => [k, { size: v.size, mtimeMs: v.mtimeMs, sha256: '' }]));
        inv.pis[pp.serial] = entry;
        if (inv.kept) delete inv.kept[pp.serial];
      });
      report.done.push('inventory');
      if (opts.reboot) {
        applyProgress.step(p.host, 'rebooting');
        result.reboot = await rebootAndWait(p.remote!, p.host, conn, opts.rebootTimeoutMs, (s) => applyProgress.step(p.host, s));
        delete p.remote; // closed by the reboot
      }
      applyProgress.done(p.host, 'ok', `${pp.target.changes.length} change(s)${result.reboot ? `; ${result.reboot.detail}` : ''}`);
    } catch (err) {
      result.result = 'failed';
      result.error = formatError(err);
      if (err instanceof ApplyError) {
        result.report = err.report;
        if (err.report.uncertain) {
          // The Pi may already point at its directory: record it, so a second run completes the job.
          await state
            .updateInventory((inv) => {
              const prev = inv.pis[pp.serial];
              const entry = { ...pp.inventoryEntry, partial: true };
              const backup = err.report.backup ?? prev?.backup;
              if (backup) entry.backup = backup;
              inv.pis[pp.serial] = entry;
            })
            .catch(() => undefined);
        }
      }
      applyProgress.done(p.host, 'failed', formatError(err));
    }
    applied.set(p.host, result);
  });
  applyProgress.stop();
  await release();

  const results = planned.map((p): PiResult => {
    if (!p.plan) return failures(p);
    return applied.get(p.host) ?? { host: p.host, serial: p.plan.serial, dir: p.plan.dir, result: 'up to date', changes: [] };
  });
  return { plan, results };
}

/** Reboot, wait for SSH to come back, report how the Pi booted. */
async function rebootAndWait(
  remote: RemoteHost,
  host: string,
  conn: ConnectOptions,
  timeoutMs: number,
  step: (s: string) => void,
): Promise<NonNullable<PiResult['reboot']>> {
  await remote.exec(['sh', '-c', 'sleep 1; (systemctl reboot || reboot) >/dev/null 2>&1 &'], { sudo: true, reject: false, step: 'rebooting', timeoutMs: 15_000 }).catch(() => undefined);
  await remote.close().catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  // Give the Pi time to go down before the first attempt.
  await new Promise((r) => setTimeout(r, 3000));
  let last: unknown;
  while (Date.now() < deadline) {
    step('waiting for the Pi to come back');
    try {
      const d = await withHost(host, { ...conn, defaultConnectTimeoutMs: 5000 }, (r) => gather(r, host));
      const bp = d.facts.bootPartition.known ? d.facts.bootPartition.value : undefined;
      const bo = d.facts.bootloader.known && d.facts.bootloader.value.bootOrder.ok ? d.facts.bootloader.value.bootOrder.explanation : undefined;
      const mount = bp?.mounted ? `${bp.mountpoint} from ${bp.mounted.source} (${bp.mounted.fstype})` : `${bp?.mountpoint ?? 'boot partition'} not mounted`;
      return { ok: true, detail: `back up; ${mount}; bootloader ${bo ?? 'unknown'}`, ...(bp?.mounted ? { bootMount: `${bp.mounted.source} (${bp.mounted.fstype})` } : {}), ...(bo ? { bootOrder: bo } : {}) };
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  return { ok: false, detail: `did not come back within ${Math.round(timeoutMs / 1000)} s${last ? ` (${formatError(last)})` : ''}` };
}
