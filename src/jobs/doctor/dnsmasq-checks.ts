/**
 * Doctor checks of the boot server's dnsmasq configuration: TFTP on and
 * rooted at the export, a proxy (or address) DHCP range, a PXE service that
 * carries "Raspberry Pi Boot", the user TFTP runs as, DNS switched off, and
 * the real `dnsmasq --test` verdict.
 */
import { resolve } from 'node:path';
import { find, type DnsmasqConfig, type Directive } from '../../server/dnsmasq-read.js';
import { RPI_MENU_TEXT } from '../../server/dnsmasq-render.js';
import { tftpIdentity, type Accounts } from '../../server/perms.js';

export { tftpIdentity, type Accounts };
import { isIPv4, parseIPv4, maskToPrefix, networkOf, type IPv4Net } from '../../util/ipv4.js';
import { fail, ok, skip, warn, type Check } from './model.js';

export interface DnsmasqFacts {
  tftpEnabled: boolean;
  tftpRoot?: string;
  /** The user dnsmasq drops to (and so TFTP reads files as). */
  user: string;
  /** The `group=` setting, when there is one. */
  group?: string;
  /** Networks dnsmasq answers DHCP on (proxy or address ranges). */
  nets: IPv4Net[];
  proxy: boolean;
  /** listen-address values, when set. */
  listen: string[];
}

const at = (d: Directive) => `${d.file}:${d.line}: ${d.raw.trim()}`;

function rangeNet(args: string[]): { net?: IPv4Net; proxy: boolean } {
  const a = args.filter((x) => !x.startsWith('tag:') && !x.startsWith('set:'));
  const proxy = a[1] === 'proxy';
  const start = a[0];
  if (!start || !isIPv4(start)) return { proxy };
  const maskArg = proxy ? a[2] : a.find((x, i) => i >= 2 && isIPv4(x));
  const mask = maskArg && isIPv4(maskArg) ? parseIPv4(maskArg) : null;
  const prefix = mask !== null ? maskToPrefix(mask) : 24;
  return { net: networkOf(parseIPv4(start)!, prefix ?? 24), proxy };
}

export function dnsmasqFacts(cfg: DnsmasqConfig, defaultUser: string): DnsmasqFacts {
  const ranges = find(cfg, 'dhcp-range').map((d) => rangeNet(d.args));
  const root = find(cfg, 'tftp-root').pop();
  return {
    tftpEnabled: find(cfg, 'enable-tftp').length > 0,
    ...(root?.args[0] !== undefined && { tftpRoot: root.args[0] }),
    user: find(cfg, 'user').pop()?.value ?? defaultUser,
    ...(find(cfg, 'group').length > 0 && { group: find(cfg, 'group').pop()!.value ?? '' }),
    nets: ranges.flatMap((r) => (r.net ? [r.net] : [])),
    proxy: ranges.some((r) => r.proxy),
    listen: find(cfg, 'listen-address').flatMap((d) => d.args),
  };
}

