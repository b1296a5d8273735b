/**
 * The BOOT_ORDER walk of the Pi 4 bootloader, as a pure function of the
 * order and an `attempt` callback (so it is unit-tested without a network):
 *
 * - the nibbles are tried from the rightmost to the left, up to eight, until
 *   the remaining value is zero (`0xf21` = SD, NETWORK, RESTART);
 * - a failed mode is tried `retries` more times (SD_BOOT_MAX_RETRIES /
 *   NET_BOOT_MAX_RETRIES, default 0) before the next mode;
 * - `f` RESTART starts again from the right; `e` STOP stops; a walk that
 *   runs off the end without RESTART stops too;
 * - undefined modes (8-d) count as SD, as bootloaders since 2020-06 do;
 * - a real Pi with RESTART loops forever: the walk gives up after
 *   `maxRounds` passes, with a result that says so;
 * - an attempt may end the walk (`booted`, `halted`) or ask for a reset
 *   (the firmware failed and a watchdog / REBOOT_ON_FATAL_ERROR resets the
 *   Pi): the walk starts again from the right, as a new round.
 */
import type { BootModeName } from './types.js';

export const MODE_NAMES: Record<number, BootModeName> = {
  0x0: 'SD-DETECT',
  0x1: 'SD',
  0x2: 'NETWORK',
  0x3: 'RPIBOOT',
  0x4: 'USB-MSD',
  0x5: 'BCM-USB-MSD',
  0x6: 'NVME',
  0x7: 'HTTP',
  0xe: 'STOP',
  0xf: 'RESTART',
};

export function modeName(mode: number): BootModeName {
  return MODE_NAMES[mode] ?? 'SD';
}

/** `0xf21` → [1, 2, 15]: the modes in the order they are tried. */
export function bootModes(order: number): number[] {
  const modes: number[] = [];
  let rest = order >>> 0;
  for (let i = 0; i < 8 && rest !== 0; i++) {
    modes.push(rest & 0xf);
    rest >>>= 4;
  }
  return modes.length === 0 ? [0x1] : modes;
}

/** `0xf241: SD → USB-MSD → NETWORK → RESTART` */
export function describeBootOrder(order: number): string {
  return `0x${(order >>> 0).toString(16)}: ${bootModes(order).map(modeName).join(' → ')}`;
}

export type AttemptVerdict = 'booted' | 'halted' | 'failed' | 'absent' | 'reset' | 'stopped' | 'not-emulated';

export interface WalkStep {
  round: number;
  mode: number;
  /** The mode as tried: undefined nibbles are SD. */
  effectiveMode: number;
  try: number;
}

export interface WalkOptions {
  order: number;
  maxRounds: number;
  /** Extra tries of a failed mode (SD for modes 0/1, NETWORK for 2). */
  retries: (mode: number) => number;
  attempt: (step: WalkStep) => Promise<AttemptVerdict>;
}

export interface WalkResult {
  outcome: 'booted' | 'halted' | 'stopped' | 'gave-up';
  /** The step that booted or halted (or the STOP). */
  last?: WalkStep;
  rounds: number;
  reason: string;
}

const LOCAL_OR_NET = new Set([0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0xe, 0xf]);

export async function walkBootOrder(o: WalkOptions): Promise<WalkResult> {
  const modes = bootModes(o.order);
  let round = 1;
  while (round <= o.maxRounds) {
    let restart = false;
    for (const mode of modes) {
      const effectiveMode = LOCAL_OR_NET.has(mode) ? mode : 0x1;
      if (effectiveMode === 0xf) {
        restart = true;
        break;
      }
      if (effectiveMode === 0xe) {
        const step = { round, mode, effectiveMode, try: 1 };
        await o.attempt(step);
        return { outcome: 'stopped', last: step, rounds: round, reason: 'BOOT_ORDER reached STOP (e)' };
      }
      const tries = 1 + Math.max(0, o.retries(effectiveMode));
      let verdict: AttemptVerdict = 'failed';
      for (let t = 1; t <= tries; t++) {
        const step = { round, mode, effectiveMode, try: t };
        verdict = await o.attempt(step);
        if (verdict === 'booted' || verdict === 'halted') {
          return { outcome: verdict, last: step, rounds: round, reason: verdict === 'booted' ? `booted from ${modeName(effectiveMode)}` : `halted in ${modeName(effectiveMode)}` };
        }
        if (verdict === 'stopped') return { outcome: 'stopped', last: step, rounds: round, reason: `${modeName(effectiveMode)} waits forever` };
        if (verdict === 'reset' || verdict === 'absent' || verdict === 'not-emulated') break;
      }
      if (verdict === 'reset') {
        restart = true;
        break;
      }
    }
    if (!restart) return { outcome: 'stopped', rounds: round, reason: `BOOT_ORDER 0x${o.order.toString(16)} has no RESTART (f): the bootloader stops after its last mode` };
    round += 1;
  }
  return {
    outcome: 'gave-up',
    rounds: o.maxRounds,
    reason: `no mode booted in ${o.maxRounds} passes over BOOT_ORDER ${describeBootOrder(o.order)} (a real Pi keeps trying)`,
  };
}
