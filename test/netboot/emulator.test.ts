/**
 * bootPi without a network (no root): boards it does not play, local media
 * (a directory standing for the SD card's boot partition, a callback), the
 * firmware's failure on a medium that lacks the kernel, and the walk's
 * results as a caller reads them.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rpiosPartition, ubuntuPartition, writePartition } from './boot-partition.js';
import { bootPi, type BootOptions } from './index.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('bootPi with local media only', () => {
  let tmp: string;
  const pi = { mac: 'dc:a6:32:05:00:01', serial: '10000000ffff0001', revision: 'd03114' };
  const run = async (o: Partial<BootOptions>) => bootPi({ pi, outDir: join(tmp, `out-${Math.random().toString(16).slice(2)}`), ...o });

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'pinet-netboot-unit-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('a Pi 5 and a Pi 3 are not emulated; the result says why and nothing is tried', async () => {
    const p5 = await run({ pi: { ...pi, revision: 'd04170' } });
    expect(p5).toMatchObject({ outcome: 'unsupported', attempts: [], requests: [] });
    expect(p5.summary).toMatch(/Raspberry Pi 5/);
    expect((await run({ pi: { ...pi, revision: 'a02082' } })).outcome).toBe('unsupported');
  });

  it('boots from an SD card directory: config.txt decides the files, which are copied out byte for byte', async () => {
    const sd = join(tmp, 'sd-rpios');
    const files = rpiosPartition('console=tty1 root=PARTUUID=abcd-02');
    await writePartition(sd, files);
    const r = await run({ eeprom: '[all]\nBOOT_ORDER=0xf41\n', media: { sd } });
    expect(r).toMatchObject({ outcome: 'booted', mode: 'SD', bootOrder: '0xf41', files: { cmdline: 'console=tty1 root=PARTUUID=abcd-02', names: { kernel: 'kernel8.img', initramfs: ['initramfs8'], overlays: ['overlays/vc4-kms-v3d.dtbo'] } } });
    expect(sha(await readFile(r.files!.kernel))).toBe(sha(files['kernel8.img']!));
    expect(r.log.join('\n')).toMatch(/Boot mode: SD \(0x1\) round 1[\s\S]*RESULT: booted: booted from SD/);
  });

  it('USB (mode 4) when there is no SD card; a callback medium answers for itself', async () => {
    const usb = join(tmp, 'usb');
    await writePartition(usb, ubuntuPartition('from usb'));
    const r = await run({ eeprom: { BOOT_ORDER: '0xf41' }, media: { usb } });
    expect(r).toMatchObject({ outcome: 'booted', mode: 'USB', files: { cmdline: 'from usb' } });
    const asked: string[] = [];
    const cb = await run({ eeprom: { BOOT_ORDER: '0xf61' }, media: { nvme: (ctx) => (asked.push(`${ctx.mode}:${ctx.round}`), { bootable: true, reason: 'the VM boots its NVMe disk' }) } });
    expect(cb).toMatchObject({ outcome: 'booted', mode: 'NVME', summary: 'booted from NVME' });
    expect(asked).toEqual(['NVME:1']);
  });

  it('an SD card whose firmware runs but whose kernel is missing: the firmware halts (it does not go back to BOOT_ORDER)', async () => {
    const sd = join(tmp, 'sd-nokernel');
    await writePartition(sd, { ...ubuntuPartition(), vmlinuz: null });
    const usb = join(tmp, 'usb2');
    await writePartition(usb, ubuntuPartition());
    const r = await run({ eeprom: { BOOT_ORDER: '0xf41' }, media: { sd, usb } });
    expect(r).toMatchObject({ outcome: 'halted', mode: 'SD', failure: { file: 'vmlinuz', purpose: 'kernel', stage: 'firmware' } });
    const next = await run({ eeprom: { BOOT_ORDER: '0xf41' }, media: { sd, usb }, onFirmwareFailure: 'next-mode' });
    expect(next).toMatchObject({ outcome: 'booted', mode: 'USB' });
  });

  it('NETWORK without a NIC fails with the reason; with nothing bootable the walk gives up after maxRounds', async () => {
    const r = await run({ eeprom: { BOOT_ORDER: '0xf21' }, maxRounds: 2 });
    expect(r.outcome).toBe('gave-up');
    expect(r.attempts.map((a) => `${a.round}:${a.modeName}:${a.outcome}`)).toEqual(['1:SD:absent', '1:NETWORK:failed', '2:SD:absent', '2:NETWORK:failed']);
    expect(r.summary).toMatch(/no mode booted in 2 passes.*NETWORK: no network interface given/);
  });

  it('STOP and RPIBOOT end the walk; an order without RESTART stops after its last mode', async () => {
    expect(await run({ eeprom: { BOOT_ORDER: '0xe1' } })).toMatchObject({ outcome: 'stopped', summary: expect.stringMatching(/STOP/) });
    expect(await run({ eeprom: { BOOT_ORDER: '0x31' } })).toMatchObject({ outcome: 'stopped', summary: expect.stringMatching(/RPIBOOT/) });
    expect(await run({ eeprom: { BOOT_ORDER: '0x41' } })).toMatchObject({ outcome: 'stopped', summary: expect.stringMatching(/no RESTART/) });
  });

  it('rejects a malformed identity before doing anything', async () => {
    await expect(run({ pi: { ...pi, serial: 'xyz' } })).rejects.toThrow(/16 hex digits/);
    await expect(run({ pi: { ...pi, mac: 'dc:a6:32' } })).rejects.toThrow(/not a MAC address/);
  });
});
