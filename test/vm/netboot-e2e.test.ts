/**
 * End to end on real kernels (test/vm, root only): VM Pis running a real
 * Debian kernel are enrolled by the pinet CLI over SSH, then powered on
 * through the Pi 4 bootloader emulator against the real dnsmasq (config by
 * `pinet render-dnsmasq`), with the export and the NFS roots served by the
 * real NFS-Ganesha. What is checked is what a user checks: findmnt and
 * /proc/cmdline inside the booted VM, what the TFTP server answered, the
 * owner and mode the NFS server stored, uname -r after a kernel update, and
 * what `pinet doctor` says about it.
 *
 * One lab for the file; four Pis boot in parallel:
 *   pi-net     --boot-order net-first, root on its SD card; export not squashed, pinet's hook
 *   pi-nfsroot --root nfs; powered on with no disk at all
 *   pi-allsq   net-first; the export squashes all its access to the TFTP server's uid:gid; hook removed
 *   pi-rootsq  net-first; the export squashes its root to nobody; pinet's hook
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { idsOf } from '../../src/server/dnsmasq-proc.js';
import { describeAsRoot } from '../helpers/env.js';
import { PINET, VmLab, waitFor } from './lab.js';
import { execa } from 'execa';
import { pinetIn } from './pinet-cli.js';
import { checksAbout, doctor, makeNfsRoot, ownerOf, tftpRequest } from './scenario.js';
import { VmPi } from './vm-pi.js';

const BOOT_MS = 420_000;
/** beforeAll: on a fresh machine it builds the image first (about 2-5 minutes here). */
const IMAGE_AND_BOOT_MS = 1_200_000;
/**
 * dnsmasq's TFTP identity: the boot server's dnsmasq is started by hand
 * with pinet's config (no user=), so it drops root to its compiled-in user
 * and group (Debian: nobody:dip, where the service passes -u dnsmasq).
 * Read from the running process once it runs, as pinet reads it.
 */
let TFTP_USER = { uid: -1, gid: -1 };
const NOBODY = { uid: 65534, gid: 65534 };

