import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinet, PINET } from '../helpers/cli.js';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { shellJoin } from '../../src/util/shell.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pinet-cli-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const ARTICLE = ['port=0', 'dhcp-range=10.86.5.255,proxy', 'log-dhcp', 'enable-tftp', 'tftp-root=/mnt/netboot', 'pxe-service=0,"Raspberry Pi Boot"'];
const directives = (t: string) => t.split('\n').filter((l) => l && !l.startsWith('#'));

describe('pinet basics', () => {
  it('prints help with examples and exit codes', async () => {
    const r = await pinet(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/render-dnsmasq/);
    expect(r.stdout).toMatch(/Exit codes: 0 success, 1 .*, 2 usage/);
    const sub = await pinet(['render-dnsmasq', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/Examples:\n  pinet render-dnsmasq/);
    expect(sub.stdout).toMatch(/--json/); // global options are shown too
  });

  it('prints its version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await pinet(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: pkg.version });
  });

  it('exits 2 with one line for an unknown flag or command', async () => {
    const r = await pinet(['render-dnsmasq', '--subnett', '10.0.0.0/24']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^pinet: error: unknown option '--subnett'.*see 'pinet render-dnsmasq --help'/);
    expect((await pinet(['frobnicate'])).code).toBe(2);
    expect((await pinet([])).code).toBe(2);
  });

  it.skipIf(!hasCommand('script'))('colours the error on a terminal, not with --no-color, NO_COLOR or in a pipe', async () => {
    // `script` gives pinet a pseudo-terminal; its screen is script's stdout.
    const onTerminal = (args: string[], env: Record<string, string> = {}) =>
      spawnSync('script', ['-qec', shellJoin([process.execPath, PINET, ...args]), '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env } }).stdout;
    const bad = ['render-dnsmasq', '--subnet', '300.0.0.0/24'];
    expect(onTerminal(bad)).toContain('\x1b[31mpinet: error:\x1b[39m --subnet "300.0.0.0/24"');
    expect(onTerminal([...bad, '--no-color'])).toMatch(/^pinet: error: --subnet/);
    expect(onTerminal(bad, { NO_COLOR: '1' })).toMatch(/^pinet: error: --subnet/);
    expect(onTerminal(['render-dnsmasq', '--subnet', '10.0.0.0/24'])).toMatch(/^# Written by pinet/);
    const piped = await pinet(bad, { env: { NO_COLOR: '' } });
    expect(piped.stderr).toMatch(/^pinet: error: --subnet/);
  });
});

describe('pinet render-dnsmasq', () => {
  it("reproduces the seed article's file with --minimal", async () => {
    const r = await pinet(['render-dnsmasq', '--minimal', '--subnet', '10.86.5.255', '--tftp-root', '/mnt/netboot']);
    expect(r.code).toBe(0);
    expect(directives(r.stdout)).toEqual(ARTICLE);
    expect(r.stdout.split('\n')[0]).toMatch(/^# .*pinet/);
  });

  it('writes -o atomically, then reports up to date, then keeps a .bak and shows a diff', async () => {
    const d = tmp();
    const out = join(d, 'pinet.conf');
    const first = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '-o', out]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/wrote /);
    const content = readFileSync(out, 'utf8');
    expect(content).toContain('dhcp-range=tag:rpi,10.86.5.0,proxy,255.255.255.0');
    expect(content.split('\n')[1]).toContain(`-o ${out}`);

    utimesSync(out, new Date(2000, 1, 1), new Date(2000, 1, 1));
    const again = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '-o', out]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/up to date/);
    expect(statSync(out).mtime.getFullYear()).toBe(2000); // not touched
    expect(existsSync(`${out}.bak`)).toBe(false);

    const changed = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '--interface', 'eth1', '-o', out]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toMatch(/^\+interface=eth1$/m);
    expect(readFileSync(`${out}.bak`, 'utf8')).toBe(content);
    expect(readFileSync(out, 'utf8')).toContain('interface=eth1');
    expect(readdirSync(d).sort()).toEqual(['pinet.conf', 'pinet.conf.bak']); // no temporary files left
  });

  it('--dry-run shows the diff and writes nothing', async () => {
    const d = tmp();
    const out = join(d, 'pinet.conf');
    writeFileSync(out, 'old\n');
    const r = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '-o', out, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-old$/m);
    expect(r.stdout).toMatch(/^\+port=0$/m);
    expect(readFileSync(out, 'utf8')).toBe('old\n');
    expect(existsSync(`${out}.bak`)).toBe(false);
  });

  it('--json prints exactly one JSON document', async () => {
    const d = tmp();
    const r = await pinet(['render-dnsmasq', '--json', '--subnet', '10.86.5.0/24', '-o', join(d, 'x.conf')]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { config: string; output: { changed: boolean; created: boolean } };
    expect(doc.output).toMatchObject({ changed: true, created: true });
    expect(doc.config).toContain('port=0');
  });

  it('refuses hostile values with exit 2 and writes nothing', async () => {
    const d = tmp();
    const out = join(d, 'x.conf');
    for (const args of [
      ['--subnet', '10.0.0.1\nport=53'],
      ['--subnet', '10.0.0.0/24', '--tftp-root', '/srv/tftp\ndhcp-boot=evil'],
      ['--subnet', '10.0.0.0/24', '--interface', 'eth0,lo'],
      ['--subnet', '10.0.0.0/24', '--menu-text', 'x"\nport=53'],
      ['--subnet', '10.0.0.0/24', '--mode', 'standalone', '--range', '10.0.0.5,10.0.0.9,\n'],
    ]) {
      const r = await pinet(['render-dnsmasq', ...args, '-o', out]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(existsSync(out)).toBe(false);
    }
  });

  it('prints a stack trace only with --debug', async () => {
    const r = await pinet(['render-dnsmasq', '--subnet', 'bad', '--debug']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('takes values from the config file, flags winning', async () => {
    const d = tmp();
    writeFileSync(join(d, 'pinet.yaml'), 'export-dir: /srv/netboot\ndnsmasq:\n  subnet: 10.9.0.0/16\n  interface: eth7\n');
    const r = await pinet(['render-dnsmasq'], { cwd: d });
    expect(r.code).toBe(0);
    expect(directives(r.stdout)).toEqual(expect.arrayContaining(['dhcp-range=tag:rpi,10.9.0.0,proxy,255.255.0.0', 'interface=eth7', 'tftp-root=/srv/netboot']));
    const f = await pinet(['render-dnsmasq', '--subnet', '10.1.2.0/24'], { cwd: d });
    expect(directives(f.stdout)).toContain('dhcp-range=tag:rpi,10.1.2.0,proxy,255.255.255.0');
    writeFileSync(join(d, 'other.yaml'), 'dnsmasq:\n  subnet: 10.3.0.0/16\n');
    const c = await pinet(['--config', join(d, 'other.yaml'), 'render-dnsmasq'], { cwd: d });
    expect(directives(c.stdout)).toContain('dhcp-range=tag:rpi,10.3.0.0,proxy,255.255.0.0');
  });

  it('exits 2 naming the key and line of a broken config', async () => {
    const d = tmp();
    writeFileSync(join(d, 'pinet.yaml'), 'dnsmasq:\n  subnet: 10.9.0.0/16\n  intrface: eth0\n');
    const r = await pinet(['render-dnsmasq'], { cwd: d });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pinet\.yaml:3: unknown key "dnsmasq\.intrface"; did you mean "dnsmasq\.interface"\?/);
    writeFileSync(join(d, 'pinet.yaml'), 'dnsmasq:\n  subnet: 10.9.0.0/16\n  mode: fast\n');
    expect((await pinet(['render-dnsmasq'], { cwd: d })).stderr).toMatch(/pinet\.yaml:3: "dnsmasq\.mode"/);
    expect((await pinet(['--config', join(d, 'missing.yaml'), 'render-dnsmasq'], { cwd: d })).code).toBe(2);
  });

  it('renders a user template with the same values', async () => {
    const d = tmp();
    writeFileSync(join(d, 't.mustache'), '# mine\ndhcp-range={{dhcpRange}}\ntftp-root={{tftpRoot}}\npxe-service={{pxeService}}\n');
    const r = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '--template', join(d, 't.mustache')]);
    expect(r.code).toBe(0);
    expect(directives(r.stdout)).toEqual(['dhcp-range=tag:rpi,10.86.5.0,proxy,255.255.255.0', 'tftp-root=/mnt/netboot', 'pxe-service=tag:rpi,0,"Raspberry Pi Boot"']);
  });
});

