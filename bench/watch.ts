/**
 * bench/watch: does `pinet watch` keep up with 50 Pis network-booting at
 * once (issue 13)? On a LAN of namespaces with the real dnsmasq (logging to
 * its log-facility file), 50 emulated Pi 4 bootloaders (test/netboot) boot
 * at the same moment while `pinet watch --json` follows the log. Measured:
 *
 *  * written: log lines per second dnsmasq wrote during the storm (overall,
 *    and the busiest second from the lines' own time stamps);
 *  * processed: log lines per second watch processes, from `pinet watch
 *    --once --json` on the storm's log repeated to a big file, minus its
 *    start-up (measured on an empty log), median of interleaved runs;
 *  * lag: for each Pi, from the moment its last boot file's line reached the
 *    log to the moment watch printed that Pi's `loaded` event.
 *
 * Ratios: processed / written (overall and peak; >= 1 means it keeps up),
 * and the worst lag. Exits 1 when processing is slower than writing, or a
 * Pi is missing from watch's output.
 *
 *   sudo node --import tsx bench/watch.ts [pis] [runs]     (default 50, 5)
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ubuntuPartition, writePartition } from '../test/netboot/boot-partition.js';
import { WatchLab, type LabPi } from '../test/watch/helpers/lab.js';
import { parseLogLine, stampToMs } from '../src/server/dnsmasq-log.js';
import { compare, median, timeIt } from './lib.js';

const count = Number(process.argv[2] ?? 50);
const runs = Number(process.argv[3] ?? 5);
const PINET = fileURLToPath(new URL('../bin/pinet.js', import.meta.url));

if (process.getuid?.() !== 0) {
  console.error('bench/watch needs root (network namespaces)');
  process.exit(2);
}

/**
 * Lines of `file` with the time they reached this process, through GNU
 * `tail -F` (inotify): watch's events arrive through a pipe into the same
 * event loop, so both are timed alike however busy the loop is.
 */
