/**
 * `pinet enroll <host...>`: resolve flags and config into enroll settings,
 * run the plan/confirm/apply pipeline, print the plan, a summary table, or
 * one JSON document.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Ctx } from './index.js';
import { pick, type LoadedConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { concurrencyOf, connectOptions, resolveHosts, type SshFlags } from '../host/session.js';
import { formatPlan, planToJson, type Plan } from '../plan.js';
import { resolveBootOrder } from '../pi/bootorder.js';
import { setNfsRoot, setRbdRoot } from '../pi/cmdline.js';
import { parseNfsSource, setBootNfs } from '../pi/fstab.js';
import { DEFAULT_TFTP_ROOT, validateAbsolutePath } from '../server/dnsmasq.js';
import { checkStateDir, defaultStateDir, StateStore } from '../server/state.js';
import { createProgress } from '../ui/progress.js';
import type { EnrollSettings, RootSetting } from '../enroll/plan.js';
import type { PiResult } from '../enroll/run.js';

export interface EnrollFlags extends SshFlags {
  exportDir?: string;
  nfs?: string;
  stateDir?: string;
  bootOrder?: string;
  mountOptions?: string;
  root?: string;
  nfsRoot?: string;
  rbd?: string;
  rbdKeyFile?: string;
  force?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  reboot?: boolean;
  rebootTimeout?: string;
}

export function resolveExportDir(flag: string | undefined, cfg: LoadedConfig): string {
  const v = pick(flag, '--export-dir', cfg.data['export-dir'], 'export-dir', cfg, DEFAULT_TFTP_ROOT)!;
  return resolve(validateAbsolutePath(v.value, v.source));
}

export function resolveStateDir(flag: string | undefined, cfg: LoadedConfig, exportDir?: string): string {
  const dir = flag !== undefined ? resolve(flag) : (cfg.data['state-dir'] ?? defaultStateDir());
  try {
    return checkStateDir(dir, exportDir);
  } catch (err) {
    throw new UsageError((err as Error).message, 'choose another --state-dir');
  }
}

async function resolveRoot(flags: EnrollFlags, cfg: LoadedConfig): Promise<RootSetting> {
  const e = cfg.data.enroll ?? {};
  const kind = flags.root ?? e.root ?? 'keep';
  if (kind !== 'keep' && kind !== 'nfs' && kind !== 'rbd') throw new UsageError(`--root ${JSON.stringify(kind)}: expected keep, nfs or rbd`);
  if (kind === 'keep') {
    if (flags.nfsRoot || flags.rbd) throw new UsageError('--nfs-root and --rbd need --root nfs or --root rbd');
    return { kind, explicit: (flags.root ?? e.root) !== undefined };
  }
  if (kind === 'nfs') {
    const v = flags.nfsRoot ?? e['nfs-root'];
    if (!v) throw new UsageError('--root nfs needs --nfs-root <server-ip>:/path', 'e.g. --nfs-root 10.86.5.2:/srv/nfsroot/{serial} ({serial} becomes each Pi\'s directory name)');
    const m = /^([^:]+):(\/.*)$/.exec(v);
    if (!m) throw new UsageError(`--nfs-root ${JSON.stringify(v)}: expected <server-ip>:/path`);
    const probe = setNfsRoot([], m[1]!, m[2]!.split('{serial}').join('bf9fed6f'));
    if (!probe.ok) throw new UsageError(`--nfs-root ${JSON.stringify(v)}: ${probe.error}`, probe.hint);
    return { kind, nfs: { server: m[1]!, path: m[2]! } };
  }
  const spec = flags.rbd ?? e.rbd;
  if (!spec) throw new UsageError('--root rbd needs --rbd <mons>:<user>:<pool>:<image> and --rbd-key-file <file>');
  const parts = spec.split(':');
  if (parts.length !== 4 || parts.some((p) => p === '')) throw new UsageError(`--rbd ${JSON.stringify(spec)}: expected <mons>:<user>:<pool>:<image> (mons comma-separated)`);
  const keyFile = flags.rbdKeyFile ?? e['rbd-key-file'];
  if (!keyFile) throw new UsageError('--root rbd needs --rbd-key-file <file> holding the Ceph key (kept out of shell history)');
  let key: string;
  try {
    const text = (await readFile(keyFile, 'utf8')).trim();
    // Accept a bare key or a Ceph keyring ("key = AQ...==").
    key = /^\s*key\s*=\s*(\S+)/m.exec(text)?.[1] ?? text;
  } catch (err) {
    throw new UsageError(`--rbd-key-file ${keyFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const [mons, user, pool, image] = parts as [string, string, string, string];
  const rbd = { mons: mons.split(','), user, pool, image, key };
  const probe = setRbdRoot([], { ...rbd, image: image.split('{serial}').join('bf9fed6f') });
  if (!probe.ok) throw new UsageError(`--rbd: ${probe.error}`, probe.hint);
  return { kind, rbd };
}

export async function resolveSettings(flags: EnrollFlags, cfg: LoadedConfig): Promise<EnrollSettings> {
  const exportDir = resolveExportDir(flags.exportDir, cfg);
  const nfsPick = pick(flags.nfs, '--nfs', cfg.data.nfs, 'nfs', cfg);
  if (!nfsPick) {
    throw new UsageError('enroll needs to know how Pis mount the export: pass --nfs <server:/path>', 'e.g. --nfs nfs-host:/picluster-boot (or set "nfs:" in pinet.yaml); pinet does not guess it');
  }
  const nfs = parseNfsSource(nfsPick.value);
  if (!nfs.ok) throw new UsageError(`${nfsPick.source}: ${nfs.error}`, 'e.g. --nfs nfs-host:/picluster-boot');
  const e = cfg.data.enroll ?? {};
  const bootOrder = flags.bootOrder ?? e['boot-order'];
  if (bootOrder !== undefined) {
    const r = resolveBootOrder(bootOrder);
    if (!r.ok) throw new UsageError(`--boot-order ${JSON.stringify(bootOrder)}: ${r.error}`, r.hint ?? 'use a hex order like 0xf241 or a preset: sd-usb-net, net-first, sd-net, net-usb-sd');
  }
  const mountOptions = flags.mountOptions ?? e['mount-options'];
  if (mountOptions !== undefined) {
    const probe = setBootNfs('LABEL=system-boot /boot/firmware vfat defaults 0 1\n', { nfs: nfsPick.value, dir: 'bf9fed6f', options: mountOptions });
    if (!probe.ok) throw new UsageError(`--mount-options: ${probe.error}`, probe.hint);
  }
  const { hookScript } = await import('../enroll/hook.js');
  const settings: EnrollSettings = {
    exportDir,
    nfs: nfsPick.value,
    nfsSource: nfs.value,
    force: flags.force ?? false,
    root: await resolveRoot(flags, cfg),
    hookScripts: { '/boot/firmware': await hookScript('/boot/firmware'), '/boot': await hookScript('/boot') },
  };
  if (bootOrder !== undefined) settings.bootOrder = bootOrder;
  if (mountOptions !== undefined) settings.mountOptions = mountOptions;
  return settings;
}

export function summaryTable(results: PiResult[]): string {
  const rows = results.map((r) => [r.host, r.serial ?? '-', r.result, r.error ?? (r.changes.length ? `${r.changes.length} change(s)${r.reboot ? `; ${r.reboot.detail}` : ''}` : 'nothing to change')]);
  const head = ['PI', 'SERIAL', 'RESULT', 'DETAIL'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c)).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

export async function run(args: string[], flags: EnrollFlags, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const cfg = await ctx.config();
  const hosts = await resolveHosts(args, flags, cfg);
  if (hosts.length === 0) throw new UsageError('no host given', 'name one or more Pis (pinet enroll pi-07), use --hosts-file, or list a fleet in pinet.yaml');
  const settings = await resolveSettings(flags, cfg);
  const stateDir = resolveStateDir(flags.stateDir, cfg, settings.exportDir);
  const conn = connectOptions(flags, cfg, (m) => out.warn(m));
  const rebootTimeout = flags.rebootTimeout === undefined ? 300 : Number(flags.rebootTimeout);
  if (!Number.isInteger(rebootTimeout) || rebootTimeout < 10) throw new UsageError(`--reboot-timeout ${JSON.stringify(flags.rebootTimeout)}: expected whole seconds, at least 10`);
  if (flags.reboot && flags.dryRun) out.warn('--dry-run: no Pi is rebooted');

  const { enrollMany } = await import('../enroll/run.js');
  const { colorDiff } = await import('../util/diff.js');
  const live = out.stderr.isTTY === true;
  const { plan, results } = await enrollMany(hosts, settings, conn, new StateStore(stateDir), {
    concurrency: concurrencyOf(flags, cfg),
    dryRun: flags.dryRun ?? false,
    reboot: flags.reboot ?? false,
    rebootTimeoutMs: rebootTimeout * 1000,
    progress: (names) => createProgress(out.stderr, names, { live, color: out.ce }),
    showPlan: (p: Plan) => {
      if (p.targets.length === 0) return;
      const text = formatPlan(p, out.c, (d) => colorDiff(d, out.c));
      if (out.json) return;
      out.print(text);
    },
    confirm: async (_p, changing) => {
      if (flags.yes) return true;
      if (process.stdin.isTTY && out.stderr.isTTY && !out.json) {
        const { confirm } = await import('../ui/prompt.js');
        return confirm(`Apply these changes to ${changing} Pi${changing === 1 ? '' : 's'}?`);
      }
      throw new UsageError(`refusing to change ${changing} Pi${changing === 1 ? '' : 's'} without confirmation`, 'review the plan with --dry-run, then pass --yes');
    },
  });

  const failed = results.filter((r) => r.result === 'failed' || r.result === 'refused');
  out.emitJson({ dryRun: flags.dryRun ?? false, plan: planToJson(plan), results });
  if (!out.json) {
    if (flags.dryRun) out.info(`dry run: nothing was changed (${results.filter((r) => r.result === 'planned').length} Pi(s) would change)`);
    else if (results.every((r) => r.result === 'up to date')) out.info('up to date: nothing to change');
    if (results.length > 1 || failed.length > 0 || !flags.dryRun) out.print(`\n${summaryTable(results)}`);
  }
  return failed.length > 0 ? 1 : 0;
}
