/**
 * Plans of many Pis, grouped (src/plan/group.ts, formatPlan): identical
 * Pis once with placeholders, one differing Pi as "as the N Pis above,
 * except", names inside diffs, 50 Pis, and one Pi exactly as before
 * grouping existed. The Pis are the recorded Bookworm Pi with its own
 * serial, MAC, PARTUUID and host (fleet.ts), planned by enroll's planner.
 */
import { describe, expect, it } from 'vitest';
import { groupPlan } from '../../src/plan/group.js';
import { formatPlan, planToJson, type Change, type ChangeKind, type Plan, type PlanStyle } from '../../src/plan/model.js';
import { bootFile, bootloaderConfig, type Edit } from '../jobs/fixtures.js';
import { fleetPlan, piNames, plain } from './fleet.js';

const plan = (targets: Plan['targets']): Plan => ({ command: 'enroll', targets });
const count = (text: string, s: string) => text.split(s).length - 1;

/** formatPlan as it was before grouping (commit 1661f4e), to prove one Pi prints exactly as before. */
function formatPlanBefore(p: Plan, c: PlanStyle): string {
  const mark: Record<ChangeKind, string> = { 'create-dir': '+', 'copy-files': '+', 'write-file': '~', 'delete-file': '-', 'bootloader-config': '~', 'cancel-bootloader-update': '-', 'install-hook': '+', 'remove-hook': '-', inventory: '~', backup: '+', note: ' ' };
  const lines: string[] = [];
  for (const t of p.targets) {
    lines.push(c.bold(t.about ? `${t.target}: ${t.about}` : t.target));
    for (const w of t.warnings) lines.push(`  ${c.yellow('warning:')} ${w}`);
    if (t.changes.length === 0) lines.push(`  ${c.green('up to date')}: nothing to change`);
    for (const ch of t.changes) {
      lines.push(`  ${mark[ch.kind]} ${ch.summary}`);
      lines.push(`      ${c.dim(`why: ${ch.reason}`)}`);
      if (ch.diff) lines.push(...ch.diff.replace(/\n$/, '').split('\n').map((l) => `      ${l}`));
    }
    for (const n of t.notes) lines.push(`  ${c.dim(`note: ${n}`)}`);
    lines.push('');
  }
  return lines.join('\n');
}

const order = (hex: string): Edit => bootloaderConfig((o) => o.replace(/^BOOT_ORDER=.*$/m, `BOOT_ORDER=${hex}`));

