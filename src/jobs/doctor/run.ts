/**
 * `pinet doctor`: run every check that applies and build one report, grouped
 * by the boot server, each Pi directory of the export, the log, and each Pi.
 * Checks that cannot run (no root, no TFTP address, no dnsmasq) are reported
 * as `skip` with the reason, never silently left out.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { formatError } from '../../errors.js';
import { gather } from '../../host/detect.js';
import { withHost, type ConnectOptions } from '../../remote/index.js';
import { find, readDnsmasqConfig, type DnsmasqConfig } from '../../server/dnsmasq-read.js';
import { findDnsmasq } from '../../server/dnsmasq-test.js';
import type { UnixUser } from '../../server/perms.js';
import type { Inventory } from '../../server/state.js';
import { inNetwork } from '../../util/ipv4.js';
import { mapLimit } from '../../util/concurrency.js';
import { checkDnsmasqConfig, port53Bound, tftpIdentity, verdictCheck, type DnsmasqFacts } from './dnsmasq-checks.js';
import { parseBootState } from './boot-state.js';
import { runScript, sectionText } from '../../remote/script.js';
import { checkExportDirs } from './export-checks.js';
import { fail, ok, skip, type Check, type CheckGroup, type Report } from './model.js';
import { checkPi, readExportView } from './pi-checks.js';

export interface DoctorOptions {
  exportDir: string;
  dnsmasqConf?: string[];
  tftpServer?: string;
  dhcpProbe?: string;
  probeMac?: string;
  log?: string;
  nfs?: string;
  inventory: Inventory;
  /** Configs of staged bootloader updates read before, by SHA-256 (see server/staged-updates.ts). */
  knownPending?: ReadonlyMap<string, string>;
  hosts: string[];
  conn: ConnectOptions;
  concurrency: number;
  tftpPort?: number;
}

const DEFAULT_CONF = ['/etc/dnsmasq.conf', '/etc/dnsmasq.d'];

async function dnsmasqTest(paths: string[]): Promise<{ ok: boolean; message: string } | { skipped: string }> {
  const bin = await findDnsmasq();
  if (!bin) return { skipped: 'dnsmasq is not installed here, so its own check cannot run' };
  const args = ['--test'];
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st) continue;
    args.push(st.isDirectory() ? `--conf-dir=${p},.dpkg-dist,.dpkg-old,.dpkg-new,.bak` : `--conf-file=${p}`);
  }
  if (args.length === 1) return { skipped: 'no configuration file to test' };
  const { execa } = await import('execa');
  const r = await execa(bin, args, { reject: false, all: true, timeout: 15_000 });
  return { ok: r.exitCode === 0, message: String(r.all ?? '').replace(/^dnsmasq:\s*/gm, '').trim() };
}

/** The address Pis would reach TFTP on: flag/config, else listen-address, else ours in the DHCP range. */
export function guessTftpServer(facts: DnsmasqFacts): string | undefined {
  if (facts.listen[0]) return facts.listen[0];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal && facts.nets.some((n) => inNetwork(a.address, n))) return a.address;
    }
  }
  return undefined;
}

