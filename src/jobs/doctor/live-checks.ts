/**
 * Doctor checks on the wire and in the logs:
 *  * live TFTP: fetch every boot file of every Pi from the TFTP server the
 *    way the bootloader does (tsize, blksize), compare size and SHA-256 with
 *    the file on disk, report the server's exact error and the rate;
 *  * live DHCP: a Pi-like PXE DISCOVER, every answer reported;
 *  * a dnsmasq log, summarised per Pi.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { DhcpProbeResult, ProbedDhcpAnswer } from '../../net/dhcp.js';
import type { LogSummary } from '../../server/dnsmasq-log.js';
import { mapLimit } from '../../util/concurrency.js';
import { fail, ok, warn, type Check, type CheckGroup } from './model.js';
import type { ExportTarget } from './export-checks.js';

async function localSum(path: string): Promise<{ size: number; sha256: string } | undefined> {
  try {
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(path)) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, sha256: h.digest('hex') };
  } catch {
    return undefined;
  }
}

function mbps(bytes: number, ms: number): string {
  return `${(bytes / 1024 / 1024 / Math.max(ms / 1000, 0.001)).toFixed(1)} MB/s`;
}

/** One `tftp.fetch` check per target, appended to the matching group. */
export async function checkTftp(server: string, exportDir: string, targets: ExportTarget[], opts: { concurrency?: number; port?: number } = {}): Promise<Map<string, Check>> {
  const { tftpGet, TftpError } = await import('../../net/tftp.js');
  const jobs = targets.flatMap((t) => t.required.map((file) => ({ t, file })));
  const results = await mapLimit(jobs, opts.concurrency ?? 8, async ({ t, file }) => {
    const remote = `${t.dir}/${file}`;
    const [local, got] = await Promise.all([
      localSum(join(exportDir, t.dir, file)),
      tftpGet({ server, file: remote, onData: () => undefined, ...(opts.port ? { port: opts.port } : {}) }).catch((err: unknown) => err),
    ]);
    if (got instanceof TftpError) {
      return { t, file, problem: `${remote}: ${got.kind === 'server' ? `server says "${got.serverMessage}"` : got.message}`, bytes: 0, ms: 0 };
    }
    if (got instanceof Error) return { t, file, problem: `${remote}: ${got.message}`, bytes: 0, ms: 0 };
    const r = got as { size: number; sha256: string; durationMs: number };
    if (!local) return { t, file, problem: `${remote}: served, but not in ${exportDir}: the TFTP server's tftp-root is not this export`, bytes: r.size, ms: r.durationMs };
    if (local.size !== r.size || local.sha256 !== r.sha256) {
      return { t, file, problem: `${remote}: got ${r.size} bytes, the file on disk has ${local.size}${local.size === r.size ? ' (different content)' : ''}`, bytes: r.size, ms: r.durationMs };
    }
    return { t, file, bytes: r.size, ms: r.durationMs };
  });
  const out = new Map<string, Check>();
  for (const t of targets) {
    const mine = results.filter((r) => r.t === t);
    if (mine.length === 0) continue;
    const problems = mine.flatMap((r) => (r.problem ? [r.problem] : []));
    const bytes = mine.reduce((n, r) => n + r.bytes, 0);
    const ms = mine.reduce((n, r) => n + r.ms, 0);
    if (problems.length) {
      const denied = problems.some((p) => /Permission denied/i.test(p));
      const missing = problems.some((p) => /not found/i.test(p));
      out.set(
        t.dir,
        fail(
          'tftp.fetch',
          'TFTP fetch',
          `${problems.length} of ${mine.length} boot files could not be fetched from ${server} as a Pi would`,
          denied
            ? `make them readable by the TFTP server's user: chmod -R a+rX ${join(exportDir, t.dir)}`
            : missing
              ? 'copy the missing files into the export (pinet enroll <host>), and check tftp-root'
              : `check that ${server} runs the TFTP server (enable-tftp) and that nothing blocks UDP port 69`,
          problems,
        ),
      );
    } else {
      out.set(t.dir, ok('tftp.fetch', 'TFTP fetch', `fetched all ${mine.length} boot files from ${server}, same size and SHA-256 as on disk, ${(bytes / 1024 / 1024).toFixed(1)} MB at ${mbps(bytes, ms)}`));
    }
  }
  return out;
}

function describe(a: ProbedDhcpAnswer): string {
  const what = a.offersAddress ? `offers ${a.yiaddr}` : a.proxyOffer ? 'proxy offer (no address)' : a.messageTypeName;
  const menu = a.menuTexts.length ? `menu: ${a.menuTexts.map((m) => JSON.stringify(m)).join(', ')}` : a.pxe ? 'PXE, no menu' : 'no PXE';
  return `${a.from} (server id ${a.serverId ?? '-'}): ${what}; ${menu}; TFTP server ${a.tftpServer ?? '-'} (${a.tftpServerSource ?? 'none'})`;
}

