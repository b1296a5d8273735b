/**
 * `pinet server setup` end to end on real NFS servers and real kernels
 * (test/vm, root only; issue 11). Two chains run side by side, one per
 * backend, each in a lab of its own (server-chain.ts): an NFS server VM
 * (nfs-kernel-server and NFS-Ganesha installed as a user installs them), a
 * boot server VM (dnsmasq installed as a service; pinet runs there with the
 * host's node and this checkout over 9p) and a VM Pi 4 booting through the
 * bootloader emulator. Everything is done as a user does it: pinet on the
 * boot server, reaching the NFS server and the Pi over SSH; the truth is read
 * from the real systems (exportfs -v and Ganesha's config on the NFS server,
 * findmnt and stat on the boot server, a TFTP fetch from the LAN, what the
 * real TFTP server answered the Pi's bootloader, uname -r on the Pi after its
 * next network boot).
 *
 * Each chain goes through the squash modes (none, the default, then
 * tftp-user, then root): setup from nothing, a second run that changes
 * nothing, the Pi enrolled (the first time: copied; then only its owners
 * change, on the NFS server), a real kernel update on the Pi (its postinst
 * hooks write a 0600 vmlinuz into its /boot/firmware over NFS), its next
 * network boot, and `pinet server rollback`. The first cycle also netboots
 * the Pi right after enroll. Then, on the Ganesha chain, the refusals:
 * hostile paths and client lists, an NFS host that refuses SSH or sudo, an
 * export path that is a file, a busy mount point, a dnsmasq config that
 * dnsmasq --test rejects, two setups at once, a rollback while the mount is
 * in use.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { tftpRequest } from './scenario.js';
import { BOOT_MS, EXPORT, PINET_MS, ServerChain, type Backend, type CycleFacts, type SetupDoc, type Squash } from './server-chain.js';

/** beforeAll: on a fresh machine it builds the image first (about 2-5 minutes here), then six VMs boot, three at a time. */
const IMAGE_AND_BOOT_MS = 1_500_000;

