/**
 * `pinet server setup`'s planner on plain facts (no root): what a fresh
 * boot server and NFS server get, that a second run is up to date, the
 * squash modes, NFS-Ganesha's include and NFSv3, and every refusal: the
 * bootstrap traps, an export path that is a file, a busy mount point, a
 * server without its NFS software or without privileges, no dnsmasq.
 */
import { describe, expect, it } from 'vitest';
import { parseNfsSource } from '../../src/pi/fstab.js';
import type { BootServerFacts, NfsServerFacts } from '../../src/jobs/server/facts.js';
import { planServer, type ServerSettings } from '../../src/jobs/server/plan.js';
import { kernelOptions, parseExportfsV, renderGaneshaExport, renderKernelExports, verifyKernelExport, withGaneshaProtocols, ganeshaProtocols } from '../../src/server/nfs-export.js';
import { parseCidr } from '../../src/util/ipv4.js';
import type { Inventory } from '../../src/server/state.js';

const DNSMASQ = '# pinet dnsmasq config\nport=0\n';

function settings(over: Partial<ServerSettings> = {}): ServerSettings {
  const nfs = over.nfs ?? '10.86.5.3:/srv/picluster-boot';
  const src = parseNfsSource(nfs);
  if (!src.ok) throw new Error(src.error);
  return {
    backend: 'kernel-nfs',
    on: 'root@10.86.5.3',
    nfs,
    nfsSource: src.value,
    path: src.value.path,
    clients: ['10.86.5.0/24'],
    squash: 'none',
    nfsRoot: false,
    mountOptions: 'defaults,timeo=900,_netdev',
    exportDir: '/mnt/netboot',
    dnsmasqConfPath: '/etc/dnsmasq.d/pinet.conf',
    dnsmasqText: DNSMASQ,
    pisNet: parseCidr('10.86.5.0/24')!,
    regenerate: 'pinet server setup …',
    ...over,
  };
}

function nfsFacts(over: Partial<NfsServerFacts> = {}): NfsServerFacts {
  return {
    label: 'nfs-host (10.86.5.3)',
    local: false,
    user: 'root',
    privilege: 'root',
    systemd: true,
    addresses: [['eth0', '10.86.5.3/24']],
    path: { kind: 'missing' },
    owners: {},
    parentExists: true,
    kernel: { exportfs: true, active: 'active', etcExports: '', otherFiles: '', exportfsV: '' },
    ganesha: { binary: false },
    ...over,
  };
}

function bootFacts(over: Partial<BootServerFacts> = {}): BootServerFacts {
  return {
    fstab: 'LABEL=writable / ext4 defaults 0 1\n',
    mounts: 'sysfs /sys sysfs rw 0 0\n/dev/vda1 / ext4 rw 0 0\n',
    dnsmasq: '/usr/sbin/dnsmasq',
    dnsmasqUnit: true,
    dnsmasqConf: null,
    tftpUser: { name: 'dnsmasq', uid: 105, gid: 65534, group: 'nogroup' },
    resolvConf: 'nameserver 10.86.5.1\n',
    addresses: [['10.86.5.2', 24]],
    ...over,
  };
}

const EMPTY: Inventory = { version: 1, pis: {} };
const plan = (s: ServerSettings, n: NfsServerFacts, b: BootServerFacts, inventory = EMPTY, dnsmasqRunning = false) => planServer({ settings: s, nfs: n, boot: b, inventory, dnsmasqRunning });
const ids = async (p: ReturnType<typeof plan>) => (await p).target.changes.map((c) => c.id);

/** The state a kernel NFS server and the boot server are in after setup applied `s`. */
function afterSetup(s: ServerSettings) {
  const spec = { path: s.path, pseudo: s.nfsSource.path, clients: s.clients, squash: s.squash, anon: s.squash === 'tftp-user' ? { uid: 105, gid: 65534 } : { uid: 65534, gid: 65534 }, versions: [3, 4] as (3 | 4)[] };
  const opts = ['sync', 'wdelay', 'hide', 'no_subtree_check', 'sec=sys', 'rw', 'secure', ...kernelOptions(spec).filter((o) => !['rw', 'sync', 'no_subtree_check'].includes(o)), 'no_all_squash'];
  const exportfsV = `${s.path}\n\t\t${s.clients[0]}(${opts.join(',')})\n`;
  const owner = s.squash === 'none' ? { uid: 0, gid: 0 } : spec.anon;
  return {
    nfs: nfsFacts({ path: { kind: 'directory', mode: 0o755, ...owner }, kernel: { exportfs: true, active: 'active', etcExports: '', otherFiles: '', exportfsV, file: renderKernelExports(spec, s.regenerate) } }),
    boot: bootFacts({
      fstab: `LABEL=writable / ext4 defaults 0 1\n${s.nfs} ${s.exportDir} nfs ${s.mountOptions} 0 0\n`,
      mounts: `/dev/vda1 / ext4 rw 0 0\n${s.nfs} ${s.exportDir} nfs4 rw,vers=4.2 0 0\n`,
      dnsmasqConf: s.dnsmasqText,
    }),
  };
}

