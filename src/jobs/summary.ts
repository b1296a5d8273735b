/**
 * The table that ends enroll and rollback: one row per Pi, its serial, its
 * result, and what changed or why it failed, from the job's results.
 */
import { table } from '../ui/table.js';
import type { PiResult } from './enroll/job.js';

export function summaryTable(results: PiResult[]): string {
  const detail = (r: PiResult): string => r.error ?? (r.changes.length ? `${r.changes.length} change(s)${r.reboot ? `; ${r.reboot.detail}` : ''}` : 'nothing to change');
  return table([['PI', 'SERIAL', 'RESULT', 'DETAIL'], ...results.map((r) => [r.host, r.serial ?? '-', r.result, detail(r)])]);
}
