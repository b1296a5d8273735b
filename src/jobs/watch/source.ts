/**
 * Which log watch reads, and reading it as batches of lines:
 *  * `--log -`: standard input, until it ends;
 *  * `--log <file>`: that file, followed like `tail -F` (src/watch/follow-file.ts);
 *  * `--journal` / `--journal-file <f>`: the systemd journal of the unit
 *    (src/watch/journal.ts);
 *  * otherwise the dnsmasq config decides, found as doctor finds it: a
 *    `log-facility=` with a `/` is the file dnsmasq writes; any other value,
 *    or none, means syslog, which on a systemd machine is the journal of
 *    dnsmasq.service.
 */
import { createInterface } from 'node:readline';
import { PinetError } from '../../errors.js';
import { find, type DnsmasqConfig } from '../../server/dnsmasq-read.js';
import { followFile, type FollowNote } from './follow-file.js';
import { readJournal } from './journal.js';

export type SourceSpec =
  | { kind: 'stdin'; why: string }
  | { kind: 'file'; path: string; why: string }
  | { kind: 'journal'; unit: string; file?: string; why: string };

export interface SourceFlags {
  log?: string;
  journal?: boolean;
  journalFile?: string;
  unit?: string;
}

/** The source the flags name, else the one the dnsmasq config implies (undefined: no config to ask). */
export function chooseSource(flags: SourceFlags, cfg: DnsmasqConfig | undefined): SourceSpec | undefined {
  const unit = flags.unit ?? 'dnsmasq';
  if (flags.log === '-') return { kind: 'stdin', why: '--log -' };
  if (flags.log !== undefined) return { kind: 'file', path: flags.log, why: '--log' };
  if (flags.journalFile !== undefined) return { kind: 'journal', unit, file: flags.journalFile, why: '--journal-file' };
  if (flags.journal) return { kind: 'journal', unit, why: '--journal' };
  if (!cfg || cfg.files.length === 0) return undefined;
  const lf = find(cfg, 'log-facility').pop();
  const at = lf ? `log-facility=${lf.value ?? ''} (${lf.file}:${lf.line})` : `no log-facility= in ${cfg.files.join(', ')}`;
  if (lf?.value && lf.value.includes('/')) return { kind: 'file', path: lf.value, why: at };
  return { kind: 'journal', unit, why: `${at}: dnsmasq logs to syslog, read from the journal of ${unit}.service` };
}

export function describeSource(s: SourceSpec): string {
  return s.kind === 'stdin' ? 'standard input' : s.kind === 'file' ? s.path : s.file ? `the journal file ${s.file} (unit ${s.unit})` : `the journal of ${s.unit}.service`;
}

export interface RawLine {
  raw: string;
  /** Known exactly (the journal); else taken from the line's stamp or the time it was read. */
  timeMs?: number;
}

export interface ReadOptions {
  once: boolean;
  sinceMs?: number;
  signal: AbortSignal;
  onNote: (note: FollowNote) => void;
}

export async function* readSource(s: SourceSpec, o: ReadOptions): AsyncGenerator<RawLine[]> {
  if (s.kind === 'file') {
    try {
      for await (const lines of followFile(s.path, { fromStart: o.once || o.sinceMs !== undefined, once: o.once, signal: o.signal, onNote: o.onNote })) {
        yield lines.map((raw) => ({ raw }));
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!code) throw err;
      throw new PinetError(`cannot read ${s.path} (${s.why}): ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code}`, {
        hint: code === 'EACCES' ? 'run as root, or as a member of the group that may read it (adm on Debian)' : 'check log-facility= in the dnsmasq config, or pass --log',
        cause: err,
      });
    }
    return;
  }
  if (s.kind === 'journal') {
    yield* readJournal({
      unit: s.unit,
      ...(s.file && { file: s.file }),
      follow: !o.once,
      ...(o.sinceMs !== undefined && { sinceMs: o.sinceMs }),
      signal: o.signal,
      onStart: (command) => o.onNote({ what: 'opened', detail: command }),
    });
    return;
  }
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const onAbort = (): void => rl.close();
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    let batch: RawLine[] = [];
    for await (const raw of rl) {
      batch.push({ raw });
      if (batch.length >= 256 || process.stdin.readableLength === 0) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
  }
}