describe('grouped plans', () => {
  it('one Pi prints exactly as before; so do two Pis that share nothing', async () => {
    const [one] = await fleetPlan(1);
    expect(formatPlan(plan([one!]), plain)).toBe(formatPlanBefore(plan([one!]), plain));
    const upToDate = { target: 'pi-09', about: 'serial 10000000c0de0009', changes: [], warnings: [], notes: [] };
    const two = plan([one!, upToDate]);
    expect(formatPlan(two, plain)).toBe(formatPlanBefore(two, plain));
  });

  it('identical Pis are one block: the changes once, their names as placeholders, the Pis listed', async () => {
    const targets = await fleetPlan(6);
    const text = formatPlan(plan(targets), plain);
    expect(text.split('\n')[0]).toBe('6 Pis, same changes: pi-01 … pi-06');
    expect(count(text, '+ create /mnt/netboot/<dir>/')).toBe(1);
    expect(count(text, 'why: ')).toBe(targets[0]!.changes.length);
    expect(text).toContain('  ~ record <dir> (serial <serial>) in the inventory');
    expect(text).toContain('  serial <serial>, Pi 4B, Raspberry Pi OS (Debian GNU/Linux 12 (bookworm)), directory <dir>');
    // The shared warning (SD before NETWORK) once, and no Pi's own name anywhere.
    expect(count(text, 'warning: BOOT_ORDER 0xf241 tries the SD card')).toBe(1);
    for (let i = 1; i <= 6; i++) for (const v of Object.values(piNames(i)).slice(1)) expect(text).not.toContain(v);
  });

  it('names inside diffs: the fstab diffs differ only by directory and PARTUUID, so they are one diff with placeholders', async () => {
    const targets = await fleetPlan(2);
    const diffs = targets.map((t) => t.changes.find((c) => c.id === 'fstab')!.diff!);
    expect(diffs[0]).not.toBe(diffs[1]); // really different texts
    const text = formatPlan(plan(targets), plain);
    expect(text).toContain('      -PARTUUID=<partuuid>-01  /boot/firmware  vfat    defaults          0       2');
    expect(text).toContain('      +nfs-host:/picluster-boot/<dir> /boot/firmware nfs defaults,timeo=900,_netdev 0 0');
    expect(text).toContain('       PARTUUID=<partuuid>-02  /               ext4    defaults,noatime  0       1');
    expect(count(text, '--- a/etc/fstab')).toBe(1);
  });

  it('a diff that differs in more than names is not merged: other mount options make another block', async () => {
    const targets = await fleetPlan(4);
    const other = (await fleetPlan(2)).map((t, i) => ({
      ...t,
      target: `web-${i + 1}`,
      changes: t.changes.map((c): Change => (c.id === 'fstab' ? { ...c, target: `web-${i + 1}`, diff: c.diff!.replace('defaults,timeo=900,_netdev', 'defaults,timeo=600,_netdev') } : { ...c, target: `web-${i + 1}` })),
    }));
    const blocks = groupPlan(plan([...targets, ...other]));
    expect(blocks.map((b) => [b.kind, 'pis' in b ? b.pis : []])).toEqual([
      ['same', ['pi-01', 'pi-02', 'pi-03', 'pi-04']],
      // web-1 and web-2 are the same as each other, like the block but for their fstab
      ['like', ['web-1', 'web-2']],
    ]);
    const text = formatPlan(plan([...targets, ...other]), plain);
    expect(text).toContain('2 Pis: web-1, web-2\n');
    expect(text).toContain('  as the 4 Pis above (pi-01 … pi-04), except:\n  ~ /etc/fstab: /boot/firmware from nfs-host:/picluster-boot/<dir>');
    expect(text).toContain('+nfs-host:/picluster-boot/<dir> /boot/firmware nfs defaults,timeo=600,_netdev 0 0');
  });

  it('one differing Pi: only what differs, in its own names, after the block it is like', async () => {
    const targets = await fleetPlan(8, (i) => (i === 5 ? [order('0xf14')] : []));
    const text = formatPlan(plan(targets), plain);
    const [block, odd, ...rest] = text.trimEnd().split('\n\n');
    expect(rest).toEqual([]);
    expect(block!.split('\n')[0]).toBe('7 Pis, same changes: pi-01 … pi-04, pi-06 … pi-08');
    const lines = odd!.split('\n');
    expect(lines[0]).toBe(`pi-05: serial ${piNames(5).serial}, Pi 4B, Raspberry Pi OS (Debian GNU/Linux 12 (bookworm)), directory ${piNames(5).dir}`);
    expect(lines[1]).toBe('  as the 7 Pis above (pi-01 … pi-04, pi-06 … pi-08), except:');
    expect(odd).toContain('  ~ bootloader BOOT_ORDER 0xf14 → 0xf214: USB → SD → NETWORK → RESTART');
    expect(odd).toContain('      +BOOT_ORDER=0xf214');
    // Only the bootloader differs: the shared changes are not repeated.
    expect(odd).not.toContain('create /mnt/netboot');
    expect(count(odd!, 'why: ')).toBe(1);
    expect(odd).toContain('without the warning: BOOT_ORDER 0xf241 tries the SD card');
  });

  it('50 Pis: 45 alike, 3 on another kernel (one block like the first), 1 already netbooting first, 1 up to date', async () => {
    const targets = await fleetPlan(49, (i) => (i >= 46 && i <= 48 ? [bootFile('kernel8.img', { size: 9_000_000 })] : i === 49 ? [order('0xf412')] : []));
    const done = { target: 'pi-50', about: `serial ${piNames(50).serial}, directory ${piNames(50).dir}`, changes: [], warnings: [], notes: [] };
    const all = plan([...targets, done]);
    const blocks = groupPlan(all);
    expect(blocks.map((b) => b.kind)).toEqual(['same', 'like', 'like', 'one']);
    const text = formatPlan(all, plain);
    expect(text.split('\n')[0]).toBe('45 Pis, same changes: pi-01 … pi-45');
    expect(text).toMatch(/^3 Pis: pi-46 … pi-48\n {2}serial <serial>, .*\n {2}as the 45 Pis above \(pi-01 … pi-45\), except:\n {2}\+ copy 27 files \(9\.3 MB\) from \/boot\/firmware to \/mnt\/netboot\/<dir>\/$/m);
    expect(text).toMatch(/^pi-49: serial 10000000c0de0031, .*\n {2}as the 45 Pis above \(pi-01 … pi-45\), except:$/m);
    expect(text).toContain(`pi-50: serial ${piNames(50).serial}, directory ${piNames(50).dir}\n  up to date: nothing to change`);
    // 50 plans would be 50 copies of every change; grouped, the fstab diff appears once.
    expect(count(text, '--- a/etc/fstab')).toBe(1);
    expect(text.split('\n').length).toBeLessThan(80);
  });

  it('several Pis with nothing to change are one line', async () => {
    const quiet = [1, 2, 3].map((i) => ({ target: `pi-0${i}`, changes: [], warnings: [], notes: [] }));
    expect(formatPlan(plan(quiet), plain)).toBe('3 Pis: pi-01 … pi-03\n  up to date: nothing to change\n');
  });

  it('a Pi’s own warning is listed under the block, not in it', async () => {
    const targets = await fleetPlan(3);
    targets[1] = { ...targets[1]!, warnings: [...targets[1]!.warnings, 'its own warning'] };
    const text = formatPlan(plan(targets), plain);
    expect(text.split('\n')[0]).toBe('3 Pis, same changes: pi-01 … pi-03');
    expect(text).toContain('  pi-02: warning: its own warning');
  });

  it('--json keeps every Pi’s full plan, whatever the text groups', async () => {
    const targets = await fleetPlan(3);
    const doc = planToJson(plan(targets)) as { targets: { target: string; changes: unknown[] }[] };
    expect(doc.targets.map((t) => t.target)).toEqual(['pi-01', 'pi-02', 'pi-03']);
    expect(doc.targets.every((t) => t.changes.length === targets[0]!.changes.length)).toBe(true);
    expect(JSON.stringify(doc)).toContain(piNames(2).dir);
  });
});
