/**
 * Remote scripts: the POSIX sh files in `scripts/remote/`, run on a host
 * with their arguments, and their output read back with one framing.
 *
 * A script is a constant file; every value reaches it as a positional
 * parameter (`sh -c <script> sh <args…>`), never inside the script text.
 * A script may name libraries it uses (`# pinet: uses lib/change.sh`);
 * they are sent ahead of it, in one text, which is also exactly what
 * `shellcheck` checks (test/remote/scripts.test.ts).
 *
 * Framed scripts (the default) get `lib/frame.sh` and a random marker as
 * their first argument, and report records, each a line "\n<marker> <kind>
 * <words>": `section <name>` (its body is every byte up to the next record:
 * file contents pass through unchanged, and cannot forge a record),
 * `done <step>`, `undone <step>`, `fail <step> <message>`, `end`. A script
 * that fails, or stops before `end`, is a ScriptError carrying the host, the
 * step, the exit code and the script's last stderr line.
 *
 * Raw scripts (`# pinet: raw`) stream their stdout (a tar archive) and are
 * started with `startScript`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RemoteError, lastLine } from './errors.js';
import type { ExecOptions, ExecResult, StartedCommand } from './remote-host.js';
import { packageFile } from '../util/package-files.js';

/** Where scripts run: a RemoteHost (over SSH) or the LocalHost (this machine). */
export interface ScriptHost {
  readonly label: string;
  execScript(script: string, args: readonly string[], opts: ExecOptions & { encoding: 'buffer' }): Promise<ExecResult<Buffer>>;
  start(argv: readonly string[], opts?: Omit<ExecOptions, 'reject'>): Promise<StartedCommand>;
}

/** Every script pinet runs on a host (the file names in scripts/remote/, without .sh). */
export const SCRIPT_NAMES = ['gather', 'read-files', 'stat', 'write-file', 'list-tree', 'tar-tree', 'hash-files', 'enroll-apply', 'rollback', 'boot-state', 'reboot', 'nfs-detect', 'nfs-export-apply', 'nfs-export-restore', 'boot-mount', 'ceph-detect', 'open-as'] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

const SCRIPT_DIR = packageFile('scripts/remote/');

interface LoadedScript {
  text: string;
  raw: boolean;
}

const cache = new Map<string, LoadedScript>();

