/**
 * `pinet server setup --export ceph` end to end (issue 12, root only): the
 * seed article's storage, a CephFS subvolume exported by the NFS-Ganesha
 * that Ceph manages, on the real single-node Ceph of test/ceph (16.2.15,
 * FSAL CEPH, exports from RADOS through mgr/nfs, an admin host reached over
 * SSH) joined to a VM lab (test/vm/ceph-link.ts): Ganesha and the admin
 * host get addresses on the lab's LAN. pinet runs on the boot server VM
 * (the host's node and this checkout over 9p), as a user runs it, reaching
 * the Ceph admin host and the VM Pi over SSH.
 *
 * The squash is the article's (every access squashed): `--squash tftp-user`,
 * which for Ceph is mgr/nfs's `squash all`. Ganesha squashes to its default
 * anonymous id 4294967294 (mgr/nfs cannot set Anonymous_Uid), the subvolume
 * is made writable for it by its mode (777), and the boot server's TFTP
 * server, squashed alike, reads whatever the Pis write.
 *
 * In order: the refusals first, on the untouched cluster (an unknown Ceph
 * version, a missing file system, no NFS cluster and no orchestrator, a
 * pseudo path owned by another export, --root nfs: exit 1, nothing changed
 * on Ceph or on the boot server); the plan (--dry-run, changes nothing);
 * setup from nothing (the subvolume and its mode, the export as `ceph nfs
 * export info` has it, the boot server's NFS mount read back as the TFTP
 * user, dnsmasq); the no-op second run; `pinet enroll` of the VM Pi onto
 * the export; its network boot (kernel by TFTP from the Ceph-backed mount,
 * /boot/firmware over NFS from Ganesha); a 0600 file the Pi writes is
 * served by TFTP; a kernel update on the Pi and its next network boot;
 * `pinet server rollback` (the export goes, the subvolume and the boot
 * files stay); the link removed. Truth comes from the real systems: the
 * test's own `ceph` as client.admin, libcephfs for owners and modes, findmnt
 * on the VMs, what the real TFTP server answered the Pi's bootloader.
 *
 * What cannot run here: an orchestrator (cephadm needs containers, rook
 * Kubernetes); the planner's orchestrator path is tested on recordings made
 * with Ceph's test_orchestrator module (test/jobs/server-ceph.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { shellJoin } from '../../src/util/shell.js';
import type { CephCluster } from '../ceph/shared.js';
import { cephCluster } from '../ceph/shared.js';
import { describeAsRoot } from '../helpers/env.js';
import { linkCephToLab, nameLab, type CephLink } from './ceph-link.js';
import { VmLab } from './lab.js';
import { tftpRequest } from './scenario.js';
import { jsonDoc } from './server-chain.js';
import { ServerVm } from './servers.js';
import { VmPi } from './vm-pi.js';

const BOOT_MS = 420_000;
/** beforeAll: on a fresh machine the image is built first (2-5 min), the cluster starts beside the VMs. */
const IMAGE_AND_BOOT_MS = 1_200_000;
const PINET_MS = 600_000;
const PSEUDO = '/picluster-boot';
const SUBVOLUME = 'picluster-boot';
/** Ganesha's anonymous uid/gid under mgr/nfs (its default, -2). */
const ANON = 4294967294;
/** Names this test gives Ceph objects (the cluster is shared with test/ceph's own tests: only these are compared). */
const TAKEN = { pseudo: '/taken-boot', owner: 'someone-else' };

interface SetupDoc {
  dryRun: boolean;
  plan: { upToDate?: boolean; targets: { changes: { id: string; summary: string }[]; warnings: string[] }[] };
  result: { result: string; error?: string; changes?: string[] };
}

interface EnrollDoc {
  results: { host: string; result: string; error?: string }[];
}

interface CephExportInfo {
  export_id: number;
  path: string;
  pseudo: string;
  access_type: string;
  squash: string;
  protocols: number[];
  fsal: { name: string; fs_name: string };
  clients: { addresses: string[]; access_type: string; squash: string }[];
}

/** Measured here, printed at the end (the README's figures). */
const facts: Record<string, unknown> = {};
const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    facts[`${name} (s)`] = Math.round((Date.now() - t) / 100) / 10;
  }
};

