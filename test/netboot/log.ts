/**
 * The boot log of one emulated Pi: lines like a BOOT_UART log, prefixed with
 * the Pi's name and the time since power-on, collected for the result and
 * passed to the caller's callback as they happen, so a failing test shows
 * what the Pi did.
 */
import { performance } from 'node:perf_hooks';

export class BootLog {
  readonly lines: string[] = [];
  private readonly t0 = performance.now();

  constructor(
    private readonly name: string,
    private readonly onLog?: (line: string) => void,
  ) {}

  /** Ms since the Pi was powered on. */
  now(): number {
    return performance.now() - this.t0;
  }

  line(text: string): void {
    const l = `[${this.name}] ${(this.now() / 1000).toFixed(3).padStart(7)} ${text}`;
    this.lines.push(l);
    this.onLog?.(l);
  }
}
