/**
 * Where output goes: results on stdout, everything else on stderr.
 *
 * Human mode prints readable text on stdout; `--json` prints exactly one JSON
 * document on stdout and nothing else there. Logs, warnings and progress
 * always go to stderr. Colour is used only when the stream is a terminal and
 * neither NO_COLOR nor --no-color is set.
 */
import { Chalk, type ChalkInstance } from 'chalk';
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
    this.c = new Chalk({ level: colorWanted(this.stdout, flag) ? 1 : 0 });
    this.ce = new Chalk({ level: colorWanted(this.stderr, flag) ? 1 : 0 });
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