describeAsRoot('pinet server setup --export ceph: the real Ceph, a boot server VM and a VM Pi', () => {
  let ceph: CephCluster;
  let lab: VmLab;
  let link: CephLink;
  let boot: ServerVm;
  let pi: VmPi;
  let failed = false;
  let plan = '';
  const t0 = Date.now();

  const track = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed = true;
      throw err;
    });

  const nfsSource = () => `${link.ganeshaIp}:${PSEUDO}`;
  const fs = () => ceph.info.fsName;
  const cluster = () => ceph.info.nfsClusterId;

  /** pinet on the boot server, as root. */
  const pinet = (args: string[], timeoutMs = PINET_MS) => boot.ssh(shellJoin(['pinet', ...args]), { timeoutMs });

  /** The article's command line, as a user types it (the admin host by its ssh_config name). */
  const setupArgs = (extra: string[] = []) => [
    'server', 'setup', '--export', 'ceph', '--on', link.adminName, '--nfs', nfsSource(),
    '--ceph-fs', fs(), '--ceph-cluster', cluster(), '--subnet', lab.subnet, '--squash', 'tftp-user', ...extra,
  ];

  async function setup(extra: string[] = []) {
    const r = await pinet([...setupArgs(extra), '--yes', '--json']);
    return { ...r, doc: jsonDoc<SetupDoc>(r.stdout) };
  }

  /** `ceph …` as client.admin (the test's own view, not pinet's). */
  async function cephOk(args: string[]): Promise<string> {
    const r = await ceph.ceph(args);
    if (r.code !== 0) throw new Error(`ceph ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }
  const exportInfo = async (pseudo = PSEUDO): Promise<CephExportInfo | undefined> => {
    const out = (await cephOk(['nfs', 'export', 'info', cluster(), pseudo])).trim();
    return out && out !== '{}' ? (JSON.parse(out) as CephExportInfo) : undefined;
  };
  const subvolumeInfo = async (name = SUBVOLUME) => {
    const r = await ceph.ceph(['fs', 'subvolume', 'info', fs(), name]);
    return r.code === 0 ? (JSON.parse(r.stdout) as { path: string; mode: number; uid: number; gid: number; ctime: string }) : undefined;
  };

  /** A file from the boot server VM's TFTP server, fetched from the LAN as a Pi would. */
  async function tftpFromLan(file: string): Promise<{ code: number; data: string; error: string }> {
    const argv = lab.inLan([process.execPath, '--import', 'tsx', fileURLToPath(new URL('./tftp-get.ts', import.meta.url)), boot.ip, file]);
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 60_000, stripFinalNewline: false });
    return { code: r.exitCode ?? -1, data: String(r.stdout), error: String(r.stderr) };
  }

  const dnsmasqPid = async () => Number((await boot.run('systemctl show -p MainPID --value dnsmasq')).trim());

  /** Everything a refused setup could have touched: this test's Ceph objects, the boot server's files, mounts and dnsmasq. */
  async function snapshot(): Promise<unknown[]> {
    const mine = (name: string) => name === SUBVOLUME || name === TAKEN.owner || name === TAKEN.pseudo.slice(1);
    const subvolumes = (JSON.parse(await cephOk(['fs', 'subvolume', 'ls', fs()])) as { name: string }[]).map((s) => s.name).filter(mine).sort();
    const exportsNow = ((JSON.parse((await cephOk(['nfs', 'export', 'ls', cluster(), '--detailed'])).trim() || '[]') as CephExportInfo[]))
      .filter((e) => e.pseudo === PSEUDO || e.pseudo === TAKEN.pseudo)
      .sort((a, b) => a.pseudo.localeCompare(b.pseudo));
    return [
      subvolumes,
      exportsNow,
      await Promise.all(subvolumes.map((s) => subvolumeInfo(s).then((i) => i && { mode: i.mode, uid: i.uid, gid: i.gid, ctime: i.ctime }))),
      // pinet's state: its files (a run's lock makes the empty locks/ and backups/ directories: not a change to the boot server).
      await boot.run("cat /etc/fstab; findmnt -n -o TARGET,SOURCE -t nfs,nfs4 | sort; ls -la /etc/dnsmasq.d; cat /etc/dnsmasq.d/* 2>/dev/null; find /var/lib/pinet -type f ! -path '*/locks/*' 2>/dev/null | sort; cat /var/lib/pinet/server.json 2>/dev/null || true"),
      await dnsmasqPid(),
    ];
  }

  beforeAll(async () => {
    try {
      // The cluster starts (20-60 s) while the lab's VMs boot (about a minute each under TCG).
      const started = timed('cluster start (shared by the run; 0 when already up)', () => cephCluster());
      lab = await VmLab.start({ name: 'ceph-e2e', log: (l) => process.stderr.write(`${l}\n`) });
      nameLab(lab);
      [boot, pi] = await Promise.all([
        ServerVm.start(lab, { name: 'boot-server', host: 5, pinet: true }),
        VmPi.create(lab, lab.nextIndex(), { name: 'pi-a' }),
      ]);
      await pi.powerOn();
      ceph = await started;
      link = await linkCephToLab(ceph, lab);
      await timed('boot server and Pi VMs up', () => Promise.all([boot.waitForSsh(BOOT_MS), pi.vm.waitForSsh(BOOT_MS)]));
      // The boot server logs in to the Pi with the lab's key and to the Ceph admin host with the cluster's, host keys checked.
      const id = await link.adminIdentity();
      const knownHosts = await readFile(lab.knownHosts, 'utf8');
      await boot.run('umask 077; mkdir -p /root/.ssh; cat > /root/.ssh/id_ed25519', { input: await readFile(lab.identityFile, 'utf8') });
      await boot.run('umask 077; cat > /root/.ssh/ceph-admin', { input: id.privateKey });
      await boot.run('cat > /root/.ssh/known_hosts', { input: knownHosts + id.knownHosts });
      await boot.run('cat > /root/.ssh/config', { input: `${id.sshConfig}Host ${pi.name}\n    HostName ${pi.ip}\n    HostKeyAlias ${pi.name}\nHost *\n    User root\n` });
      // A fresh Debian boot server with dnsmasq installed: the service runs with its default config.
      await boot.run('systemctl enable --now dnsmasq');
      facts['ready after (s)'] = Math.round((Date.now() - t0) / 1000);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, IMAGE_AND_BOOT_MS);

  afterAll(async () => {
    facts['whole file (s)'] = Math.round((Date.now() - t0) / 1000);
    process.stderr.write(`ceph e2e facts:\n${JSON.stringify(facts, null, 2)}\n`);
    if (plan) process.stderr.write(`ceph e2e plan (pinet server setup --dry-run):\n${plan}\n`);
    if (ceph) {
      await ceph.ceph(['nfs', 'export', 'rm', cluster(), PSEUDO]);
      await ceph.ceph(['nfs', 'export', 'rm', cluster(), TAKEN.pseudo]);
      for (const s of [SUBVOLUME, TAKEN.owner]) await ceph.ceph(['fs', 'subvolume', 'rm', fs(), s, '--force']);
    }
    if (lab) {
      if (failed) lab.keepDir();
      await lab.stop();
    }
  }, 180_000);

  describe('refusals on the untouched cluster: exit 1 with the reason, nothing changed on Ceph or the boot server', () => {
    test('an unknown Ceph version (the admin host answers `ceph version` as 16.2.5 would; only 16.2.15 exists here)', async () => {
      await track((async () => {
        const before = await snapshot();
        // The admin host's root is an overlay whose writes go to a tmpfs: a ceph ahead of /usr/bin in PATH, the rest the real CLI.
        const wrapper = [
          '#!/bin/sh',
          '# test: Ceph 16.2.5 (named flags of ceph nfs export create came in 16.2.7); every other command is the real CLI',
          'if [ "$1" = version ]; then echo "ceph version 16.2.5 (0883bdea7337b95e4b611c768c0279868462204a) pacific (stable)"; exit 0; fi',
          'exec /usr/bin/ceph "$@"',
          '',
        ].join('\n');
        const w = await ceph.adminSsh('cat > /usr/local/bin/ceph && chmod 0755 /usr/local/bin/ceph', { input: wrapper });
        expect(w.code, w.stderr).toBe(0);
        try {
          const r = await setup();
          expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
          expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(/ceph version 16\.2\.5 is not a Ceph version pinet knows the commands of/);
        } finally {
          await ceph.adminSsh('rm -f /usr/local/bin/ceph');
        }
        expect(await snapshot()).toEqual(before);
      })());
    }, PINET_MS);

    test('a missing file system, no NFS cluster and no orchestrator, --root nfs (cephadm\'s Ganesha serves NFSv4 only)', async () => {
      await track((async () => {
        const before = await snapshot();
        const cases: [string[], RegExp][] = [
          [['--ceph-fs', 'no-such-fs'], /there is no CephFS file system no-such-fs \(ceph fs ls: homenet-fs\)/],
          [['--ceph-cluster', 'no-such-cluster'], /there is no NFS cluster no-such-cluster \(Error ENOENT: Cluster does not exist\), and without an orchestrator/],
          [['--root', 'nfs'], /needs NFSv3 .* serves NFSv4 only/],
        ];
        for (const [extra, why] of cases) {
          // later flags win: the case's value replaces the article's
          const r = await setup(extra);
          expect(r.code, `${extra.join(' ')}: ${r.stdout}\n${r.stderr}`).toBe(1);
          expect(`${r.doc?.result.error ?? ''}${r.stderr}`, extra.join(' ')).toMatch(why);
        }
        expect(await snapshot()).toEqual(before);
      })());
    }, PINET_MS);

    test('a pseudo path owned by another export (of another subvolume; no subvolume of that name yet): refused, that export untouched', async () => {
      await track((async () => {
        await cephOk(['fs', 'subvolume', 'create', fs(), TAKEN.owner]);
        const otherPath = (await cephOk(['fs', 'subvolume', 'getpath', fs(), TAKEN.owner])).trim();
        await cephOk(['nfs', 'export', 'create', 'cephfs', '--cluster-id', cluster(), '--pseudo-path', TAKEN.pseudo, '--fsname', fs(), '--path', otherPath, '--client_addr', '10.251.0.0/24']);
        const before = await snapshot();
        const r = await setup(['--nfs', `${link.ganeshaIp}:${TAKEN.pseudo}`]);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
        expect(`${r.doc?.result.error ?? ''}${r.stderr}`).toMatch(new RegExp(`the pseudo path ${TAKEN.pseudo} belongs to another export \\(homenet-fs:${otherPath}`));
        expect(await snapshot()).toEqual(before);
        expect((await exportInfo(TAKEN.pseudo))?.clients).toEqual([{ addresses: ['10.251.0.0/24'], access_type: 'rw', squash: 'none' }]);
        await cephOk(['nfs', 'export', 'rm', cluster(), TAKEN.pseudo]);
        await cephOk(['fs', 'subvolume', 'rm', fs(), TAKEN.owner]);
      })());
    }, PINET_MS);
  });

  test('--dry-run: the plan (the article\'s Ceph steps, the mount, dnsmasq), nothing changed', async () => {
    await track((async () => {
      const before = await snapshot();
      const r = await timed('pinet server setup --dry-run', () => pinet([...setupArgs(), '--dry-run']));
      expect(r.code, r.stderr).toBe(0);
      plan = r.stdout;
      expect(r.stdout).toContain(`ceph fs subvolume create ${fs()} ${SUBVOLUME} --mode 777`);
      expect(r.stdout).toContain(`ceph nfs export create cephfs --cluster-id ${cluster()} --pseudo-path ${PSEUDO} --fsname ${fs()} --path <subvolume path> --client_addr ${lab.subnet} --squash all`);
      expect(r.stdout).toContain(`+${nfsSource()} /mnt/netboot nfs defaults,timeo=900,_netdev 0 0`);
      expect(await snapshot()).toEqual(before);
    })());
  }, PINET_MS);

  test('setup from nothing: the subvolume (mode 777), the export as ceph nfs export info has it, the boot server\'s NFS mount read back as the TFTP user, dnsmasq serving it', async () => {
    await track((async () => {
      const pidBefore = await dnsmasqPid();
      const r = await timed('pinet server setup (from nothing)', () => setup());
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.doc!.result.result).toBe('set up');
      expect(r.doc!.plan.targets[0]!.changes.map((c) => c.id)).toEqual(['ceph-1', 'ceph-2', 'fstab', 'mount', 'dnsmasq', 'dnsmasq-restart', 'record']);

      // The subvolume: root-owned, writable for the squashed clients by its mode.
      const sv = (await subvolumeInfo())!;
      expect({ mode: (sv.mode & 0o7777).toString(8), uid: sv.uid, gid: sv.gid }).toEqual({ mode: '777', uid: 0, gid: 0 });
      const path = (await cephOk(['fs', 'subvolume', 'getpath', fs(), SUBVOLUME])).trim();
      expect(sv.path).toBe(path);

      // The export: the pseudo path, the path getpath gives, one client block (the lab's subnet, which holds the boot server), squash all.
      const e = (await exportInfo())!;
      expect(e).toMatchObject({ pseudo: PSEUDO, path, access_type: 'none', squash: 'none', protocols: [4], fsal: { name: 'CEPH', fs_name: fs() } });
      expect(e.clients).toEqual([{ addresses: [lab.subnet], access_type: 'rw', squash: 'all' }]);

      // The boot server's own mount: the article's fstab line, NFSv4 from Ganesha.
      expect(await boot.run('cat /etc/fstab')).toContain(`${nfsSource()} /mnt/netboot nfs defaults,timeo=900,_netdev 0 0`);
      expect((await boot.run('findmnt -n -o SOURCE,FSTYPE /mnt/netboot')).trim()).toMatch(new RegExp(`^${nfsSource()}\\s+nfs4$`));
      // Root's write is squashed to Ganesha's anonymous id (CephFS says so), and the TFTP server's user reads it back.
      await boot.run('echo probe > /mnt/netboot/e2e-probe.txt');
      expect(await ceph.cephfsStat(`${path}/e2e-probe.txt`)).toMatchObject({ uid: ANON, gid: ANON });
      expect((await boot.run('setpriv --reuid dnsmasq --regid dip --clear-groups cat /mnt/netboot/e2e-probe.txt')).trim()).toBe('probe');
      // dnsmasq runs pinet's config (restarted) and serves the mount over TFTP to the LAN.
      expect(await boot.run('cat /etc/dnsmasq.d/pinet.conf')).toMatch(/tftp-root=\/mnt\/netboot/);
      expect(await dnsmasqPid()).not.toBe(pidBefore);
      expect(await tftpFromLan('e2e-probe.txt')).toMatchObject({ code: 0, data: 'probe\n' });
      await boot.run('rm -f /mnt/netboot/e2e-probe.txt');
    })());
  }, PINET_MS);

  test('a second run changes nothing: up to date; the subvolume (mode, ctime), the export, the mount and the running dnsmasq untouched', async () => {
    await track((async () => {
      const before = await snapshot();
      const r = await timed('pinet server setup (no-op)', () => setup());
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.doc!.result.result).toBe('up to date');
      expect(r.doc!.plan.targets[0]!.changes).toEqual([]);
      expect(await snapshot()).toEqual(before);
    })());
  }, PINET_MS);

  test('pinet enroll copies the Pi onto the Ceph export: its files belong to the anonymous id in CephFS', async () => {
    await track((async () => {
      const r = await timed('pinet enroll (1 Pi, from the boot server VM)', () => pinet(['enroll', pi.name, '--nfs', nfsSource(), '--boot-order', 'net-first', '--yes', '--json']));
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect((JSON.parse(r.stdout) as EnrollDoc).results[0]!.result).toBe('enrolled');
      const path = (await subvolumeInfo())!.path;
      const st = (await ceph.cephfsStat(`${path}/${pi.serial8}/vmlinuz`))!;
      expect({ uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }).toEqual({ uid: ANON, gid: ANON, mode: '644' });
      expect(await pi.run('grep /boot/firmware /etc/fstab')).toContain(`${nfsSource()}/${pi.serial8} /boot/firmware nfs defaults,timeo=900,_netdev 0 0`);
    })());
  }, PINET_MS);

  test('the Pi netboots through it: kernel by TFTP from the Ceph-backed mount, /boot/firmware over NFS from Ganesha', async () => {
    await track((async () => {
      await timed('Pi reboot to SSH (network boot)', () => pi.reboot(BOOT_MS));
      const b = pi.lastBootResult!;
      expect(b).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
      expect(tftpRequest(b, 'vmlinuz')).toMatchObject({ outcome: 'sent' });
      expect((await pi.run('findmnt -n -o SOURCE,FSTYPE /boot/firmware')).trim()).toMatch(new RegExp(`^${nfsSource()}/${pi.serial8}\\s+nfs4$`));
    })());
  }, BOOT_MS + 60_000);

  test('squash all: a 0600 file the Pi writes as root is the anonymous id\'s, and the TFTP server serves it (no kernel hook needed)', async () => {
    await track((async () => {
      await pi.run('umask 077; echo secret > /boot/firmware/e2e-0600 && stat -c "%u:%g %a" /boot/firmware/e2e-0600');
      const path = (await subvolumeInfo())!.path;
      const st = (await ceph.cephfsStat(`${path}/${pi.serial8}/e2e-0600`))!;
      expect({ uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }).toEqual({ uid: ANON, gid: ANON, mode: '600' });
      expect(await tftpFromLan(`${pi.serial8}/e2e-0600`)).toMatchObject({ code: 0, data: 'secret\n' });
      await pi.run('rm /boot/firmware/e2e-0600');
    })());
  }, 120_000);

  test('a kernel update on the Pi (flash-kernel\'s backup and mv into the Ceph export), then its next network boot runs the new kernel', async () => {
    await track((async () => {
      const { old: oldKernel, new: newKernel } = lab.image.kernels;
      const from = (await pi.run('uname -r')).trim();
      const to = from === oldKernel ? newKernel : oldKernel;
      const u = await timed('kernel update on the Pi', () => pi.ssh(`pinet-lab-kernel-update ${to} 2>&1`, { timeoutMs: 300_000 }));
      facts.kernelUpdate = { code: u.code, from, to, output: u.stdout.slice(-1500) };
      expect(u.code, u.stdout).toBe(0);
      const path = (await subvolumeInfo())!.path;
      const st = (await ceph.cephfsStat(`${path}/${pi.serial8}/vmlinuz`))!;
      facts.vmlinuzAfterUpdate = { uid: st.uid, gid: st.gid, mode: (st.mode & 0o7777).toString(8), size: st.size };
      expect({ uid: st.uid, gid: st.gid }).toEqual({ uid: ANON, gid: ANON });
      expect(st.size).toBe(Number((await pi.run(`stat -c %s /boot/vmlinuz-${to}`)).trim()));
      await timed('Pi reboot to SSH (network boot, new kernel)', () => pi.reboot(BOOT_MS));
      const b = pi.lastBootResult!;
      expect(b).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
      expect(tftpRequest(b, 'vmlinuz')).toMatchObject({ outcome: 'sent' });
      expect((await pi.run('uname -r')).trim()).toBe(to);
    })());
  }, BOOT_MS + 420_000);

  test('pinet server rollback: the export it created is gone, the mount, the fstab line and dnsmasq config too; the subvolume and the boot files stay', async () => {
    await track((async () => {
      const path = (await subvolumeInfo())!.path;
      const r = await timed('pinet server rollback', () => pinet(['server', 'rollback', '--yes', '--json']));
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await exportInfo()).toBeUndefined();
      expect((await subvolumeInfo())?.path).toBe(path);
      expect(await ceph.cephfsStat(`${path}/${pi.serial8}/config.txt`)).toMatchObject({ uid: ANON, gid: ANON });
      expect(await boot.run('cat /etc/fstab')).not.toContain('/mnt/netboot');
      expect((await boot.ssh('findmnt -n /mnt/netboot')).code).not.toBe(0);
      expect((await boot.ssh('test -e /etc/dnsmasq.d/pinet.conf')).code).not.toBe(0);
    })());
  }, PINET_MS);

  test('the link comes out: no interface of it is left in the Ceph namespaces, Ganesha is out of the lab\'s reach', async () => {
    await track((async () => {
      await link.remove();
      for (const ns of [ceph.info.layout.ceph.netns, ceph.info.layout.admin.netns]) {
        expect((await execa('ip', ['-n', ns, '-o', 'link', 'show'])).stdout).not.toMatch(new RegExp(`\\blab${lab.slot}\\b`));
      }
      expect((await execa('ip', ['-n', lab.lanNs, '-o', 'link', 'show'])).stdout).not.toMatch(/\bc[ga]\d+@/);
      // rpcbind beside Ganesha answered on the lab's LAN before (the mounts above); now nothing does.
      const argv = lab.inLan(['rpcinfo', '-p', link.ganeshaIp]);
      const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 30_000 });
      expect(r.exitCode, String(r.stdout)).not.toBe(0);
    })());
  }, 120_000);
});