describe('server setup plan', () => {
  it('a fresh Linux NFS server and boot server: directory, export, fstab, mount, dnsmasq, restart, record', async () => {
    const p = await plan(settings(), nfsFacts(), bootFacts());
    expect(p.target.changes.map((c) => c.id)).toEqual(['directory', 'export', 'fstab', 'mount', 'dnsmasq', 'dnsmasq-restart', 'record']);
    expect(p.export?.content).toMatch(/^\/srv\/picluster-boot 10\.86\.5\.0\/24\(rw,sync,no_subtree_check,no_root_squash\)$/m);
    expect(p.export?.content).toMatch(/^# Written by pinet/);
    expect(p.mount?.fstab?.after).toMatch(/^10\.86\.5\.3:\/srv\/picluster-boot \/mnt\/netboot nfs defaults,timeo=900,_netdev 0 0$/m);
    expect(p.directory).toEqual({ owner: '0:0', mode: '755', create: true });
  });

  it('a second run on what setup made is up to date', async () => {
    for (const squash of ['none', 'root', 'tftp-user'] as const) {
      const s = settings({ squash });
      const { nfs, boot } = afterSetup(s);
      const p = await plan(s, nfs, boot, EMPTY, true);
      expect(p.target.changes, squash).toEqual([]);
    }
  });

  it('the Linux NFS server installed but stopped: setup starts it, and says so; a non-systemd server is not judged by it', async () => {
    const s = settings();
    const { nfs, boot } = afterSetup(s);
    const stopped = { ...nfs, kernel: { ...nfs.kernel, active: 'inactive' } };
    const p = await plan(s, stopped, boot, EMPTY, true);
    expect(p.export?.reload).toBe('restart');
    expect(p.target.changes.find((c) => c.id === 'export')?.summary).toMatch(/start the NFS server \(systemctl enable --now nfs-server: it is stopped\)/);
    const noSystemd = { ...nfs, systemd: false, kernel: { ...nfs.kernel, active: undefined } };
    expect((await plan(s, noSystemd, boot, EMPTY, true)).target.changes).toEqual([]);
  });

  it('dnsmasq not running pinet\'s config yet: only a restart is planned', async () => {
    const s = settings();
    const { nfs, boot } = afterSetup(s);
    expect(await ids(plan(s, nfs, boot, EMPTY, false))).toEqual(['dnsmasq-restart', 'record']);
  });

  it('squash modes: the options, and who owns the exported directory', async () => {
    const root = await plan(settings({ squash: 'root' }), nfsFacts(), bootFacts());
    expect(root.export?.content).toMatch(/\(rw,sync,no_subtree_check,root_squash,anonuid=65534,anongid=65534\)/);
    expect(root.directory?.owner).toBe('65534:65534');
    const tftp = await plan(settings({ squash: 'tftp-user' }), nfsFacts(), bootFacts());
    expect(tftp.export?.content).toMatch(/\(rw,sync,no_subtree_check,all_squash,anonuid=105,anongid=65534\)/);
    expect(tftp.directory?.owner).toBe('105:65534');
  });

  it('a squash over boot files that belong to someone else (a Pi enrolled under another squash): they are given to the anonymous identity on the NFS server', async () => {
    const owners = { '0:0': 400, '105:65534': 30 };
    const p = await plan(settings({ squash: 'tftp-user' }), nfsFacts({ path: { kind: 'directory', mode: 0o755, uid: 105, gid: 65534 }, owners }), bootFacts());
    expect(p.directory).toEqual({ owner: '105:65534', mode: '755', create: false, recursive: true });
    expect(p.target.changes.find((c) => c.id === 'directory')?.summary).toMatch(/the 400 files and directories in it that belong to others too/);
    // squash none: root writes anything, owners stay
    const none = await plan(settings({ squash: 'none' }), nfsFacts({ path: { kind: 'directory', mode: 0o755, uid: 0, gid: 0 }, owners }), bootFacts());
    expect(none.directory).toBeUndefined();
  });

  it('an existing directory with the wrong owner is changed, not recreated', async () => {
    const p = await plan(settings({ squash: 'tftp-user' }), nfsFacts({ path: { kind: 'directory', mode: 0o755, uid: 0, gid: 0 } }), bootFacts());
    expect(p.directory).toEqual({ owner: '105:65534', mode: '755', create: false });
  });

  it('an old fstab line for the mount point stays as a comment', async () => {
    const p = await plan(settings(), nfsFacts(), bootFacts({ fstab: 'nas:/old /mnt/netboot nfs defaults 0 0\n' }));
    expect(p.mount?.fstab?.after).toBe('# pinet: replaced: nas:/old /mnt/netboot nfs defaults 0 0\n10.86.5.3:/srv/picluster-boot /mnt/netboot nfs defaults,timeo=900,_netdev 0 0\n');
  });

  it('NFS-Ganesha: pinet\'s block, the include line, and NFSv3 turned on (with a restart) only when the Pis\' root is on NFS', async () => {
    const conf = 'NFS_CORE_PARAM {\n    Protocols = 4;\n}\n';
    const g = nfsFacts({ ganesha: { binary: true, running: 'systemd', conf } });
    const p = await plan(settings({ backend: 'ganesha', nfs: '10.86.5.3:/picluster-boot', path: '/srv/boot' }), g, bootFacts());
    expect(p.export?.file).toBe('/etc/ganesha/pinet.conf');
    expect(p.export?.content).toMatch(/Path = "\/srv\/boot";\n {4}Pseudo = "\/picluster-boot";/);
    expect(p.export?.main?.after).toMatch(/%include "\/etc\/ganesha\/pinet\.conf"\n$/);
    expect(p.export?.reload).toBe('hup');
    const v3 = await plan(settings({ backend: 'ganesha', nfsRoot: true }), g, bootFacts());
    expect(v3.export?.reload).toBe('restart');
    expect(ganeshaProtocols(v3.export!.main!.after)).toEqual([3, 4]);
    expect(v3.target.changes.find((c) => c.id === 'ganesha-conf')?.reason).toMatch(/NFSv3/);
  });

  it('NFS-Ganesha with an EXPORT for the same Pseudo already: refused', async () => {
    const conf = 'EXPORT { Export_Id = 3; Path = /data; Pseudo = /srv/picluster-boot; FSAL { Name = VFS; } }\n';
    await expect(plan(settings({ backend: 'ganesha' }), nfsFacts({ ganesha: { binary: true, running: 'pid 7', conf } }), bootFacts())).rejects.toThrow(/already has an EXPORT with Pseudo \/srv\/picluster-boot/);
  });

  it('existing: nothing on the NFS server, the rest as usual', async () => {
    const p = await plan(settings({ backend: 'existing' }), nfsFacts({ privilege: 'no-sudo' }), bootFacts());
    expect(p.target.changes.map((c) => c.id)).toEqual(['fstab', 'mount', 'dnsmasq', 'dnsmasq-restart', 'record']);
    expect(p.findings.find((f) => f.id === 'bootstrap.clients')?.level).toBe('skip');
  });

  it('refusals, each with the reason and the fix', async () => {
    const pi = { '10000000bf9fed6f': { serial: '10000000bf9fed6f', dir: 'bf9fed6f', prefixMode: 'serial' as const, host: 'pi-07', address: 'pi-07 (10.86.5.3)', bootMount: '/boot/firmware', exportDir: '/mnt/netboot', nfs: 'x:/y', enrolledAt: '', updatedAt: '', changes: [], hooks: [] } };
    const cases: [Promise<unknown>, RegExp][] = [
      [plan(settings(), nfsFacts(), bootFacts(), { version: 1, pis: pi }), /the NFS server is pi-07 .* a Pi that netboots from this boot server/],
      [plan(settings({ nfs: 'nfs-host:/srv/picluster-boot' }), nfsFacts({ addresses: [] }), bootFacts({ resolvConf: 'nameserver 10.86.5.3\n' }), { version: 1, pis: pi }), /resolver 10\.86\.5\.3 \(pi-07, netbooted from here\)/],
      [plan(settings({ clients: ['10.86.6.0/24'] }), nfsFacts(), bootFacts()), /leave out the Pis' subnet 10\.86\.5\.0\/24 and the boot server 10\.86\.5\.2/],
      [plan(settings(), nfsFacts({ path: { kind: 'other' } }), bootFacts()), /exists and is not a directory/],
      [plan(settings(), nfsFacts({ kernel: { exportfs: false, etcExports: '', otherFiles: '', exportfsV: '' } }), bootFacts()), /Linux NFS server is not installed/],
      [plan(settings({ backend: 'ganesha' }), nfsFacts(), bootFacts()), /NFS-Ganesha is not installed/],
      [plan(settings(), nfsFacts({ privilege: 'sudo-needs-password', user: 'pi' }), bootFacts()), /user pi cannot run privileged steps.*sudo needs a password/],
      [plan(settings(), nfsFacts(), bootFacts({ mounts: '/dev/sdb1 /mnt/netboot ext4 rw 0 0\n' })), /\/mnt\/netboot is busy: \/dev\/sdb1 \(ext4\)/],
      [plan(settings(), nfsFacts(), bootFacts({ fstab: 'a:/x /mnt/netboot nfs defaults 0 0\nb:/y /mnt/netboot nfs defaults 0 0\n' })), /2 lines for \/mnt\/netboot/],
    ];
    for (const [p, msg] of cases) await expect(p).rejects.toThrow(msg);
    // A client list that leaves someone out is a bad --client value: exit 2, like the other bad values.
    await expect(plan(settings({ clients: ['10.86.6.0/24'] }), nfsFacts(), bootFacts())).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--client: /) });
    await expect(plan(settings(), nfsFacts({ path: { kind: 'other' } }), bootFacts())).rejects.toMatchObject({ exitCode: 1 });
    const noDnsmasq = bootFacts();
    delete noDnsmasq.dnsmasq;
    await expect(plan(settings(), nfsFacts(), noDnsmasq)).rejects.toMatchObject({ message: expect.stringMatching(/dnsmasq is not installed/), hint: expect.stringMatching(/apt-get install dnsmasq.*does not install packages/) });
  });

  it('warns (does not refuse) a name resolved by a real resolver, and a mount without _netdev', async () => {
    const p = await plan(settings({ nfs: 'nfs-host:/srv/picluster-boot', mountOptions: 'defaults' }), nfsFacts(), bootFacts());
    expect(p.target.warnings.join('\n')).toMatch(/every netboot depends on DNS/);
    expect(p.target.warnings.join('\n')).toMatch(/without _netdev/);
  });
});

