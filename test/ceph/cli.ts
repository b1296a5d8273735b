/**
 * The test Ceph cluster from a shell, for people and benchmarks:
 *
 *   node --import tsx test/ceph/cli.ts up        start it, print its info as JSON, stay until Ctrl-C / SIGTERM
 *   node --import tsx test/ceph/cli.ts cleanup   remove what dead clusters left behind
 */
import { cephCluster } from './shared.js';
import { cleanupStale } from './stale.js';

async function main(): Promise<void> {
  const cmd = process.argv[2];
  if (cmd === 'up') {
    const c = await cephCluster();
    process.stdout.write(JSON.stringify(c.info, null, 2) + '\n');
    process.stderr.write(`cluster up in ${c.info.startupMs} ms; Ctrl-C stops it\n`);
    // This process is the run's owner: the daemon stops the cluster when it exits.
    await new Promise<void>((resolve) => {
      const keepAlive = setInterval(() => undefined, 60_000);
      const done = (): void => {
        clearInterval(keepAlive);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
    });
    return;
  }
  if (cmd === 'cleanup') {
    const done = await cleanupStale();
    process.stdout.write(done.length > 0 ? done.join('\n') + '\n' : 'nothing to clean\n');
    return;
  }
  process.stderr.write('usage: cli.ts up | cleanup\n');
  process.exitCode = 2;
}

void main();