function tailWithArrival(file: string): { lines: { text: string; at: number }[]; stop: () => Promise<void> } {
  const lines: { text: string; at: number }[] = [];
  let rest = '';
  const child = spawn('tail', ['-F', '-n', '+1', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.stdout.on('data', (b: Buffer) => {
    const at = performance.now();
    const parts = (rest + b.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const text of parts) lines.push({ text, at });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    lines,
    stop: async () => {
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

const lab = new WatchLab('bench', 183);
try {
  await lab.lan();
  const root = await lab.dir('export');
  const state = join(await lab.dir('state'), 'pinet');
  const logFile = join(await lab.dir('log'), 'dnsmasq.log');
  const pis: LabPi[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const pi = await lab.addPi(`pi-${String(i + 1).padStart(2, '0')}`);
    await writePartition(join(root, pi.serial), ubuntuPartition());
    pis.push(pi);
  }
  await lab.inventory(state, root, pis.map((pi) => ({ pi })));
  const d = await lab.dnsmasq(root, { logFile });
  console.log(`bench/watch: ${count} Pis on ${lab.base}.0/24 ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // --- the storm, followed live ---
  const tail = tailWithArrival(logFile);
  const watch = spawn('ip', ['netns', 'exec', lab.srv, process.execPath, PINET, 'watch', '--json', '--no-ssh', '--dnsmasq-conf', d.conf, '--export-dir', root, '--state-dir', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  const loadedAt = new Map<string, number>();
  const events: Record<string, any>[] = [];
  let buffered = '';
  watch.stdout.on('data', (b: Buffer) => {
    const at = performance.now();
    const parts = (buffered + b.toString()).split('\n');
    buffered = parts.pop() ?? '';
    for (const l of parts) {
      if (!l.startsWith('{')) continue;
      const e = JSON.parse(l) as Record<string, any>;
      events.push(e);
      if (e.type === 'stage' && e.stage === 'loaded') loadedAt.set(e.pi.name, at);
    }
  });
  let watchErr = '';
  watch.stderr.on('data', (b: Buffer) => (watchErr += b.toString()));
  const exited = new Promise<void>((r) => watch.once('exit', () => r()));
  lab.defer(async () => {
    if (watch.exitCode === null) {
      process.kill(watch.pid!, 'SIGINT');
      await exited;
    }
  });
  while (!events.some((e) => e.type === 'source' && e.what === 'opened')) await new Promise((r) => setTimeout(r, 20));

  const stormStart = performance.now();
  const results = await Promise.all(pis.map((pi) => lab.emulate(pi)));
  const stormMs = performance.now() - stormStart;
  const booted = results.filter((r) => r.outcome === 'booted').length;
  const bootMs = results.map((r) => r.timings.totalMs);
  const tftpMs = results.flatMap((r) => (r.timings.tftpMs !== undefined ? [r.timings.tftpMs] : []));
  const deadline = performance.now() + 30_000;
  while (loadedAt.size < booted && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  await tail.stop();
  process.kill(watch.pid!, 'SIGINT');
  await exited;

  // Written: the lines of the storm (from the first DHCP line of a Pi to the last line), as they arrived.
  const storm = tail.lines.filter((l) => !/started, version|compile time options|DHCP, proxy on|TFTP root is/.test(l.text));
  const written = storm.length;
  const spanMs = storm.length > 1 ? storm.at(-1)!.at - storm[0]!.at : stormMs;
  const writtenPerS = written / (spanMs / 1000);
  const perSecond = new Map<number, number>();
  const now = Date.now();
  for (const l of storm) {
    const line = parseLogLine(l.text);
    const s = line.stamp ? stampToMs(line.stamp, now) : undefined;
    if (s !== undefined) perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }
  const peakPerS = Math.max(...perSecond.values());

  // Lag: each Pi's last "sent" line (its initramfs or kernel, whichever came last) to watch's loaded event.
  const lags: number[] = [];
  for (const pi of pis) {
    const last = [...storm].reverse().find((l) => l.text.includes(` to ${pi.ip}`) && /: sent /.test(l.text));
    const at = loadedAt.get(pi.name);
    if (last && at !== undefined) lags.push(at - last.at);
  }

  // --- capacity: the storm's log, 40 times over, through --once ---
  const stormLog = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l && !/started, version|compile time options|DHCP, proxy on|TFTP root is|exiting on/.test(l));
  const times = 40;
  const big = join(await lab.dir('big'), 'dnsmasq.log');
  await writeFile(big, `${Array.from({ length: times }, () => stormLog.join('\n')).join('\n')}\n`);
  const empty = join(await lab.dir('empty'), 'dnsmasq.log');
  await writeFile(empty, '');
  const base = ['watch', '--once', '--json', '--dnsmasq-conf', d.conf, '--export-dir', root, '--state-dir', state];
  const m = await compare(
    {
      [`pinet watch --once --json on ${times} storms (${stormLog.length * times} lines)`]: () => timeIt(process.execPath, [PINET, ...base, '--log', big], { check: false }),
      'pinet watch --once --json on an empty log (start-up)': () => timeIt(process.execPath, [PINET, ...base, '--log', empty], { check: false }),
    },
    runs,
  );
  const [bigMs, emptyMs] = Object.values(m) as [number, number];
  const processedPerS = (stormLog.length * times) / ((bigMs - emptyMs) / 1000);

  const seen = new Set(events.filter((e) => e.type === 'stage' && e.stage === 'loaded').map((e) => e.pi.name));
  console.log(`\n${count} Pis booted at once: ${booted} booted (emulator), storm ${(stormMs / 1000).toFixed(1)} s; watch saw ${seen.size} Pis load all their files`);
  console.log(`  one emulated boot: median ${median(bootMs).toFixed(0)} ms (TFTP part ${median(tftpMs).toFixed(0)} ms), slowest ${Math.max(...bootMs).toFixed(0)} ms`);
  console.log(`  written by dnsmasq:   ${written} lines in ${(spanMs / 1000).toFixed(1)} s = ${writtenPerS.toFixed(0)} lines/s (busiest second: ${peakPerS} lines)`);
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(64)} ${v.toFixed(0).padStart(6)} ms (median of ${runs})`);
  console.log(`  processed by watch:   ${processedPerS.toFixed(0)} lines/s`);
  console.log(`  lag, last boot file in the log -> watch's "loaded" event: median ${median(lags).toFixed(0)} ms, worst ${Math.max(...lags).toFixed(0)} ms (${lags.length} Pis)`);
  const ratio = processedPerS / writtenPerS;
  const peakRatio = processedPerS / peakPerS;
  console.log(`  ratio processed / written: ${ratio.toFixed(1)} (target >= 1) ${ratio >= 1 ? 'OK' : 'MISSED'}`);
  console.log(`  ratio processed / written in the busiest second: ${peakRatio.toFixed(1)} (target >= 1) ${peakRatio >= 1 ? 'OK' : 'MISSED'}`);
  const ok = ratio >= 1 && peakRatio >= 1 && seen.size === booted && booted === count;
  if (seen.size !== booted) console.log(`  MISSED: watch reported ${seen.size} of ${booted} booted Pis; stderr: ${watchErr.slice(-500)}`);
  if (booted !== count) console.log(`  note: ${count - booted} emulated boots did not finish: ${results.filter((r) => r.outcome !== 'booted').map((r) => `${r.pi.name}: ${r.summary}`).slice(0, 3).join('; ')}`);
  process.exitCode = ok ? 0 : 1;
} finally {
  await lab.cleanup();
}
