/**
 * `pinet server setup` end to end on real NFS servers and real kernels
 * (test/vm, root only; issue 11). The lab has three VMs booted from the
 * lab image: `nfs-server` (nfs-kernel-server and NFS-Ganesha installed, as
 * a user installs them, both stopped), `boot-server` (dnsmasq installed as a
 * service; pinet runs there with the host's node and this checkout over 9p)
 * and `pi-a` (a VM Pi 4 booting through the bootloader emulator). Everything
 * is done the way a user would do it: pinet on the boot server, reaching the
 * NFS server and the Pi over SSH; the truth is read from the real systems
 * (exportfs -v and Ganesha's config on the NFS server, findmnt and stat on
 * the boot server, what the real TFTP server answered the Pi's bootloader,
 * uname -r on the Pi after its next network boot).
 *
 * For each backend (the Linux NFS server, then NFS-Ganesha on the same
 * machine) and each squash mode (none, the default, then tftp-user, then
 * root): setup from nothing, a second run that changes nothing, the Pi
 * enrolled (the first time: copied; then only its owners change), a real
 * kernel update on the Pi (its postinst hooks write a 0600 vmlinuz into its
 * /boot/firmware over NFS), its next network boot, and `pinet server
 * rollback`. The first cycle of each backend also netboots the Pi right
 * after enroll. Then the refusals: hostile paths and client lists, an NFS
 * host that refuses SSH or sudo, an export path that is a file, a busy mount
 * point, a dnsmasq config that dnsmasq --test rejects, two setups at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { shellJoin } from '../../src/util/shell.js';
import { describeAsRoot } from '../helpers/env.js';
import { VmLab } from './lab.js';
import { tftpRequest } from './scenario.js';
import { ServerVm } from './servers.js';
import { VmPi } from './vm-pi.js';

const BOOT_MS = 420_000;
/** beforeAll: on a fresh machine it builds the image first (about 2-5 minutes here). */
const IMAGE_AND_BOOT_MS = 1_200_000;
const EXPORT = '/srv/picluster-boot';
const PINET_MS = 600_000;

type Squash = 'none' | 'tftp-user' | 'root';
type Backend = 'kernel-nfs' | 'ganesha';

interface SetupDoc {
  dryRun: boolean;
  plan: { upToDate?: boolean; targets: { changes: { id: string; summary: string }[]; warnings: string[] }[] };
  result: { result: string; error?: string; changes?: string[] };
}

interface EnrollDoc {
  plan: { upToDate: boolean; targets: { changes: { id: string }[] }[] };
  results: { host: string; result: string; error?: string }[];
}

/** What one backend × squash cycle saw, for the README's evidence. */
interface CycleFacts {
  backend: Backend;
  squash: Squash;
  kernelUpdate?: { code: number; output: string; from: string; to: string };
  stored?: string;
  netboot?: { outcome?: string; vmlinuz?: string; running?: string };
}