describe.runIf(hasCommand('dnsmasq'))('pinet render-dnsmasq --check (real dnsmasq)', () => {
  it('reports that dnsmasq accepts every built-in variant', async () => {
    for (const args of [
      ['--subnet', '10.86.5.0/24'],
      ['--minimal', '--subnet', '10.86.5.255'],
      ['--subnet', '10.86.5.0/24', '--interface', 'eth0', '--all-clients'],
      ['--subnet', '10.86.5.0/24', '--mode', 'standalone', '--range', '10.86.5.100,10.86.5.200,12h'],
      ['--subnet', '10.86.5.0/24', '--tftp-root', '/srv/net boot,x #y'],
    ]) {
      const r = await pinet(['render-dnsmasq', ...args, '--check']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stderr).toMatch(/syntax check OK/);
    }
  });

  it('fails with exit 1, dnsmasq\'s words, and writes nothing when dnsmasq rejects the result', async () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.mustache'), 'port=0\nno-such-directive\n');
    const r = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '--template', join(d, 'bad.mustache'), '--check', '-o', join(d, 'out.conf')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/dnsmasq rejects the config: bad option at line 2/);
    expect(existsSync(join(d, 'out.conf'))).toBe(false);
  });

  it('says clearly when dnsmasq is not installed', async () => {
    const r = await pinet(['render-dnsmasq', '--subnet', '10.86.5.0/24', '--check'], { env: { PATH: '/nonexistent' } });
    // the launcher is started with an absolute node path, so an empty PATH only hides dnsmasq
    if (existsSync('/usr/sbin/dnsmasq')) {
      expect(r.code).toBe(0); // found in /usr/sbin even without PATH, like a root shell would
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/dnsmasq is not installed/);
    }
  });
});

