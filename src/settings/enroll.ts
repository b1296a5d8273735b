/**
 * Enroll's settings from flags, pinet.yaml and defaults: each value was
 * checked by its own validator (catalog.ts); here only what depends on
 * several of them: --root with --nfs-root or --rbd and the key file, and
 * the hook scripts for the Pi's boot mount points.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { hookScript } from '../host/kernel-hook.js';
import type { EnrollSettings, RootSetting } from '../jobs/enroll/plan.js';
import { parseNfsRootSpec, parseRbdSpec } from '../pi/cmdline.js';
import { parseNfsSource } from '../pi/fstab.js';
import { CONFIG, FLAGS } from './catalog.js';
import { exportDirOf } from './dirs.js';
import type { Settings } from './resolve.js';

const E = CONFIG.enroll;

async function rootSetting(st: Settings): Promise<RootSetting> {
  const kind = st.value(E.root)!;
  if (kind === 'keep') {
    if (st.given(E['nfs-root']) && st.get(E['nfs-root'])!.source.startsWith('--')) throw new UsageError('--nfs-root and --rbd need --root nfs or --root rbd');
    if (st.given(E.rbd) && st.get(E.rbd)!.source.startsWith('--')) throw new UsageError('--nfs-root and --rbd need --root nfs or --root rbd');
    return { kind, explicit: st.given(E.root) };
  }
  if (kind === 'nfs') {
    const spec = st.need(E['nfs-root'], '--root nfs needs --nfs-root <server-ip>:/path', "e.g. --nfs-root 10.86.5.2:/srv/nfsroot/{serial} ({serial} becomes each Pi's directory name)");
    const r = parseNfsRootSpec(spec.value);
    if (!r.ok) throw new UsageError(`${spec.source} ${JSON.stringify(spec.value)}: ${r.error}`, r.hint);
    return { kind, nfs: r.value };
  }
  const spec = st.need(E.rbd, '--root rbd needs --rbd <mons>:<user>:<pool>:<image> and --rbd-key-file <file>');
  const r = parseRbdSpec(spec.value);
  if (!r.ok) throw new UsageError(`${spec.source} ${JSON.stringify(spec.value)}: ${r.error}`, r.hint);
  const keyFile = st.need(E['rbd-key-file'], '--root rbd needs --rbd-key-file <file> holding the Ceph key (kept out of shell history)').value;
  let key: string;
  try {
    const text = (await readFile(keyFile, 'utf8')).trim();
    // Accept a bare key or a Ceph keyring ("key = AQ...==").
    key = /^\s*key\s*=\s*(\S+)/m.exec(text)?.[1] ?? text;
  } catch (err) {
    throw new UsageError(`--rbd-key-file ${keyFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  if (!/^[A-Za-z0-9+/]+=*$/.test(key)) throw new UsageError(`--rbd-key-file ${keyFile}: does not hold a Ceph key (base64, or a keyring with "key = …")`);
  return { kind, rbd: { ...r.value, key } };
}

export async function enrollSettingsOf(st: Settings): Promise<EnrollSettings> {
  const exportDir = exportDirOf(st);
  const nfs = st.need(CONFIG.nfs, 'enroll needs to know how Pis mount the export: pass --nfs <server:/path>', 'e.g. --nfs nfs-host:/picluster-boot (or set "nfs:" in pinet.yaml); pinet does not guess it');
  const source = parseNfsSource(nfs.value);
  if (!source.ok) throw new UsageError(`${nfs.source}: ${source.error}`, 'e.g. --nfs nfs-host:/picluster-boot');
  const settings: EnrollSettings = {
    exportDir,
    nfs: nfs.value,
    nfsSource: source.value,
    force: st.value(FLAGS.force) ?? false,
    root: await rootSetting(st),
    hookScripts: { '/boot/firmware': await hookScript('/boot/firmware'), '/boot': await hookScript('/boot') },
  };
  const bootOrder = st.value(E['boot-order']);
  if (bootOrder !== undefined) settings.bootOrder = bootOrder;
  if (st.given(E['mount-options'])) settings.mountOptions = st.value(E['mount-options'])!;
  return settings;
}