describeAsRoot('pinet server setup: real NFS servers, a boot server VM and a VM Pi', () => {
  let lab: VmLab;
  let nfs: ServerVm;
  let boot: ServerVm;
  let pi: VmPi;
  let failed = false;
  let tftpUser = { uid: -1, gid: -1 };
  const facts: CycleFacts[] = [];

  /** The chain's steps build on each other: after a failure, the rest stop at once instead of waiting out their boots. */
  let broken: string | undefined;
  const track = <T>(p: Promise<T> | (() => Promise<T>), step = expect.getState().currentTestName ?? '?'): Promise<T> => {
    if (broken) return Promise.reject(new Error(`not run: an earlier step failed (${broken})`));
    return (typeof p === 'function' ? p() : p).catch((err: unknown) => {
      failed = true;
      broken ??= step;
      throw err;
    });
  };

  const nfsSource = () => `${nfs.ip}:${EXPORT}`;

  /** pinet on the boot server, as root; stdout (JSON with --json) and stderr apart. */
  async function pinet(args: string[], timeoutMs = PINET_MS) {
    const r = await boot.ssh(`${shellJoin(['pinet', ...args])}`, { timeoutMs });
    return r;
  }

  async function setup(backend: Backend, squash: Squash, extra: string[] = []) {
    const r = await pinet(['server', 'setup', '--export', backend, '--on', 'nfs-server', '--nfs', nfsSource(), '--subnet', lab.subnet, '--squash', squash, '--yes', '--json', ...extra]);
    let doc: SetupDoc | undefined;
    try {
      doc = JSON.parse(r.stdout) as SetupDoc;
    } catch {
      doc = undefined;
    }
    return { ...r, doc };
  }

  async function enroll(extra: string[] = []) {
    const r = await pinet(['enroll', pi.name, '--nfs', nfsSource(), '--boot-order', 'net-first', '--yes', '--json', ...extra]);
    const doc = JSON.parse(r.stdout) as EnrollDoc;
    return { ...r, doc };
  }

  /** A file from the boot server VM's TFTP server, fetched from the LAN as a Pi would. */
  async function tftpFromLan(file: string): Promise<string> {
    const argv = lab.inLan([process.execPath, '--import', 'tsx', fileURLToPath(new URL('./tftp-get.ts', import.meta.url)), boot.ip, file]);
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 60_000 });
    if (r.exitCode !== 0) throw new Error(`TFTP ${file} from ${boot.ip}: ${r.stderr}`);
    return String(r.stdout);
  }

  /** The running dnsmasq's PID on the boot server (0: not running). */
  const dnsmasqPid = async () => Number((await boot.run('systemctl show -p MainPID --value dnsmasq')).trim());

  /** uid:gid mode of a path on the NFS server (the truth, not the client's view). */
  const statOnServer = async (path: string) => (await nfs.run(`stat -c '%u:%g %a' ${shellJoin([path])}`)).trim();

  beforeAll(async () => {
    try {
      lab = await VmLab.start({ name: 'server-setup', log: (l) => process.stderr.write(`${l}\n`) });
      [nfs, boot, pi] = await Promise.all([
        ServerVm.start(lab, { name: 'nfs-server', host: 5 }),
        ServerVm.start(lab, { name: 'boot-server', host: 6, pinet: true }),
        VmPi.create(lab, lab.nextIndex(), { name: 'pi-a' }),
      ]);
      await pi.powerOn();
      await Promise.all([nfs.waitForSsh(BOOT_MS), boot.waitForSsh(BOOT_MS), pi.vm.waitForSsh(BOOT_MS)]);
      // The boot server reaches the NFS server and the Pi by their LAN addresses, with the lab's key, as root.
      const key = await readFile(lab.identityFile, 'utf8');
      const knownHosts = await readFile(lab.knownHosts, 'utf8');
      const config = [nfs, pi.vm].map((v) => `Host ${v.name}\n    HostName ${v.ip}\n    HostKeyAlias ${v.name}\n`).join('') + 'Host *\n    User root\n';
      await boot.run('umask 077; mkdir -p /root/.ssh; cat > /root/.ssh/id_ed25519', { input: key });
      await boot.run('cat > /root/.ssh/known_hosts', { input: knownHosts });
      await boot.run('cat > /root/.ssh/config', { input: config });
      // A fresh Debian boot server with dnsmasq installed: the service runs (with its default config).
      await boot.run('systemctl enable --now dnsmasq');
      // dnsmasq drops root to user dnsmasq and, without group=, to its compiled-in group dip.
      const ids = (await boot.run('id -u dnsmasq; getent group dip | cut -d: -f3')).trim().split('\n').map(Number);
      tftpUser = { uid: ids[0]!, gid: ids[1]! };
    } catch (err) {
      failed = true;
      throw err;
    }
  }, IMAGE_AND_BOOT_MS);

  afterAll(async () => {
    if (facts.length) process.stderr.write(`server setup e2e facts:\n${JSON.stringify(facts, null, 2)}\n`);
    if (lab) {
      if (failed) lab.keepDir();
      await lab.stop();
    }
  }, 120_000);

  /** What the NFS server exports now, as its own tools say. */
  async function exportedOptions(backend: Backend): Promise<string> {
    if (backend === 'kernel-nfs') return nfs.run('exportfs -v');
    return nfs.run('cat /etc/ganesha/pinet.conf');
  }

  function expectSquash(backend: Backend, squash: Squash, text: string): void {
    if (backend === 'kernel-nfs') {
      expect(text).toContain(EXPORT);
      if (squash === 'none') expect(text).toMatch(/no_root_squash/);
      if (squash === 'root') expect(text).toMatch(/[(,]root_squash/);
      if (squash === 'tftp-user') expect(text).toMatch(new RegExp(`all_squash.*anonuid=${tftpUser.uid}.*anongid=${tftpUser.gid}|anonuid=${tftpUser.uid},anongid=${tftpUser.gid}.*all_squash`));
    } else {
      expect(text).toMatch(new RegExp(`Path = "${EXPORT}"`));
      if (squash === 'none') expect(text).toMatch(/Squash = (No_Root_Squash|None)/i);
      if (squash === 'root') expect(text).toMatch(/Squash = Root_Squash/i);
      if (squash === 'tftp-user') {
        expect(text).toMatch(/Squash = All_Squash/i);
        expect(text).toMatch(new RegExp(`Anonymous_Uid = ${tftpUser.uid}`));
      }
    }
  }

  /** The Pi's /boot/firmware mount, made again after the NFS server changed under it (stale file handles). */
  async function remountPiBoot(): Promise<void> {
    await pi.run('umount -l /boot/firmware 2>/dev/null; mount /boot/firmware && findmnt -n -o SOURCE /boot/firmware');
  }

  const cycles: [Backend, Squash][] = [
    ['kernel-nfs', 'none'],
    ['kernel-nfs', 'tftp-user'],
    ['kernel-nfs', 'root'],
    ['ganesha', 'none'],
    ['ganesha', 'tftp-user'],
    ['ganesha', 'root'],
  ];

  for (const [i, [backend, squash]] of cycles.entries()) {
    const first = i === 0;
    const firstOfBackend = i === 0 || cycles[i - 1]![0] !== backend;
    describe(`${backend}, --squash ${squash}`, () => {
      const f: CycleFacts = { backend, squash };

      if (backend === 'ganesha' && firstOfBackend) {
        test('the user switches the NFS server from the Linux one to NFS-Ganesha (both installed)', async () => {
          await track(async () => {
            await nfs.run('systemctl disable --now nfs-server; exportfs -ua; systemctl enable --now nfs-ganesha; systemctl is-active nfs-ganesha');
          });
        }, 300_000);
      }

      test('setup from nothing: the export, the boot server\'s NFS mount (read back as the TFTP user), dnsmasq restarted and serving TFTP', async () => {
        await track(async () => {
          facts.push(f);
          const pidBefore = await dnsmasqPid();
          const r = await setup(backend, squash);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.doc!.result.result).toBe('set up');
          const ids = r.doc!.plan.targets[0]!.changes.map((c) => c.id);
          expect(ids).toEqual(expect.arrayContaining(['export', 'fstab', 'mount', 'record']));
          if (first) expect(ids).toEqual(expect.arrayContaining(['directory', 'dnsmasq', 'dnsmasq-restart']));
          if (backend === 'kernel-nfs' && squash !== 'none') {
            expect(r.doc!.plan.targets[0]!.warnings.join('\n')).toMatch(/kernel updates/i);
          }
          expectSquash(backend, squash, await exportedOptions(backend));
          // The exported directory belongs to whom the squash needs.
          const owner = squash === 'none' ? '0:0' : squash === 'root' ? '65534:65534' : `${tftpUser.uid}:${tftpUser.gid}`;
          expect(await statOnServer(EXPORT)).toBe(`${owner} 755`);
          // The boot server's own mount, from the fstab line (the article's options).
          expect(await boot.run('cat /etc/fstab')).toContain(`${nfsSource()} /mnt/netboot nfs defaults,timeo=900,_netdev 0 0`);
          expect((await boot.run('findmnt -n -o SOURCE,FSTYPE /mnt/netboot')).trim()).toMatch(new RegExp(`^${nfsSource()}\\s+nfs4?$`));
          // dnsmasq runs pinet's config (restarted when it changed), and answers TFTP from the mount.
          expect(await boot.run('cat /etc/dnsmasq.d/pinet.conf')).toMatch(/tftp-root=\/mnt\/netboot/);
          expect((await boot.run('systemctl is-active dnsmasq')).trim()).toBe('active');
          if (first) expect(await dnsmasqPid()).not.toBe(pidBefore);
          await boot.run('echo tftp-probe > /mnt/netboot/e2e-probe.txt');
          const got = await tftpFromLan('e2e-probe.txt');
          expect(got).toBe('tftp-probe\n');
          await boot.run('rm -f /mnt/netboot/e2e-probe.txt');
        });
      }, PINET_MS);

      test('a second run changes nothing: up to date, the export, the mount and the running dnsmasq untouched', async () => {
        await track(async () => {
          const before = [await exportedOptions(backend), await boot.run('cat /etc/fstab'), await boot.run('cat /etc/dnsmasq.d/pinet.conf'), await dnsmasqPid()];
          const r = await setup(backend, squash);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.doc!.result.result).toBe('up to date');
          expect(r.doc!.plan.targets[0]!.changes).toEqual([]);
          expect([await exportedOptions(backend), await boot.run('cat /etc/fstab'), await boot.run('cat /etc/dnsmasq.d/pinet.conf'), await dnsmasqPid()]).toEqual(before);
        });
      }, PINET_MS);

      test(first ? 'pinet enroll copies the Pi onto the export setup built' : 'pinet enroll again: the Pi\'s files are given to whom the new squash needs', async () => {
        await track(async () => {
          const r = await enroll();
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.doc.results[0]!.result).toMatch(/enrolled|up to date/);
          const owner = squash === 'none' ? (first ? '0:0' : undefined) : squash === 'root' ? '65534:65534' : `${tftpUser.uid}:${tftpUser.gid}`;
          const stored = await statOnServer(`${EXPORT}/${pi.serial8}/vmlinuz`);
          if (owner) expect(stored).toMatch(new RegExp(`^${owner} `));
          expect(stored).toMatch(/ 644$/);
        });
      }, PINET_MS);

      if (firstOfBackend) {
        test('the Pi netboots through what setup built: kernel by TFTP from the boot server VM, /boot/firmware over NFS from the export', async () => {
          await track(async () => {
            await pi.reboot(BOOT_MS);
            const b = pi.lastBootResult!;
            expect(b).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
            expect(tftpRequest(b, 'vmlinuz')).toMatchObject({ outcome: 'sent' });
            expect((await pi.run('findmnt -n -o SOURCE /boot/firmware')).trim()).toBe(`${nfsSource()}/${pi.serial8}`);
          });
        }, BOOT_MS + 60_000);
      } else {
        test('the Pi\'s /boot/firmware mount is made again (the NFS server was rolled back and set up under it)', async () => {
          await track(() => remountPiBoot());
        }, 120_000);
      }

      test('a kernel update on the Pi, then its next network boot', async () => {
        await track(async () => {
          const { old: oldKernel, new: newKernel } = lab.image.kernels;
          const from = (await pi.run('uname -r')).trim();
          const to = from === oldKernel ? newKernel : oldKernel;
          const u = await pi.ssh(`pinet-lab-kernel-update ${to} 2>&1`, { timeoutMs: 300_000 });
          f.kernelUpdate = { code: u.code, output: u.stdout.slice(-2000), from, to };
          f.stored = await statOnServer(`${EXPORT}/${pi.serial8}/vmlinuz`);
          const before = pi.vm.boots.length;
          await pi.ssh('systemctl reboot', { timeoutMs: 30_000 }).catch(() => undefined);
          await pi.waitForBoot({ after: before, timeoutMs: BOOT_MS });
          const b = pi.lastBootResult!;
          f.netboot = { outcome: `${b.outcome} ${b.mode ?? ''}`, vmlinuz: tftpRequest(b, 'vmlinuz')?.outcome, running: (await pi.run('uname -r')).trim() };
          // Never unbootable: whatever the update did, the Pi netboots a kernel.
          expect(b).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
          if (backend === 'kernel-nfs' && squash !== 'none') {
            // The Linux NFS server refuses a squashed client's chown to root: the update's cp -p fails.
            expect(u.code, u.stdout).not.toBe(0);
            expect(u.stdout).toMatch(/Operation not permitted/);
          } else {
            expect(u.code, u.stdout).toBe(0);
            expect(f.netboot.running).toBe(to);
          }
        });
      }, BOOT_MS + 420_000);

      test('pinet server rollback: the NFS server\'s files, the fstab line and the dnsmasq config as they were, the mount gone', async () => {
        await track(async () => {
          const r = await pinet(['server', 'rollback', '--yes', '--json']);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(await boot.run('cat /etc/fstab')).not.toContain('/mnt/netboot');
          expect((await boot.ssh('findmnt -n /mnt/netboot')).code).not.toBe(0);
          expect((await boot.ssh('test -e /etc/dnsmasq.d/pinet.conf')).code).not.toBe(0);
          if (backend === 'kernel-nfs') {
            expect((await nfs.ssh('test -e /etc/exports.d/pinet.exports')).code).not.toBe(0);
            expect(await nfs.run('exportfs -v')).not.toContain(EXPORT);
          } else {
            expect((await nfs.ssh('test -e /etc/ganesha/pinet.conf')).code).not.toBe(0);
            expect(await nfs.run('cat /etc/ganesha/ganesha.conf')).not.toContain('pinet.conf');
          }
          // The boot files stay.
          expect(await statOnServer(`${EXPORT}/${pi.serial8}/config.txt`)).toMatch(/ 644$/);
        });
      }, PINET_MS);
    });
  }
  describe('refusals: bad input and broken surroundings change nothing', () => {
    /** Everything setup could touch, on both servers. */
    async function snapshot(): Promise<string[]> {
      return [
        await boot.run('cat /etc/fstab; findmnt -n -o TARGET,SOURCE -t nfs,nfs4,tmpfs | sort; ls -la /etc/dnsmasq.d; cat /etc/dnsmasq.d/* 2>/dev/null; ls /var/lib/pinet; cat /var/lib/pinet/server.json 2>/dev/null || true'),
        String(await dnsmasqPid()),
        await nfs.run('ls -la /etc/exports.d /etc/ganesha /srv; cat /etc/ganesha/ganesha.conf; cat /etc/exports.d/* 2>/dev/null || true; exportfs -v'),
      ];
    }
    const backend: Backend = 'ganesha';

    test('hostile paths and client lists: exit 2 naming the value, nothing run anywhere', async () => {
      await track(async () => {
        const before = await snapshot();
        const cases: [string[], RegExp][] = [
          [['--nfs', `${nfs.ip}:/srv/boot files`], /--nfs.*(spaces|not)/],
          [['--nfs', `${nfs.ip}:/srv/$(touch /tmp/pwned)`], /--nfs|--path/],
          [['--path', '/srv/x;touch /tmp/pwned'], /--path/],
          [['--client', '*'], /everyone/],
          [['--client', '10.0.0.0/4'], /wider/],
          [['--client', `${lab.subnet}(rw,no_root_squash)`], /--client/],
          [['--client', "10.251.0.0/16'\n/ *(rw)"], /--client/],
        ];
        for (const [args, why] of cases) {
          const r = await pinet(['server', 'setup', '--export', backend, '--on', 'nfs-server', '--nfs', nfsSource(), '--subnet', lab.subnet, '--yes', ...args]);
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
          expect(r.stderr, args.join(' ')).toMatch(why);
        }
        for (const v of [boot, nfs]) expect((await v.ssh('test -e /tmp/pwned')).code).not.toBe(0);
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('clients that leave out the boot server: refused before anything changes', async () => {
      await track(async () => {
        const before = await snapshot();
        const other = lab.subnet.replace(/^(\d+\.\d+)\.(\d+)\./, (_m, a: string, b: string) => `${a}.${Number(b) + 100}.`);
        const r = await setup(backend, 'none', ['--client', other]);
        expect(r.code).toBe(1);
        expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(/boot server|subnet/);
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('an NFS host that refuses SSH, and one where the user has no sudo or sudo wants a password: refused, nothing changed', async () => {
      await track(async () => {
        await nfs.run(
          [
            'set -e',
            'for u in nosudo pwsudo; do id $u >/dev/null 2>&1 || useradd -m -s /bin/sh $u; mkdir -p /home/$u/.ssh; cp /root/.ssh/authorized_keys /home/$u/.ssh/; chown -R $u: /home/$u/.ssh; done',
            "echo 'pwsudo ALL=(ALL) ALL' > /etc/sudoers.d/pwsudo; chmod 0440 /etc/sudoers.d/pwsudo",
          ].join('\n'),
        );
        const before = await snapshot();
        const unreachable = lab.addr(9);
        const cases: [string, RegExp][] = [
          [`root@${unreachable}`, new RegExp(`${unreachable.replace(/\./g, '\\.')}.*(refused|unreachable|timed out|no route)`, 'i')],
          ['nosudo@nfs-server', /no sudo/],
          ['pwsudo@nfs-server', /sudo needs a password/],
        ];
        for (const [on, why] of cases) {
          const r = await pinet(['server', 'setup', '--export', backend, '--on', on, '--nfs', nfsSource(), '--subnet', lab.subnet, '--yes', '--json', '--connect-timeout', '5']);
          expect(r.code, `${on}: ${r.stdout}\n${r.stderr}`).toBe(1);
          expect(`${r.stdout}\n${r.stderr}`, on).toMatch(why);
        }
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('a sudo user with passwordless sudo on the NFS server can plan it (--dry-run): the plan, nothing changed', async () => {
      await track(async () => {
        const before = await snapshot();
        const r = await pinet(['server', 'setup', '--export', backend, '--on', 'pi@nfs-server', '--nfs', nfsSource(), '--subnet', lab.subnet, '--dry-run', '--json']);
        expect(r.code, r.stderr).toBe(0);
        const doc = JSON.parse(r.stdout) as SetupDoc;
        expect(doc.dryRun).toBe(true);
        expect(doc.plan.targets[0]!.changes.map((c) => c.id)).toEqual(expect.arrayContaining(['export', 'fstab', 'mount']));
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('an export path that exists as a file: refused, the file untouched', async () => {
      await track(async () => {
        await nfs.run('echo keep > /srv/a-file');
        const before = await snapshot();
        const r = await pinet(['server', 'setup', '--export', backend, '--on', 'nfs-server', '--nfs', `${nfs.ip}:/srv/a-file`, '--subnet', lab.subnet, '--yes', '--json']);
        expect(r.code).toBe(1);
        expect(`${r.stdout}${r.stderr}`).toMatch(/\/srv\/a-file exists and is not a directory/);
        expect((await nfs.run('cat /srv/a-file')).trim()).toBe('keep');
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('a mount point that is busy with another file system: refused, that mount left alone', async () => {
      await track(async () => {
        await boot.run('mkdir -p /mnt/busy && (mountpoint -q /mnt/busy || mount -t tmpfs busy /mnt/busy) && echo mine > /mnt/busy/data');
        const before = await snapshot();
        const r = await setup(backend, 'none', ['--export-dir', '/mnt/busy']);
        expect(r.code).toBe(1);
        expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(/\/mnt\/busy is busy: busy \(tmpfs\) is mounted there/);
        expect((await boot.run('cat /mnt/busy/data')).trim()).toBe('mine');
        expect(await snapshot()).toEqual(before);
        await boot.run('umount /mnt/busy');
      });
    }, PINET_MS);

    test('dnsmasq --test rejects the configuration (another file in /etc/dnsmasq.d is broken): nothing is written, the running dnsmasq keeps its config', async () => {
      await track(async () => {
        await boot.run("echo 'no-such-option=1' > /etc/dnsmasq.d/zz-broken.conf");
        const before = await snapshot();
        const r = await setup(backend, 'none');
        expect(r.code).toBe(1);
        expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(/dnsmasq rejects.*zz-broken\.conf/);
        expect(await snapshot()).toEqual(before);
        await boot.run('rm /etc/dnsmasq.d/zz-broken.conf');
      });
    }, PINET_MS);

    test('two setups at once: one sets up, the other refuses (locked), and the result is whole', async () => {
      await track(async () => {
        const [a, b] = await Promise.all([setup(backend, 'none'), setup(backend, 'none')]);
        const both = `${a.stdout}${a.stderr}\n---\n${b.stdout}${b.stderr}`;
        // One applies; the other either finds the lock taken or, having waited its turn, nothing left to do.
        const results = [a, b].map((r) => r.doc?.result.result).sort();
        expect(results, both).toContain('set up');
        const other = [a, b].find((r) => r.doc?.result.result !== 'set up')!;
        if (other.doc?.result.result !== 'up to date') {
          expect(other.code, both).toBe(1);
          expect(`${other.doc?.result.error ?? ''}${other.stderr}`, both).toMatch(/lock|another pinet|in progress|busy/i);
        }
        const again = await setup(backend, 'none');
        expect(again.doc!.result.result).toBe('up to date');
      });
    }, 2 * PINET_MS);

    test('rollback while the export is in use on the boot server: refused at the unmount, nothing changed; then it works', async () => {
      await track(async () => {
        await boot.run("setsid sh -c 'cd /mnt/netboot && exec sleep 600' > /dev/null 2>&1 < /dev/null & echo $! > /run/e2e-busy.pid");
        const before = await snapshot();
        const r = await pinet(['server', 'rollback', '--yes', '--json']);
        expect(r.code).toBe(1);
        expect(`${r.stdout}${r.stderr}`).toMatch(/cannot unmount \/mnt\/netboot: it is in use/);
        expect(await snapshot()).toEqual(before);
        await boot.run('kill "$(cat /run/e2e-busy.pid)"; rm -f /run/e2e-busy.pid');
        const ok = await pinet(['server', 'rollback', '--yes', '--json']);
        expect(ok.code, `${ok.stdout}${ok.stderr}`).toBe(0);
        expect((await boot.ssh('findmnt -n /mnt/netboot')).code).not.toBe(0);
      });
    }, 2 * PINET_MS);
  });
});
