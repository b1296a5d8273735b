/**
 * The boot server's dnsmasq configuration: validated settings in, config
 * text out.
 *
 * Every value that reaches the file goes through `validateDnsmasqSettings`
 * (addresses, paths, interface names, menu text) and is written by
 * `dnsmasqValue`, which quotes the way dnsmasq's own parser unquotes: no
 * newline, comma or `#` in a value can start a new directive or argument.
 * The layout of the file lives in `templates/`, rendered with Mustache.
 */
import { readFile } from 'node:fs/promises';
import Mustache from 'mustache';
import { UsageError } from '../errors.js';
import { checkMac } from '../pi/ids.js';
import type { Checked, Sourced } from '../util/checked.js';
import { checkConfigPath, checkInterfaceName, checkMenuText, checkRange, checkSubnet, DEFAULT_TFTP_ROOT, RPI_MENU_TEXT, RPI_OUIS } from './dnsmasq-values.js';

export { checkConfigPath, checkInterfaceName, checkMenuText, checkRange, checkSubnet, DEFAULT_TFTP_ROOT, RPI_MENU_TEXT, RPI_OUIS };
import type { IPv4Net } from '../util/ipv4.js';

const CONTROL = /[\u0000-\u001f\u007f]/;
import { shellJoin } from '../util/shell.js';
import { packageFile } from '../util/package-files.js';

/** MAC prefixes (OUIs) of Raspberry Pi boards. */
export const DEFAULT_TEMPLATE = packageFile('templates/dnsmasq.conf.mustache');
export const MINIMAL_TEMPLATE = packageFile('templates/dnsmasq-minimal.conf.mustache');

export type DnsmasqMode = 'proxy' | 'standalone';

/** Raw values as given (flags or config), with where each came from for error messages. */
export interface DnsmasqInput {
  subnet: { value: string; source: string };
  tftpRoot: { value: string; source: string };
  interface?: { value: string; source: string };
  mode?: { value: string; source: string };
  range?: { value: string; source: string };
  menuText?: { value: string; source: string };
  allClients?: boolean;
  minimal?: boolean;
  /** Full MAC addresses: when given, only these clients get the boot menu. */
  macs?: string[];
}

export interface DnsmasqSettings {
  /** As given: an address (`10.86.5.255`) or a CIDR (`10.86.5.0/24`). */
  subnet: string;
  net?: IPv4Net;
  tftpRoot: string;
  interface?: string;
  mode: DnsmasqMode;
  range?: { start: string; end: string; lease?: string };
  menuText: string;
  allClients: boolean;
  minimal: boolean;
  macs?: string[];
}

function show(value: string): string {
  return JSON.stringify(value);
}

function bad2(source: string, value: string, why: string, hint?: string): UsageError {
  return new UsageError(`${source} ${show(value)}: ${why}`, hint);
}

/** Throws the usage error for a value that failed its check, naming where it came from. */
function need<T>(r: Checked<T>, v: Sourced<string>): T {
  if (!r.ok) throw bad2(v.source, v.value, r.error, r.hint);
  return r.value;
}

export function validateDnsmasqSettings(input: DnsmasqInput): DnsmasqSettings {
  const { subnet, net } = need(checkSubnet(input.subnet.value), input.subnet);
  const tftpRoot = need(checkConfigPath(input.tftpRoot.value), input.tftpRoot);
  const modeValue = input.mode?.value ?? 'proxy';
  if (modeValue !== 'proxy' && modeValue !== 'standalone') {
    throw bad2(input.mode!.source, modeValue, 'mode must be "proxy" or "standalone"');
  }
  const mode: DnsmasqMode = modeValue;
  const iface = input.interface ? need(checkInterfaceName(input.interface.value), input.interface) : undefined;
  const menuText = input.menuText ? need(checkMenuText(input.menuText.value), input.menuText) : RPI_MENU_TEXT;
  const minimal = input.minimal ?? false;

  let range: DnsmasqSettings['range'];
  if (mode === 'standalone') {
    if (!input.range) {
      throw new UsageError('--mode standalone hands out addresses and needs --range <start>,<end>[,<lease>]', 'e.g. --range 10.86.5.100,10.86.5.200,12h');
    }
    range = need(checkRange(input.range.value, net), input.range);
  } else if (input.range) {
    throw new UsageError(`${input.range.source} is only used with --mode standalone; proxy mode hands out no addresses`);
  }

  if (minimal) {
    const conflicts = [
      iface && '--interface',
      mode !== 'proxy' && '--mode standalone',
      input.macs && '--enrolled-only',
    ].filter(Boolean);
    if (conflicts.length > 0) {
      throw new UsageError(`--minimal renders only the article's six directives and cannot be combined with ${conflicts.join(', ')}`);
    }
  }
  const macs = input.macs?.map((m) => {
    const r = checkMac(m);
    if (!r.ok) throw new UsageError(`${show(m)} is not a MAC address`);
    return r.value;
  });

  const settings: DnsmasqSettings = {
    subnet,
    tftpRoot,
    mode,
    menuText,
    // The article's file has no tagging, so --minimal implies --all-clients.
    allClients: minimal || (input.allClients ?? false),
    minimal,
  };
  if (net) settings.net = net;
  if (iface) settings.interface = iface;
  if (range) settings.range = range;
  if (macs) settings.macs = [...new Set(macs)].sort();
  return settings;
}

