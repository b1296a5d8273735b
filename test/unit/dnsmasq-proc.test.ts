/**
 * Who dnsmasq's TFTP server reads files as (src/server/dnsmasq-proc.ts): the
 * configuration a dnsmasq command line reads, the effective ids in
 * /proc/<pid>/status, the running dnsmasq found in a /proc laid out on disk,
 * and the default without one. The real dnsmasq started by hand is in
 * test/integration/doctor-user.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configOf, defaultTftpIdentity, idsOf, runningDnsmasq } from '../../src/server/dnsmasq-proc.js';

const accounts = {
  passwd: 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\ndnsmasq:x:999:65534:dnsmasq:/var/lib/misc:/usr/sbin/nologin\n',
  group: 'root:x:0:\ndip:x:30:\nnogroup:x:65534:\n',
};

describe('configOf', () => {
  it('reads -C, --conf-file (both spellings), -7 and --conf-dir; /etc/dnsmasq.conf without -C', () => {
    expect(configOf(['dnsmasq', '--keep-in-foreground'])).toEqual(['/etc/dnsmasq.conf']);
    expect(configOf(['dnsmasq', '-x', '/run/dnsmasq/dnsmasq.pid', '-u', 'dnsmasq', '-7', '/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new', '--local-service'])).toEqual([
      '/etc/dnsmasq.conf',
      '/etc/dnsmasq.d',
    ]);
    expect(configOf(['dnsmasq', '--conf-file=/tmp/a b.conf'])).toEqual(['/tmp/a b.conf']);
    expect(configOf(['dnsmasq', '--conf-file', '/tmp/x.conf', '--conf-dir=/etc/d'])).toEqual(['/tmp/x.conf', '/etc/d']);
    expect(configOf(['dnsmasq', '-C/tmp/y.conf'])).toEqual(['/tmp/y.conf']);
  });
});

describe('idsOf', () => {
  it('takes the effective uid and gid', () => {
    expect(idsOf('Name:\tdnsmasq\nUid:\t0\t65534\t65534\t65534\nGid:\t0\t30\t30\t30\n')).toEqual({ uid: 65534, gid: 30 });
    expect(idsOf('Name:\tx\n')).toBeUndefined();
  });
});

describe('runningDnsmasq', () => {
  let proc: string;
  afterEach(async () => {
    if (proc) await rm(proc, { recursive: true, force: true });
  });
  async function fakeProc(list: { pid: number; comm: string; argv: string[]; uid: number; gid: number }[]): Promise<string> {
    proc = await mkdtemp(join(tmpdir(), 'pinet-proc-'));
    for (const p of list) {
      const d = join(proc, String(p.pid));
      await mkdir(d);
      await writeFile(join(d, 'comm'), `${p.comm}\n`);
      await writeFile(join(d, 'cmdline'), `${p.argv.join('\0')}\0`);
      await writeFile(join(d, 'status'), `Name:\t${p.comm}\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\nGid:\t${p.gid}\t${p.gid}\t${p.gid}\t${p.gid}\n`);
    }
    await mkdir(join(proc, 'self'));
    return proc;
  }

  it('finds the dnsmasq that reads the configuration, not another one', async () => {
    const p = await fakeProc([
      { pid: 10, comm: 'dnsmasq', argv: ['dnsmasq', '--conf-file=/var/tmp/router.conf'], uid: 0, gid: 0 },
      { pid: 20, comm: 'sshd', argv: ['sshd', '-C', '/etc/boot.conf'], uid: 0, gid: 0 },
      { pid: 30, comm: 'dnsmasq', argv: ['dnsmasq', '--keep-in-foreground', '--conf-file=/etc/boot.conf'], uid: 65534, gid: 30 },
    ]);
    expect(await runningDnsmasq(['/etc/boot.conf'], p)).toEqual({ pid: 30, uid: 65534, gid: 30 });
    expect(await runningDnsmasq(['/etc/other.conf'], p)).toBeUndefined();
  });

  it("Debian's service (no -C, -7 /etc/dnsmasq.d) matches the default paths", async () => {
    const p = await fakeProc([{ pid: 7, comm: 'dnsmasq', argv: ['/usr/sbin/dnsmasq', '-x', '/run/dnsmasq/dnsmasq.pid', '-u', 'dnsmasq', '-7', '/etc/dnsmasq.d,.dpkg-dist'], uid: 999, gid: 30 }]);
    expect(await runningDnsmasq(['/etc/dnsmasq.conf', '/etc/dnsmasq.d'], p)).toEqual({ pid: 7, uid: 999, gid: 30 });
  });
});

describe('defaultTftpIdentity', () => {
  it('the running dnsmasq says it; without one, the service user dnsmasq, else nobody', () => {
    expect(defaultTftpIdentity(accounts, { pid: 30, uid: 65534, gid: 30 })).toMatchObject({ user: 'nobody', group: 'dip', why: expect.stringMatching(/PID 30/) });
    expect(defaultTftpIdentity(accounts, { pid: 31, uid: 4242, gid: 4343 })).toMatchObject({ user: '4242', group: '4343' });
    expect(defaultTftpIdentity(accounts, undefined)).toMatchObject({ user: 'dnsmasq' });
    expect(defaultTftpIdentity({ passwd: 'nobody:x:65534:65534::/:/bin/false\n', group: '' }, undefined)).toMatchObject({ user: 'nobody' });
  });
});
