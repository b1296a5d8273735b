import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { bitsFor, canRead, type UnixUser } from '../../src/server/perms.js';

const dnsmasq: UnixUser = { name: 'dnsmasq', uid: 999, gid: 65534, groups: [65534] };

describe('permission rules', () => {
  it('applies owner, then group, then other bits, like the kernel', () => {
    expect(bitsFor(dnsmasq, { mode: 0o600, uid: 0, gid: 0 }).bits).toBe(0);
    expect(bitsFor(dnsmasq, { mode: 0o640, uid: 0, gid: 65534 }).bits).toBe(4);
    // owner bits win even when "other" would allow more
    expect(bitsFor(dnsmasq, { mode: 0o044, uid: 999, gid: 0 })).toEqual({ bits: 0, as: 'owner' });
    expect(bitsFor({ ...dnsmasq, uid: 0 }, { mode: 0, uid: 5, gid: 5 }).as).toBe('root');
  });

  it.runIf(process.getuid?.() === 0)('finds an unreadable file, a group-only file and an unsearchable parent on disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pinet-perms-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    chmodSync(root, 0o755);
    mkdirSync(join(root, 'bf9fed6f'), { mode: 0o755 });
    const f = (n: string, mode: number, gid = 0) => {
      writeFileSync(join(root, 'bf9fed6f', n), 'x');
      chmodSync(join(root, 'bf9fed6f', n), mode);
      chownSync(join(root, 'bf9fed6f', n), 0, gid);
    };
    f('ok', 0o644);
    f('vmlinuz', 0o600);
    f('group-only', 0o640, 4242);
    expect(await canRead(dnsmasq, join(root, 'bf9fed6f', 'ok'))).toEqual({ ok: true });
    expect(await canRead(dnsmasq, join(root, 'bf9fed6f', 'vmlinuz'))).toMatchObject({ ok: false, reason: expect.stringMatching(/mode 0600 .* no read permission/) });
    expect(await canRead(dnsmasq, join(root, 'bf9fed6f', 'group-only'))).toMatchObject({ ok: false });
    expect(await canRead({ ...dnsmasq, groups: [65534, 4242] }, join(root, 'bf9fed6f', 'group-only'))).toEqual({ ok: true });
    chmodSync(join(root, 'bf9fed6f'), 0o750);
    expect(await canRead(dnsmasq, join(root, 'bf9fed6f', 'ok'))).toMatchObject({ ok: false, path: join(root, 'bf9fed6f'), reason: expect.stringMatching(/no search/) });
    expect(await canRead(dnsmasq, join(root, 'nope'))).toMatchObject({ ok: false, reason: 'missing' });
  });
});