/**
 * A value as dnsmasq's config parser will read it back: bare when it holds
 * only harmless characters, otherwise in double quotes with `\` and `"`
 * escaped (inside quotes dnsmasq hides commas, `#` and spaces). Control
 * characters cannot be written at all.
 */
export function dnsmasqValue(value: string): string {
  if (CONTROL.test(value)) throw new Error(`internal error: control character in dnsmasq value ${show(value)}`);
  if (/^[A-Za-z0-9_./:@+*-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function dhcpRangeValue(s: DnsmasqSettings): string {
  if (s.mode === 'standalone' && s.range) {
    const parts = [s.range.start, s.range.end];
    if (s.net) parts.push(s.net.netmask);
    if (s.range.lease) parts.push(s.range.lease);
    return parts.join(',');
  }
  // In proxy mode dnsmasq answers every PXE client whose request matches a
  // proxy range, even when no pxe-service matches (it then sends an empty
  // offer). Tagging the range itself keeps non-Pi clients from any answer.
  const tag = s.allClients ? '' : 'tag:rpi,';
  if (s.net) {
    // A CIDR becomes the network address plus its mask: dnsmasq serves proxy DHCP on that subnet.
    return `${tag}${s.net.network},proxy,${s.net.netmask}`;
  }
  return `${tag}${s.subnet},proxy`;
}

/** The command line that writes this same file again. */
export function regenerateCommand(s: DnsmasqSettings, extra: { output?: string; template?: string; stateDir?: string } = {}): string {
  const argv = ['pinet', 'render-dnsmasq'];
  if (s.minimal) argv.push('--minimal');
  argv.push('--subnet', s.subnet, '--tftp-root', s.tftpRoot);
  if (s.interface) argv.push('--interface', s.interface);
  if (s.mode !== 'proxy') argv.push('--mode', s.mode);
  if (s.range) argv.push('--range', [s.range.start, s.range.end, s.range.lease].filter(Boolean).join(','));
  if (s.allClients && !s.minimal) argv.push('--all-clients');
  if (s.macs) argv.push('--enrolled-only');
  if (s.macs && extra.stateDir) argv.push('--state-dir', extra.stateDir);
  if (s.menuText !== RPI_MENU_TEXT) argv.push('--menu-text', s.menuText);
  if (extra.template) argv.push('--template', extra.template);
  if (extra.output) argv.push('-o', extra.output);
  return shellJoin(argv);
}

/** The values a template can use. Documented in the README ("Writing your own template"). */
export interface TemplateView {
  generatedBy: string;
  regenerate: string;
  proxy: boolean;
  standalone: boolean;
  subnet: string;
  netmask: string;
  dhcpRange: string;
  tftpRoot: string;
  interface: string;
  tagged: boolean;
  rpiMacPatterns: string[];
  pxeService: string;
  menuText: string;
}

export function templateView(s: DnsmasqSettings, extra: { output?: string; template?: string; stateDir?: string } = {}): TemplateView {
  const tagged = !s.allClients;
  const patterns = s.macs ?? RPI_OUIS.map((oui) => `${oui}:*:*:*`);
  // validateMenuText allows no quote or backslash, so plain quoting is exact.
  const menu = `"${s.menuText}"`;
  return {
    generatedBy: 'Written by pinet; edits are lost when it is regenerated with:',
    regenerate: regenerateCommand(s, extra),
    proxy: s.mode === 'proxy',
    standalone: s.mode === 'standalone',
    subnet: s.subnet,
    netmask: s.net?.netmask ?? '',
    dhcpRange: dhcpRangeValue(s),
    tftpRoot: dnsmasqValue(s.tftpRoot),
    interface: s.interface ?? '',
    tagged,
    rpiMacPatterns: tagged ? patterns : [],
    pxeService: `${tagged ? 'tag:rpi,' : ''}0,${menu}`,
    menuText: menu,
  };
}

export async function loadTemplate(path: string | URL, source = '--template'): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? String(err));
    throw new UsageError(`${source} ${String(path)}: cannot read the template: ${why}`);
  }
}

export function renderTemplate(template: string, view: TemplateView, source = 'template'): string {
  let text: string;
  try {
    // Values are validated and quoted already; HTML escaping would corrupt them.
    text = Mustache.render(template, view, {}, { escape: (v: unknown) => String(v) });
  } catch (err) {
    throw new UsageError(`${source}: ${(err as Error).message.split('\n')[0]}`, 'see "Writing your own template" in the README');
  }
  return text.endsWith('\n') ? text : `${text}\n`;
}
