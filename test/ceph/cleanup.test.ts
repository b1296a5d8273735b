/**
 * Cleanup of the test Ceph cluster: when the run that owns a cluster ends,
 * its daemon stops every process it started, deletes its network
 * namespaces, its directory, its slot and the run's files; nothing is left.
 *
 * This is the one test that starts a cluster of its own (its owner is a
 * `sleep` child this test ends), because it must end it; every other Ceph
 * test shares the run's cluster.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { namespaces } from './layout.js';
import { listNamespaces } from './net.js';
import { isAlive, until } from './proc.js';
import { ownerOf, runBase, slotFile } from './registry.js';
import { START_TIMEOUT_MS, clusterOf } from './shared.js';

describeAsRoot('test Ceph cluster cleanup', () => {
  it('when the owning run ends, every process, namespace, directory and run file of the cluster is gone', async () => {
    const sleeper = spawn('sleep', ['900'], { stdio: 'ignore' });
    const owner = ownerOf(sleeper.pid!);
    try {
      const c = await clusterOf(owner);
      const ns = namespaces(c.info.layout);
      // Everything is there while the run lasts.
      expect(c.info.processes.map((p) => p.name)).toEqual(['mon.a', 'mgr.x', 'osd.0', 'mds.a', 'ganesha', 'admin-host', 'relay']);
      for (const p of c.info.processes) expect(isAlive(p), p.name).toBe(true);
      expect(isAlive(c.daemon)).toBe(true);
      expect((await listNamespaces()).filter((n) => ns.includes(n)).sort()).toEqual([...ns].sort());
      expect(existsSync(c.info.dir)).toBe(true);
      expect(existsSync(slotFile(c.info.slot))).toBe(true);
      expect(existsSync(`${runBase(owner)}.json`)).toBe(true);
      // The processes inside the PID namespaces (rpcbind, ganesha.nfsd, sshd) are there too.
      const inside = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      expect(inside).toContain(`ganesha.nfsd -F -L ${c.info.dir}/ganesha/ganesha.log`);

      // The run ends.
      sleeper.kill('SIGKILL');
      await until('the cluster daemon to exit', () => !isAlive(c.daemon), 60_000, 200);

      for (const p of c.info.processes) expect(isAlive(p), `${p.name} (pid ${p.pid})`).toBe(false);
      expect((await listNamespaces()).filter((n) => ns.includes(n))).toEqual([]);
      expect(existsSync(c.info.dir)).toBe(false);
      expect(existsSync(slotFile(c.info.slot))).toBe(false);
      expect(existsSync(`${runBase(owner)}.json`)).toBe(false);
      expect(existsSync(`${runBase(owner)}.log`)).toBe(false);
      expect(existsSync(`${runBase(owner)}.lock`)).toBe(false);
      const after = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      expect(after).not.toContain(c.info.dir);
      expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(c.info.dir);
    } finally {
      sleeper.kill('SIGKILL');
    }
  }, START_TIMEOUT_MS + 90_000);
});
