/**
 * Shared by the benchmarks: timing with interleaved runs and medians, so a
 * noisy machine affects pinet and its baseline alike; ratios are what count.
 */
import { execa } from 'execa';

export async function timeIt(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; check?: boolean } = {}): Promise<number> {
  const t0 = performance.now();
  const r = await execa(cmd, args, { reject: false, input: opts.input ?? '', env: { NO_COLOR: '1', ...opts.env }, stdout: 'ignore', stderr: 'pipe' });
  const ms = performance.now() - t0;
  if ((opts.check ?? true) && r.exitCode !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} … failed (${r.exitCode}): ${String(r.stderr).slice(-800)}`);
  return ms;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The order of the cases in round `round`: every other round reversed. A run
 * right after another is slower on this machine (~10 ms at start-up), so a
 * fixed order would favour whichever case comes first, or the one that
 * always follows Ansible.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  return round % 2 ? [...items].reverse() : [...items];
}

/** Runs each case `runs` times, interleaved (see roundOrder); returns medians in ms. */
export async function compare(cases: Record<string, () => Promise<number>>, runs: number): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm up
  for (let i = 0; i < runs; i++) for (const [k, fn] of roundOrder(Object.entries(cases), i)) times[k]!.push(await fn());
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, median(t)]));
}

export function report(title: string, medians: Record<string, number>, ratios: [string, string, string, number][]): boolean {
  console.log(`\n${title}`);
  for (const [k, v] of Object.entries(medians)) console.log(`  ${k.padEnd(58)} ${v.toFixed(0).padStart(7)} ms`);
  let ok = true;
  for (const [label, a, b, limit] of ratios) {
    const r = medians[a]! / medians[b]!;
    const pass = r <= limit;
    ok &&= pass;
    console.log(`  ratio ${label}: ${r.toFixed(2)}${Number.isFinite(limit) ? ` (target <= ${limit}) ${pass ? 'OK' : 'MISSED'}` : ''}`);
  }
  return ok;
}
