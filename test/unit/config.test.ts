import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig, parseConfig } from '../../src/settings/config-file.js';
import { ConfigError } from '../../src/errors.js';

describe('config file', () => {
  it('parses every known key', async () => {
    const data = await parseConfig(
      [
        'export-dir: /mnt/netboot',
        'dnsmasq:',
        '  subnet: 10.86.5.0/24',
        '  tftp-root: /srv/tftp',
        '  interface: eth0',
        '  mode: standalone',
        '  range: 10.86.5.100,10.86.5.200,12h',
        '  all-clients: true',
        '  menu-text: Raspberry Pi Boot',
        '  template: my.tmpl',
        '  output: /etc/dnsmasq.d/pinet.conf',
      ].join('\n'),
      '/etc/pinet/pinet.yaml',
    );
    expect(data['export-dir']).toBe('/mnt/netboot');
    expect(data.dnsmasq).toMatchObject({ subnet: '10.86.5.0/24', mode: 'standalone', 'all-clients': true });
    // relative paths are relative to the config file
    expect(data.dnsmasq?.template).toBe('/etc/pinet/my.tmpl');
  });

  it('names an unknown key, its line, and the likely intended key', async () => {
    await expect(parseConfig('export-dir: /x\ndnsmasq:\n  subnett: 10.0.0.0/24\n', '/c.yaml')).rejects.toThrow(
      /^\/c\.yaml:3: unknown key "dnsmasq\.subnett"/,
    );
    await expect(parseConfig('export-dir: /x\ndnsmasq:\n  subnett: 10.0.0.0/24\n', '/c.yaml')).rejects.toMatchObject({
      hint: 'did you mean "dnsmasq.subnet"?',
      exitCode: 2,
    });
  });

  it('names a wrong type and its line', async () => {
    await expect(parseConfig('dnsmasq:\n  all-clients: "yes please"\n', '/c.yaml')).rejects.toThrow(/^\/c\.yaml:2: "dnsmasq\.all-clients": expected boolean/);
    await expect(parseConfig('dnsmasq:\n  mode: turbo\n', '/c.yaml')).rejects.toThrow(/:2: "dnsmasq\.mode"/);
    await expect(parseConfig('export-dir: relative/dir\n', '/c.yaml')).rejects.toThrow(/:1: "export-dir": must be an absolute path/);
  });

  it('reports broken YAML with its line', async () => {
    await expect(parseConfig('dnsmasq:\n  subnet: [10.0.0.0/24\n', '/c.yaml')).rejects.toThrow(/^\/c\.yaml:\d+: not valid YAML/);
    await expect(parseConfig('a: 1\na: 2\n', '/c.yaml')).rejects.toThrow(ConfigError);
    await expect(parseConfig('- just\n- a list\n', '/c.yaml')).rejects.toThrow(/top level must be a mapping/);
  });

  it("loads only the parsers of the keys the file sets", async () => {
    const { CONFIG, prepareAll } = await import('../../src/settings/catalog.js');
    await prepareAll(CONFIG, { dnsmasq: { subnet: '10.0.0.0/24' } });
    expect(CONFIG.dnsmasq.subnet.check('10.86.5.0/24')).toMatchObject({ ok: true });
    expect(() => CONFIG.nfs.check('nfs-host:/x')).toThrow(/before prepare/); // nfs: not in the file, parser not loaded
    // a file that sets it gets it checked (and its parser loaded)
    await expect(parseConfig('nfs: "no colon"\n', '/c.yaml')).rejects.toThrow(/^\/c\.yaml:1: "nfs"/);
    expect(CONFIG.nfs.check('nfs-host:/x')).toMatchObject({ ok: true });
  });

  it('treats an empty file as no settings', async () => {
    expect(await parseConfig('', '/c.yaml')).toEqual({});
    expect(await parseConfig('# only a comment\n', '/c.yaml')).toEqual({});
  });

  it('finds ./pinet.yaml first, then the XDG config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinet-cfg-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const xdg = join(dir, 'xdg');
    mkdirSync(join(xdg, 'pinet'), { recursive: true });
    writeFileSync(join(xdg, 'pinet', 'config.yaml'), 'export-dir: /from/xdg\n');
    const cwd = join(dir, 'work');
    mkdirSync(cwd);
    const old = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = xdg;
    try {
      expect((await loadConfig(undefined, cwd)).data['export-dir']).toBe('/from/xdg');
      writeFileSync(join(cwd, 'pinet.yaml'), 'export-dir: /from/cwd\n');
      const loaded = await loadConfig(undefined, cwd);
      expect(loaded.data['export-dir']).toBe('/from/cwd');
      expect(loaded.path).toBe(join(cwd, 'pinet.yaml'));
    } finally {
      if (old === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = old;
    }
  });

  it('fails clearly on a --config path that cannot be read', async () => {
    await expect(loadConfig('/nonexistent/pinet.yaml')).rejects.toThrow(/cannot read config file \/nonexistent\/pinet\.yaml: no such file/);
    const dir = mkdtempSync(join(tmpdir(), 'pinet-cfg-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    await expect(loadConfig(dir)).rejects.toThrow(/it is a directory/);
    if (process.getuid?.() !== 0) {
      const f = join(dir, 'secret.yaml');
      writeFileSync(f, 'export-dir: /x\n');
      chmodSync(f, 0);
      await expect(loadConfig(f)).rejects.toThrow(/permission denied/);
    }
  });
});