function randomPiMac(): string {
  return `dc:a6:32:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

export async function runDoctor(o: DoctorOptions): Promise<Report> {
  const server: Check[] = [];
  const groups: CheckGroup[] = [{ name: 'boot server', checks: server }];

  // dnsmasq
  const paths = o.dnsmasqConf ?? DEFAULT_CONF;
  const cfg: DnsmasqConfig = await readDnsmasqConfig(paths);
  const [passwd, groupText] = await Promise.all(['/etc/passwd', '/etc/group'].map((p) => readFile(p, 'utf8').catch(() => '')));
  const accounts = { passwd: passwd!, group: groupText! };
  const { defaultTftpIdentity, runningDnsmasq, tftpGroupOf } = await import('../../server/dnsmasq-proc.js');
  const who = defaultTftpIdentity(accounts, await runningDnsmasq(paths));
  const defaultUser = who.user;
  const procNet = await Promise.all(['/proc/net/udp', '/proc/net/tcp'].map((p) => readFile(p, 'utf8').catch(() => '')));
  const { checks, facts } = checkDnsmasqConfig(cfg, { exportDir: o.exportDir, defaultUser, port53InUse: port53Bound(procNet), sources: paths.join(', '), accounts });
  server.push(...checks);
  if (cfg.files.length) server.push(verdictCheck(await dnsmasqTest(paths)));

  // the export
  const st = await stat(o.exportDir).catch(() => undefined);
  server.push(
    st?.isDirectory()
      ? ok('export.dir', 'export directory', `${o.exportDir} exists`)
      : fail('export.dir', 'export directory', `${o.exportDir} does not exist`, 'mount the NFS export there, or pass --export-dir'),
  );
  // the article's bootstrap traps (an NFS server that netboots from here, a resolver that does, the export's clients, _netdev)
  {
    const { checkBootstrap, nfsMountAt } = await import('./bootstrap-checks.js');
    const mount = nfsMountAt(await readFile('/proc/self/mounts', 'utf8').catch(() => ''), o.exportDir);
    const exportedTo = mount ? await showmount(mount.host, mount.path) : undefined;
    const bootServer = guessTftpServer(facts);
    server.push(
      ...(await checkBootstrap({ exportDir: o.exportDir, inventory: o.inventory, ...(facts.nets[0] ? { pisNet: facts.nets[0] } : {}), ...(bootServer ? { bootServer } : {}), ...(exportedTo ? { exportedTo } : {}) })),
    );
  }
  const id = tftpIdentity(facts.user, tftpGroupOf(facts, who), accounts);
  const looked = id.user;
  const tftpUser: UnixUser = looked ?? { name: facts.user, uid: -1, gid: -1, groups: [] };
  const ex = await checkExportDirs(o.exportDir, o.inventory, tftpUser, find(cfg, 'user').length ? id.note : `${id.note}; the user of ${who.why}`);
  groups.push(...ex.groups);

  // live TFTP
  const tftpServer = o.tftpServer ?? guessTftpServer(facts);
  const from = o.tftpServer ? '--tftp-server' : facts.listen[0] ? "dnsmasq's listen-address" : "this machine's address in dnsmasq's DHCP range";
  const withFiles = ex.targets.filter((t) => t.required.length > 0);
  if (!tftpServer) {
    server.push(skip('tftp.live', 'live TFTP', 'no TFTP server address: dnsmasq has no listen-address and no local address is in its DHCP range; pass --tftp-server'));
  } else if (withFiles.length === 0) {
    server.push(skip('tftp.live', 'live TFTP', 'no Pi directory with boot files to fetch'));
  } else {
    const [{ checkTftp }, { tftpProbe }] = await Promise.all([import('./live-checks.js'), import('../../net/tftp.js')]);
    // One size probe first: a server that does not answer at all is one finding, not a timeout per file.
    const first = withFiles[0]!;
    const probe = await tftpProbe({ server: tftpServer, file: `${first.dir}/${first.required[0]}`, timeoutMs: 1000, retries: 2, ...(o.tftpPort ? { port: o.tftpPort } : {}) });
    if (!probe.ok && probe.error.kind !== 'server') {
      server.push(
        fail('tftp.live', 'live TFTP', `${tftpServer} (from ${from}) does not answer TFTP: ${probe.error.message}`, `start dnsmasq with enable-tftp on ${tftpServer}, let UDP port 69 through, or pass --tftp-server <the boot server's address>`),
      );
    } else {
      const byDir = await checkTftp(tftpServer, o.exportDir, withFiles, o.tftpPort ? { port: o.tftpPort } : {});
      for (let i = 0; i < ex.targets.length; i++) {
        const c = byDir.get(ex.targets[i]!.dir);
        if (c) ex.groups[i]!.checks.push(c);
      }
      server.push(ok('tftp.live', 'live TFTP', `fetched the boot files of ${withFiles.length} Pi director${withFiles.length === 1 ? 'y' : 'ies'} from ${tftpServer} (from ${from}; see each directory)`));
    }
  }

  // live DHCP
  if (o.dhcpProbe !== undefined) {
    if (process.getuid?.() !== 0) {
      server.push(skip('dhcp.probe', 'DHCP probe', 'needs root (it binds UDP port 68, like a DHCP client)'));
    } else {
      const [{ probeDhcpOnInterface }, { checkDhcp }, { tftpProbe }] = await Promise.all([import('../../net/dhcp.js'), import('./live-checks.js'), import('../../net/tftp.js')]);
      try {
        const probe = await probeDhcpOnInterface(o.dhcpProbe, { mac: o.probeMac ?? randomPiMac() });
        server.push(
          ...(await checkDhcp(probe, o.dhcpProbe, {
            tftpAnswers: async (s) => {
              const r = await tftpProbe({ server: s, file: 'start4.elf', timeoutMs: 1000, retries: 2 });
              // Any TFTP answer, even "file not found", proves the server is there.
              return r.ok || r.error.kind === 'server' ? undefined : r.error.message;
            },
          })),
        );
      } catch (err) {
        server.push(fail('dhcp.probe', 'DHCP probe', formatError(err), 'pass an interface from `ip -4 addr` that is up and has an address'));
      }
    }
  }

  // log
  if (o.log !== undefined) {
    const [{ summarizeLog }, { logGroups }, { localIPv4Addresses }] = await Promise.all([import('../../server/dnsmasq-log.js'), import('./live-checks.js'), import('../../net/interfaces.js')]);
    let text: string;
    try {
      text = o.log === '-' ? await readStdin() : await readFile(o.log, 'utf8');
    } catch (err) {
      server.push(fail('log.read', 'dnsmasq log', `cannot read ${o.log}: ${(err as NodeJS.ErrnoException).code ?? err}`, 'pass a readable file, or - for stdin'));
      text = '';
    }
    if (text) groups.push(...logGroups(summarizeLog(text, { tftpRoot: facts.tftpRoot ?? o.exportDir, ignoreClients: localIPv4Addresses() }), o.log === '-' ? 'stdin' : o.log));
  }

  // the Pis
  const piGroups = await mapLimit(o.hosts, o.concurrency, async (host): Promise<CheckGroup> => {
    try {
      const [d, bootState] = await withHost(host, o.conn, (r) =>
        Promise.all([
          gather(r, host, o.knownPending ? { knownPending: o.knownPending } : {}),
          runScript(r, 'boot-state', [], { step: 'reading the boot time and the boot mount', timeoutMs: 30_000 })
            .then((x) => parseBootState(sectionText(x, 'state') ?? ''))
            .catch(() => undefined),
        ]),
      );
      const entry = d.facts.serial.known ? o.inventory.pis[d.facts.serial.value.full] : undefined;
      const about = [
        d.facts.serial.known ? `serial ${d.facts.serial.value.full}` : 'serial unknown',
        d.facts.board.known ? d.facts.board.value.name : undefined,
        entry ? 'enrolled' : 'not in the inventory',
      ].filter(Boolean).join(', ');
      const view = await readExportView(o.exportDir, d, looked?.uid);
      const checks = checkPi(d, { exportDir: o.exportDir, ...(o.nfs ? { nfs: o.nfs } : {}), ...(entry ? { entry } : {}), ...(looked ? { tftpUid: looked.uid } : {}), ...(bootState ? { bootState } : {}), view });
      return { name: d.label, about, checks };
    } catch (err) {
      return { name: host, checks: [fail('pi.reachable', 'reachable', formatError(err), 'check that the Pi is up and that `ssh` to it works with the same options')] };
    }
  });
  groups.push(...piGroups);
  return { groups };
}

/** The clients an NFS server announces for `path` (showmount -e), when it answers. */
async function showmount(host: string, path: string): Promise<string[] | undefined> {
  const { execa } = await import('execa');
  const r = await execa('showmount', ['-e', '--no-headers', host], { reject: false, timeout: 5000 }).catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  const line = String(r.stdout).split('\n').find((l) => l.split(/\s+/)[0] === path);
  return line ? line.trim().split(/\s+/).slice(1).join(',').split(',').filter(Boolean) : undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