describe('exports as the servers print them', () => {
  it('reads exportfs -v with short and long paths, and checks pinet\'s options are in effect', () => {
    const text = '/srv/a        \t10.0.0.0/24(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,no_root_squash,no_all_squash)\n/srv/a-very-long-directory-name-for-boot-files\n\t\t10.86.5.0/24(sync,wdelay,hide,no_subtree_check,anonuid=105,sec=sys,rw,secure,root_squash,all_squash)\n\t\t10.86.5.2(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)\n';
    const live = parseExportfsV(text);
    expect([...live.keys()]).toEqual(['/srv/a', '/srv/a-very-long-directory-name-for-boot-files']);
    expect(live.get('/srv/a-very-long-directory-name-for-boot-files')?.get('10.86.5.2')).toContain('root_squash');
    const spec = { path: '/srv/a-very-long-directory-name-for-boot-files', pseudo: '/x', clients: ['10.86.5.0/24', '10.86.5.2'], squash: 'tftp-user' as const, anon: { uid: 105, gid: 65534 }, versions: [3, 4] as (3 | 4)[] };
    expect(verifyKernelExport(live, spec)).toEqual([
      '/srv/a-very-long-directory-name-for-boot-files to 10.86.5.2: all_squash is not in effect (sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)',
      '/srv/a-very-long-directory-name-for-boot-files to 10.86.5.2: anonuid=105 is not in effect (sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)',
    ]);
    // nfs-utils prints anonuid/anongid only when they are not 65534 (the VM lab's nfs-kernel-server 2.6.2):
    // a root squash to 65534:65534 shows neither.
    const rootSquash = parseExportfsV('/srv/r\t10.86.5.0/24(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)\n');
    expect(verifyKernelExport(rootSquash, { ...spec, path: '/srv/r', clients: ['10.86.5.0/24'], squash: 'root', anon: { uid: 65534, gid: 65534 } })).toEqual([]);
    expect(verifyKernelExport(live, { ...spec, path: '/srv/b' })).toEqual(['/srv/b is not exported (exportfs -v does not list it)']);
  });

  it('renders a Ganesha block with one client block and the squash, and edits Protocols in place', () => {
    const block = renderGaneshaExport({ path: '/srv/boot', pseudo: '/picluster-boot', clients: ['10.86.5.0/24', '10.86.5.2'], squash: 'root', anon: { uid: 65534, gid: 65534 }, versions: [3, 4] }, 7411, 'pinet server setup …');
    expect(block).toMatch(/Export_Id = 7411;/);
    expect(block).toMatch(/CLIENT \{\n {8}Clients = 10\.86\.5\.0\/24, 10\.86\.5\.2;\n {8}Access_Type = RW;\n {8}Squash = Root_Squash;/);
    expect(withGaneshaProtocols('NFS_CORE_PARAM {\n    Protocols = 4;\n    Mount_Path_Pseudo = true;\n}\n', [3, 4])).toBe('NFS_CORE_PARAM {\n    Protocols = 3, 4;\n    Mount_Path_Pseudo = true;\n}\n');
    expect(ganeshaProtocols(withGaneshaProtocols('LOG { }\n', [3, 4]))).toEqual([3, 4]);
  });
});