export function checkDnsmasqConfig(
  cfg: DnsmasqConfig,
  opts: { exportDir: string; defaultUser: string; port53InUse: boolean; sources: string; accounts?: Accounts },
): { checks: Check[]; facts: DnsmasqFacts } {
  const checks: Check[] = [];
  const facts = dnsmasqFacts(cfg, opts.defaultUser);
  const regen = `pinet render-dnsmasq --tftp-root ${opts.exportDir} -o /etc/dnsmasq.d/pinet.conf`;

  if (cfg.files.length === 0) {
    checks.push(fail('dnsmasq.config', 'dnsmasq config', `no dnsmasq configuration found in ${opts.sources}`, `write one: ${regen}, or pass --dnsmasq-conf`));
    return { checks, facts };
  }
  const errs = cfg.errors.length ? [`unreadable: ${cfg.errors.join(', ')}`] : [];
  checks.push(ok('dnsmasq.config', 'dnsmasq config', `read ${cfg.files.length} file${cfg.files.length === 1 ? '' : 's'}`, [...cfg.files, ...errs]));

  const tftp = find(cfg, 'enable-tftp');
  checks.push(
    tftp.length
      ? ok('dnsmasq.tftp', 'TFTP server', 'enabled', tftp.map(at))
      : fail('dnsmasq.tftp', 'TFTP server', 'enable-tftp is missing: dnsmasq serves no boot files', `add "enable-tftp" (or regenerate: ${regen})`),
  );

  const roots = find(cfg, 'tftp-root');
  const root = roots[roots.length - 1];
  if (!root) {
    checks.push(fail('dnsmasq.tftp-root', 'TFTP root', 'tftp-root is not set: TFTP would serve from dnsmasq\'s working directory', `add "tftp-root=${opts.exportDir}"`));
  } else if (resolve(root.args[0] ?? '') !== resolve(opts.exportDir)) {
    checks.push(
      fail('dnsmasq.tftp-root', 'TFTP root', `tftp-root is ${root.args[0]}, not the export directory ${opts.exportDir}: Pis would not find their files`, `set "tftp-root=${opts.exportDir}" or pass the right --export-dir`, [at(root)]),
    );
  } else {
    checks.push(ok('dnsmasq.tftp-root', 'TFTP root', `${root.args[0]} (the export directory)`, [at(root)]));
  }

  const ranges = find(cfg, 'dhcp-range');
  if (ranges.length === 0) {
    checks.push(fail('dnsmasq.dhcp-range', 'DHCP range', 'no dhcp-range: dnsmasq answers no DHCP request, so no Pi gets a PXE offer', `add "dhcp-range=<subnet>,proxy" (e.g. ${regen.replace('--tftp-root', '--subnet 10.86.5.0/24 --tftp-root')})`));
  } else {
    const kinds = ranges.map((d) => (rangeNet(d.args).proxy ? 'proxy' : 'address range'));
    checks.push(ok('dnsmasq.dhcp-range', 'DHCP range', kinds.join(', '), ranges.map(at)));
  }

  const pxe = find(cfg, 'pxe-service');
  const opt43 = cfg.directives.filter((d) => (d.key === 'dhcp-option' || d.key === 'dhcp-option-force') && d.args.some((a) => a === '43' || a === 'vendor:PXEClient' || /^option:vendor-encap/.test(a)));
  const rpiPxe = pxe.filter((d) => d.args.some((a) => a.includes(RPI_MENU_TEXT)));
  if (rpiPxe.length > 0) {
    checks.push(ok('dnsmasq.pxe', 'PXE boot menu', `offers "${RPI_MENU_TEXT}"`, rpiPxe.map(at)));
  } else if (pxe.length > 0) {
    checks.push(fail('dnsmasq.pxe', 'PXE boot menu', `pxe-service is set but no entry carries "${RPI_MENU_TEXT}": the Pi bootloader ignores the offer`, `use pxe-service=0,"${RPI_MENU_TEXT}"`, pxe.map(at)));
  } else if (opt43.length > 0) {
    const carries = opt43.some((d) => d.raw.includes(RPI_MENU_TEXT) || /Raspberry/i.test(d.raw));
    checks.push(
      carries
        ? warn('dnsmasq.pxe', 'PXE boot menu', 'option 43 is set by hand; pinet cannot verify its encoding offline (use --dhcp-probe to see it on the wire)', `prefer pxe-service=0,"${RPI_MENU_TEXT}"`, opt43.map(at))
        : fail('dnsmasq.pxe', 'PXE boot menu', `option 43 is set but does not carry "${RPI_MENU_TEXT}"`, `use pxe-service=0,"${RPI_MENU_TEXT}"`, opt43.map(at)),
    );
  } else {
    checks.push(fail('dnsmasq.pxe', 'PXE boot menu', 'no pxe-service and no option 43: dnsmasq sends no PXE offer, so the Pi never learns the TFTP server', `add pxe-service=0,"${RPI_MENU_TEXT}" (or regenerate: ${regen})`));
  }

  const userLine = find(cfg, 'user').pop();
  const groupLine = find(cfg, 'group').pop();
  const id = opts.accounts ? tftpIdentity(facts.user, facts.group, opts.accounts) : undefined;
  const defaultNote = facts.user === 'dnsmasq' ? "no user= line: Debian's dnsmasq service runs it with -u dnsmasq" : "no user= line: dnsmasq's built-in default";
  const lines = [userLine, groupLine].flatMap((d) => (d ? [at(d)] : []));
  // dnsmasq --test accepts these, but dnsmasq refuses to start: "unknown user or group".
  const unknown = id && !id.user && userLine ? `user ${facts.user}` : id?.user && facts.group !== undefined && id.user.gid < 0 ? `group ${facts.group}` : undefined;
  if (unknown) {
    checks.push(fail('dnsmasq.user', 'TFTP user', `${unknown} does not exist here: dnsmasq refuses to start ("unknown user or group"), though dnsmasq --test passes`, `create it, or fix the ${unknown.split(' ')[0]}= line`, lines));
  } else {
    const shown = `TFTP reads files as "${facts.user}"${id?.groupName ? `, group "${id.groupName}"` : ''}${userLine ? '' : ` (${defaultNote})`}`;
    checks.push(ok('dnsmasq.user', 'TFTP user', shown, [...lines, ...(id ? [id.note] : [])]));
  }

  const port = find(cfg, 'port').pop();
  if (!port || port.value !== '0') {
    const detail = opts.port53InUse ? 'another DNS server is listening on port 53, so dnsmasq would fail to start' : 'dnsmasq will also run a DNS server on port 53';
    checks.push(warn('dnsmasq.dns', 'DNS off', `port=0 is missing: ${detail}`, 'add "port=0" unless this dnsmasq is meant to serve DNS', port ? [at(port)] : undefined));
  } else {
    checks.push(ok('dnsmasq.dns', 'DNS off', 'port=0 (no DNS service)', [at(port)]));
  }
  return { checks, facts };
}

export function verdictCheck(result: { ok: boolean; message: string } | { skipped: string }): Check {
  if ('skipped' in result) return skip('dnsmasq.test', 'dnsmasq --test', result.skipped);
  return result.ok
    ? ok('dnsmasq.test', 'dnsmasq --test', result.message || 'syntax check OK')
    : fail('dnsmasq.test', 'dnsmasq --test', `dnsmasq rejects the configuration: ${result.message}`, 'fix the line it names, then restart dnsmasq');
}

/** Is some socket bound to port 53 (from /proc/net/{udp,tcp} text)? */
export function port53Bound(procNetTexts: string[]): boolean {
  return procNetTexts.some((t) => t.split('\n').some((l) => /^\s*\d+:\s+[0-9A-F]+:0035\s/.test(l)));
}
