/**
 * Real-size boot partitions and the boot server's link: what a user comparing
 * two real Pis of one image would find (the same files byte for byte, their
 * own cmdline.txt / user-data, a Pi on a newer kernel differing in exactly its
 * kernel's files), that each Pi's writes stay its own although the fleet
 * stores shared files once, and that the byte counters count what a known
 * transfer sent over the link.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execa } from 'execa';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet } from './fleet.js';
import type { Fleet } from './fleet.js';
import type { FakePi } from './fake-pi.js';

const MiB = 1024 * 1024;
const NEWER = '6.8.0-1010-raspi';

/** path → [size, sha256] of every file of the Pi's boot partition, read inside the Pi (openssl: the CPU's SHA instructions). */
async function bootFiles(pi: FakePi): Promise<Map<string, [number, string]>> {
  const out = await pi.sh('cd /boot/firmware && find . -type f -printf "%s %p\\n" | sort -k2 > /tmp/sizes && find . -type f -print0 | sort -z | xargs -0 openssl dgst -sha256 -r');
  const sizes = new Map(
    (await pi.sh('cat /tmp/sizes'))
      .trim()
      .split('\n')
      .map((l) => {
        const i = l.indexOf(' ');
        return [l.slice(i + 1).replace(/^\.\//, ''), Number(l.slice(0, i))] as const;
      }),
  );
  const files = new Map<string, [number, string]>();
  for (const line of out.trim().split('\n')) {
    const [hash, path] = [line.slice(0, 64), line.slice(66).replace(/^\.\//, '')];
    files.set(path, [sizes.get(path)!, hash]);
  }
  return files;
}

function total(files: Map<string, [number, string]>): number {
  return [...files.values()].reduce((n, [size]) => n + size, 0);
}

/** The paths whose contents differ between two Pis (both must have the same paths). */
function differing(a: Map<string, [number, string]>, b: Map<string, [number, string]>): string[] {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  return [...a.keys()].filter((p) => a.get(p)![1] !== b.get(p)![1]).sort();
}

describeAsRoot('fake fleet with real-size boot partitions', () => {
  let fleet: Fleet;
  const files = new Map<string, Map<string, [number, string]>>();

  beforeAll(async () => {
    fleet = await startFleet({
      bootImage: 'real',
      pis: [
        { name: 'ub-a', variant: 'ubuntu-2404-pi4' },
        { name: 'ub-b', variant: 'ubuntu-2404-pi4' },
        { name: 'ub-new', variant: 'ubuntu-2404-pi4', kernelVersion: NEWER },
        { name: 'bw-a', variant: 'rpios-bookworm-pi4' },
        { name: 'bw-b', variant: 'pi5' },
      ],
    });
    for (const p of fleet.pis) files.set(p.name, await bootFiles(p));
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('Ubuntu 24.04: two Pis of one image have the same files byte for byte, but their own user-data', () => {
    const a = files.get('ub-a')!;
    expect(differing(a, files.get('ub-b')!)).toEqual(['user-data']);
    // The real system-boot after a kernel upgrade: every board's firmware, overlays, and flash-kernel's .bak set.
    expect(total(a) / MiB).toBeGreaterThan(150);
    expect(total(a) / MiB).toBeLessThan(250);
    for (const f of ['vmlinuz', 'vmlinuz.bak', 'initrd.img', 'initrd.img.bak', 'start4.elf', 'start4.elf.bak', 'bcm2711-rpi-4-b.dtb.bak', 'overlays/vc4-kms-v3d.dtbo']) {
      expect(a.has(f), f).toBe(true);
    }
    expect([...a.keys()].filter((p) => p.startsWith('overlays/')).length).toBeGreaterThan(300);
    // flash-kernel's backup of an unchanged firmware file is the same file.
    expect(a.get('start4.elf.bak')).toEqual(a.get('start4.elf'));
    expect(a.get('vmlinuz.bak')![1]).not.toBe(a.get('vmlinuz')![1]);
  });

  it('a Pi on a newer kernel differs in its kernel, initrd, device trees and overlays; its .bak set is the others\' kernel', () => {
    const a = files.get('ub-a')!;
    const n = files.get('ub-new')!;
    const diff = differing(a, n);
    const expected = [...a.keys()].filter((p) => /^(vmlinuz|initrd\.img|.*\.dtb|overlays\/.*)(\.bak)?$/.test(p) || p === 'user-data').sort();
    expect(diff).toEqual(expected);
    for (const f of ['vmlinuz', 'initrd.img', 'bcm2711-rpi-4-b.dtb']) expect(n.get(`${f}.bak`), f).toEqual(a.get(f));
    expect(n.get('start4.elf')).toEqual(a.get('start4.elf'));
  });

  it('Raspberry Pi OS Bookworm (arm64): two kernels and initramfs images; only cmdline.txt (its PARTUUID) differs, also between boards', async () => {
    const a = files.get('bw-a')!;
    expect(differing(a, files.get('bw-b')!)).toEqual(['cmdline.txt']);
    for (const f of ['kernel8.img', 'kernel_2712.img', 'initramfs8', 'initramfs_2712', 'bcm2712-rpi-5-b.dtb', 'overlays/README']) expect(a.has(f), f).toBe(true);
    expect(a.has('kernel7l.img')).toBe(false);
    expect(total(a) / MiB).toBeGreaterThan(60);
    const cmdline = await fleet.pi('bw-b').readText('/boot/firmware/cmdline.txt');
    expect(cmdline).toContain(`root=PARTUUID=${fleet.pi('bw-b').identity.partuuid}-02`);
  });

  it('stores shared files once, and a Pi writing into its boot partition changes only its own', async () => {
    const sum = [...files.values()].reduce((n, f) => n + total(f), 0);
    const { usedBytes } = await fleet.memoryUsage();
    // Five partitions (~650 MB); stored: one Ubuntu set, the newer kernel's files, one Bookworm set.
    expect(usedBytes).toBeLessThan(sum * 0.75);
    expect(fleet.sharedBoot.trees).toBe(3);

    const a = fleet.pi('ub-a');
    await a.writeFile('/boot/firmware/start4.elf', 'replaced in place\n');
    await a.sh('echo more >> /boot/firmware/overlays/dwc2.dtbo && rm /boot/firmware/initrd.img.bak');
    expect(await a.readText('/boot/firmware/start4.elf')).toBe('replaced in place\n');
    expect(await a.exists('/boot/firmware/initrd.img.bak')).toBe(false);
    const b = await bootFiles(fleet.pi('ub-b'));
    expect(b).toEqual(files.get('ub-b'));
    // Survives a reboot, like files on an SD card.
    await a.reboot();
    expect(await a.readText('/boot/firmware/start4.elf')).toBe('replaced in place\n');
  });

  it('counts the bytes a Pi sent over the boot server\'s link: a known file read over SSH', async () => {
    const pi = fleet.pi('ub-b');
    const size = files.get('ub-b')!.get('initrd.img')![0];
    const before = await pi.connectionStats();
    const linkBefore = await fleet.linkCounters();
    const r = await execa('ssh', ['-F', fleet.sshConfig, pi.name, 'cat /boot/firmware/initrd.img'], { encoding: 'buffer', stripFinalNewline: false });
    expect(createHash('sha256').update(r.stdout).digest('hex')).toBe(files.get('ub-b')!.get('initrd.img')![1]);
    const after = await pi.connectionStats();
    const linkAfter = await fleet.linkCounters();
    const sent = after.bytesFromPi - before.bytesFromPi;
    // The file, plus SSH's framing (packet length, padding, MAC: about 1 %) and handshake.
    expect(sent).toBeGreaterThanOrEqual(size);
    expect(sent).toBeLessThan(size * 1.03 + 64 * 1024);
    const onWire = linkAfter.fromPis.bytes - linkBefore.fromPis.bytes;
    // The link's counter adds Ethernet/IP/TCP headers to the same payload.
    expect(onWire).toBeGreaterThanOrEqual(sent);
    expect(onWire).toBeLessThan(sent * 1.1 + 64 * 1024);
  });

  it('limits the boot server\'s link to a rate, and lifts the limit', async () => {
    expect(await fleet.linkRateMbps()).toBeNull();
    await fleet.setLinkRate(100);
    expect(await fleet.linkRateMbps()).toBe(100);
    await fleet.setLinkRate(null);
    expect(await fleet.linkRateMbps()).toBeNull();
  });
});