/** The text sent for a script: its libraries, then the script itself. */
export function scriptSource(name: ScriptName | string): LoadedScript {
  let s = cache.get(name);
  if (s) return s;
  const body = readFileSync(new URL(`${name}.sh`, SCRIPT_DIR), 'utf8');
  const raw = /^# pinet: raw$/m.test(body);
  const libs = [...body.matchAll(/^# pinet: uses (.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
  const parts = raw ? [] : ['lib/frame.sh'];
  parts.push(...libs.filter((l) => !parts.includes(l)));
  const text = [...parts.map((l) => readFileSync(new URL(l, SCRIPT_DIR), 'utf8')), body].join('\n');
  s = { text, raw };
  cache.set(name, s);
  return s;
}

/** One record of a framed script's output. */
export interface ScriptRecord {
  kind: string;
  /** The words after the kind. */
  words: string;
  /** For sections: the bytes up to the next record. */
  body: Buffer;
}

export interface ScriptOutput {
  records: ScriptRecord[];
  /** Sections by name (a repeated name keeps the last). */
  sections: Map<string, Buffer>;
  done: string[];
  undone: string[];
  failure?: { step: string; message: string };
  /** The script reached `end`. */
  ended: boolean;
  code: number | null;
  stderr: string;
}

/** Splits framed output into records (pure; bytes before the first record are ignored). */
export function parseFramed(out: Buffer, marker: string): Pick<ScriptOutput, 'records' | 'sections' | 'done' | 'undone' | 'failure' | 'ended'> {
  const sep = Buffer.from(`\n${marker} `);
  const records: ScriptRecord[] = [];
  let at = out.indexOf(sep);
  while (at >= 0) {
    const headStart = at + sep.length;
    const nl = out.indexOf(0x0a, headStart);
    const headEnd = nl < 0 ? out.length : nl;
    const next = nl < 0 ? -1 : out.indexOf(sep, nl);
    const head = out.subarray(headStart, headEnd).toString('utf8');
    const space = head.indexOf(' ');
    const kind = space < 0 ? head : head.slice(0, space);
    const words = space < 0 ? '' : head.slice(space + 1);
    const body = nl < 0 ? Buffer.alloc(0) : out.subarray(nl + 1, next < 0 ? out.length : next);
    records.push({ kind, words, body });
    at = next;
  }
  const result: Pick<ScriptOutput, 'records' | 'sections' | 'done' | 'undone' | 'failure' | 'ended'> = {
    records,
    sections: new Map(),
    done: [],
    undone: [],
    ended: false,
  };
  for (const r of records) {
    const first = r.words.split(' ')[0] ?? '';
    if (r.kind === 'section') result.sections.set(r.words, r.body);
    else if (r.kind === 'done') result.done.push(first);
    else if (r.kind === 'undone') result.undone.push(first);
    else if (r.kind === 'fail') result.failure ??= { step: first, message: r.words.slice(first.length + 1) };
    else if (r.kind === 'end') result.ended = true;
  }
  return result;
}

/** A script that failed or stopped early. */
export class ScriptError extends RemoteError {
  readonly script: string;
  readonly code: number | null;
  /** The script's last stderr line. */
  readonly stderrLine: string;
  /** The step the script reported failing, when it did. */
  readonly failedStep: string | undefined;

  constructor(host: string, step: string, info: { script: string; exitCode: number | null; stderr: string; message: string; failedStep?: string }, hint?: string) {
    super('command-failed', host, step, info.message, hint === undefined ? {} : { hint });
    this.name = 'ScriptError';
    this.script = info.script;
    this.code = info.exitCode;
    this.stderrLine = lastLine(info.stderr);
    this.failedStep = info.failedStep;
  }
}

export interface RunScriptOptions extends Omit<ExecOptions, 'reject'> {
  /** What this script does, for errors: "reading the Pi". */
  step: string;
  /** 'throw' (default): a `fail` record is a ScriptError; 'return': the caller reads `failure`. */
  onFail?: 'throw' | 'return';
  /** The hint of a ScriptError. */
  hint?: string;
}

/** Runs a framed script and returns its records (see the module comment). */
export async function runScript(host: ScriptHost, name: ScriptName, args: readonly string[], opts: RunScriptOptions): Promise<ScriptOutput> {
  const src = scriptSource(name);
  if (src.raw) throw new Error(`internal error: ${name} is a raw script; use startScript`);
  const marker = `@@pinet-${randomBytes(12).toString('hex')}@@`;
  const { onFail, hint, ...exec } = opts;
  const r = await host.execScript(src.text, [marker, ...args], { ...exec, encoding: 'buffer', reject: false });
  const parsed = parseFramed(r.stdout, marker);
  const output: ScriptOutput = { ...parsed, code: r.code, stderr: r.stderr };
  const fail = (message: string, failedStep?: string): ScriptError =>
    new ScriptError(host.label, opts.step, { script: name, exitCode: r.code, stderr: r.stderr, message, ...(failedStep ? { failedStep } : {}) }, hint);
  if (output.failure) {
    if (onFail === 'return') return output;
    throw fail(`${opts.step} failed: ${output.failure.message}`, output.failure.step);
  }
  if (!output.ended) {
    const err = lastLine(r.stderr);
    const status = r.code === null ? `was killed${r.signal ? ` by ${r.signal}` : ''}` : `exited with status ${r.code}`;
    throw fail(`${opts.step} failed: the script stopped before its end (${status})${err ? `: ${err}` : ''}`);
  }
  return output;
}

/** Starts a raw (streaming) script; the caller consumes stdout and awaits `done`. */
export function startScript(host: ScriptHost, name: ScriptName, args: readonly string[], opts: Omit<ExecOptions, 'reject'> & { step: string }): Promise<StartedCommand> {
  const src = scriptSource(name);
  if (!src.raw) throw new Error(`internal error: ${name} is a framed script; use runScript`);
  return host.start(['sh', '-c', src.text, 'sh', ...args], opts);
}

/** A section's text (UTF-8), or undefined when the script did not print it. */
export function sectionText(out: Pick<ScriptOutput, 'sections'>, name: string): string | undefined {
  return out.sections.get(name)?.toString('utf8');
}
