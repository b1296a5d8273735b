/**
 * Reading a dnsmasq log (with `log-dhcp`), for `pinet doctor --log` and
 * `pinet watch`: one line at a time into a typed event (`parseLogLine`), and
 * the events folded into the per-Pi summary a support thread needs
 * (`LogSummarizer`, `summarizeLog`): per TFTP directory prefix, the files
 * sent, the retries, the files not found, and whether the boot got as far as
 * the kernel. Both commands use the same parser and the same summary, so
 * `pinet watch --once` and `pinet doctor --log` say the same thing.
 *
 * Noise is classified, not reported as failure: "error 0 Early terminate
 * received" is the bootloader's size probe; "failed sending" followed by
 * "sent" is a retry; the optional files the bootloader probes for
 * (pieeprom.sig, recover4.elf, …) are expected to be missing.
 *
 * Accepts plain lines (as in the seed article), syslog/journal lines
 * (`Nov 25 10:00:01 host dnsmasq-tftp[812]: sent …`) and `log-facility`
 * files (`Dec  6 06:14:26 dnsmasq-tftp[1574]: sent …`, no host).
 *
 * What dnsmasq 2.90 writes, checked against the real one (test/watch): TFTP
 * lines are logged when a transfer *ends* ("sent", "failed sending"), or
 * when a request is refused ("file … not found for <client>", "cannot access
 * …: Permission denied", the latter without the client); nothing is logged
 * when a transfer starts. File names are stripped of unprintable bytes.
 * DHCP lines carry the MAC; with `log-dhcp` every line of an exchange starts
 * with its transaction id and the vendor class is logged; without it only
 * `PXE(eth0) dc:a6:32:01:02:03 proxy` remains, and a DISCOVER that gets no
 * offer (no matching pxe-service) leaves no line at all.
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

/** Does this file name (with or without directories) look like a kernel? */
export function isKernelFile(file: string): boolean {
  return KERNEL.test(file.split('/').pop() ?? '');
}

/** What one dnsmasq log line says. */
export type LogEvent =
  /** A TFTP transfer ended with its last block acknowledged (or a size probe ended at the OACK). */
  | { kind: 'tftp-sent'; path: string; client: string }
  /** A transfer ended without the last block: the client stopped answering, or aborted mid-file. */
  | { kind: 'tftp-failed'; path: string; client: string }
  | { kind: 'tftp-not-found'; path: string; client?: string }
  /** "cannot access <path>: Permission denied": dnsmasq names no client here. */
  | { kind: 'tftp-denied'; path: string; reason: string }
  /** An ERROR packet from the client; code 0 "Early terminate" is the Pi's size probe. */
  | { kind: 'tftp-error'; code: number; message: string; client: string }
  /** A DHCP or PXE packet line: `[<xid> ]PXE(eth0) [addr ]dc:a6:32:01:02:03 proxy`. xid only with log-dhcp. */
  | { kind: 'dhcp-packet'; xid?: string; type: string; iface: string; mac: string; addr?: string; detail?: string }
  /** `<xid> vendor class: PXEClient:Arch:00000:UNDI:002001` (log-dhcp only). */
  | { kind: 'dhcp-vendor'; xid: string; vendorClass: string }
  /** Any other `<xid> …` detail line of log-dhcp (tags, options sent). */
  | { kind: 'dhcp-detail'; xid: string; text: string }
  /** dnsmasq's own lines: started, TFTP root, exiting, … */
  | { kind: 'daemon'; text: string }
  | { kind: 'unknown'; text: string };

export interface LogLine {
  /** The syslog time stamp when the line has one (`Dec  6 06:14:26`, or ISO from journalctl -o short-iso). */
  stamp?: string;
  /** dnsmasq, dnsmasq-dhcp or dnsmasq-tftp, when the line names it. */
  program?: string;
  pid?: number;
  /** The message without prefix and trailing blanks. */
  message: string;
  event: LogEvent | null;
}

const PREFIX =
  /^(?:([A-Z][a-z]{2}\s+\d+\s+\d\d:\d\d:\d\d)\s+|(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?)\s+)?(?:(?!dnsmasq)\S+\s+(?=\S+\[\d+\]:))?(?:(dnsmasq(?:-tftp|-dhcp)?)\[(\d+)\]:\s*)?/;

