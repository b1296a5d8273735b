/**
 * Ask the real dnsmasq whether it accepts a configuration (`dnsmasq --test`):
 * pinet's rendered file alone, or the whole configuration the dnsmasq service
 * would read with it in place (what pinet server setup checks before writing).
 */
import { access, constants, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { PinetError } from '../errors.js';

export interface DnsmasqVerdict {
  ok: boolean;
  /** dnsmasq's own words, with the temporary file name replaced by `label`. */
  message: string;
  binary: string;
}

export async function findDnsmasq(env = process.env): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'dnsmasq');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export async function checkWithDnsmasq(config: string, label = 'the rendered config'): Promise<DnsmasqVerdict> {
  const binary = await findDnsmasq();
  if (!binary) {
    throw new PinetError('cannot check the config: dnsmasq is not installed', {
      hint: 'install it (Debian/Ubuntu: apt install dnsmasq-base) or drop --check',
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'pinet-check-'));
  const file = join(dir, 'dnsmasq.conf');
  try {
    await writeFile(file, config, { mode: 0o600 });
    const { execa } = await import('execa');
    const r = await execa(binary, ['--test', `--conf-file=${file}`], { reject: false, all: true, timeout: 15_000 });
    const message = (r.all ?? '').split(file).join(label).replace(/^dnsmasq:\s*/gm, '').trim();
    return { ok: r.exitCode === 0, message, binary };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Where Debian's dnsmasq service reads its configuration (see /etc/init.d/dnsmasq). */
export interface DnsmasqServiceFiles {
  /** The main file (dnsmasq's default --conf-file). */
  main: string;
  /** /etc/default/dnsmasq: its CONFIG_DIR says which directory (and which suffixes to skip) the service reads. */
  defaults: string;
}

const DEBIAN_FILES: DnsmasqServiceFiles = { main: '/etc/dnsmasq.conf', defaults: '/etc/default/dnsmasq' };
const DEBIAN_CONFIG_DIR = '/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new';

/**
 * Ask the real dnsmasq whether the configuration the service would read
 * after `target` is replaced by `candidate` is accepted: the main file, the
 * service's conf-dir (as /etc/default/dnsmasq sets it) with every other file
 * in it, and the candidate in `target`'s place. Nothing on the system is
 * changed: the conf-dir is mirrored into a temporary directory.
 */
export async function checkServiceConfig(candidate: string, target: string, files: DnsmasqServiceFiles = DEBIAN_FILES): Promise<DnsmasqVerdict> {
  const binary = await findDnsmasq();
  if (!binary) throw new PinetError('cannot check the config: dnsmasq is not installed', { hint: 'install it (Debian: apt-get install dnsmasq)' });
  const { readFile, readdir, copyFile } = await import('node:fs/promises');
  const { basename, dirname } = await import('node:path');
  const defaults = await readFile(files.defaults, 'utf8').catch(() => '');
  const spec = /^\s*CONFIG_DIR=["']?([^"'\n]*)["']?\s*$/m.exec(defaults)?.[1]?.trim() || DEBIAN_CONFIG_DIR;
  const [confDir, ...skip] = spec.split(',');
  const hasMain = await access(files.main).then(() => true, () => false);
  const tmp = await mkdtemp(join(tmpdir(), 'pinet-check-'));
  try {
    const args = ['--test'];
    if (target === files.main) {
      await writeFile(join(tmp, 'main.conf'), candidate, { mode: 0o600 });
      args.push(`--conf-file=${join(tmp, 'main.conf')}`);
      if (confDir) args.push(`--conf-dir=${spec}`);
    } else if (confDir && dirname(target) === confDir.replace(/\/+$/, '')) {
      const dir = join(tmp, 'conf.d');
      await mkdir(dir);
      // dnsmasq skips names starting with "." or ending in "~" and the listed suffixes.
      const names = await readdir(confDir).catch(() => [] as string[]);
      for (const n of names) {
        if (n === basename(target) || n.startsWith('.') || n.endsWith('~') || skip.some((x) => n.endsWith(x))) continue;
        await copyFile(join(confDir, n), join(dir, n)).catch(() => undefined); // sub-directories and unreadable files are skipped, as dnsmasq does
      }
      await writeFile(join(dir, basename(target)), candidate, { mode: 0o600 });
      args.push(`--conf-file=${hasMain ? files.main : '/dev/null'}`, `--conf-dir=${[dir, ...skip].join(',')}`);
    } else {
      // A file the service does not read by itself: check it alone.
      await writeFile(join(tmp, 'pinet.conf'), candidate, { mode: 0o600 });
      args.push(`--conf-file=${join(tmp, 'pinet.conf')}`);
    }
    const { execa } = await import('execa');
    const r = await execa(binary, args, { reject: false, all: true, timeout: 15_000 });
    const message = (r.all ?? '')
      .split(join(tmp, 'conf.d')).join(confDir ?? '')
      .split(join(tmp, 'main.conf')).join(files.main)
      .split(join(tmp, 'pinet.conf')).join(target)
      .replace(/^dnsmasq:\s*/gm, '')
      .trim();
    return { ok: r.exitCode === 0, message, binary };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
