/**
 * `pinet server setup --export ceph`'s planner, fed with what the real ceph
 * CLI printed (test/fixtures/ceph, recorded on Ceph 16.2.15 by
 * test/ceph/record.ts): a fresh subvolume and export, the existing export
 * (no-op, or `export apply` when its clients or squash differ), the
 * subvolume's mode for each squash, and the refusals: an unknown version, a
 * missing file system, no NFS cluster and no orchestrator, a pseudo path
 * owned by another export, an NFS root.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CEPH_SQUASH, knownCephVersion, parseCephFacts, planCeph, subvolumeMode, verifyCephExport, type CephSettings } from '../../src/jobs/server/ceph.js';
import { parseFramed } from '../../src/remote/script.js';

interface Recording {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}
const FIXTURES = fileURLToPath(new URL('../fixtures/ceph/', import.meta.url));
const rec = (name: string): Recording => JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as Recording;

/** What ceph-detect.sh prints, built from recordings of the same commands (stdout and stderr, then rc=). */
function detectOutput(parts: Record<'version' | 'fs-ls' | 'subvolume-info' | 'export-ls' | 'export-info' | 'orch', Recording> & { 'orch-hosts'?: Recording }, user = 'root') {
  const M = '@@m@@';
  let out = `\n${M} section id\n0\n${user}\n${user === 'root' ? 'root' : 'ok'}\nadmin\n\n${M} section ceph\n/usr/bin/ceph\n`;
  for (const [name, r] of Object.entries(parts)) out += `\n${M} section ${name}\n${r.stdout}${r.stderr}rc=${r.exitCode}\n`;
  out += `\n${M} end\n`;
  return { ...parseFramed(Buffer.from(out), M), code: 0, stderr: '' };
}

const NO_ORCH = rec('orch-status');
/** Ceph's own test_orchestrator mgr module as the backend (recorded): an orchestrator that knows one host, localhost. */
const TEST_ORCH = { orch: rec('orch-status-test-orchestrator'), 'orch-hosts': rec('orch-host-ls-test-orchestrator') };
const fresh = {
  version: rec('version'),
  'fs-ls': rec('fs-ls-json'),
  'subvolume-info': rec('subvolume-info-missing'),
  'export-ls': rec('nfs-export-ls-empty'),
  'export-info': rec('nfs-export-info-missing'),
  orch: NO_ORCH,
};
const exported = { ...fresh, 'subvolume-info': rec('subvolume-info'), 'export-ls': rec('nfs-export-ls-detailed'), 'export-info': rec('nfs-export-info') };

const S = (over: Partial<CephSettings> = {}): CephSettings => ({
  fs: 'homenet-fs',
  subvolume: over.subvolume ?? 'no-such-subvolume',
  cluster: 'hn-nfs',
  pseudo: '/picluster-boot',
  clients: ['10.251.200.96/27'],
  squash: 'tftp-user',
  nfsRoot: false,
  placement: 'nfs-host',
  ...over,
});

