/**
 * Where output goes: results on stdout, everything else on stderr.
 *
 * Human mode prints readable text on stdout; `--json` prints exactly one JSON
 * document on stdout and nothing else there. Logs, warnings and progress
 * always go to stderr. Colour is used only when the stream is a terminal and
 * neither NO_COLOR nor --no-color is set; chalk itself is loaded
 * (`loadColors`, at start-up) only then, so piped, redirected and --json
 * runs do not pay for it.
 */
import type { ChalkInstance } from 'chalk';
import { stableStringify } from './json.js';

export interface OutputOptions {
  json?: boolean;
  /** false when --no-color was given */
  color?: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function colorWanted(stream: { isTTY?: boolean }, flag = true): boolean {
  if (!flag) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

/** chalk, once `loadColors` found a stream to colour. */
let chalk: typeof import('chalk') | undefined;

/** Loads chalk if stdout or stderr will be coloured (a terminal; neither --no-color nor NO_COLOR). */
export async function loadColors(flag = true, streams: { isTTY?: boolean }[] = [process.stdout, process.stderr]): Promise<void> {
  if (!chalk && streams.some((s) => colorWanted(s, flag))) chalk = await import('chalk');
}

/** What chalk does at colour level 0, without loading it: any chain of styles returns the text unchanged. */
const PLAIN: ChalkInstance = new Proxy(() => undefined, {
  apply: (_target, _this, args: unknown[]) => (args.length === 1 ? String(args[0]) : args.join(' ')),
  get: (_target, key) => (key === 'level' ? 0 : PLAIN),
}) as unknown as ChalkInstance;

function colors(wanted: boolean): ChalkInstance {
  if (!wanted) return PLAIN;
  if (!chalk) throw new Error('internal error: colour output before loadColors()');
  return new chalk.Chalk({ level: 1 });
}

export class Output {
  readonly json: boolean;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Colours for stdout text. */
  readonly c: ChalkInstance;
  /** Colours for stderr text. */
  readonly ce: ChalkInstance;
  private jsonPrinted = false;

  constructor(options: OutputOptions = {}) {
    this.json = options.json ?? false;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    const flag = options.color ?? true;
    this.c = colors(colorWanted(this.stdout, flag));
    this.ce = colors(colorWanted(this.stderr, flag));
  }

  /** Human result text on stdout; silent in --json mode. */
  print(text: string): void {
    if (this.json) return;
    this.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }

  /** The one JSON document of this run (only in --json mode). */
  emitJson(doc: unknown): void {
    if (!this.json) return;
    if (this.jsonPrinted) throw new Error('internal error: a second JSON document on stdout');
    this.jsonPrinted = true;
    this.stdout.write(stableStringify(doc));
  }

  get jsonDone(): boolean {
    return this.jsonPrinted;
  }

  /** Progress and notes, on stderr. */
  info(message: string): void {
    this.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.ce.yellow('warning:')} ${message}\n`);
  }

  error(message: string): void {
    this.stderr.write(`${this.ce.red('pinet: error:')} ${message}\n`);
  }
}
