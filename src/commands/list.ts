/**
 * `pinet list`: the enrolled Pis, from the inventory (table or --json).
 */
import type { Ctx } from './index.js';
import { StateStore } from '../server/state.js';
import { resolveStateDir } from './enroll.js';

export async function run(_args: string[], flags: { stateDir?: string }, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const cfg = await ctx.config();
  const state = new StateStore(resolveStateDir(flags.stateDir, cfg));
  const inv = await state.readInventory();
  const pis = Object.values(inv.pis).sort((a, b) => a.dir.localeCompare(b.dir) || a.serial.localeCompare(b.serial));
  out.emitJson({ inventory: state.inventoryPath, pis });
  if (out.json) return 0;
  if (pis.length === 0) {
    out.info(`no Pi is enrolled (inventory: ${state.inventoryPath})`);
    return 0;
  }
  const rows = pis.map((p) => [p.dir, p.serial, p.host, p.mac ?? '-', p.board ?? '-', p.os ?? '-', p.bootOrder?.after ?? '-', p.enrolledAt.slice(0, 10), p.partial ? 'partial: run enroll again' : 'enrolled']);
  const head = ['DIR', 'SERIAL', 'HOST', 'MAC', 'BOARD', 'OS', 'BOOT_ORDER', 'ENROLLED', 'STATE'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.print([head, ...rows].map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]!) : c)).join('  ')).join('\n'));
  return 0;
}
