/**
 * The TFTP client against the real dnsmasq TFTP server, configured by
 * `pinet render-dnsmasq`, on a veth LAN between two network namespaces
 * (10.251.3.0/24). dnsmasq drops root and serves files as an unprivileged
 * user, exactly as on a boot server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { Lab, buildNetRunner, renderDnsmasqConfig, runIn, startDnsmasq, type Dnsmasq } from './helpers/netns.js';

const SERVER = '10.251.3.1';
const CLIENT = '10.251.3.2';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface GetResult {
  ok: boolean;
  size?: number;
  sha256?: string;
  tsize?: number;
  blksize?: number;
  optionsAcknowledged?: boolean;
  retransmissions?: number;
  bytesPerSecond?: number;
  error?: { kind: string; code?: number; serverMessage?: string; message: string; hint?: string };
}

describeAsRoot('real dnsmasq serves boot files to the TFTP client', () => {
  const lab = new Lab('tftp');
  let cli: string;
  let runner: string;
  let root: string;
  let dnsmasq: Dnsmasq;
  const start4 = randomBytes(2_300_000); // about the size of the real start4.elf, > 1 MiB
  const exact = randomBytes(1468 * 300); // an exact multiple of the block size
  const config = Buffer.from('[all]\nkernel=vmlinuz\ninitramfs initrd.img followkernel\n');

  const get = (request: Record<string, unknown>): Promise<GetResult> => runIn<GetResult>(cli, runner, { cmd: 'tftp-get', server: SERVER, timeoutMs: 1000, retries: 3, ...request });

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    const srv = await lab.namespace('srv');
    cli = await lab.namespace('cli');
    await lab.link(srv, 'lan0', `${SERVER}/24`, cli, 'eth0', `${CLIENT}/24`);
    root = await lab.dir('tftp');
    const pi = join(root, 'bf9fed6f');
    await mkdir(pi, { mode: 0o755 });
    await chmod(pi, 0o755);
    await writeFile(join(pi, 'start4.elf'), start4, { mode: 0o644 });
    await writeFile(join(pi, 'config.txt'), config, { mode: 0o644 });
    await writeFile(join(pi, 'exact.bin'), exact, { mode: 0o644 });
    // What `cp -a` of an Ubuntu kernel leaves behind: root-owned, mode 0600.
    await writeFile(join(pi, 'vmlinuz'), randomBytes(1000), { mode: 0o600 });
    await chmod(join(pi, 'vmlinuz'), 0o600);
    runner = await buildNetRunner(lab);
    dnsmasq = await startDnsmasq(lab, srv, await renderDnsmasqConfig({ subnet: '10.251.3.0/24', tftpRoot: root }));
  });
  afterAll(() => lab.cleanup());

  it('serves <serial>/start4.elf (> 1 MiB) with tsize and blksize 1468, byte for byte', async () => {
    const r = await get({ file: 'bf9fed6f/start4.elf', blksize: 1468 });
    expect(r).toMatchObject({ ok: true, size: start4.length, tsize: start4.length, blksize: 1468, optionsAcknowledged: true, sha256: sha(start4) });
    expect(r.bytesPerSecond).toBeGreaterThan(0);
    expect(await dnsmasq.log()).toContain(`sent ${root}/bf9fed6f/start4.elf to ${CLIENT}`);
  });

  it('gets the block size clamped to the link MTU when asking for the maximum', async () => {
    // dnsmasq caps blksize at MTU minus 32 bytes of headers: 1468 on a 1500-byte veth.
    const r = await get({ file: 'bf9fed6f/config.txt', blksize: 65464 });
    expect(r).toMatchObject({ ok: true, blksize: 1468, size: config.length, sha256: sha(config) });
  });

  it('serves a file that is an exact multiple of the block size (empty last block)', async () => {
    const r = await get({ file: 'bf9fed6f/exact.bin', blksize: 1468 });
    expect(r).toMatchObject({ ok: true, size: exact.length, tsize: exact.length, sha256: sha(exact) });
  });

  it('works without options (plain RFC 1350, 512-byte blocks)', async () => {
    const r = await get({ file: 'bf9fed6f/start4.elf', blksize: false, tsize: false });
    expect(r).toMatchObject({ ok: true, optionsAcknowledged: false, blksize: 512, size: start4.length, sha256: sha(start4) });
    expect(r.tsize).toBeUndefined();
  });

  it('refuses a root-owned 0600 file with "Permission denied" (dnsmasq runs unprivileged)', async () => {
    const r = await get({ file: 'bf9fed6f/vmlinuz' });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ kind: 'server', code: 2, serverMessage: `cannot access ${root}/bf9fed6f/vmlinuz: Permission denied` });
    expect(r.error!.message).toContain('Permission denied');
    expect(r.error!.hint).toMatch(/chmod a\+r/);
  });

  it('reports a missing file with dnsmasq’s "file … not found"', async () => {
    const r = await get({ file: 'bf9fed6f/recover4.elf' });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ kind: 'server', code: 1 });
    // dnsmasq 2.87+ appends "for <client>"; the article's older dnsmasq did not.
    expect(r.error!.serverMessage).toMatch(new RegExp(`^file ${root}/bf9fed6f/recover4\\.elf not found( for ${CLIENT.replace(/\./g, '\\.')})?$`));
  });

  it('probes the size like the bootloader; dnsmasq logs "Early terminate"', async () => {
    const r = await runIn<{ ok: boolean; size?: number; optionsAcknowledged?: boolean }>(cli, runner, { cmd: 'tftp-probe', server: SERVER, file: 'bf9fed6f/start4.elf', timeoutMs: 1000, retries: 3 });
    expect(r).toMatchObject({ ok: true, size: start4.length, optionsAcknowledged: true });
    // The same two lines as the seed article's log for the Pi's start4.elf probe (aborted at the OACK).
    const lines = (await dnsmasq.log()).split('\n').map((l) => l.replace(/^.*?dnsmasq-tftp\[\d+\]: /, ''));
    const at = lines.lastIndexOf(`error 0 Early terminate received from ${CLIENT}`);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toBe(`sent ${root}/bf9fed6f/start4.elf to ${CLIENT}`);
  });

  it('probes a missing file as a result, not a crash', async () => {
    const r = await runIn<{ ok: boolean; error?: { code?: number } }>(cli, runner, { cmd: 'tftp-probe', server: SERVER, file: 'bf9fed6f/start.elf', timeoutMs: 1000, retries: 3 });
    expect(r).toMatchObject({ ok: false, error: { code: 1 } });
  });

  it('times out naming server and file when nothing listens', async () => {
    const r = await get({ file: 'bf9fed6f/start4.elf', port: 6969, timeoutMs: 100, retries: 1 });
    expect(r.ok).toBe(false);
    // The ICMP "port unreachable" does not reach an unconnected UDP socket: the client times out.
    expect(r.error).toMatchObject({
      kind: 'timeout',
      message: `TFTP server ${SERVER}:6969 did not answer the request for "bf9fed6f/start4.elf" (2 tries, 100 ms apart)`,
    });
  });
});
