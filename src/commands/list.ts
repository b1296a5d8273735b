/**
 * `pinet list`: the enrolled Pis, from the inventory (table or --json).
 */
import type { Ctx } from './context.js';
import { stateDirOf } from '../settings/dirs.js';
import { StateStore } from '../server/state.js';
import { table } from '../ui/table.js';

export async function run(_args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const state = new StateStore(stateDirOf(await ctx.settings()));
  const inv = await state.readInventory();
  const pis = Object.values(inv.pis).sort((a, b) => a.dir.localeCompare(b.dir) || a.serial.localeCompare(b.serial));
  out.emitJson({ inventory: state.inventoryPath, pis });
  if (out.json) return 0;
  if (pis.length === 0) {
    out.info(`no Pi is enrolled (inventory: ${state.inventoryPath})`);
    return 0;
  }
  const head = ['DIR', 'SERIAL', 'HOST', 'MAC', 'BOARD', 'OS', 'BOOT_ORDER', 'ENROLLED', 'STATE'];
  const rows = pis.map((p) => [p.dir, p.serial, p.host, p.mac ?? '-', p.board ?? '-', p.os ?? '-', p.bootOrder?.after ?? '-', p.enrolledAt.slice(0, 10), p.partial ? 'partial: run enroll again' : 'enrolled']);
  out.print(table([head, ...rows]));
  return 0;
}
