/**
 * Bad input and faults for `pinet enroll`: each gets a clear error and
 * leaves nothing half-done; a second run completes the job.
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pinet, PINET } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { until } from '../fleet/wait.js';
import { piSnapshot, treeSnapshot } from './helpers.js';

const NFS = 'nfs-host:/picluster-boot';
const noBootLine = (t: string) => t.split('\n').filter((l) => !/\s\/boot\/firmware\s/.test(l)).join('\n');

describeAsRoot('pinet enroll: bad input and faults', () => {
  let fleet: Fleet;
  let exportDir: string;
  let stateDir: string;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'pinet-faults-'));
    exportDir = join(scratch, 'export');
    await mkdir(exportDir);
    await chmod(scratch, 0o755);
    stateDir = join(scratch, 'state');
    fleet = await startFleet({
      pis: [
        { name: 'pi3', variant: 'pi3' },
        { name: 'cm4', variant: 'cm4' },
        { name: 'ok', variant: 'ubuntu-2404-pi4' },
        {
          name: 'noserial',
          variant: 'ubuntu-2404-pi4',
          files: {
            '/proc/cpuinfo': (t: string) => t.replace(/^Serial.*\n/m, ''),
            '/sys/firmware/devicetree/base/serial-number': null,
            '/usr/local/bin/vcgencmd': { content: '#!/bin/sh\n[ "$1" = otp_dump ] && { echo "error: otp_dump failed" >&2; exit 1; }\nexec /usr/bin/vcgencmd "$@"\n', mode: 0o755 },
          },
        },
        { name: 'nobootline', variant: 'rpios-bookworm-pi4', files: { '/etc/fstab': noBootLine } },
        { name: 'copycut', variant: 'ubuntu-2404-pi4' },
        { name: 'fstabcut', variant: 'rpios-bookworm-pi4' },
        { name: 'twice', variant: 'ubuntu-2404-pi4' },
        { name: 'foreign', variant: 'ubuntu-2404-pi4' },
      ],
      bootFilesMB: 2,
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const args = (extra: string[]) => ['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, '--yes', ...extra];
  const enroll = (extra: string[]) => pinet(args(extra));

  it('refuses boards, users and Pis it cannot enroll, with the reason, changing nothing', async () => {
    const before = await Promise.all(['pi3', 'cm4', 'noserial', 'nobootline'].map((n) => piSnapshot(fleet.pi(n))));
    const r = await enroll(['pi3', 'cm4', 'locked@ok', 'noserial', 'nobootline']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/pi3 .*refused .*Pi 3B cannot network boot from its bootloader EEPROM/);
    expect(r.stdout).toMatch(/cm4 .*refused .*rpi-eeprom-update is disabled.*rpiboot.*CM4_ENABLE_RPI_EEPROM_UPDATE=1/);
    expect(r.stdout).toMatch(/locked@ok .*refused .*needs a password for sudo.*passwordless sudo/);
    expect(r.stdout).toMatch(/noserial .*refused .*cannot read the serial number/);
    expect(r.stdout).toMatch(/nobootline .*refused .*\/etc\/fstab: /);
    expect(await Promise.all(['pi3', 'cm4', 'noserial', 'nobootline'].map((n) => piSnapshot(fleet.pi(n))))).toEqual(before);
    expect(await readdir(exportDir)).toEqual([]);
  });

  it('refuses bad values with exit 2 before touching any Pi', async () => {
    const before = await piSnapshot(fleet.pi('ok'));
    const bad: [string[], RegExp][] = [
      [['--nfs', 'nfs-host-picluster'], /--nfs/],
      [['--nfs', 'nfs-host:/a b'], /not server:\/path/],
      [['--nfs', 'nfs-host:/$(id)'], /not server:\/path/],
      [['--boot-order', '0xzz'], /--boot-order/],
      [['--boot-order', 'f241'], /0x/],
      [['--mount-options', 'defaults;reboot'], /mount options/],
      [['--export-dir', 'relative/dir'], /absolute/],
      [['--export-dir', '/tmp/x\ny'], /control characters/],
      [['--state-dir', join(exportDir, '.pinet')], /TFTP serves to anyone/],
      [['--root', 'nfs'], /--nfs-root/],
      [['--root', 'nfs', '--nfs-root', 'nfs-host:/srv/root'], /IPv4/],
      [['--root', 'rbd', '--rbd', 'mon1:admin:rbd'], /--rbd/],
    ];
    for (const [extra, msg] of bad) {
      const r = await pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, 'ok', ...extra]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr, extra.join(' ')).toMatch(msg);
      expect(r.stderr.trim().split('\n'), extra.join(' ')).toHaveLength(1);
    }
    expect((await pinet(['enroll', '-F', fleet.sshConfig, '--export-dir', exportDir, 'ok'])).stderr).toMatch(/--nfs/);
    expect((await enroll(['ok; reboot'])).code).toBe(2);
    expect(await piSnapshot(fleet.pi('ok'))).toBe(before);
  });

  it('refuses an order without a local fallback unless --force, saying how to recover', async () => {
    const r = await enroll(['ok', '--boot-order', 'net-only', '--dry-run']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/refusing BOOT_ORDER 0xf2.*(recovery|rpiboot)/i);
    const forced = await enroll(['ok', '--boot-order', 'net-only', '--dry-run', '--force']);
    expect(forced.code).toBe(0);
  });

  it('refuses a directory in the export that pinet did not create for this Pi, unless --force', async () => {
    const pi = fleet.pi('foreign');
    await mkdir(join(exportDir, pi.serial8));
    await writeFile(join(exportDir, pi.serial8, 'mine.txt'), 'someone else\n');
    const r = await enroll(['foreign']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/already exists and was not created by pinet for this Pi.*--force/);
    const forced = await enroll(['foreign', '--force']);
    expect(forced.code, forced.stdout).toBe(0);
  });

  it('refuses a read-only or full export before changing anything', async () => {
    const before = await piSnapshot(fleet.pi('ok'));
    const run = (setup: string) =>
      execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${setup} && exec "$@"`, 'sh', process.execPath, PINET, ...args(['ok'])], {
        reject: false,
        env: { NO_COLOR: '1' },
      });
    const ro = await run(`mount --bind ${exportDir} ${exportDir} && mount -o remount,bind,ro ${exportDir}`);
    expect(ro.exitCode).not.toBe(0);
    expect(ro.stderr).toMatch(/not writable \(read-only file system\)/);
    const full = await run(`mount -t tmpfs -o size=256k,mode=755 pinet-full ${exportDir}`);
    expect(full.exitCode).toBe(1);
    expect(full.stderr).toMatch(/has .* free, the boot files need/);
    expect(await piSnapshot(fleet.pi('ok'))).toBe(before);
  });

  it('a connection cut in the middle of the copy leaves the Pi and the export as they were; a second run completes', async () => {
    const pi = fleet.pi('copycut');
    const before = await piSnapshot(pi);
    await pi.throttle(200_000);
    const child = execa(process.execPath, [PINET, ...args(['copycut'])], { reject: false, env: { NO_COLOR: '1' } });
    let progress = '';
    child.stderr?.on('data', (d: Buffer) => (progress += d.toString()));
    await until('the copy to start', () => progress.includes('copying'));
    // Cut in the middle: once part of the 2 MB has landed in the export (the content store it is sent into).
    await until('256 kB copied', async () => (await stagedBytes(exportDir, pi.serial8)) >= 256 * 1024);
    await pi.cutConnections('reset');
    const r = await child;
    await pi.throttle(null);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/copycut .*failed .*(connection|lost|closed)/i);
    expect(await piSnapshot(pi)).toBe(before);
    expect((await readdir(exportDir)).filter((n) => n.includes(pi.serial8))).toEqual([]); // no partial copy, no staging dir
    expect((await readdir(exportDir)).filter((n) => n.startsWith('.pinet-store-'))).toEqual([]); // no content store left
    const again = await enroll(['copycut']);
    expect(again.code, again.stdout).toBe(0);
    expect((await enroll(['copycut'])).stderr).toMatch(/up to date/);
  });

  it('a connection cut while /etc/fstab is being written leaves it old or new, never partial; a second run completes', async () => {
    const pi = fleet.pi('fstabcut');
    const original = await pi.readText('/etc/fstab');
    // A slow `sync` holds the script between writing the temporary file and renaming it.
    await pi.writeFile('/usr/local/bin/sync', '#!/bin/sh\nsleep 3\nexec /bin/sync "$@"\n', 0o755);
    const child = execa(process.execPath, [PINET, ...args(['fstabcut'])], { reject: false, env: { NO_COLOR: '1' } });
    await until('the fstab write', async () => (await pi.sh('ls -a /etc | grep -c "^\\.fstab\\.pinet\\." || true')).trim() !== '0');
    await pi.cutConnections('reset');
    const r = await child;
    expect(r.exitCode).toBe(1);
    // The script on the Pi ends (its lock directory goes last), whether the cut stopped it or not.
    await until('the script on the Pi to end', async () => (await pi.sh('[ -e /var/lib/pinet/.lock ] && echo busy || echo idle')).trim() === 'idle', 60_000);
    await pi.sh('rm -f /usr/local/bin/sync');
    const fstab = await pi.readText('/etc/fstab');
    const expected = original.replace(/^(PARTUUID=\S+\s+\/boot\/firmware\s.*)$/m, `# pinet: replaced: $1\n${NFS}/${pi.serial8} /boot/firmware nfs defaults,timeo=900,_netdev 0 0`);
    expect([original, expected]).toContain(fstab);
    expect(await pi.sh('ls -a /etc | grep "^\\.fstab\\.pinet" || true')).toBe('');
    const again = await enroll(['fstabcut']);
    expect(again.code, again.stdout).toBe(0);
    expect(await pi.readText('/etc/fstab')).toBe(expected);
    expect(await pi.pendingEepromConfig()).toMatch(/^BOOT_ORDER=0xf241$/m);
    expect((await enroll(['fstabcut'])).stderr).toMatch(/up to date/);
  });

  it('two enrolls of the same Pi at once: one refuses, nothing is corrupted', async () => {
    const pi = fleet.pi('twice');
    const [a, b] = await Promise.all([enroll(['twice']), enroll(['twice'])]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect(`${a.stdout}${b.stdout}`).toMatch(/locked by another pinet run/);
    const inv = JSON.parse(await readFile(join(stateDir, 'inventory.json'), 'utf8')) as { pis: Record<string, { dir: string }> };
    expect(inv.pis[pi.serial]?.dir).toBe(pi.serial8);
    expect((await pi.readText('/etc/fstab')).match(/# pinet: replaced:/g)).toHaveLength(1);
    expect((await enroll(['twice'])).stderr).toMatch(/up to date/);
    expect(await treeSnapshot(join(exportDir, pi.serial8))).not.toBe('');
  });
});

/**
 * Bytes of the files in the export's staging directories for `dir` and in
 * the content store that a run's Pis send their files into (a copy in
 * progress: over the network into the store, then into the staging
 * directory from there).
 */
async function stagedBytes(exportDir: string, dir: string): Promise<number> {
  let bytes = 0;
  for (const n of (await readdir(exportDir)).filter((x) => x.startsWith(`.${dir}.pinet-`) || x.startsWith('.pinet-store-'))) {
    for (const f of await readdir(join(exportDir, n), { recursive: true }).catch(() => [] as string[])) {
      const st = await stat(join(exportDir, n, f)).catch(() => undefined);
      if (st?.isFile()) bytes += st.size;
    }
  }
  return bytes;
}
