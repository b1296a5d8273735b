/**
 * The two directories most commands need: the export (as mounted on the
 * boot server; also the TFTP root) and pinet's state directory (inventory,
 * backups, locks), which must never be inside the export.
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { checkStateDir, defaultStateDir } from '../server/state.js';
import { CONFIG } from './catalog.js';
import type { Settings } from './resolve.js';

export function exportDirOf(st: Settings): string {
  return resolve(st.value(CONFIG['export-dir'])!);
}

export function stateDirOf(st: Settings, exportDir?: string): string {
  const dir = st.value(CONFIG['state-dir']) ?? defaultStateDir();
  try {
    return checkStateDir(dir, exportDir);
  } catch (err) {
    throw new UsageError((err as Error).message, 'choose another --state-dir');
  }
}