export async function checkDhcp(probe: DhcpProbeResult, iface: string, opts: { tftpAnswers: (server: string) => Promise<string | undefined> }): Promise<Check[]> {
  const checks: Check[] = [];
  const answers = probe.answers;
  const evidence = answers.map(describe);
  checks.push(
    answers.length
      ? ok('dhcp.answers', 'DHCP answers', `${answers.length} answer${answers.length === 1 ? '' : 's'} to a Pi-like PXE DISCOVER from ${probe.mac} on ${iface}`, evidence)
      : fail('dhcp.answers', 'DHCP answers', `no answer to a Pi-like PXE DISCOVER from ${probe.mac} on ${iface}`, 'check that dnsmasq runs on this LAN and answers this subnet (dhcp-range) and these MACs (dhcp-mac tags); a proxy dnsmasq without pxe-service stays silent'),
  );
  if (answers.length === 0) return checks;
  const pi = answers.filter((a) => a.hasRaspberryPiBootMenu);
  const servers = [...new Set(pi.map((a) => a.serverId ?? a.from))];
  if (pi.length === 0) {
    checks.push(fail('dhcp.pxe', 'Raspberry Pi Boot offer', 'no answer carries the "Raspberry Pi Boot" menu in option 43: the Pi ignores every offer', 'add pxe-service=0,"Raspberry Pi Boot" to dnsmasq (pinet render-dnsmasq)', evidence));
  } else if (servers.length > 1) {
    checks.push(warn('dhcp.pxe', 'Raspberry Pi Boot offer', `${servers.length} PXE servers answer (${servers.join(', ')}): the Pi takes whichever comes first`, 'keep one boot server on this LAN, or tag each to its own Pis (dhcp-mac / --enrolled-only)', evidence));
  } else {
    checks.push(ok('dhcp.pxe', 'Raspberry Pi Boot offer', `${servers[0]} offers "Raspberry Pi Boot"${pi[0]!.proxyOffer ? ' as proxy DHCP' : ''}`));
  }
  const x86 = answers.filter((a) => a.otherPxeOffer);
  if (x86.length) {
    checks.push(warn('dhcp.x86', 'other PXE offers', `${x86.length} PXE offer${x86.length === 1 ? '' : 's'} without "Raspberry Pi Boot" (an x86 boot menu?) also reach Pis`, 'make the other PXE server answer only its own clients (client arch 0 is shared by Pis and x86 BIOS PCs)', x86.map(describe)));
  }
  if (!answers.some((a) => a.offersAddress)) {
    checks.push(warn('dhcp.address', 'address offer', 'nobody offered an address: the Pi needs one from the LAN\'s DHCP server (proxy DHCP gives none)', 'check the LAN\'s DHCP server, or use render-dnsmasq --mode standalone on a LAN without one'));
  }
  if (pi.length && !pi.some((a) => a.proxyOffer) && !answers.some((a) => a.offersAddress && a.hasRaspberryPiBootMenu)) {
    checks.push(warn('dhcp.proxy', 'proxy offer', 'no proxy DHCP answer came', 'use dhcp-range=<subnet>,proxy next to an existing DHCP server'));
  }
  for (const server of [...new Set(pi.map((a) => a.tftpServer).filter((s): s is string => s !== undefined))]) {
    const problem = await opts.tftpAnswers(server);
    checks.push(
      problem === undefined
        ? ok('dhcp.tftp', 'TFTP server of the offer', `${server} answers TFTP`)
        : fail('dhcp.tftp', 'TFTP server of the offer', `a Pi would fetch from ${server}, which does not answer TFTP: ${problem}`, 'enable-tftp on that server, or fix the address the offer names (option 66 / siaddr / option 54)'),
    );
  }
  return checks;
}

export function logGroups(summary: LogSummary, source: string): CheckGroup[] {
  const groups: CheckGroup[] = [];
  for (const p of summary.pis) {
    const name = p.prefix ? `log: ${p.prefix}/` : 'log: (no prefix)';
    const evidence = [
      `clients: ${p.clients.join(', ') || '?'}; files sent: ${p.sent.length}; last: ${p.lastSent ?? 'none'}`,
      ...(p.retried.length ? [`stopped, then sent in full on a later request: ${p.retried.join(', ')}`] : []),
      ...(p.notFoundOptional.length ? [`optional files not found (normal): ${p.notFoundOptional.join(', ')}`] : []),
      ...(p.earlyTerminates ? [`"Early terminate" x${p.earlyTerminates}: the bootloader's size probe, not an error`] : []),
    ];
    const checks: Check[] = [];
    if (p.verdict === 'booted') checks.push(ok('log.boot', 'boot in the log', `fetched everything up to the kernel (${p.lastSent}); only benign noise`, evidence));
    else if (p.verdict === 'failed') checks.push(fail('log.boot', 'boot in the log', p.reasons.join('; '), p.denied.length ? 'make the files readable by the TFTP server (chmod a+r)' : 'put the missing files in the Pi\'s directory of the export', evidence));
    else checks.push(warn('log.boot', 'boot in the log', p.reasons.join('; '), 'look further in the log, or watch the Pi boot again', evidence));
    if (p.prefixKind === 'none') checks.push(warn('log.prefix', 'TFTP prefix', 'the Pi asked for files without a directory prefix: it did not find <serial>/start4.elf', 'create the Pi\'s directory (named after its serial, or its MAC with TFTP_PREFIX=2)'));
    groups.push({ name, about: `from ${source}`, checks });
  }
  if (summary.dhcp.length) {
    groups.push({
      name: 'log: DHCP',
      about: `from ${source}`,
      checks: [ok('log.dhcp', 'PXE clients', `${summary.dhcp.length} client${summary.dhcp.length === 1 ? '' : 's'} seen`, summary.dhcp.map((d) => `${d.mac} ${d.kind}${d.vendorClass ? ` (${d.vendorClass})` : ''}`))],
    });
  }
  if (groups.length === 0) groups.push({ name: 'log', about: `from ${source}`, checks: [warn('log.empty', 'boot in the log', 'no TFTP transfer in the log', 'add log-dhcp to dnsmasq and send its log (journalctl -u dnsmasq)')] });
  return groups;
}
