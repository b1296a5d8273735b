/**
 * The VM lab's pure parts (no root, no VM): its shell scripts pass
 * shellcheck, the Ganesha config it writes, the QEMU command line it builds.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderGaneshaConfig } from './ganesha.js';
import { qemuArgs } from './qemu.js';
import type { VmSpec } from './qemu.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const SCRIPTS = [
  'ganesha-start.sh',
  'image/build.sh',
  'image/customize.sh',
  ...readdirSync(join(HERE, 'image/guest/usr/local/sbin')).map((f) => `image/guest/usr/local/sbin/${f}`),
];

describe('VM lab scripts', () => {
  it.each(SCRIPTS)('%s passes shellcheck', (file) => {
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', join(HERE, file)], { encoding: 'utf8' });
    if (r.error) throw new Error('shellcheck is not installed: install the Debian package shellcheck (.ci/run does)');
    expect(r.stdout + r.stderr).toBe('');
  });
});

describe('renderGaneshaConfig', () => {
  const base = { bindIp: '10.251.160.3', subnet: '10.251.160.0/24', recoveryRoot: '/var/tmp/lab/ganesha/recovery' };

  it('serves v3 and v4 on the same paths, with the settings the lab depends on', () => {
    const conf = renderGaneshaConfig({ ...base, exports: [{ path: '/srv/boot', pseudo: '/picluster-boot', squash: 'none' }] });
    expect(conf).toMatch(/Protocols = 3, 4;[\s\S]*Mount_Path_Pseudo = true;/);
    expect(conf).toContain('Graceless = true;');
    expect(conf).toContain('Only_Numeric_Owners = true;');
    expect(conf).toContain('Attr_Expiration_Time = 0;');
    expect(conf).toContain('Squash = No_Root_Squash;');
    expect(conf).toContain('Anonymous_Uid = 65534;');
    expect(conf).toContain('Clients = 10.251.160.0/24;');
  });

  it('puts per-client squash rules before the subnet-wide one', () => {
    const conf = renderGaneshaConfig({
      ...base,
      exports: [{ path: '/srv/boot', pseudo: '/b', squash: 'none', perClient: [{ client: '10.251.160.22', squash: 'all', anonUid: 999, anonGid: 30 }] }],
    });
    const special = conf.indexOf('Clients = 10.251.160.22;');
    expect(special).toBeGreaterThan(0);
    expect(special).toBeLessThan(conf.indexOf('Clients = 10.251.160.0/24;'));
    expect(conf.slice(special, conf.indexOf('}', special))).toMatch(/Squash = All_Squash;[\s\S]*Anonymous_Uid = 999;[\s\S]*Anonymous_Gid = 30;/);
  });

  it.each([['/srv/a"b'], ['relative'], ['/srv/../etc'], ['/srv/a;b']])('refuses the path %s', (path) => {
    expect(() => renderGaneshaConfig({ ...base, exports: [{ path, pseudo: '/b', squash: 'none' }] })).toThrow(/absolute path/);
  });
});

describe('qemuArgs', () => {
  const spec: VmSpec = {
    name: 'pi-01',
    netns: 'pvm0-lan',
    tap: 'tap0',
    mac: 'dc:a6:32:01:02:03',
    kernel: '/k',
    initrd: '/i',
    append: 'root=/dev/nfs console=ttyS0',
    disk: { file: '/d.qcow2', format: 'qcow2', as: 'sd' },
    memMB: 1024,
    cpus: 1,
    fwCfg: [{ name: 'opt/pinet/identity', file: '/id.tar' }],
    shares: [],
    consoleLog: '/c.log',
    accel: 'tcg',
  };

  it('boots the given kernel with -no-reboot under TCG, the SD card on an SDHCI controller', () => {
    const a = qemuArgs(spec);
    const after = (flag: string) => a[a.indexOf(flag) + 1];
    expect(after('-accel')).toBe('tcg,tb-size=256');
    expect(a).toContain('-no-reboot');
    expect(after('-kernel')).toBe('/k');
    expect(after('-initrd')).toBe('/i');
    expect(after('-append')).toBe('root=/dev/nfs console=ttyS0');
    expect(a).toContain('sd-card,drive=disk0');
    expect(a).toContain('name=opt/pinet/identity,file=/id.tar');
  });

  it('refuses a comma in a value QEMU splits on commas', () => {
    expect(() => qemuArgs({ ...spec, consoleLog: '/a,b.log' })).toThrow(/comma/);
  });
});
