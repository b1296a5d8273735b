/**
 * Reading the real dnsmasq's log back in the emulator's tests: the message
 * part of each line (syslog prefix stripped), the TFTP lines of one client
 * address, the DHCP lines of one transaction, and the seed article's log
 * turned into the lines expected for another TFTP root and client address.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `Nov  1 06:20:01 dnsmasq-tftp[123]: sent …` → `sent …` */
export function messages(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^.*?dnsmasq(-[a-z]+)?\[\d+\]: /, ''));
}

const TFTP_LINE = /^(sent |failed sending |file |error \d+ |cannot access )/;

/** TFTP lines about one client (dnsmasq names the client by address only). */
export function tftpLinesOf(log: string, clientIp: string): string[] {
  const ip = clientIp.replace(/\./g, '\\.');
  const mentions = new RegExp(`(to|from|for) ${ip}$`);
  return messages(log).filter((m) => TFTP_LINE.test(m) && mentions.test(m));
}

/** DHCP lines of one transaction (dnsmasq prefixes them with the xid in decimal). */
export function dhcpLinesOf(log: string, xid: number): string[] {
  const tag = `${xid >>> 0} `;
  return messages(log)
    .filter((m) => m.startsWith(tag))
    .map((m) => m.slice(tag.length));
}

/** dnsmasq 2.87+ appends "for <client>" to "not found": drop it to compare with older logs. */
export function withoutForClient(lines: string[]): string[] {
  return lines.map((l) => l.replace(/^(file .* not found) for \S+$/, '$1'));
}

const SEED_LOG = fileURLToPath(new URL('../fixtures/seed-article/dnsmasq.log', import.meta.url));

/** The seed article's TFTP lines, as they would read for `root` and `clientIp`. */
export function seedTftpLines(root: string, clientIp: string): string[] {
  return messages(readFileSync(SEED_LOG, 'utf8'))
    .filter((m) => TFTP_LINE.test(m))
    .map((m) => m.split('/mnt/netboot').join(root).split('10.86.5.151').join(clientIp));
}

/**
 * TFTP lines grouped by the file they name, in order, plus the number of
 * "Early terminate" lines (which name no file). dnsmasq logs a transfer's
 * end ("sent", "failed sending") when its poll loop next looks at that
 * transfer, so the end of one request and the start of the Pi's next one can
 * swap places in the log; per file the order is fixed.
 */
export function byFile(lines: string[]): { files: Record<string, string[]>; earlyTerminates: number } {
  const files: Record<string, string[]> = {};
  let earlyTerminates = 0;
  for (const l of lines) {
    if (/^error 0 Early terminate received from /.test(l)) {
      earlyTerminates += 1;
      continue;
    }
    const m = /^(?:sent|failed sending|file|cannot access) (\S+?)(?::| to | not found)/.exec(l);
    const key = m ? m[1]! : '?';
    (files[key] ??= []).push(l);
  }
  return { files, earlyTerminates };
}