describeAsRoot('VM lab: real kernels netboot what pinet enrolled', () => {
  let lab: VmLab;
  let base: string;
  let exportDir: string;
  let rootsDir: string;
  let stateDir: string;
  const pi: Record<'net' | 'nfsroot' | 'allsq' | 'rootsq', VmPi> = {} as never;
  let failed = false;

  const enroll = (hosts: string[], args: string[]) =>
    pinetIn(null, ['enroll', '-F', lab.sshConfig, '--nfs', `${lab.nfsIp}:/picluster-boot`, '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', lab.bootDnsmasq!.confFile, '--yes', ...args, ...hosts], { timeoutMs: 600_000 });

  beforeAll(async () => {
    try {
      base = await mkdtemp('/var/tmp/pinet-vm-e2e-');
      await chmod(base, 0o755); // the TFTP server (user dnsmasq) must reach the export below it
      exportDir = join(base, 'export');
      rootsDir = join(base, 'roots');
      stateDir = join(base, 'state');
      for (const d of [exportDir, rootsDir, stateDir]) await mkdir(d, { recursive: true });
      lab = await VmLab.start({ name: 'e2e', log: (l) => process.stderr.write(`${l}\n`) });
      pi.net = await VmPi.create(lab, lab.nextIndex(), { name: 'pi-net' });
      // A Pi whose EEPROM already tries NETWORK after the SD card (the user set it earlier):
      // the card can come out without another reboot first.
      pi.nfsroot = await VmPi.create(lab, lab.nextIndex(), { name: 'pi-nfsroot', bootloaderConfig: '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf21\n' });
      pi.allsq = await VmPi.create(lab, lab.nextIndex(), { name: 'pi-allsq' });
      pi.rootsq = await VmPi.create(lab, lab.nextIndex(), { name: 'pi-rootsq' });
      const rootDir = join(rootsDir, pi.nfsroot.serial8);
      await mkdir(rootDir);
      await lab.startBootServer({ tftpRoot: exportDir });
      TFTP_USER = idsOf(await readFile(`/proc/${lab.bootDnsmasq!.pid}/status`, 'utf8'))!;
      expect(TFTP_USER.uid).toBeGreaterThan(0);
      await lab.startGanesha([
        {
          path: exportDir,
          pseudo: '/picluster-boot',
          squash: 'none',
          perClient: [
            { client: pi.allsq.ip, squash: 'all', anonUid: TFTP_USER.uid, anonGid: TFTP_USER.gid },
            { client: pi.rootsq.ip, squash: 'root', anonUid: NOBODY.uid, anonGid: NOBODY.gid },
          ],
        },
        { path: rootDir, pseudo: `/roots/${pi.nfsroot.serial8}`, squash: 'none' },
      ]);
      const all = Object.values(pi);
      await Promise.all(all.map((p) => p.powerOn()));
      await Promise.all(all.map((p) => p.vm.waitForSsh(BOOT_MS)));
    } catch (err) {
      failed = true;
      throw err;
    }
  }, IMAGE_AND_BOOT_MS);

  afterAll(async () => {
    if (lab) {
      if (failed) lab.keepDir();
      await lab.stop();
    }
    if (base && !failed) await rm(base, { recursive: true, force: true });
  }, 120_000);

  const track = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed = true;
      throw err;
    });

  test('enroll: pinet copies each running VM Pi\'s boot partition into the export and stages its bootloader change', async () => {
    await track((async () => {
      // The export squashes pi-allsq and pi-rootsq (per-client rules): enroll is told, so their files
      // belong to the identity they write as (--squash; pinet server setup records it instead).
      const runs = await Promise.all([
        enroll([pi.net.name], ['--boot-order', 'net-first']),
        enroll([pi.allsq.name], ['--boot-order', 'net-first', '--squash', 'tftp-user']),
        enroll([pi.rootsq.name], ['--boot-order', 'net-first', '--squash', 'root']),
        enroll([pi.nfsroot.name], ['--root', 'nfs', '--nfs-root', `${lab.nfsIp}:/roots/{serial}`]),
      ]);
      for (const r of runs) expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await ownerOf(join(exportDir, pi.allsq.serial8, 'vmlinuz'))).toMatchObject({ uid: TFTP_USER.uid, gid: TFTP_USER.gid });
      expect(await ownerOf(join(exportDir, pi.rootsq.serial8, 'vmlinuz'))).toMatchObject(NOBODY);
      for (const p of Object.values(pi)) {
        expect(await ownerOf(join(exportDir, p.serial8, 'vmlinuz'))).toMatchObject({ mode: '0644' });
        expect(await p.run('cat /etc/fstab')).toContain(`${lab.nfsIp}:/picluster-boot/${p.serial8} /boot/firmware nfs`);
      }
      expect(await pi.net.run('rpi-eeprom-config')).toContain('BOOT_ORDER=0xf41');
      expect(await pi.net.run('ls /boot/firmware')).toMatch(/pieeprom\.upd/);
    })());
  }, 700_000);

  /** `pinet watch --json` following the boot server's log through the power cycles (inside the LAN, so its SSH check reaches the Pis). */
  const watchEvents: Array<{ type: string; pi?: { name: string; dir?: string }; stage?: string; seconds?: number; from?: string }> = [];

  test('power cycles: the net-first Pis reboot; pi-nfsroot gets its NFS root, loses its SD card and is powered on (in parallel)', async () => {
    await track((async () => {
      const argv = lab.inLan([process.execPath, PINET, 'watch', '--json', '--log', lab.bootDnsmasq!.logFile, '--dnsmasq-conf', lab.bootDnsmasq!.confFile, '--export-dir', exportDir, '--state-dir', stateDir]);
      const watch = execa(argv[0]!, argv.slice(1), { reject: false, env: { NO_COLOR: '1' } });
      let buf = '';
      watch.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) watchEvents.push(JSON.parse(line) as (typeof watchEvents)[number]);
        }
      });
      const p = pi.nfsroot;
      try {
        await Promise.all([
        ...[pi.net, pi.allsq, pi.rootsq].map((q) => q.reboot(BOOT_MS)),
        (async () => {
          await makeNfsRoot(lab, p, join(rootsDir, p.serial8));
          await p.powerOff();
          p.sdAttached = false;
          await p.powerOn();
          await p.waitForBoot({ after: p.vm.boots.length - 1, timeoutMs: BOOT_MS });
        })(),
        ]);
        // watch marks each Pi booted once its SSH port answers after its boot files.
        const names = Object.values(pi).map((q) => q.name);
        const booted = () => new Set(watchEvents.filter((e) => e.type === 'booted').map((e) => e.pi?.name));
        await waitFor('pinet watch to see every Pi booted', () => names.every((n) => booted().has(n)), 120_000, 500).catch(() => undefined);
      } finally {
        watch.kill('SIGINT');
        await watch;
      }
    })());
  }, BOOT_MS + 240_000);

  test('pinet watch followed the real log live: every Pi booted from its directory, named from the inventory', () => {
    for (const q of Object.values(pi)) {
      const ev = watchEvents.find((e) => e.type === 'booted' && e.pi?.name === q.name);
      expect(ev, `${q.name}: ${JSON.stringify(watchEvents.filter((e) => e.pi?.name === q.name).slice(-3))}`).toBeDefined();
      expect(ev!.from).toBe(`${exportDir}/${q.serial8}`);
      expect(ev!.pi!.dir).toBe(q.serial8);
      // Its stages in order, DHCP through the kernel.
      const stages = watchEvents.filter((e) => e.type === 'stage' && e.pi?.name === q.name).map((e) => e.stage);
      expect(stages).toEqual(expect.arrayContaining(['firmware', 'kernel', 'loaded']));
    }
    expect(watchEvents.at(-1)?.type).toBe('summary');
  });

  test('--boot-order net-first: the kernel came over TFTP, the root from the SD card, /boot/firmware over NFS', async () => {
    await track((async () => {
      const cmdline = (await readFile(join(exportDir, pi.net.serial8, 'cmdline.txt'), 'utf8')).trim();
      // The bootloader flashed the staged update from the SD card, then tried NETWORK first.
      expect(pi.net.eeprom.config).toContain('BOOT_ORDER=0xf412');
      const boot = pi.net.lastBootResult!;
      expect(boot.outcome).toBe('booted');
      expect(boot.mode).toBe('NETWORK');
      expect(tftpRequest(boot, 'vmlinuz')).toMatchObject({ file: `${pi.net.serial8}/vmlinuz`, outcome: 'sent' });
      expect(tftpRequest(boot, 'initrd.img')).toMatchObject({ outcome: 'sent' });
      expect((await pi.net.run('findmnt -n -o SOURCE /')).trim()).toBe('/dev/mmcblk0p2');
      expect((await pi.net.run('findmnt -n -o SOURCE,FSTYPE /boot/firmware')).trim()).toMatch(new RegExp(`^${lab.nfsIp}:/picluster-boot/${pi.net.serial8}\\s+nfs4?$`));
      expect((await pi.net.run('cat /proc/cmdline')).trim()).toBe(`${cmdline} console=ttyS0`);
      expect(await pi.net.run('rpi-eeprom-config')).toContain('BOOT_ORDER=0xf412');
      // The staged update files were removed at boot, as rpi-eeprom-update does.
      expect(await pi.net.run('ls /boot/firmware')).not.toMatch(/pieeprom\.upd/);
    })());
  }, 120_000);

  test('--root nfs: with no disk, the initramfs mounted the NFS root and systemd /boot/firmware from the export; doctor sees NFS', async () => {
    await track((async () => {
      const p = pi.nfsroot;
      const cmdline = (await readFile(join(exportDir, p.serial8, 'cmdline.txt'), 'utf8')).trim();
      expect(cmdline).toContain(`nfsroot=${lab.nfsIp}:/roots/${p.serial8}`);
      expect(p.lastBootResult).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
      expect((await p.run('findmnt -n -o SOURCE,FSTYPE /')).trim()).toMatch(new RegExp(`^${lab.nfsIp}:/roots/${p.serial8}\\s+nfs$`));
      expect((await p.run('findmnt -n -o SOURCE,FSTYPE /boot/firmware')).trim()).toMatch(new RegExp(`^${lab.nfsIp}:/picluster-boot/${p.serial8}\\s+nfs4?$`));
      expect((await p.run('cat /proc/cmdline')).trim()).toBe(`${cmdline} console=ttyS0`);
      expect((await p.run('ls /sys/block')).split(/\s+/)).not.toContain('mmcblk0');
      const d = await doctor(lab, [p.name, '--export-dir', exportDir, '--state-dir', stateDir]);
      const mounted = checksAbout(d.report, 'pi.mounted', p.name);
      expect(mounted, d.text).toHaveLength(1);
      expect(mounted[0]).toMatchObject({ status: 'ok' });
      expect(mounted[0]!.finding).toContain('over NFS');
    })());
  }, 300_000);

  test('--root nfs: on the NFS root, setting a file\'s mode works (dpkg, install, cp -p and sshd\'s key setup need it)', async () => {
    await track((async () => {
      const p = pi.nfsroot;
      const opts = (await p.run('findmnt -n -o OPTIONS /')).trim();
      const r = await p.ssh('install -m 0600 /etc/hostname /root/pinet-mode-probe 2>&1; echo "exit $?"; stat -c %a /root/pinet-mode-probe 2>&1');
      expect(r.stdout, `NFS root mounted with ${opts}`).toMatch(/^exit 0\n600\n$/);
    })());
  }, 120_000);

  interface UpdateFacts {
    mode: string;
    update: { code: number; output: string };
    /** Owner and mode of vmlinuz as the NFS server stored it, and whether it is the new kernel. */
    stored: Awaited<ReturnType<typeof ownerOf>>;
    storedIsNew: boolean;
    /** doctor before the reboot: its verdict on the files (mode bits) and its live TFTP fetch. */
    doctorReadable: string[];
    doctorFetch: string[];
    /** The next network boot: what TFTP answered for vmlinuz, and the kernel that runs. */
    tftp?: { outcome: string; serverMessage?: string };
    booted?: string;
    running?: string;
  }
  const facts = new Map<string, UpdateFacts>();

  test('a kernel update inside each netbooted VM Pi, then the next network boot (facts per export mode)', async () => {
    await track((async () => {
      const { old: oldKernel, new: newKernel } = lab.image.kernels;
      const newSha = (await pi.net.run(`sha256sum /boot/vmlinuz-${newKernel}`)).split(' ')[0];
      // The article's setup: all access squashed to the TFTP user, and no hook.
      await pi.allsq.run('rm -f /etc/kernel/postinst.d/zzz-pinet-bootfiles /etc/initramfs/post-update.d/zzz-pinet-bootfiles');
      const modes: Array<[VmPi, string]> = [
        [pi.net, 'no squash, pinet hook'],
        [pi.allsq, `all squashed to the TFTP user ${TFTP_USER.uid}:${TFTP_USER.gid}, no hook`],
        [pi.rootsq, 'root squashed to nobody, pinet hook'],
      ];
      for (const [p] of modes) expect((await p.run('uname -r')).trim()).toBe(oldKernel);
      await Promise.all(
        modes.map(async ([p, mode]) => {
          const r = await p.ssh(`pinet-lab-kernel-update ${newKernel} 2>&1`, { timeoutMs: 300_000 });
          const file = join(exportDir, p.serial8, 'vmlinuz');
          const stored = await ownerOf(file);
          const sum = (await readFile(file).then((b) => createHash('sha256').update(b).digest('hex'), () => ''));
          facts.set(p.name, { mode, update: { code: r.code, output: r.stdout + r.stderr }, stored, storedIsNew: sum === newSha, doctorReadable: [], doctorFetch: [] });
        }),
      );
      const d = await doctor(lab, [...modes.map(([p]) => p.name), '--export-dir', exportDir, '--state-dir', stateDir]);
      for (const [p] of modes) {
        const f = facts.get(p.name)!;
        f.doctorReadable = checksAbout(d.report, 'export.readable', p.serial8).map((c) => `${c.status}: ${c.finding}`);
        f.doctorFetch = checksAbout(d.report, 'tftp.fetch', p.serial8).map((c) => `${c.status}: ${c.finding}`);
      }
      await Promise.all(
        modes.map(async ([p]) => {
          const f = facts.get(p.name)!;
          const before = p.vm.boots.length;
          await p.ssh('systemctl reboot', { timeoutMs: 30_000 }).catch(() => undefined);
          await p.waitForBoot({ after: before, timeoutMs: BOOT_MS }).catch(() => undefined);
          const boot = p.lastBootResult;
          const req = tftpRequest(boot, 'vmlinuz');
          f.tftp = req ? { outcome: req.outcome, serverMessage: req.serverMessage } : undefined;
          f.booted = boot ? `${boot.outcome} ${boot.mode ?? ''}: ${boot.summary}` : 'no boot';
          f.running = boot?.outcome === 'booted' ? (await p.ssh('uname -r', { timeoutMs: 30_000 })).stdout.trim() : undefined;
        }),
      );
      process.stderr.write(`kernel update facts:\n${JSON.stringify(Object.fromEntries(facts), null, 2)}\n`);
    })());
  }, 2 * BOOT_MS + 300_000);

  const newKernel = () => lab.image.kernels.new;

  test('no squash + pinet\'s hook: the update succeeds, the kernel is 0644 on the server, TFTP serves it, the Pi runs the new kernel', () => {
    const f = facts.get('pi-net')!;
    expect(f.update.code, f.update.output).toBe(0);
    expect(f.stored).toMatchObject({ uid: 0, gid: 0, mode: '0644' });
    expect(f.storedIsNew).toBe(true);
    expect(f.tftp).toMatchObject({ outcome: 'sent' });
    expect(f.running).toBe(newKernel());
    expect(f.doctorReadable.filter((v) => v.startsWith('fail'))).toEqual([]);
  });

  test('all squashed to the TFTP user, no hook: the Pi\'s kernel update still succeeds and the next netboot runs it', () => {
    const f = facts.get('pi-allsq')!;
    expect(f.update.code, `${f.mode}: ${f.update.output}`).toBe(0);
    expect(f.storedIsNew).toBe(true);
    expect(f.stored).toMatchObject({ uid: TFTP_USER.uid });
    expect(f.tftp).toMatchObject({ outcome: 'sent' });
    expect(f.running).toBe(newKernel());
  });

  test('root squashed to nobody with pinet\'s hook: the Pi\'s kernel update still succeeds and the next netboot runs it', () => {
    const f = facts.get('pi-rootsq')!;
    expect(f.update.code, `${f.mode}: ${f.update.output}`).toBe(0);
    expect(f.storedIsNew).toBe(true);
    expect(f.tftp).toMatchObject({ outcome: 'sent' });
    expect(f.running).toBe(newKernel());
  });

  test('pinet doctor\'s verdict on each Pi\'s kernel agrees with what the real TFTP server answered', () => {
    expect(facts.size).toBe(3);
    for (const [name, f] of facts) {
      expect(f.doctorReadable.length + f.doctorFetch.length, `doctor said nothing about ${name}'s boot files`).toBeGreaterThan(0);
      const served = f.tftp?.outcome === 'sent';
      const doctorFails = [...f.doctorReadable, ...f.doctorFetch].some((v) => v.startsWith('fail'));
      expect({ name, served, doctorFails, doctor: [...f.doctorReadable, ...f.doctorFetch], tftp: f.tftp }).toMatchObject({ doctorFails: !served });
      // The readable-by-TFTP verdict on its own (judged as the running dnsmasq's user), not only the live fetch.
      expect(f.doctorReadable.length, name).toBeGreaterThan(0);
      const readableFails = f.doctorReadable.some((v) => v.startsWith('fail'));
      expect({ name, served, readableFails, doctor: f.doctorReadable, tftp: f.tftp }).toMatchObject({ readableFails: !served });
    }
  });

  test('pinet doctor --log reads the real dnsmasq log of these boots as boots of the right Pis, with the real outcome', async () => {
    await track((async () => {
      const d = await doctor(lab, ['--log', lab.bootDnsmasq!.logFile, '--export-dir', exportDir, '--state-dir', stateDir]);
      const group = (p: VmPi) => d.report.groups.find((g) => g.name === `log: ${p.serial8}/`);
      for (const p of [pi.net, pi.nfsroot]) {
        const boot = group(p)?.checks.find((c) => c.id === 'log.boot');
        expect(boot, d.text).toBeDefined();
        expect(boot).toMatchObject({ status: 'ok' });
        expect(boot!.finding, d.text).toContain('vmlinuz');
        expect((boot!.evidence ?? []).join('\n')).toContain(p.ip);
      }
      const dhcp = JSON.stringify(d.report.groups.filter((g) => g.name.startsWith('log: DHCP')));
      for (const p of Object.values(pi)) expect(dhcp).toContain(p.mac);
      // A Pi whose last kernel fetch was refused must not read as a good boot.
      for (const p of [pi.allsq, pi.rootsq]) {
        const refused = facts.get(p.name)?.tftp?.outcome === 'denied';
        const boot = group(p)?.checks.find((c) => c.id === 'log.boot');
        if (refused) expect(boot?.status, d.text).not.toBe('ok');
      }
    })());
  }, 120_000);
});
