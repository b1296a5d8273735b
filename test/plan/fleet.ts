/**
 * Fleets of recorded Pis for the grouping tests: the recorded Bookworm Pi
 * (test/fixtures/gather) as N Pis, each with its own serial (so its own
 * directory), MAC, PARTUUID and host name, as real Pis of one image are,
 * planned by enroll's own planner.
 */
import { planPi } from '../../src/jobs/enroll/plan.js';
import type { TargetPlan } from '../../src/plan/model.js';
import { detected, enrollSettings, fstab, inventoryOf, section, type Edit } from '../jobs/fixtures.js';

export const plain = { bold: (s: string) => s, dim: (s: string) => s, yellow: (s: string) => s, green: (s: string) => s, red: (s: string) => s, cyan: (s: string) => s };

const hex = (i: number, width: number): string => i.toString(16).padStart(width, '0');

/** Pi number i (1-based): host pi-NN, serial 10000000c0de00NN, PARTUUID c0de00NN, MAC dc:a6:32:00:00:NN. */
export function piNames(i: number): { host: string; serial: string; dir: string; partuuid: string; mac: string } {
  const n = hex(i, 4);
  return { host: `pi-${String(i).padStart(2, '0')}`, serial: `10000000c0de${n}`, dir: `c0de${n}`, partuuid: `b00c${n}`, mac: `dc:a6:32:00:${n.slice(0, 2)}:${n.slice(2)}` };
}

/** The recorded Bookworm Pi as Pi number i, after `edits`. */
export function fleetPi(i: number, edits: Edit[] = []) {
  const n = piNames(i);
  return detected(
    'rpios-bookworm-pi4',
    [
      section('cpuinfo', (o) => o.replace(/^(Serial\s*:\s*).*$/m, `$1${n.serial}`)),
      section('net', (o) => o.replace(/^eth0 \S+/m, `eth0 ${n.mac}`)),
      fstab((o) => o.replace(/PARTUUID=[0-9a-f]{8}/g, `PARTUUID=${n.partuuid}`)),
      ...edits,
    ],
    { dest: n.host },
  );
}

/** Enroll's plan of Pis 1..count (with per-Pi edits). */
export async function fleetPlan(count: number, edits: (i: number) => Edit[] = () => []): Promise<TargetPlan[]> {
  const settings = await enrollSettings();
  const out: TargetPlan[] = [];
  for (let i = 1; i <= count; i++) {
    const p = await planPi({ detected: fleetPi(i, edits(i)), settings, inventory: inventoryOf(), local: new Map(), localCmdline: null, now: new Date('2026-12-01T10:00:00Z') });
    out.push(p.target);
  }
  return out;
}
