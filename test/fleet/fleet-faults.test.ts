/**
 * What fault and update tests need from the fleet, checked through OpenSSH:
 * broken connections, slow links, unknown and changed host keys, reboots
 * from inside the Pi, power, and kernel updates with their hooks.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet } from './fleet.js';
import type { Fleet } from './fleet.js';
import type { FakePi } from './fake-pi.js';
import { ssh } from './openssh.js';
import { until } from './wait.js';

/** An ssh transfer whose progress the test can watch. */
function streaming(config: string, host: string, command: string) {
  const child = spawn('ssh', ['-n', '-F', config, host, command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    bytes += d.length;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number; stderr: string; bytes: number }>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? 255, stderr, bytes })),
  );
  return { bytes: () => bytes, done };
}

describeAsRoot('fake-Pi fleet: faults, host keys, reboots and kernel updates', () => {
  let fleet: Fleet;
  let scratch: string;
  let ubuntu: FakePi;
  let bookworm: FakePi;
  let bullseye: FakePi;
  const ok = async (host: string, cmd: string) => {
    const r = await ssh(fleet.sshConfig, host, cmd);
    if (r.code !== 0) throw new Error(`ssh ${host} ${cmd}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'pinet-fleet-faults-'));
    fleet = await startFleet({
      pis: [
        { name: 'ubuntu', variant: 'ubuntu-2404-pi4' },
        { name: 'bookworm', variant: 'rpios-bookworm-pi4' },
        { name: 'bullseye', variant: 'rpios-bullseye-pi4' },
      ],
      bootFilesMB: 3,
    });
    ubuntu = fleet.pi('ubuntu');
    bookworm = fleet.pi('bookworm');
    bullseye = fleet.pi('bullseye');
  });

  afterAll(async () => {
    await fleet?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('network faults', () => {
    it('cutConnections() breaks a running session like a network failure', async () => {
      const before = (await ubuntu.connectionStats()).accepted;
      const session = ssh(fleet.sshConfig, 'ubuntu', 'sleep 60', { timeoutMs: 30_000 });
      await until('the session', async () => (await ubuntu.connectionStats()).accepted > before && (await ubuntu.connectionStats()).active > 0);
      expect(await ubuntu.cutConnections()).toBeGreaterThanOrEqual(1);
      const r = await session;
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/reset|closed|broken pipe/i);
      // The Pi itself is fine.
      expect(await ok('ubuntu', 'echo still here')).toBe('still here\n');
    });

    it('throttle() slows a copy so that a test can cut it in the middle', async () => {
      const size = 4_000_000;
      await ubuntu.throttle(64 * 1024);
      const copy = streaming(fleet.sshConfig, 'ubuntu', `head -c ${size} /dev/zero`);
      await until('the first bytes', () => copy.bytes() > 0);
      await ubuntu.cutConnections();
      const cut = await copy.done;
      expect(cut.code).toBe(255);
      expect(cut.bytes).toBeGreaterThan(0);
      expect(cut.bytes).toBeLessThan(size);

      await ubuntu.throttle(null);
      const full = await streaming(fleet.sshConfig, 'ubuntu', `head -c ${size} /dev/zero`).done;
      expect(full).toMatchObject({ code: 0, bytes: size });
    });

    it('blockConnections() makes the Pi unreachable until lifted', async () => {
      await bookworm.blockConnections('drop');
      const dropped = await ssh(fleet.sshConfig, 'bookworm', 'true', { args: ['-o', 'ConnectTimeout=2'] });
      expect(dropped.code).toBe(255);
      expect(dropped.stderr).toMatch(/timed out/i);
      await bookworm.blockConnections('reset');
      const reset = await ssh(fleet.sshConfig, 'bookworm', 'true');
      expect(reset.code).toBe(255);
      expect(reset.stderr).toMatch(/reset|closed/i);
      await bookworm.blockConnections(null);
      await bookworm.cutConnections(); // the dropped one
      expect(await ok('bookworm', 'echo back')).toBe('back\n');
    });

    it('powerOff() takes the Pi away until powerOn()', async () => {
      await bullseye.powerOff();
      expect((await bullseye.status()).state).toBe('off');
      const r = await ssh(fleet.sshConfig, 'bullseye', 'true');
      expect(r.code).toBe(255);
      const boot = await bullseye.powerOn();
      expect(boot).toBeGreaterThanOrEqual(2);
      expect(await ok('bullseye', 'hostname')).toBe('bullseye\n');
    });
  });

  describe('host keys', () => {
    it('refuses a Pi whose key is not in known_hosts, and accept-new records it', async () => {
      const empty = await fleet.writeKnownHosts(join(scratch, 'known_hosts.empty'), []);
      const strict = await fleet.writeSshConfig(join(scratch, 'strict.config'), { knownHostsFile: empty });
      const r = await ssh(strict, 'ubuntu', 'true');
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(new RegExp(`No ED25519 host key is known for \\[127\\.0\\.0\\.1\\]:${ubuntu.port}`));

      const learn = await fleet.writeSshConfig(join(scratch, 'learn.config'), { knownHostsFile: empty, strictHostKeyChecking: 'accept-new' });
      expect((await ssh(learn, 'ubuntu', 'echo ok')).stdout).toBe('ok\n');
      expect(await readFile(empty, 'utf8')).toContain(ubuntu.hostKey.split(' ')[1]!);
    });

    it('shows a changed host key after regenerateHostKey(), and the same key after a reboot', async () => {
      const oldKey = bookworm.hostKey;
      const oldKnown = await fleet.writeKnownHosts(join(scratch, 'known_hosts.old'), [bookworm]);
      const newKey = await bookworm.regenerateHostKey();
      expect(newKey).not.toBe(oldKey);
      const cfg = await fleet.writeSshConfig(join(scratch, 'old.config'), { knownHostsFile: oldKnown });
      const r = await ssh(cfg, 'bookworm', 'true');
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
      expect(r.stderr).toContain(bookworm.hostKeyFingerprint);

      const fresh = await fleet.writeKnownHosts(join(scratch, 'known_hosts.new'), [bookworm]);
      const cfg2 = await fleet.writeSshConfig(join(scratch, 'new.config'), { knownHostsFile: fresh });
      expect((await ssh(cfg2, 'bookworm', 'echo ok')).stdout).toBe('ok\n');
      await bookworm.reboot();
      expect((await ssh(cfg2, 'bookworm', 'echo same key')).stdout).toBe('same key\n');
    });
  });

  describe('reboots', () => {
    it('reboots on `systemctl reboot` and `shutdown -r now`, keeping what the Pi wrote', async () => {
      await ok('ubuntu', 'echo kept > /var/tmp/kept');
      for (const cmd of ['systemctl reboot', 'shutdown -r now']) {
        const { boot } = await ubuntu.status();
        const r = await ssh(fleet.sshConfig, 'ubuntu', cmd);
        expect([0, 255]).toContain(r.code);
        const after = await ubuntu.waitForBoot({ after: boot });
        expect(after.boot).toBe(boot + 1);
      }
      expect(await ok('ubuntu', 'cat /var/tmp/kept')).toBe('kept\n');
    });

    it('refuses to reboot for a non-root user and to power off at all', async () => {
      const r = await ssh(fleet.sshConfig, 'pi@ubuntu', '/usr/sbin/reboot');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Interactive authentication required/);
      const p = await ssh(fleet.sshConfig, 'ubuntu', 'poweroff');
      expect(p.code).toBe(1);
      expect(p.stderr).toMatch(/not simulated/);
    });
  });

  describe('kernel updates', () => {
    it('Ubuntu: flash-kernel installs the new kernel 0600 root; a hook ordered after it can fix that', async () => {
      const before = await ubuntu.sh('sha256sum < /boot/firmware/vmlinuz');
      const first = await ubuntu.simulateKernelUpdate();
      expect(first.version).toBe('6.8.0-1005-raspi');
      expect(await ubuntu.sh('sha256sum < /boot/firmware/vmlinuz')).not.toBe(before);
      // The kernel keeps the package's 0600; the initramfs is 0644 like update-initramfs makes it.
      expect(await ubuntu.sh("stat -c '%a %U' /boot/firmware/vmlinuz /boot/firmware/initrd.img")).toBe('600 root\n644 root\n');
      expect(first.output).toMatch(/flash-kernel: installing version 6\.8\.0-1005-raspi\nTaking backup of vmlinuz\.\nInstalling new vmlinuz\./);
      expect(await ubuntu.exists('/boot/firmware/vmlinuz.bak')).toBe(true);
      expect(await ubuntu.sh('readlink /boot/vmlinuz')).toBe('vmlinuz-6.8.0-1005-raspi\n');

      // run-parts ignores names with a dot; it runs zzz-* after zz-flash-kernel.
      const fix = '#!/bin/sh\nchmod a+r /boot/firmware/vmlinuz /boot/firmware/initrd.img\necho "postinst $1" >> /var/log/hooks\n';
      await ubuntu.writeFile('/etc/kernel/postinst.d/zzz-pinet.sh', fix, 0o755);
      await ubuntu.simulateKernelUpdate();
      expect(await ubuntu.sh("stat -c '%a' /boot/firmware/vmlinuz")).toBe('600\n');
      await ubuntu.sh('mv /etc/kernel/postinst.d/zzz-pinet.sh /etc/kernel/postinst.d/zzz-pinet');
      await ubuntu.writeFile('/etc/initramfs/post-update.d/zzz-pinet', '#!/bin/sh\necho "post-update $1 $2" >> /var/log/hooks\n', 0o755);
      const third = await ubuntu.simulateKernelUpdate();
      expect(await ubuntu.sh("stat -c '%a' /boot/firmware/vmlinuz /boot/firmware/initrd.img")).toBe('644\n644\n');
      expect(await ubuntu.readText('/var/log/hooks')).toBe(
        `post-update ${third.version} /boot/initrd.img-${third.version}\npostinst ${third.version}\n`,
      );
    });

    it('Raspberry Pi OS Bookworm: z50-raspi-firmware copies kernel8.img and initramfs8', async () => {
      const before = await bookworm.sh('sha256sum < /boot/firmware/kernel8.img; sha256sum < /boot/firmware/initramfs8');
      await bookworm.simulateKernelUpdate();
      expect(await bookworm.sh('sha256sum < /boot/firmware/kernel8.img; sha256sum < /boot/firmware/initramfs8')).not.toBe(before);
      expect(await bookworm.sh("stat -c '%a %U' /boot/firmware/kernel8.img")).toBe('600 root\n');
      await bookworm.simulateKernelUpdate({ mode: 0o644 });
      expect(await bookworm.sh("stat -c '%a' /boot/firmware/kernel8.img")).toBe('644\n');
    });

    it('Bullseye: the kernel package writes /boot/kernel8.img itself', async () => {
      const before = await bullseye.sh('sha256sum < /boot/kernel8.img');
      await bullseye.simulateKernelUpdate();
      expect(await bullseye.sh('sha256sum < /boot/kernel8.img')).not.toBe(before);
      expect(await bullseye.sh("stat -c '%a %U' /boot/kernel8.img")).toBe('600 root\n');
    });

    it('refuses a kernel version that is not a package version', async () => {
      await expect(ubuntu.simulateKernelUpdate({ version: '1.0; reboot' })).rejects.toThrow(/not a package version/);
    });
  });
});