describeAsRoot('pinet server setup: real NFS servers, a boot server VM and a VM Pi per backend', () => {
  const chains = [new ServerChain('kernel-nfs'), new ServerChain('ganesha')];
  const g = chains[1]!;

  /** One step on both chains at once; a chain that broke earlier skips it; the test fails if either failed. */
  async function both(name: string, fn: (c: ServerChain) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(chains.map((c) => c.step(name, () => fn(c))));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (errors.length) throw new Error(errors.map((e) => e.message).join('\n'), { cause: errors[0] });
  }

  beforeAll(async () => {
    const started = await Promise.allSettled(chains.map((c) => c.start()));
    started.forEach((r, i) => {
      if (r.status === 'rejected') {
        chains[i]!.failed = true;
        chains[i]!.broken = 'start';
      }
    });
    const bad = started.find((r) => r.status === 'rejected');
    if (bad) throw (bad as PromiseRejectedResult).reason;
  }, IMAGE_AND_BOOT_MS);

  afterAll(async () => {
    const facts: CycleFacts[] = chains.flatMap((c) => c.facts);
    if (facts.length) process.stderr.write(`server setup e2e facts:\n${JSON.stringify(facts, null, 2)}\n`);
    await Promise.all(chains.map((c) => c.stop()));
  }, 180_000);

  const squashes: Squash[] = ['none', 'tftp-user', 'root'];

  for (const [i, squash] of squashes.entries()) {
    const first = i === 0;
    describe(`--squash ${squash}`, () => {
      test('setup from nothing: the export, the boot server\'s NFS mount, dnsmasq restarted and serving TFTP to the LAN', async () => {
        await both(`setup --squash ${squash}`, async (c) => {
          const f: CycleFacts = { backend: c.backend, squash };
          c.facts.push(f);
          const pidBefore = await c.dnsmasqPid();
          const r = await c.setup(squash);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.doc!.result.result).toBe('set up');
          const plan = r.doc!.plan.targets[0]!;
          const ids = plan.changes.map((x) => x.id);
          expect(ids).toEqual(expect.arrayContaining(['export', 'fstab', 'mount', 'record']));
          if (first) expect(ids).toEqual(expect.arrayContaining(['directory', 'dnsmasq', 'dnsmasq-restart']));
          if (first && c.backend === 'kernel-nfs') expect(plan.changes.find((x) => x.id === 'export')!.summary).toMatch(/start the NFS server/);
          if (c.backend === 'kernel-nfs' && squash !== 'none') expect(plan.warnings.join('\n')).toMatch(/refuses a squashed client's chown.*dpkg/);
          c.expectSquash(squash, await c.exportedOptions());
          // The exported tree belongs to whom the squash needs (given on the NFS server, where pinet is root).
          expect(await c.statOnServer(EXPORT)).toBe(`${c.ownerFor(squash)} 755`);
          if (!first && squash !== 'none') expect(await c.nfs.run(`find ${EXPORT} ! -user ${c.ownerFor(squash).split(':')[0]} | head -3`)).toBe('');
          // The boot server's own mount, from the fstab line (the article's options).
          expect(await c.boot.run('cat /etc/fstab')).toContain(`${c.nfsSource} /mnt/netboot nfs defaults,timeo=900,_netdev 0 0`);
          expect((await c.boot.run('findmnt -n -o SOURCE,FSTYPE /mnt/netboot')).trim()).toMatch(new RegExp(`^${c.nfsSource}\\s+nfs4?$`));
          // dnsmasq runs pinet's config (restarted when it changed), and answers TFTP from the mount.
          expect(await c.boot.run('cat /etc/dnsmasq.d/pinet.conf')).toMatch(/tftp-root=\/mnt\/netboot/);
          expect((await c.boot.run('systemctl is-active dnsmasq')).trim()).toBe('active');
          expect(await c.dnsmasqPid()).not.toBe(pidBefore);
          await c.boot.run('echo tftp-probe > /mnt/netboot/e2e-probe.txt');
          expect(await c.tftpFromLan('e2e-probe.txt')).toBe('tftp-probe\n');
          await c.boot.run('rm -f /mnt/netboot/e2e-probe.txt');
        });
      }, PINET_MS);

      test('a second run changes nothing: up to date, the export, the mount and the running dnsmasq untouched', async () => {
        await both(`no-op --squash ${squash}`, async (c) => {
          const snap = async () => [await c.exportedOptions(), await c.boot.run('cat /etc/fstab'), await c.boot.run('cat /etc/dnsmasq.d/pinet.conf'), await c.dnsmasqPid()];
          const before = await snap();
          const r = await c.setup(squash);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.doc!.result.result).toBe('up to date');
          expect(r.doc!.plan.targets[0]!.changes).toEqual([]);
          expect(await snap()).toEqual(before);
        });
      }, PINET_MS);

      test(first ? 'pinet enroll copies the Pi onto the export setup built' : 'pinet enroll again: nothing left to give away (setup did it on the NFS server)', async () => {
        await both(`enroll --squash ${squash}`, async (c) => {
          const r = await c.enroll();
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.doc!.results[0]!.result).toMatch(first ? /enrolled/ : /up to date/);
          const stored = await c.statOnServer(`${EXPORT}/${c.pi.serial8}/vmlinuz`);
          expect(stored).toMatch(new RegExp(`^${squash === 'none' && !first ? '\\d+:\\d+' : c.ownerFor(squash)} 644$`));
        });
      }, PINET_MS);

      if (first) {
        test('the Pi netboots through what setup built: kernel by TFTP from the boot server VM, /boot/firmware over NFS from the export', async () => {
          await both('netboot after enroll', async (c) => {
            await c.pi.reboot(BOOT_MS);
            const b = c.pi.lastBootResult!;
            expect(b).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
            expect(tftpRequest(b, 'vmlinuz')).toMatchObject({ outcome: 'sent' });
            expect((await c.pi.run('findmnt -n -o SOURCE /boot/firmware')).trim()).toBe(`${c.nfsSource}/${c.pi.serial8}`);
          });
        }, BOOT_MS + 60_000);
      } else {
        test('the Pi\'s /boot/firmware mount is made again (the export was rolled back and set up under it)', async () => {
          await both(`remount --squash ${squash}`, (c) => c.remountPiBoot());
        }, 120_000);
      }

      test('a kernel update on the Pi, then its next network boot', async () => {
        await both(`kernel update --squash ${squash}`, async (c) => {
          const f = c.facts.at(-1)!;
          const { old: oldKernel, new: newKernel } = c.lab.image.kernels;
          const from = (await c.pi.run('uname -r')).trim();
          const to = from === oldKernel ? newKernel : oldKernel;
          const u = await c.pi.ssh(`pinet-lab-kernel-update ${to} 2>&1`, { timeoutMs: 300_000 });
          f.kernelUpdate = { code: u.code, output: u.stdout.slice(-1500), from, to };
          f.stored = await c.statOnServer(`${EXPORT}/${c.pi.serial8}/vmlinuz`);
          const before = c.pi.vm.boots.length;
          await c.pi.ssh('systemctl reboot', { timeoutMs: 30_000 }).catch(() => undefined);
          await c.pi.waitForBoot({ after: before, timeoutMs: BOOT_MS });
          const b = c.pi.lastBootResult!;
          f.netboot = { outcome: `${b.outcome} ${b.mode ?? ''}`, vmlinuz: tftpRequest(b, 'vmlinuz')?.outcome, running: (await c.pi.run('uname -r')).trim() };
          // Never unbootable: whatever the update did, the Pi netboots a kernel.
          expect(b).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
          expect(u.code, u.stdout).toBe(0);
          expect(f.netboot.running).toBe(to);
          if (c.backend === 'kernel-nfs' && squash !== 'none') {
            // The Linux NFS server refuses a squashed client's chown to root (EPERM): flash-kernel's mv from
            // /tmp says so and goes on (mv does not require the owner), so the update installs the kernel.
            expect(u.stdout).toMatch(/mv: failed to preserve ownership for '\/boot\/firmware\/vmlinuz': Operation not permitted/);
          } else {
            expect(u.stdout).not.toMatch(/failed to preserve|Operation not permitted|Permission denied/);
          }
        });
      }, BOOT_MS + 420_000);

      test('pinet server rollback: the NFS server\'s files, the fstab line and the dnsmasq config as they were, the mount gone', async () => {
        await both(`rollback --squash ${squash}`, async (c) => {
          const r = await c.pinet(['server', 'rollback', '--yes', '--json']);
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(await c.boot.run('cat /etc/fstab')).not.toContain('/mnt/netboot');
          expect((await c.boot.ssh('findmnt -n /mnt/netboot')).code).not.toBe(0);
          expect((await c.boot.ssh('test -e /etc/dnsmasq.d/pinet.conf')).code).not.toBe(0);
          if (c.backend === 'kernel-nfs') {
            expect((await c.nfs.ssh('test -e /etc/exports.d/pinet.exports')).code).not.toBe(0);
            expect(await c.nfs.run('exportfs -v')).not.toContain(EXPORT);
          } else {
            expect((await c.nfs.ssh('test -e /etc/ganesha/pinet.conf')).code).not.toBe(0);
            expect(await c.nfs.run('cat /etc/ganesha/ganesha.conf')).not.toContain('pinet.conf');
          }
          // The boot files stay.
          expect(await c.statOnServer(`${EXPORT}/${c.pi.serial8}/config.txt`)).toMatch(/ 644$/);
        });
      }, PINET_MS);
    });
  }

  describe('refusals: bad input and broken surroundings change nothing', () => {
    /** Everything setup could touch, on both servers. */
    async function snapshot(): Promise<string[]> {
      return [
        await g.boot.run('cat /etc/fstab; findmnt -n -o TARGET,SOURCE -t nfs,nfs4,tmpfs | sort; ls -la /etc/dnsmasq.d; cat /etc/dnsmasq.d/* 2>/dev/null; ls /var/lib/pinet; cat /var/lib/pinet/server.json 2>/dev/null || true'),
        String(await g.dnsmasqPid()),
        await g.nfs.run('ls -la /etc/exports.d /etc/ganesha /srv; cat /etc/ganesha/ganesha.conf; cat /etc/exports.d/* 2>/dev/null || true; exportfs -v'),
      ];
    }
    const backend: Backend = 'ganesha';
    /** The refusals run on the Ganesha chain, once its cycles are done. */
    const track = <T>(fn: () => Promise<T>) => g.step(expect.getState().currentTestName ?? 'refusal', fn);

    test('hostile paths and client lists: exit 2 naming the value, nothing run anywhere', async () => {
      await track(async () => {
        const before = await snapshot();
        const cases: [string[], RegExp][] = [
          [['--nfs', `${g.nfs.ip}:/srv/boot files`], /--nfs.*(spaces|not)/],
          [['--nfs', `${g.nfs.ip}:/srv/$(touch /tmp/pwned)`], /--nfs|--path/],
          [['--path', '/srv/x;touch /tmp/pwned'], /--path/],
          [['--client', '*'], /everyone/],
          [['--client', '10.0.0.0/4'], /wider/],
          [['--client', `${g.lab.subnet}(rw,no_root_squash)`], /--client/],
          [['--client', "10.251.0.0/16'\n/ *(rw)"], /--client/],
        ];
        for (const [args, why] of cases) {
          const r = await g.pinet(['server', 'setup', '--export', backend, '--on', 'nfs-server', '--nfs', g.nfsSource, '--subnet', g.lab.subnet, '--yes', ...args]);
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
          expect(r.stderr, args.join(' ')).toMatch(why);
        }
        for (const v of [g.boot, g.nfs]) expect((await v.ssh('test -e /tmp/pwned')).code).not.toBe(0);
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('clients that leave out the boot server: refused before anything changes', async () => {
      await track(async () => {
        const before = await snapshot();
        const other = g.lab.subnet.replace(/^(\d+\.\d+)\.(\d+)\./, (_m: string, a: string, b: string) => `${a}.${(Number(b) + 100) % 256}.`);
        const r = await g.setup('none', ['--client', other]);
        // A bad value: exit 2, and --json's document is the error itself.
        expect(r.code, `${r.stdout}${r.stderr}`).toBe(2);
        expect(`${r.stdout}${r.stderr}`).toMatch(/--client: the export's clients .* leave out .*the boot server/);
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('an NFS host that refuses SSH, and one where the user has no sudo or sudo wants a password: refused, nothing changed', async () => {
      await track(async () => {
        await g.nfs.run(
          [
            'set -e',
            'for u in nosudo pwsudo; do id $u >/dev/null 2>&1 || useradd -m -s /bin/sh $u; mkdir -p /home/$u/.ssh; cp /root/.ssh/authorized_keys /home/$u/.ssh/; chown -R $u: /home/$u/.ssh; done',
            "echo 'pwsudo ALL=(ALL) ALL' > /etc/sudoers.d/pwsudo; chmod 0440 /etc/sudoers.d/pwsudo",
          ].join('\n'),
        );
        const before = await snapshot();
        const unreachable = g.lab.addr(9);
        const cases: [string, RegExp][] = [
          [`root@${unreachable}`, new RegExp(`${unreachable.replace(/\./g, '\\.')}.*(refused|unreach|timed out|no route)`, 'i')],
          // sudo asks a user it does not know for a password before saying no: pinet says what sudo said.
          ['nosudo@nfs-server', /user nosudo cannot run privileged steps/],
          ['pwsudo@nfs-server', /sudo needs a password/],
        ];
        for (const [on, why] of cases) {
          const r = await g.pinet(['server', 'setup', '--export', backend, '--on', on, '--nfs', g.nfsSource, '--subnet', g.lab.subnet, '--yes', '--json', '--connect-timeout', '5']);
          expect(r.code, `${on}: ${r.stdout}\n${r.stderr}`).toBe(1);
          expect(`${r.stdout}\n${r.stderr}`, on).toMatch(why);
        }
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('a sudo user with passwordless sudo on the NFS server can plan it (--dry-run): the plan, nothing changed', async () => {
      await track(async () => {
        const before = await snapshot();
        const r = await g.pinet(['server', 'setup', '--export', backend, '--on', 'pi@nfs-server', '--nfs', g.nfsSource, '--subnet', g.lab.subnet, '--dry-run', '--json']);
        expect(r.code, r.stderr).toBe(0);
        const doc = JSON.parse(r.stdout) as SetupDoc;
        expect(doc.dryRun).toBe(true);
        expect(doc.plan.targets[0]!.changes.map((c) => c.id)).toEqual(expect.arrayContaining(['export', 'fstab', 'mount']));
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('an export path that exists as a file: refused, the file untouched', async () => {
      await track(async () => {
        await g.nfs.run('echo keep > /srv/a-file');
        const before = await snapshot();
        const r = await g.pinet(['server', 'setup', '--export', backend, '--on', 'nfs-server', '--nfs', `${g.nfs.ip}:/srv/a-file`, '--subnet', g.lab.subnet, '--yes', '--json']);
        expect(r.code).toBe(1);
        expect(`${r.stdout}${r.stderr}`).toMatch(/\/srv\/a-file exists and is not a directory/);
        expect((await g.nfs.run('cat /srv/a-file')).trim()).toBe('keep');
        expect(await snapshot()).toEqual(before);
      });
    }, PINET_MS);

    test('a mount point that is busy with another file system: refused, that mount left alone', async () => {
      await track(async () => {
        await g.boot.run('mkdir -p /mnt/busy && (mountpoint -q /mnt/busy || mount -t tmpfs busy /mnt/busy) && echo mine > /mnt/busy/data');
        const before = await snapshot();
        const r = await g.setup('none', ['--export-dir', '/mnt/busy']);
        expect(r.code).toBe(1);
        expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(/\/mnt\/busy is busy: busy \(tmpfs\) is mounted there/);
        expect((await g.boot.run('cat /mnt/busy/data')).trim()).toBe('mine');
        expect(await snapshot()).toEqual(before);
        await g.boot.run('umount /mnt/busy');
      });
    }, PINET_MS);

    test('dnsmasq --test rejects the configuration (another file in /etc/dnsmasq.d is broken): nothing is written, the running dnsmasq keeps its config', async () => {
      await track(async () => {
        await g.boot.run("echo 'no-such-option=1' > /etc/dnsmasq.d/zz-broken.conf");
        const before = await snapshot();
        const r = await g.setup('none');
        expect(r.code).toBe(1);
        expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(/dnsmasq rejects.*zz-broken\.conf/);
        expect(await snapshot()).toEqual(before);
        await g.boot.run('rm /etc/dnsmasq.d/zz-broken.conf');
      });
    }, PINET_MS);

    test('two setups at once: one sets up, the other refuses (locked), and the result is whole', async () => {
      await track(async () => {
        const [a, b] = await Promise.all([g.setup('none'), g.setup('none')]);
        const both = `${a.stdout}${a.stderr}\n---\n${b.stdout}${b.stderr}`;
        // One applies; the other either finds the lock taken or, having waited its turn, nothing left to do.
        const results = [a, b].map((r) => r.doc?.result.result).sort();
        expect(results, both).toContain('set up');
        const other = [a, b].find((r) => r.doc?.result.result !== 'set up')!;
        if (other.doc?.result.result !== 'up to date') {
          expect(other.code, both).toBe(1);
          expect(`${other.doc?.result.error ?? ''}${other.stderr}`, both).toMatch(/lock|another pinet|in progress|busy/i);
        }
        const again = await g.setup('none');
        expect(again.doc!.result.result).toBe('up to date');
      });
    }, 2 * PINET_MS);

    test('rollback while the export is in use on the boot server: refused at the unmount, nothing changed; then it works', async () => {
      await track(async () => {
        await g.boot.run("setsid sh -c 'cd /mnt/netboot && exec sleep 600' > /dev/null 2>&1 < /dev/null & echo $! > /run/e2e-busy.pid");
        const before = await snapshot();
        const r = await g.pinet(['server', 'rollback', '--yes', '--json']);
        expect(r.code).toBe(1);
        expect(`${r.stdout}${r.stderr}`).toMatch(/cannot unmount \/mnt\/netboot: it is in use/);
        expect(await snapshot()).toEqual(before);
        await g.boot.run('kill "$(cat /run/e2e-busy.pid)"; rm -f /run/e2e-busy.pid');
        const ok = await g.pinet(['server', 'rollback', '--yes', '--json']);
        expect(ok.code, `${ok.stdout}${ok.stderr}`).toBe(0);
        expect((await g.boot.ssh('findmnt -n /mnt/netboot')).code).not.toBe(0);
      });
    }, 2 * PINET_MS);

    test("the article's hand-made export (every access squashed to nobody), used as it is: doctor's verdict on a 0600 kernel agrees with the real TFTP server", async () => {
      await track(async () => {
        const serial = g.pi.serial8;
        // By hand on the NFS server, as the article did: all squashed to nobody; the Pi's files copied there, its kernel 0600.
        await g.nfs.run(
          [
            'set -e',
            'rm -rf /srv/article && mkdir -p /srv/article',
            `cp -a ${EXPORT}/${serial} /srv/article/`,
            `chown -R 65534:65534 /srv/article && chmod 0600 /srv/article/${serial}/vmlinuz`,
            "cat > /etc/ganesha/article.conf <<'X'",
            'EXPORT { Export_Id = 9; Path = "/srv/article"; Pseudo = "/srv/article"; Access_Type = RW; Squash = All_Squash; Anonymous_Uid = 65534; Anonymous_Gid = 65534; Protocols = 3, 4; FSAL { Name = VFS; } }',
            'X',
            'grep -q article.conf /etc/ganesha/ganesha.conf || echo \'%include "/etc/ganesha/article.conf"\' >> /etc/ganesha/ganesha.conf',
            'systemctl restart nfs-ganesha',
          ].join('\n'),
        );
        const r = await g.pinet(['server', 'setup', '--export', 'existing', '--nfs', `${g.nfs.ip}:/srv/article`, '--subnet', g.lab.subnet, '--yes', '--json']);
        expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
        // dnsmasq reads as dnsmasq:dip; the NFS server maps it to nobody, the file's owner: it is served.
        const served = await g.tftpFromLan(`${serial}/vmlinuz`).then(() => true, () => false);
        expect(served).toBe(true);
        const d = await g.pinet(['doctor', '--json', '--export-dir', '/mnt/netboot']);
        const report = JSON.parse(d.stdout) as { groups: { name: string; checks: { id: string; status: string; evidence?: string[] }[] }[] };
        const readable = report.groups.flatMap((x) => (x.name.includes(serial) ? x.checks : [])).filter((c) => c.id === 'export.readable');
        expect(readable, d.stdout).toHaveLength(1);
        expect(readable[0]!.status).toBe('ok');
        expect((readable[0]!.evidence ?? []).join(' ')).toMatch(/the NFS server .* lets dnsmasq open them/);
        const back = await g.pinet(['server', 'rollback', '--yes', '--json']);
        expect(back.code, `${back.stdout}${back.stderr}`).toBe(0);
      });
    }, 2 * PINET_MS);
  });
});
