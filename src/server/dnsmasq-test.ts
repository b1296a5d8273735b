/**
 * Ask the real dnsmasq whether it accepts a configuration (`dnsmasq --test`).
 */
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