const DHCP_PACKET = /^(?:(\d+) )?(PXE|BOOTP|DHCPDISCOVER|DHCPOFFER|DHCPREQUEST|DHCPACK|DHCPNAK|DHCPDECLINE|DHCPRELEASE|DHCPINFORM)\((\S+)\)\s+(?:(\d+\.\d+\.\d+\.\d+)\s+)?([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})(?:\s+(.*))?$/;

/** Understand one line of a dnsmasq log. Never throws. */
export function parseLogLine(raw: string): LogLine {
  const m = PREFIX.exec(raw);
  const rest = raw.slice(m?.[0].length ?? 0);
  const message = rest.replace(/\s+$/, '').replace(/^\s+/, '');
  const line: LogLine = { message, event: message === '' ? null : parseMessage(message) };
  const stamp = m?.[1] ?? m?.[2];
  if (stamp) line.stamp = stamp;
  if (m?.[3]) line.program = m[3];
  if (m?.[4]) line.pid = Number(m[4]);
  return line;
}

function parseMessage(msg: string): LogEvent {
  let m: RegExpExecArray | null;
  if ((m = /^sent (.+) to (\S+)$/.exec(msg))) return { kind: 'tftp-sent', path: m[1]!, client: m[2]! };
  if ((m = /^(?:failed|timeout) sending (.+) to (\S+)$/.exec(msg))) return { kind: 'tftp-failed', path: m[1]!, client: m[2]! };
  if ((m = /^file (.+) not found(?: for (\S+))?$/.exec(msg))) return m[2] ? { kind: 'tftp-not-found', path: m[1]!, client: m[2] } : { kind: 'tftp-not-found', path: m[1]! };
  if ((m = /^cannot (?:access|read) (.+): (.+)$/.exec(msg))) return { kind: 'tftp-denied', path: m[1]!, reason: m[2]! };
  if ((m = /^error (\d+) (.*) received from (\S+)$/.exec(msg))) return { kind: 'tftp-error', code: Number(m[1]), message: m[2]!, client: m[3]! };
  if ((m = /^(\d+) vendor class: (.+)$/.exec(msg))) return { kind: 'dhcp-vendor', xid: m[1]!, vendorClass: m[2]! };
  if ((m = DHCP_PACKET.exec(msg))) {
    const e: LogEvent = { kind: 'dhcp-packet', type: m[2]!, iface: m[3]!, mac: m[5]!.toLowerCase() };
    if (m[1]) e.xid = m[1];
    if (m[4]) e.addr = m[4];
    if (m[6]) e.detail = m[6];
    return e;
  }
  if ((m = /^(\d+) (.*)$/.exec(msg))) return { kind: 'dhcp-detail', xid: m[1]!, text: m[2]! };
  if (/^(dnsmasq|tftp|started, version|compile time options|DHCP, |exiting on receipt|reading |read |using |cleared cache|failed to|cannot|unknown interface|warning|no address range|TFTP )/i.test(msg)) return { kind: 'daemon', text: msg };
  return { kind: 'unknown', text: msg };
}

/**
 * Milliseconds since the epoch for a syslog stamp. `Dec  6 06:14:26` has no
 * year and is local time: the year is the one that puts it at most a day
 * after `nowMs` (a log read on 2 January holds December's lines).
 */
