/**
 * Reading a dnsmasq log (with `log-dhcp`) the way a support thread needs it:
 * per Pi (per TFTP directory prefix), the files sent, the retries, the files
 * not found, and whether the boot got as far as the kernel.
 *
 * Noise is classified, not reported as failure: "error 0 Early terminate
 * received" is the bootloader's size probe; "failed sending" followed by
 * "sent" is a retry; the optional files the bootloader probes for
 * (pieeprom.sig, recover4.elf, …) are expected to be missing.
 *
 * Accepts plain lines (as in the seed article), syslog/journal lines
 * (`Nov 25 10:00:01 host dnsmasq-tftp[812]: sent …`) and `log-facility` files.
 */

/** Files the bootloader asks for that need not exist. */
export const OPTIONAL_BOOT_FILES = new Set([
  'pieeprom.sig',
  'pieeprom.upd',
  'recover4.elf',
  'recovery.elf',
  'recovery.bin',
  'dt-blob.bin',
  'bootcfg.txt',
  'armstub8-gic.bin',
  'armstub8.bin',
  'armstub8-2712.bin',
  'fixup4x.dat',
  'start4x.elf',
  'bootcode.bin',
  'autoboot.txt',
]);

const KERNEL = /^(vmlinuz.*|kernel.*\.img|Image|zImage|Image\.gz)$/;

export interface LogPiSummary {
  /** The directory the Pi used ("" when it used no prefix). */
  prefix: string;
  prefixKind: 'serial' | 'mac' | 'string' | 'none';
  clients: string[];
  sent: string[];
  retried: string[];
  notFoundOptional: string[];
  notFoundRequired: string[];
  denied: string[];
  /** Files that failed and were never sent afterwards. */
  neverSent: string[];
  earlyTerminates: number;
  lastSent?: string;
  kernelSent: boolean;
  verdict: 'booted' | 'failed' | 'incomplete';
  reasons: string[];
}

export interface LogDhcpClient {
  mac: string;
  interface?: string;
  kind: string;
  vendorClass?: string;
  pxe: boolean;
}

export interface LogSummary {
  pis: LogPiSummary[];
  dhcp: LogDhcpClient[];
  /** Lines that were recognised as dnsmasq lines but not understood. */
  unknown: number;
}

const SYSLOG_PREFIX = /^(?:[A-Z][a-z]{2}\s+\d+\s+[\d:]+\s+(?:\S+\s+)?|\d{4}-\d\d-\d\dT[\d:.+-]+Z?\s+\S+\s+)?(?:dnsmasq(?:-tftp|-dhcp)?\[\d+\]:\s*)?/;

function stripPrefix(line: string): string {
  return line.replace(SYSLOG_PREFIX, '').trim();
}

function kindOfPrefix(prefix: string): LogPiSummary['prefixKind'] {
  if (prefix === '') return 'none';
  if (/^[0-9a-f]{8}$/.test(prefix)) return 'serial';
  if (/^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/.test(prefix)) return 'mac';
  return 'string';
}

/** Splits an absolute TFTP path into the Pi's prefix and the file inside it. */
export function splitTftpPath(path: string, tftpRoot?: string): { prefix: string; file: string } {
  let rel = path;
  if (tftpRoot && path.startsWith(`${tftpRoot.replace(/\/+$/, '')}/`)) {
    rel = path.slice(tftpRoot.replace(/\/+$/, '').length + 1);
    const slash = rel.indexOf('/');
    if (slash < 0) return { prefix: '', file: rel };
    const first = rel.slice(0, slash);
    // Sub-directories a Pi's own boot files use are not prefixes.
    if (first === 'overlays') return { prefix: '', file: rel };
    return { prefix: first, file: rel.slice(slash + 1) };
  }
  // No root known: the prefix is the path component that looks like a serial or a MAC.
  const parts = path.split('/').filter(Boolean);
  const i = parts.findIndex((p) => kindOfPrefix(p) === 'serial' || kindOfPrefix(p) === 'mac');
  if (i >= 0) return { prefix: parts[i]!, file: parts.slice(i + 1).join('/') };
  const ov = parts.lastIndexOf('overlays');
  return { prefix: '', file: ov >= 0 ? parts.slice(ov).join('/') : (parts[parts.length - 1] ?? path) };
}

