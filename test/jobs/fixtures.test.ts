/**
 * The recorded Pis (test/fixtures/gather) are what the fleet's variants
 * claim to be, read through pinet's own parsing: if a recording went stale
 * or the parser changed, the planning tables would test the wrong Pi, so
 * these facts are checked against the fleet's README, not against pinet.
 */
import { describe, expect, it } from 'vitest';
import { bootFile, bootloaderConfig, detected, dropBootFile, fstab, login, noSerial, pendingUpdate, recordedSections, server, VARIANTS, type FixtureName } from './fixtures.js';

/** The serial in the recorded /proc/cpuinfo (the test's own reading, not pinet's). */
function cpuinfoSerial(name: FixtureName): string {
  return /^Serial\s*:\s*([0-9a-f]{16})$/m.exec(recordedSections(name).get('cpuinfo') ?? '')?.[1] ?? '';
}

describe('recorded Pis', () => {
  it.each([
    // fixture,                 revision, OS codename, boot mount, privilege
    ['ubuntu-2404-pi4', 'd03114', 'noble', '/boot/firmware', 'root'],
    ['rpios-bookworm-pi4', 'd03114', 'bookworm', '/boot/firmware', 'root'],
    ['rpios-bullseye-pi4', 'd03114', 'bullseye', '/boot', 'root'],
    ['cm4', 'd03140', 'bookworm', '/boot/firmware', 'root'],
    ['no-boot-order', 'd03114', 'bookworm', '/boot/firmware', 'root'],
    ['pi5', 'd04170', 'bookworm', '/boot/firmware', 'root'],
    ['pi3', 'a02082', 'bookworm', '/boot/firmware', 'root'],
    ['rpios-bookworm-pi4.as-pi', 'd03114', 'bookworm', '/boot/firmware', 'sudo'],
    ['rpios-bookworm-pi4.as-locked', 'd03114', 'bookworm', '/boot/firmware', 'sudo-needs-password'],
  ] as const)('%s: revision %s, %s, boot files at %s, login %s', (name, revision, codename, bootMount, privilege) => {
    const d = detected(name);
    expect(d.facts.board.known && d.facts.board.value.code).toBe(revision);
    expect(recordedSections(name).get('os-release')).toMatch(new RegExp(`^VERSION_CODENAME=${codename}$`, 'm'));
    expect(d.facts.os.known && d.facts.os.value.codename).toBe(codename);
    expect(d.bootDir).toBe(bootMount);
    expect(d.login.privilege).toBe(privilege);
    expect(d.facts.serial.known && d.facts.serial.value.full).toBe(cpuinfoSerial(name));
    expect(d.bootList.some((e) => e.path === 'config.txt')).toBe(true);
  });

  it('every variant of the fleet has a recording', () => {
    expect(VARIANTS.map((v) => detected(v).facts.board.known)).toEqual(VARIANTS.map(() => true));
  });

  it("variant specifics: Ubuntu's 0600 kernel, the CM4's disabled updates, no BOOT_ORDER, the Pi 3 without EEPROM tools", () => {
    const ubuntu = detected('ubuntu-2404-pi4').bootList.find((e) => e.path === 'vmlinuz');
    expect(ubuntu?.mode).toBe(0o600);
    const cm4 = detected('cm4').facts.bootloader;
    expect(cm4.known && cm4.value.updates.updatesEnabled).toBe(false);
    expect(detected('no-boot-order').eeprom.config).not.toMatch(/BOOT_ORDER/);
    expect(detected('pi3').eeprom.tool).toBe(false);
  });

  it('the enrolled Ubuntu Pi: pinet\'s fstab line and hooks, a pending update; after the reboot the new order is active', () => {
    const e = detected('ubuntu-2404-pi4.enrolled');
    const dir = cpuinfoSerial('ubuntu-2404-pi4.enrolled').slice(-8);
    expect(e.raw.fstab).toContain(`nfs-host:/picluster-boot/${dir} /boot/firmware nfs defaults,timeo=900,_netdev 0 0`);
    expect(e.raw.fstab).toMatch(/^# pinet: replaced: LABEL=system-boot/m);
    expect(Object.keys(e.hookContents).sort()).toEqual(['/etc/initramfs/post-update.d/zzz-pinet-bootfiles', '/etc/kernel/postinst.d/zzz-pinet-bootfiles']);
    expect(e.eeprom.config).toMatch(/^BOOT_ORDER=0xf41$/m);
    expect(e.eeprom.pendingConfig).toMatch(/^BOOT_ORDER=0xf241$/m);
    expect(e.backups).toHaveLength(1);
    const r = detected('ubuntu-2404-pi4.rebooted');
    expect(r.eeprom.config).toMatch(/^BOOT_ORDER=0xf241$/m);
    expect(r.eeprom.pendingConfig).toBeUndefined();
    expect(server('ubuntu-2404-pi4.enrolled').entry).toMatchObject({ serial: cpuinfoSerial('ubuntu-2404-pi4.enrolled'), dir, exportDir: '/mnt/netboot', bootOrder: { before: '0xf41', after: '0xf241' } });
    expect(server('rpios-bookworm-pi4.nfsroot').exportCmdline).toMatch(/root=\/dev\/nfs nfsroot=10\.251\.184\.2:\/srv\/nfsroot\/[0-9a-f]{8},vers=3/);
  });
});

describe('fixture edits', () => {
  it('replace fstab, the bootloader config, the login; drop or change a boot file; stage an update; remove the serial', () => {
    expect(detected('ubuntu-2404-pi4', [fstab('proc /proc proc defaults 0 0\n')]).raw.fstab).toBe('proc /proc proc defaults 0 0\n');
    const bl = detected('ubuntu-2404-pi4', [bootloaderConfig('[all]\nBOOT_ORDER=0xf21\n')]).facts.bootloader;
    expect(bl.known && bl.value.bootOrder.ok && bl.value.bootOrder.order.modes).toEqual([1, 2, 0xf]);
    expect(detected('ubuntu-2404-pi4', [login('bob', 1000, 'absent')]).login).toEqual({ uid: 1000, user: 'bob', privilege: 'no-sudo' });
    const dropped = detected('ubuntu-2404-pi4', [dropBootFile('start4.elf')]);
    expect(dropped.bootList.map((e) => e.path)).not.toContain('start4.elf');
    expect(dropped.bootList).toHaveLength(detected('ubuntu-2404-pi4').bootList.length - 1);
    expect(() => detected('ubuntu-2404-pi4', [dropBootFile('no-such-file')])).toThrow(/not in the recorded boot listing/);
    expect(detected('ubuntu-2404-pi4', [bootFile('vmlinuz', { mode: 0o644, size: 7 })]).bootList.find((e) => e.path === 'vmlinuz')).toMatchObject({ mode: 0o644, size: 7 });
    const staged = detected('ubuntu-2404-pi4', [pendingUpdate('[all]\nBOOT_ORDER=0xf241\n')]);
    expect(staged.eeprom.pendingConfig).toBe('[all]\nBOOT_ORDER=0xf241\n');
    expect(staged.bootList.map((e) => e.path)).toContain('pieeprom.upd');
    expect(detected('ubuntu-2404-pi4.enrolled', [pendingUpdate(undefined)]).bootList.map((e) => e.path)).not.toContain('pieeprom.upd');
    const anon = detected('ubuntu-2404-pi4', [noSerial]);
    expect(anon.facts.serial.known).toBe(false);
  });
});