describe('ceph facts from the real CLI', () => {
  it('reads version, file systems, a subvolume, the NFS cluster and pinet\'s export', () => {
    const f = parseCephFacts(detectOutput(exported));
    expect(f.version).toMatchObject({ major: 16, minor: 2, patch: 15 });
    expect(f.fsNames).toEqual(['homenet-fs']);
    expect(f.subvolume).toMatchObject({ exists: true, mode: 0o755, uid: 0, path: expect.stringMatching(/^\/volumes\/_nogroup\/picluster-boot\//) });
    expect(f.cluster).toBe(true);
    expect(f.export?.clients?.[0]).toEqual({ addresses: ['10.251.200.96/27'], access_type: 'rw', squash: 'all' });
    expect(f.orchestrator).toBe(false);
    const missing = parseCephFacts(detectOutput({ ...fresh, 'export-ls': rec('nfs-export-ls-unknown-cluster') }));
    expect(missing.subvolume).toEqual({ exists: false, why: "Error ENOENT: subvolume 'no-such-subvolume' does not exist" });
    expect([missing.cluster, missing.clusterError]).toEqual([false, 'Error ENOENT: Cluster does not exist']);
    expect(missing.export).toBeUndefined();
  });

  it('knows the named-flag versions only', () => {
    expect(knownCephVersion({ major: 16, minor: 2, patch: 15 })).toBe(true);
    expect(knownCephVersion({ major: 16, minor: 2, patch: 6 })).toBe(false);
    expect(knownCephVersion({ major: 18, minor: 2, patch: 4 })).toBe(true);
    expect(knownCephVersion({ major: 20, minor: 1, patch: 0 })).toBe(false);
  });
});

describe('ceph plan', () => {
  it('fresh: a subvolume writable for the squashed Pis, then the export with the named flags the real CLI takes', () => {
    const p = planCeph(S(), parseCephFacts(detectOutput(fresh)), 'admin');
    expect(p.steps.map((s) => s.argv)).toEqual([
      ['ceph', 'fs', 'subvolume', 'create', 'homenet-fs', 'no-such-subvolume', '--mode', '777'],
      // the recorded create: same flags, same order
      [...rec('nfs-export-create-client-addr').argv.slice(0, 12), '<subvolume path>', ...rec('nfs-export-create-client-addr').argv.slice(13)],
    ]);
    expect(p.createsExport).toBe(true);
    expect(subvolumeMode('none')).toBe(0o755);
  });

  it('the export as recorded is up to date; other clients or another squash become export apply with the same export', () => {
    const f = parseCephFacts(detectOutput(exported));
    const same = planCeph(S({ subvolume: 'picluster-boot', squash: 'tftp-user' }), f, 'admin');
    expect(same.steps.map((s) => s.argv[3])).toEqual(['create']); // only the subvolume's mode (755 → 777)
    const none = planCeph(S({ subvolume: 'picluster-boot', squash: 'none' }), f, 'admin');
    expect(none.steps).toHaveLength(1);
    const apply = none.steps[0]!;
    expect(apply.argv).toEqual(rec('nfs-export-apply-update').argv);
    const next = JSON.parse(apply.input!) as { export_id: number; clients: { squash: string }[]; path: string };
    expect(next).toMatchObject({ export_id: 1, path: f.export!.path, clients: [{ squash: CEPH_SQUASH.none }] });
    expect(verifyCephExport(f.export, same.wanted)).toEqual([]);
    expect(verifyCephExport(f.export, none.wanted)).toEqual(['it squashes all, not none']);
  });

  it('refuses: no ceph, an unknown version, a missing file system, no cluster without an orchestrator, a taken pseudo path, an NFS root', () => {
    const f = () => parseCephFacts(detectOutput(fresh));
    const cases: [() => unknown, RegExp][] = [
      [() => planCeph(S(), { ...f(), cli: false }, 'admin'), /the ceph command is not installed/],
      [() => planCeph(S(), { ...f(), version: { major: 16, minor: 2, patch: 4, text: 'ceph version 16.2.4' } }, 'admin'), /16\.2\.4 is not a Ceph version pinet knows/],
      [() => planCeph(S({ fs: 'other-fs' }), f(), 'admin'), /there is no CephFS file system other-fs \(ceph fs ls: homenet-fs\)/],
      [() => planCeph(S(), parseCephFacts(detectOutput({ ...fresh, 'export-ls': rec('nfs-export-ls-unknown-cluster') })), 'admin'), /no NFS cluster hn-nfs .*without an orchestrator/],
      [() => planCeph(S({ subvolume: 'picluster-boot', fs: 'homenet-fs' }), { ...parseCephFacts(detectOutput(exported)), subvolume: { exists: true, path: '/volumes/_nogroup/other/1', mode: 0o777, uid: 0, gid: 0 } }, 'admin'), /pseudo path \/picluster-boot belongs to another export/],
      // An export at the pseudo path while the subvolume does not exist is someone else's (export apply would take it over).
      [() => planCeph(S(), parseCephFacts(detectOutput({ ...fresh, 'export-ls': rec('nfs-export-ls-detailed'), 'export-info': rec('nfs-export-info') })), 'admin'), /pseudo path \/picluster-boot belongs to another export .*the subvolume no-such-subvolume does not exist/],
      [() => planCeph(S({ nfsRoot: true }), f(), 'admin'), /NFSv4 only/],
    ];
    for (const [fn, msg] of cases) expect(fn).toThrow(msg);
  });

  it('with an orchestrator, a missing NFS cluster is created first, on the orchestrator\'s host that --nfs names (by name or address)', () => {
    // Once an orchestrator is on, mgr/nfs lists NFS clusters from it: the hand-made one is gone (recorded).
    const f = parseCephFacts(detectOutput({ ...fresh, ...TEST_ORCH, 'export-ls': rec('nfs-export-ls-hand-made-cluster-with-orchestrator') }));
    expect([f.cluster, f.orchestrator, f.orchestratorHosts]).toEqual([false, true, [{ hostname: 'localhost', addr: 'localhost' }]]);
    const p = planCeph(S({ placement: 'localhost' }), f, 'admin');
    const created = rec('nfs-cluster-create-test-orchestrator');
    expect(p.steps[0]!.argv).toEqual(created.argv.map((a) => (a === 'rec-orch' ? 'hn-nfs' : a)));
    expect(created).toMatchObject({ exitCode: 0, stdout: 'NFS Cluster Created Successfully\n' });
    // An address the orchestrator does not know as a host (cephadm: "Cannot place … Unknown hosts"): refused with its hosts.
    expect(() => planCeph(S({ placement: '10.251.200.10' }), f, 'admin')).toThrow(/no NFS cluster hn-nfs, and the orchestrator manages no host 10\.251\.200\.10 .*ceph orch host ls: localhost \(localhost\)/);
    expect(parseCephFacts(detectOutput({ ...fresh, orch: rec('orch-status') })).orchestrator).toBe(false);
  });
});