export function summarizeLog(text: string, opts: { tftpRoot?: string } = {}): LogSummary {
  interface Acc {
    clients: Set<string>;
    events: { file: string; what: 'sent' | 'failed' | 'notfound' | 'denied' }[];
    early: number;
  }
  const pis = new Map<string, Acc>();
  const acc = (prefix: string): Acc => {
    let a = pis.get(prefix);
    if (!a) pis.set(prefix, (a = { clients: new Set(), events: [], early: 0 }));
    return a;
  };
  const earlyByClient = new Map<string, number>();
  const dhcp = new Map<string, LogDhcpClient>();
  const vendorByXid = new Map<string, string>();
  let unknown = 0;

  for (const raw of text.split(/\r?\n/)) {
    const line = stripPrefix(raw);
    if (!line) continue;
    let m: RegExpExecArray | null;
    if ((m = /^sent (.+) to (\S+)$/.exec(line))) {
      const { prefix, file } = splitTftpPath(m[1]!, opts.tftpRoot);
      const a = acc(prefix);
      a.clients.add(m[2]!);
      a.events.push({ file, what: 'sent' });
    } else if ((m = /^(?:failed|timeout) sending (.+) to (\S+)$/.exec(line))) {
      const { prefix, file } = splitTftpPath(m[1]!, opts.tftpRoot);
      const a = acc(prefix);
      a.clients.add(m[2]!);
      a.events.push({ file, what: 'failed' });
    } else if ((m = /^file (.+) not found(?: for (\S+))?$/.exec(line))) {
      const { prefix, file } = splitTftpPath(m[1]!, opts.tftpRoot);
      const a = acc(prefix);
      if (m[2]) a.clients.add(m[2]);
      a.events.push({ file, what: 'notfound' });
    } else if ((m = /^cannot (?:access|read) (.+): (.+)$/.exec(line))) {
      const { prefix, file } = splitTftpPath(m[1]!, opts.tftpRoot);
      acc(prefix).events.push({ file, what: 'denied' });
    } else if ((m = /^error 0 Early terminate received from (\S+)$/.exec(line))) {
      earlyByClient.set(m[1]!, (earlyByClient.get(m[1]!) ?? 0) + 1);
    } else if ((m = /^(\d+) vendor class: (.+)$/.exec(line))) {
      vendorByXid.set(m[1]!, m[2]!);
    } else if ((m = /^(\d+) (PXE|DHCPDISCOVER|DHCPOFFER|DHCPREQUEST|DHCPACK)\((\S+)\)\s+(?:\S+\s+)?([0-9a-f]{2}(?::[0-9a-f]{2}){5})(?:\s+(.*))?$/i.exec(line))) {
      const mac = m[4]!.toLowerCase();
      const entry = dhcp.get(mac) ?? { mac, interface: m[3], kind: m[2]!, pxe: false };
      if (m[2] === 'PXE') {
        entry.pxe = true;
        entry.kind = m[5] ? `PXE ${m[5]}` : 'PXE';
      }
      const vc = vendorByXid.get(m[1]!);
      if (vc) entry.vendorClass = vc;
      dhcp.set(mac, entry);
    } else if (/^\d+ /.test(line) || /^(dnsmasq|tftp)/i.test(line)) {
      // Other log-dhcp detail lines (options sent, tags, subnets): not needed for the summary.
    } else {
      unknown++;
    }
  }

  const summaries: LogPiSummary[] = [];
  for (const [prefix, a] of [...pis].sort(([x], [y]) => x.localeCompare(y))) {
    const sent = new Set<string>();
    const retried = new Set<string>();
    const failedPending = new Set<string>();
    const nfOpt = new Set<string>();
    const nfReq = new Set<string>();
    const denied = new Set<string>();
    let lastSent: string | undefined;
    for (const e of a.events) {
      if (e.what === 'sent') {
        sent.add(e.file);
        lastSent = e.file;
        if (failedPending.delete(e.file)) retried.add(e.file);
      } else if (e.what === 'failed') {
        failedPending.add(e.file);
      } else if (e.what === 'notfound') {
        (OPTIONAL_BOOT_FILES.has(e.file) ? nfOpt : nfReq).add(e.file);
      } else {
        denied.add(e.file);
      }
    }
    let early = 0;
    for (const c of a.clients) early += earlyByClient.get(c) ?? 0;
    const kernelSent = [...sent].some((f) => KERNEL.test(f.split('/').pop() ?? ''));
    const neverSent = [...failedPending].filter((f) => !sent.has(f)).sort();
    const reasons: string[] = [];
    for (const f of [...nfReq].sort()) reasons.push(`${f} was requested but not found`);
    for (const f of [...denied].sort()) reasons.push(`${f} could not be read by the TFTP server (permission denied)`);
    for (const f of neverSent) reasons.push(`${f} failed and was never sent`);
    const verdict = reasons.length > 0 ? 'failed' : kernelSent ? 'booted' : 'incomplete';
    if (verdict === 'incomplete') reasons.push(`the log ends before a kernel was sent (last file: ${lastSent ?? 'none'})`);
    summaries.push({
      prefix,
      prefixKind: kindOfPrefix(prefix),
      clients: [...a.clients].sort(),
      sent: [...sent].sort(),
      retried: [...retried].sort(),
      notFoundOptional: [...nfOpt].sort(),
      notFoundRequired: [...nfReq].sort(),
      denied: [...denied].sort(),
      neverSent,
      earlyTerminates: early,
      ...(lastSent !== undefined && { lastSent }),
      kernelSent,
      verdict,
      reasons,
    });
  }
  return { pis: summaries, dhcp: [...dhcp.values()].sort((x, y) => x.mac.localeCompare(y.mac)), unknown };
}
