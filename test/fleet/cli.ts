/**
 * The fake-Pi fleet from the command line, for benchmarks and by hand:
 *
 *   node --import tsx test/fleet/cli.ts up --count 50 --variant ubuntu-2404-pi4 --dir /tmp/fleet
 *       starts the fleet, prints one JSON line describing it (ssh config path,
 *       Pis with name, serial, port...), writes the same to <dir>/fleet.json,
 *       and stays in the foreground until SIGTERM or SIGINT, then stops it.
 *   node --import tsx test/fleet/cli.ts cleanup
 *       removes what crashed fleets left behind (cleanupStale) and prints it.
 *   node --import tsx test/fleet/cli.ts variants
 *
 * Options of `up`: --count N (default 1), --variant NAME (default
 * ubuntu-2404-pi4; repeat or comma-separate to cycle through several),
 * --prefix pi- (names pi-01, pi-02, ...), --dir DIR, --boot-files-mb MB,
 * --boot-image small|real (real-size boot partitions), --kernel-version V
 * (every Pi's kernel), --link-mbps N (limit the boot server's link),
 * --export-dir DIR (NFS boot mounts), --ssh-user USER.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFleet } from './fleet.js';
import { cleanupStale } from './stale.js';
import { VARIANTS, variantNamed } from './variants.js';
import type { VariantName } from './variants.js';

function fail(message: string): never {
  process.stderr.write(`fleet: ${message}\n`);
  process.exit(2);
}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '1' },
      variant: { type: 'string', multiple: true },
      prefix: { type: 'string', default: 'pi-' },
      dir: { type: 'string' },
      'boot-files-mb': { type: 'string' },
      'boot-image': { type: 'string' },
      'kernel-version': { type: 'string' },
      'link-mbps': { type: 'string' },
      'export-dir': { type: 'string' },
      'ssh-user': { type: 'string' },
    },
    strict: true,
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 240) fail(`--count must be a whole number from 1 to 240, not ${values.count}`);
  const variants = (values.variant ?? ['ubuntu-2404-pi4']).flatMap((v) => v.split(',')).map((v) => variantNamed(v.trim()).name);
  const width = Math.max(2, String(count).length);
  const pis = Array.from({ length: count }, (_, i) => ({
    name: `${values.prefix}${String(i + 1).padStart(width, '0')}`,
    variant: variants[i % variants.length] as VariantName,
    ...(values['kernel-version'] !== undefined ? { kernelVersion: values['kernel-version'] } : {}),
  }));
  const bootImage = values['boot-image'];
  if (bootImage !== undefined && bootImage !== 'small' && bootImage !== 'real') fail(`--boot-image must be small or real, not ${bootImage}`);
  const linkMbps = values['link-mbps'] === undefined ? undefined : Number(values['link-mbps']);
  if (linkMbps !== undefined && !(linkMbps > 0)) fail(`--link-mbps must be a positive number, not ${values['link-mbps']}`);

  const fleet = await startFleet({
    pis,
    dir: values.dir,
    bootFilesMB: values['boot-files-mb'] === undefined ? undefined : Number(values['boot-files-mb']),
    bootImage,
    linkMbps,
    exportDir: values['export-dir'],
    sshUser: values['ssh-user'],
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`fleet: ${signal}: stopping ${fleet.pis.length} Pis\n`);
    fleet.stop().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`fleet: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  const description = {
    pid: process.pid,
    dir: fleet.dir,
    sshConfig: fleet.sshConfig,
    knownHosts: fleet.knownHosts,
    identityFile: fleet.identityFile,
    lan: fleet.lan,
    bootServer: fleet.bootServer,
    startupMs: fleet.startupMs,
    pis: fleet.pis.map((p) => ({
      name: p.name,
      variant: p.variant,
      serial: p.serial,
      serial8: p.serial8,
      mac: p.mac,
      ip: p.ip,
      port: p.port,
      netns: p.netns,
      bootMount: p.bootMount,
      hostKey: p.hostKey,
    })),
  };
  const json = JSON.stringify(description);
  writeFileSync(join(fleet.dir, 'fleet.json'), json + '\n');
  process.stdout.write(json + '\n');
  // Stay in the foreground until a signal stops the fleet.
  setInterval(() => undefined, 1 << 30);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'up':
      return up(rest);
    case 'cleanup':
      process.stdout.write(JSON.stringify(await cleanupStale()) + '\n');
      return;
    case 'variants':
      for (const v of Object.values(VARIANTS)) process.stdout.write(`${v.name.padEnd(20)} ${v.description}\n`);
      return;
    default:
      fail('usage: cli.ts up [--count N] [--variant NAME] [--dir DIR] | cleanup | variants');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`fleet: ${err.message}\n`);
  process.exit(1);
});