describeAsRoot('pinet render-dnsmasq subnet detection (network namespace)', () => {
  const ns = `pinet-rd-${process.pid}`;
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' });
  beforeAll(() => {
    sh(`ip netns add ${ns}`);
    sh(`ip -n ${ns} link set lo up`);
  });
  afterAll(() => {
    sh(`ip netns del ${ns} || true`);
  });
  const inNs = (args: string[]) => execFileSync('ip', ['netns', 'exec', ns, process.execPath, PINET, ...args], { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, NO_COLOR: '1' } });

  it('exits 2 and lists the candidates when there is no default route', () => {
    sh(`ip -n ${ns} link add d0 type veth peer name d1 && ip -n ${ns} link set d1 up && ip -n ${ns} addr add 10.251.200.2/24 dev d0 && ip -n ${ns} link set d0 up`);
    let err: { status: number; stderr: string } | undefined;
    try {
      inNs(['render-dnsmasq']);
    } catch (e) {
      err = e as { status: number; stderr: string };
    }
    expect(err?.status).toBe(2);
    expect(err?.stderr).toMatch(/no IPv4 default route; pass --subnet with one of: 10\.251\.200\.0\/24 \(d0\)/);
  });

  it("uses the default route interface's network", () => {
    sh(`ip -n ${ns} route add default via 10.251.200.1 dev d0`);
    const out = inNs(['render-dnsmasq']);
    expect(out).toContain('dhcp-range=tag:rpi,10.251.200.0,proxy,255.255.255.0');
  });
});
