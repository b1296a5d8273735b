/**
 * dnsmasq's log from the systemd journal, through the real `journalctl`
 * (`-o json`: one JSON object per entry), for a dnsmasq that logs to syslog
 * (no `log-facility=` file: Debian's service). Live: `journalctl -u dnsmasq
 * -f -o json -n 0`; a journal file: `journalctl --file <f> -u dnsmasq -o
 * json` (tests make a real one, see test/watch).
 *
 * Fields used, as the real journalctl prints them: `MESSAGE`, a string, or
 * an array of byte values when the message is not valid UTF-8 or holds
 * control characters; `SYSLOG_IDENTIFIER` (dnsmasq, dnsmasq-dhcp,
 * dnsmasq-tftp); `_PID` / `SYSLOG_PID`; `__REALTIME_TIMESTAMP`, microseconds
 * since the epoch, as a decimal string. Each entry becomes the line dnsmasq
 * itself would have written (`dnsmasq-tftp[812]: sent …`) with its exact
 * time.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PinetError } from '../../errors.js';

export interface JournalOptions {
  /** The unit (default dnsmasq). */
  unit: string;
  /** Read this journal file instead of the system journal. */
  file?: string;
  /** Keep following (`-f`). */
  follow: boolean;
  /** Only entries from this time on (ms since the epoch); without it, following starts at the end. */
  sinceMs?: number;
  signal?: AbortSignal;
  /** The journalctl binary (tests). */
  journalctl?: string;
  /** Called once journalctl runs, with its command line. */
  onStart?: (command: string) => void;
}

export interface JournalLine {
  raw: string;
  timeMs: number;
}

/** The text of a journal field as journalctl -o json prints it: a string, or an array of bytes. */
export function fieldText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((b) => typeof b === 'number')) return Buffer.from(v as number[]).toString('utf8');
  return undefined;
}

/** One `journalctl -o json` line as a dnsmasq log line with its time; undefined for entries without a message. */
export function journalEntry(json: string, fallbackMs: number): JournalLine | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const message = fieldText(o.MESSAGE);
  if (message === undefined) return undefined;
  const ident = fieldText(o.SYSLOG_IDENTIFIER);
  const pid = fieldText(o.SYSLOG_PID) ?? fieldText(o._PID);
  const us = fieldText(o.__REALTIME_TIMESTAMP);
  const timeMs = us && /^\d+$/.test(us) ? Math.floor(Number(us) / 1000) : fallbackMs;
  const raw = ident ? `${ident}${pid ? `[${pid}]` : ''}: ${message}` : message;
  return { raw: raw.replace(/\n/g, ' '), timeMs };
}

export function journalArgs(o: JournalOptions): string[] {
  const args = ['-o', 'json', '--no-pager', '-u', o.unit];
  if (o.file) args.unshift('--file', o.file);
  if (o.sinceMs !== undefined) args.push('--since', `@${Math.floor(o.sinceMs / 1000)}`);
  else if (o.follow) args.push('-n', '0');
  if (o.follow) args.push('-f');
  return args;
}

/** Entries in batches as journalctl prints them; ends when journalctl exits (or the signal aborts). */
export async function* readJournal(o: JournalOptions): AsyncGenerator<JournalLine[]> {
  const bin = o.journalctl ?? 'journalctl';
  const child = spawn(bin, journalArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const stop = (): void => {
    child.kill('SIGTERM');
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    await spawned.catch((err: NodeJS.ErrnoException) => {
      throw new PinetError(`cannot run ${bin}: ${err.code === 'ENOENT' ? 'it is not installed' : err.message}`, {
        hint: 'install systemd (journalctl), or name the log with --log <file> (log-facility= in the dnsmasq config)',
        cause: err,
      });
    });
    o.onStart?.(`${bin} ${journalArgs(o).join(' ')}`);
    const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
    let batch: JournalLine[] = [];
    // Hand lines over in batches (everything journalctl has printed so far), so 50 Pis' lines do not each cost a render.
    for await (const text of rl) {
      const e = journalEntry(text, Date.now());
      if (e) batch.push(e);
      if (batch.length >= 512 || (child.stdout.readableLength === 0 && batch.length > 0)) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
    const code = await exited;
    if (code !== 0 && code !== null && !o.signal?.aborted) {
      throw new PinetError(`journalctl ${journalArgs(o).join(' ')} failed (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`, {
        hint: o.file ? 'is it a journal file?' : 'run as root or as a member of systemd-journal (journalctl needs to read the system journal)',
      });
    }
  } finally {
    o.signal?.removeEventListener('abort', stop);
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}