export function stampToMs(stamp: string, nowMs: number): number | undefined {
  if (/^\d{4}-/.test(stamp)) {
    const t = Date.parse(stamp.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
    return Number.isFinite(t) ? t : undefined;
  }
  const m = /^([A-Z][a-z]{2})\s+(\d+)\s+(\d\d):(\d\d):(\d\d)$/.exec(stamp);
  if (!m) return undefined;
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[1]!);
  if (month < 0) return undefined;
  const year = new Date(nowMs).getFullYear();
  const at = (y: number): number => new Date(y, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
  const t = at(year);
  return t > nowMs + 86_400_000 ? at(year - 1) : t;
}

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

export function kindOfPrefix(prefix: string): LogPiSummary['prefixKind'] {
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

interface Acc {
  clients: Set<string>;
  events: { file: string; what: 'sent' | 'failed' | 'notfound' | 'denied' }[];
}

/**
 * The per-Pi summary of a log, built one line at a time: `add` each line as
 * it arrives (from a file, a pipe or the journal), `summary()` at any point.
 */
export class LogSummarizer {
  private readonly pis = new Map<string, Acc>();
  private readonly earlyByClient = new Map<string, number>();
  private readonly dhcp = new Map<string, LogDhcpClient>();
  private readonly vendorByXid = new Map<string, string>();
  private unknown = 0;

  /**
   * `ignoreClients`: addresses whose TFTP transfers are not a Pi's boot (this
   * machine's own, e.g. doctor's live fetches from the boot server itself).
   */
  constructor(private readonly opts: { tftpRoot?: string; ignoreClients?: readonly string[] } = {}) {}

  private acc(prefix: string): Acc {
    let a = this.pis.get(prefix);
    if (!a) this.pis.set(prefix, (a = { clients: new Set(), events: [] }));
    return a;
  }

  /** Add one raw line. */
  addLine(raw: string): void {
    this.add(parseLogLine(raw).event);
  }

  /** Add one parsed event (null: an empty line). */
  add(e: LogEvent | null): void {
    if (!e) return;
    const split = (path: string) => splitTftpPath(path, this.opts.tftpRoot);
    switch (e.kind) {
      case 'tftp-sent':
      case 'tftp-failed': {
        if (this.opts.ignoreClients?.includes(e.client)) return;
        const { prefix, file } = split(e.path);
        const a = this.acc(prefix);
        a.clients.add(e.client);
        a.events.push({ file, what: e.kind === 'tftp-sent' ? 'sent' : 'failed' });
        return;
      }
      case 'tftp-not-found': {
        if (e.client && this.opts.ignoreClients?.includes(e.client)) return;
        const { prefix, file } = split(e.path);
        const a = this.acc(prefix);
        if (e.client) a.clients.add(e.client);
        a.events.push({ file, what: 'notfound' });
        return;
      }
      case 'tftp-denied': {
        const { prefix, file } = split(e.path);
        this.acc(prefix).events.push({ file, what: 'denied' });
        return;
      }
      case 'tftp-error':
        if (this.opts.ignoreClients?.includes(e.client)) return;
        if (e.code === 0 && e.message === 'Early terminate') this.earlyByClient.set(e.client, (this.earlyByClient.get(e.client) ?? 0) + 1);
        else this.unknown++;
        return;
      case 'dhcp-vendor':
        this.vendorByXid.set(e.xid, e.vendorClass);
        return;
      case 'dhcp-packet': {
        // Only log-dhcp lines (with a transaction id) are PXE clients in the summary.
        const known = e.xid !== undefined && ['PXE', 'DHCPDISCOVER', 'DHCPOFFER', 'DHCPREQUEST', 'DHCPACK'].includes(e.type);
        if (!known) {
          if (e.xid === undefined) this.unknown++;
          return;
        }
        const entry = this.dhcp.get(e.mac) ?? { mac: e.mac, interface: e.iface, kind: e.type, pxe: false };
        if (e.type === 'PXE') {
          entry.pxe = true;
          entry.kind = e.detail ? `PXE ${e.detail}` : 'PXE';
        }
        const vc = this.vendorByXid.get(e.xid!);
        if (vc) entry.vendorClass = vc;
        this.dhcp.set(e.mac, entry);
        return;
      }
      case 'dhcp-detail':
        return;
      case 'daemon':
        if (!/^(dnsmasq|tftp)/i.test(e.text)) this.unknown++;
        return;
      case 'unknown':
        this.unknown++;
        return;
    }
  }

  summary(): LogSummary {
    const summaries: LogPiSummary[] = [];
    for (const [prefix, a] of [...this.pis].sort(([x], [y]) => x.localeCompare(y))) {
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
      for (const c of a.clients) early += this.earlyByClient.get(c) ?? 0;
      const kernelSent = [...sent].some((f) => isKernelFile(f));
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
    return { pis: summaries, dhcp: [...this.dhcp.values()].sort((x, y) => x.mac.localeCompare(y.mac)), unknown: this.unknown };
  }
}

export function summarizeLog(text: string, opts: { tftpRoot?: string; ignoreClients?: readonly string[] } = {}): LogSummary {
  const s = new LogSummarizer(opts);
  for (const raw of text.split(/\r?\n/)) s.addLine(raw);
  return s.summary();
}
