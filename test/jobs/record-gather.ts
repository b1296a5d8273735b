/**
 * Records the Pi fixtures of test/jobs (test/fixtures/gather/): the real
 * scripts/remote/gather.sh run on real fake Pis (test/fleet) through
 * pinet's own SSH layer, exactly as src/host/detect.ts runs it, saved raw
 * (the framed bytes and the random marker) so fixtures.ts parses them with
 * the same code pinet uses.
 *
 * Recorded: one Pi per fleet variant as root; the Bookworm Pi also as `pi`
 * (passwordless sudo) and as `locked` (sudo asks a password); an Ubuntu Pi
 * after `pinet enroll` (pinet's fstab line, hooks, a pending bootloader
 * update) and again after its reboot (boot partition from the export, new
 * BOOT_ORDER active); a Bookworm Pi enrolled with `--root nfs`. For each
 * also boot-state.sh's output (doctor reads it), and for the enrolled ones
 * what the boot server holds: the inventory entry, the backups, the export
 * view doctor reads, the export's listing and cmdline.txt (`<name>.json`,
 * with the temporary export and state paths replaced by the constants in
 * fixtures.ts).
 *
 * Needs root (the fleet uses namespaces). Rerunnable; it rebuilds dist/
 * first, since it runs the pinet CLI:
 *
 *   node --import tsx test/jobs/record-gather.ts
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interpretSections } from '../../src/host/detect.js';
import { HOOK_PATHS, PI_BACKUP_DIR } from '../../src/host/pi-layout.js';
import { readExportView } from '../../src/jobs/doctor/pi-checks.js';
import { connect, type RemoteHost } from '../../src/remote/index.js';
import { runScript, type ScriptName } from '../../src/remote/script.js';
import { listTree } from '../../src/server/export.js';
import { pinet } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { EXPORT_DIR, NFS, NFS_ROOT, STATE_DIR, type ServerSide } from './fixtures.js';

const OUT = fileURLToPath(new URL('../fixtures/gather/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VARIANTS = ['ubuntu-2404-pi4', 'rpios-bookworm-pi4', 'rpios-bullseye-pi4', 'cm4', 'no-boot-order', 'pi5', 'pi3'] as const;

/** A RemoteHost that keeps what its scripts printed (stdout bytes and marker), and otherwise is the real one. */
function recording(remote: RemoteHost): { remote: RemoteHost; last: () => { out: Buffer; marker: string } } {
  let last: { out: Buffer; marker: string } | undefined;
  const proxy = new Proxy(remote, {
    get(target, prop, receiver) {
      if (prop === 'execScript') {
        return async (script: string, args: readonly string[], opts: Parameters<RemoteHost['execScript']>[2]) => {
          const r = await target.execScript(script, args, { ...opts, encoding: 'buffer' });
          last = { out: r.stdout, marker: args[0]! };
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { remote: proxy, last: () => last ?? (() => { throw new Error('no script ran'); })() };
}

async function save(name: string, out: Buffer, marker: string): Promise<void> {
  await writeFile(join(OUT, `${name}.out`), out);
  await writeFile(join(OUT, `${name}.marker`), `${marker}\n`);
}

/** Runs `script` as detect / doctor do and saves its raw output under `name`. */
async function record(remote: RemoteHost, script: ScriptName, name: string, args: string[]): Promise<Map<string, string>> {
  const rec = recording(remote);
  const r = await runScript(rec.remote, script, args, { step: `recording ${script}`, timeoutMs: 60_000 });
  const { out, marker } = rec.last();
  await save(name, out, marker);
  return new Map([...r.sections].map(([k, v]) => [k, v.toString('utf8')]));
}

async function recordPi(fleet: Fleet, dest: string, name: string, withBootState = true): Promise<Map<string, string>> {
  const remote = await connect(dest, { configFile: fleet.sshConfig });
  try {
    const sections = await record(remote, 'gather', name, [PI_BACKUP_DIR, '', '', ...HOOK_PATHS]);
    if (withBootState) await record(remote, 'boot-state', `${name}.boot-state`, []);
    process.stdout.write(`recorded ${name}\n`);
    return sections;
  } finally {
    await remote.close();
  }
}

/** What the boot server holds for an enrolled Pi, with the temporary paths replaced by fixtures.ts's constants. */
async function recordServer(name: string, sections: Map<string, string>, exportDir: string, stateDir: string): Promise<void> {
  const d = interpretSections(name, name, sections);
  const inventory = JSON.parse(await readFile(join(stateDir, 'inventory.json'), 'utf8')) as { pis: Record<string, { backup?: { local: string }; dir: string }> };
  const serial = d.facts.serial.known ? d.facts.serial.value.full : '';
  const entry = inventory.pis[serial];
  if (!entry) throw new Error(`${name}: serial ${serial} is not in the inventory`);
  const read = (p: string) => readFile(p, 'utf8').catch(() => undefined);
  const backupDir = entry.backup!.local;
  const [fstab, bootloader, cmdline, exportCmdline] = await Promise.all([
    read(join(backupDir, 'fstab')),
    read(join(backupDir, 'bootloader.conf')),
    read(join(backupDir, 'cmdline.txt')),
    read(join(exportDir, entry.dir, 'cmdline.txt')),
  ]);
  const view = await readExportView(exportDir, d, undefined);
  const server: ServerSide = {
    entry: entry as unknown as ServerSide['entry'],
    backups: { ...(fstab !== undefined && { fstab }), ...(bootloader !== undefined && { bootloader }), ...(cmdline !== undefined && { cmdline }) },
    exportListing: [...(await listTree(join(exportDir, entry.dir)))],
    view: { listing: [...view.listing], withStart4: view.withStart4, ...(view.dirId ? { dirId: view.dirId } : {}) },
    ...(exportCmdline !== undefined && { exportCmdline }),
  };
  // Listings one entry a line, the rest indented.
  const listings = new Map<string, string>();
  const compact = (key: string, rows: [string, unknown][]) => {
    const token = `@@${key}@@`;
    listings.set(`"${token}"`, `[\n${rows.map((r) => `    ${JSON.stringify(r)}`).join(',\n')}\n  ]`);
    return token;
  };
  const shown = { ...server, exportListing: compact('export', server.exportListing), view: { ...server.view, listing: compact('view', server.view.listing) } };
  let text = JSON.stringify(shown, null, 2);
  for (const [token, rows] of listings) text = text.replace(token, rows);
  text = text.split(exportDir).join(EXPORT_DIR).split(stateDir).join(STATE_DIR);
  await writeFile(join(OUT, `${name}.json`), `${text}\n`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('record-gather needs root (the fake fleet uses namespaces)');
  await execa('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  await mkdir(OUT, { recursive: true });
  const exportDir = await mkdtemp(join(tmpdir(), 'pinet-record-export-'));
  const stateDir = await mkdtemp(join(tmpdir(), 'pinet-record-state-'));
  await chmod(exportDir, 0o755);
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({
      pis: [...VARIANTS.map((v) => ({ name: v, variant: v })), { name: 'nfsroot', variant: 'rpios-bookworm-pi4' as const }],
      bootFilesMB: 1,
      exports: { [NFS]: exportDir },
    });
    for (const v of VARIANTS) await recordPi(fleet, v, v);
    await recordPi(fleet, 'pi@rpios-bookworm-pi4', 'rpios-bookworm-pi4.as-pi', false);
    await recordPi(fleet, 'locked@rpios-bookworm-pi4', 'rpios-bookworm-pi4.as-locked', false);

    const enroll = async (host: string, extra: string[]) => {
      const r = await pinet(['enroll', '-F', fleet!.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, host, '--yes', ...extra]);
      if (r.code !== 0) throw new Error(`pinet enroll ${host} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    };
    // enrolled: pinet's fstab line, hooks, a pending bootloader update; then the same Pi after its reboot
    await enroll('ubuntu-2404-pi4', []);
    const enrolled = await recordPi(fleet, 'ubuntu-2404-pi4', 'ubuntu-2404-pi4.enrolled');
    await recordServer('ubuntu-2404-pi4.enrolled', enrolled, exportDir, stateDir);
    await fleet.pi('ubuntu-2404-pi4').reboot();
    const rebooted = await recordPi(fleet, 'ubuntu-2404-pi4', 'ubuntu-2404-pi4.rebooted');
    await recordServer('ubuntu-2404-pi4.rebooted', rebooted, exportDir, stateDir);
    // enrolled with --root nfs: the export's cmdline.txt mounts the root over NFS
    await enroll('nfsroot', ['--root', 'nfs', '--nfs-root', NFS_ROOT]);
    const nfsroot = await recordPi(fleet, 'nfsroot', 'rpios-bookworm-pi4.nfsroot');
    await recordServer('rpios-bookworm-pi4.nfsroot', nfsroot, exportDir, stateDir);
  } finally {
    await fleet?.stop();
    await rm(exportDir, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
