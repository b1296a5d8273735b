/**
 * End to end with the servers as VMs (test/vm, root only): the kernel NFS
 * server (nfs-kernel-server in a VM) exports the boot directory squashing all
 * access to the boot server's TFTP user, as the seed article did; a boot
 * server VM mounts it over real NFS from its fstab (the article's line, with
 * _netdev), runs dnsmasq with the TFTP root on that mount and runs pinet
 * (the host's node and this checkout over 9p). pinet enrolls a VM Pi onto
 * the squashing export from there: its copy as root becomes the anonymous
 * owner (or fails), and the Pi's next kernel update must still succeed and
 * netboot.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { VmLab } from './lab.js';
import { tftpRequest } from './scenario.js';
import { ServerVm } from './servers.js';
import { VmPi } from './vm-pi.js';

const BOOT_MS = 420_000;
/** beforeAll: on a fresh machine it builds the image first (about 2-5 minutes here). */
const IMAGE_AND_BOOT_MS = 1_200_000;
const EXPORT = '/srv/picluster-boot';

describeAsRoot('VM lab: a boot server VM over a squashing kernel NFS server', () => {
  let lab: VmLab;
  let nfs: ServerVm;
  let boot: ServerVm;
  let pi: VmPi;
  let failed = false;
  let anon = { uid: -1, gid: -1 };

  const track = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed = true;
      throw err;
    });

  beforeAll(async () => {
    try {
      lab = await VmLab.start({ name: 'servers', log: (l) => process.stderr.write(`${l}\n`) });
      [nfs, boot, pi] = await Promise.all([
        ServerVm.start(lab, { name: 'nfs-kernel', host: 5 }),
        ServerVm.start(lab, { name: 'boot-server', host: 6, pinet: true }),
        VmPi.create(lab, lab.nextIndex(), { name: 'pi-sq' }),
      ]);
      await pi.powerOn();
      await Promise.all([nfs.waitForSsh(BOOT_MS), boot.waitForSsh(BOOT_MS), pi.vm.waitForSsh(BOOT_MS)]);
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
  }, 120_000);

  test('the kernel NFS server exports the boot directory with all access squashed to the boot server\'s TFTP user', async () => {
    await track((async () => {
      // dnsmasq on the boot server runs as user dnsmasq, group dip (its compiled-in default).
      const ids = (await boot.run('id -u dnsmasq; getent group dip | cut -d: -f3')).trim().split('\n').map(Number);
      anon = { uid: ids[0]!, gid: ids[1]! };
      await nfs.run(
        [
          'set -e',
          `mkdir -p ${EXPORT}`,
          `chown ${anon.uid}:${anon.gid} ${EXPORT}`,
          `printf '%s\\n' '${EXPORT} ${lab.subnet}(rw,sync,no_subtree_check,all_squash,anonuid=${anon.uid},anongid=${anon.gid})' > /etc/exports`,
          'systemctl start nfs-server',
          'exportfs -ra',
        ].join('\n'),
      );
      const v = await nfs.run('exportfs -v');
      expect(v).toContain(EXPORT);
      expect(v).toMatch(/all_squash/);
    })());
  }, 300_000);

  test('the boot server mounts it over NFS from its fstab (_netdev), and its dnsmasq (config by pinet) serves TFTP from the mount', async () => {
    await track((async () => {
      await boot.run(
        [
          'set -e',
          `printf '%s\\n' '${nfs.ip}:${EXPORT} /mnt/netboot nfs defaults,timeo=900,_netdev 0 0' >> /etc/fstab`,
          'mkdir -p /mnt/netboot /etc/dnsmasq.d',
          'mount /mnt/netboot',
          `pinet render-dnsmasq --subnet ${lab.subnet} --tftp-root /mnt/netboot -o /etc/dnsmasq.d/pinet.conf --check`,
          'dnsmasq --conf-file=/etc/dnsmasq.d/pinet.conf --log-facility=/var/log/dnsmasq.log',
        ].join('\n'),
        { timeoutMs: 300_000 },
      );
      expect((await boot.run('findmnt -n -o SOURCE,FSTYPE /mnt/netboot')).trim()).toMatch(new RegExp(`^${nfs.ip}:${EXPORT}\\s+nfs4?$`));
      // Written as root through the squashing mount: the NFS server stores the anonymous owner.
      await boot.run('echo probe > /mnt/netboot/probe');
      expect((await nfs.run(`stat -c '%u:%g' ${EXPORT}/probe`)).trim()).toBe(`${anon.uid}:${anon.gid}`);
    })());
  }, 600_000);

  test('pinet enroll on the boot server onto the squashing export: the copy belongs to the anonymous user, the Pi netboots from it', async () => {
    await track((async () => {
      // The boot server reaches the Pi by its LAN address with the lab's key.
      const key = await import('node:fs/promises').then((fs) => fs.readFile(lab.identityFile, 'utf8'));
      const kh = await import('node:fs/promises').then((fs) => fs.readFile(lab.knownHosts, 'utf8'));
      await boot.run('umask 077; mkdir -p /root/.ssh; cat > /root/.ssh/id_ed25519', { input: key });
      await boot.run('cat > /root/.ssh/known_hosts', { input: kh });
      await boot.run('cat > /root/.ssh/config', { input: `Host ${pi.name}\n    HostName ${pi.ip}\n    HostKeyAlias ${pi.name}\n    User root\n` });
      const r = await boot.ssh(`pinet enroll ${pi.name} --nfs ${nfs.ip}:${EXPORT} --export-dir /mnt/netboot --boot-order net-first --yes 2>&1`, { timeoutMs: 900_000 });
      process.stderr.write(`enroll on the boot server:\n${r.stdout}\n`);
      expect(r.code, r.stdout).toBe(0);
      const owners = await nfs.run(`stat -c '%u:%g %a %n' ${EXPORT}/${pi.serial8} ${EXPORT}/${pi.serial8}/vmlinuz`);
      for (const line of owners.trim().split('\n')) expect(line).toMatch(new RegExp(`^${anon.uid}:${anon.gid} `));
      await pi.reboot(BOOT_MS);
      expect(pi.lastBootResult).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
      expect(tftpRequest(pi.lastBootResult, 'vmlinuz')).toMatchObject({ outcome: 'sent' });
      expect((await pi.run('findmnt -n -o SOURCE /boot/firmware')).trim()).toBe(`${nfs.ip}:${EXPORT}/${pi.serial8}`);
    })());
  }, 1_200_000);

  test('a kernel update on that Pi succeeds through the squash, and its next netboot runs the new kernel', async () => {
    await track((async () => {
      const { new: newKernel } = lab.image.kernels;
      const r = await pi.ssh(`pinet-lab-kernel-update ${newKernel} 2>&1`, { timeoutMs: 300_000 });
      process.stderr.write(`kernel update on ${pi.name}:\n${r.stdout}\n`);
      const stored = (await nfs.run(`stat -c '%u:%g %a' ${EXPORT}/${pi.serial8}/vmlinuz`)).trim();
      process.stderr.write(`vmlinuz on the NFS server: ${stored}\n`);
      expect(r.code, r.stdout).toBe(0);
      await pi.reboot(BOOT_MS);
      expect(tftpRequest(pi.lastBootResult, 'vmlinuz'), JSON.stringify(pi.lastBootResult?.summary)).toMatchObject({ outcome: 'sent' });
      expect((await pi.run('uname -r')).trim()).toBe(newKernel);
    })());
  }, 2 * BOOT_MS);
});
