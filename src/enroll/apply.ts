/**
 * Enroll, step 5 and 6: apply one Pi's plan in a safe order, then verify.
 *
 *  1. back up the originals on this machine (state directory);
 *  2. copy the changed boot files into a staging directory, verify them
 *     against the Pi's own checksums, normalise modes, move them in place;
 *  3. write cmdline.txt in the export (atomically);
 *  4. one remote script: lock, back up on the Pi, check /etc/fstab is still
 *     what was planned from, write it atomically, install the hooks, apply
 *     the bootloader config with `rpi-eeprom-config --apply`, print what it
 *     now reads back; on a failure it undoes its own Pi-side steps;
 *  5. verify: every file the bootloader will request is in the export and
 *     readable by others; the Pi reads back exactly what was planned.
 *
 * If a step fails, what was done and what was not is reported, and what is
 * safe to undo is undone: the Pi still boots as before.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PinetError } from '../errors.js';
import type { RemoteHost } from '../remote/index.js';
import { COPY_EXCLUDE_PATTERNS, normalizeModes } from '../server/export.js';
import { canRead, type UnixUser } from '../server/perms.js';
import type { StateStore } from '../server/state.js';
import { writeFileAtomic } from '../util/fs.js';
import type { PiPlan } from './plan.js';
import { REMOTE_PRELUDE } from './remote-sh.js';

/** Steps, in order, and whether each was done. */
export interface ApplyReport {
  done: string[];
  notDone: string[];
  undone: string[];
  backup?: { pi: string; local: string };
  /** The connection dropped while the Pi was being changed: each file is old or new, but which is unknown. */
  uncertain?: boolean;
}

export class ApplyError extends PinetError {
  constructor(
    message: string,
    readonly report: ApplyReport,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The remote half. Values arrive as positional parameters; nothing is pasted in. */
export const APPLY_SCRIPT = `
B=$1 STAMP=$2 D=$3 CMD=$4 CUR_EEPROM=$5 FSTAB_SHA=$6 NEW_FSTAB=$7 NEW_EEPROM=$8 HOOK=$9
shift 9
${REMOTE_PRELUDE}
HOOKS_DONE=
undo() {
  if [ -n "$HOOKS_DONE" ]; then for h in "$@"; do rm -f "$h"; done; say "undone hooks"; fi
  undo_fstab
}
fail() { s=$1 m=$2; shift 2; say "fail $s $m"; undo "$@"; exit 1; }
if [ -n "$STAMP" ]; then
  BK=/var/lib/pinet/backup/$STAMP
  mkdir -p "$BK" && chmod 700 /var/lib/pinet/backup "$BK" &&
    cp -p /etc/fstab "$BK/fstab" &&
    { [ ! -f "$D/$CMD" ] || cp -p "$D/$CMD" "$BK/cmdline.txt"; } &&
    printf '%s' "$CUR_EEPROM" > "$BK/bootloader.conf" && sync "$BK"/* "$BK" || fail backup "cannot write $BK" "$@"
  say "done backup $BK"
fi
if [ -n "$NEW_FSTAB" ]; then
  write_fstab "$NEW_FSTAB" "$FSTAB_SHA" || fail fstab "$ERR" "$@"
  say "done fstab"
fi
if [ -n "$HOOK" ]; then
  HOOKS_DONE=1
  for h in "$@"; do
    mkdir -p "$(dirname "$h")" && atomic "$h" 755 "$HOOK" || fail hooks "cannot write $h" "$@"
  done
  say "done hooks"
fi
if [ -n "$NEW_EEPROM" ]; then
  apply_eeprom "$NEW_EEPROM" "$D" || fail bootloader "$ERR" "$@"
  say "done bootloader"
fi
say "section fstab"; cat /etc/fstab
say "section pending"; [ -f "$D/pieeprom.upd" ] && rpi-eeprom-config "$D/pieeprom.upd" 2>&1
for h in "$@"; do say "section hook $h"; cat "$h" 2>/dev/null; done
say "end"
`;

interface RemoteApplyOutput {
  steps: string[];
  undone: string[];
  failure?: { step: string; message: string };
  sections: Map<string, string>;
  ended: boolean;
}

export function parseApplyOutput(out: string, boundary: string): RemoteApplyOutput {
  const r: RemoteApplyOutput = { steps: [], undone: [], sections: new Map(), ended: false };
  let section: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (section !== undefined) r.sections.set(section, body.join('\n'));
  };
  for (const line of out.split('\n')) {
    if (line.startsWith(`${boundary} `)) {
      const rest = line.slice(boundary.length + 1);
      const [word, ...more] = rest.split(' ');
      if (word === 'section') {
        flush();
        section = more.join(' ');
        body = [];
        continue;
      }
      flush();
      section = undefined;
      if (word === 'done') r.steps.push(more[0] ?? '');
      else if (word === 'undone') r.undone.push(more[0] ?? '');
      else if (word === 'fail') r.failure = { step: more[0] ?? '', message: more.slice(1).join(' ') };
      else if (word === 'end') r.ended = true;
      continue;
    }
    if (section !== undefined) body.push(line);
  }
  flush();
  return r;
}

const OTHERS: UnixUser = { name: 'others', uid: -1, gid: -1, groups: [] };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface ApplyCallbacks {
  step(step: string): void;
  bytes(bytes: number, total: number): void;
}

export async function applyPlan(p: PiPlan, remote: RemoteHost, state: StateStore, stamp: string, cb: ApplyCallbacks): Promise<ApplyReport> {
  const report: ApplyReport = { done: [], notDone: [], undone: [] };
  const piChanges = Boolean(p.fstab || p.eeprom || p.cmdline);
  const planned: [string, boolean][] = [
    ['backup (local)', p.firstEnroll && piChanges],
    ['copy', p.copy.files.length > 0 || p.copy.create],
    ['cmdline', p.cmdline !== undefined],
    ['verify', true],
    ['backup (Pi)', p.firstEnroll && piChanges],
    ['fstab', p.fstab !== undefined],
    ['hooks', p.hooks.length > 0],
    ['bootloader', p.eeprom !== undefined],
    ['inventory', true],
  ];
  const all = planned.filter(([, on]) => on).map(([name]) => name);
  let removeDirOnFailure = false;
  const finish = async (failedAt: string, err: unknown): Promise<never> => {
    if (removeDirOnFailure && !report.uncertain) {
      // This run created the Pi's directory: remove it, nothing refers to it.
      await rm(p.localDir, { recursive: true, force: true }).catch(() => undefined);
      report.undone.push('copy');
      report.done = report.done.filter((d) => d !== 'copy');
    }
    report.notDone = all.filter((s) => !report.done.includes(s) && s !== failedAt);
    report.notDone.unshift(failedAt);
    const msg = err instanceof Error ? err.message : String(err);
    throw new ApplyError(
      `${msg.startsWith(p.label) ? msg : `${p.label}: ${msg}`} (done: ${report.done.join(', ') || 'nothing'}; not done: ${report.notDone.join(', ')}${report.undone.length ? `; undone: ${report.undone.join(', ')}` : ''})`,
      report,
      { hint: 'the Pi still boots as before; fix the cause and run pinet enroll again', cause: err },
    );
  };

  // 1. local backup of the originals (first enroll only: rollback restores these)
  if (p.firstEnroll && piChanges) {
    cb.step('backing up');
    try {
      const dir = state.backupDir(p.serial, stamp);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(join(dir, 'fstab'), p.detected.raw.fstab ?? '', { mode: 0o600 });
      const cmd = p.detected.texts[p.cmdlineName];
      if (cmd !== undefined) await writeFile(join(dir, 'cmdline.txt'), cmd, { mode: 0o600 });
      await writeFile(join(dir, 'bootloader.conf'), p.eepromText, { mode: 0o600 });
      await writeFile(join(dir, 'meta.json'), `${JSON.stringify({ host: p.host, serial: p.serial, dir: p.dir, bootDir: p.bootDir, cmdlineName: p.cmdlineName, at: stamp }, null, 2)}\n`, { mode: 0o600 });
      report.backup = { pi: `/var/lib/pinet/backup/${stamp}`, local: dir };
      report.done.push('backup (local)');
    } catch (err) {
      await finish('backup (local)', err);
    }
  }

  // 2. copy into staging, verify, normalise, move into place
  const createdDir = p.copy.create;
  if (p.copy.files.length > 0 || p.copy.create) {
    cb.step(`copying ${p.bootDir}`);
    const staging = join(dirname(p.localDir), `.${p.dir.replace(/\//g, '_')}.pinet-${process.pid}-${randomBytes(3).toString('hex')}`);
    try {
      if (p.copy.files.length > 0) {
        await remote.streamTree(p.bootDir, staging, {
          only: p.copy.files,
          exclude: COPY_EXCLUDE_PATTERNS,
          modes: 'normalize',
          step: `copying ${p.bootDir}`,
          onProgress: (bytes) => cb.bytes(bytes, p.copy.bytes),
        });
      } else {
        await mkdir(staging, { recursive: true });
      }
      await normalizeModes(staging);
      if (createdDir) {
        await mkdir(dirname(p.localDir), { recursive: true });
        await rename(staging, p.localDir);
        removeDirOnFailure = true;
      } else {
        for (const rel of p.copy.files) {
          await mkdir(dirname(join(p.localDir, rel)), { recursive: true, mode: 0o755 });
          await rename(join(staging, rel), join(p.localDir, rel));
        }
        await rm(staging, { recursive: true, force: true });
      }
      report.done.push('copy');
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      await finish('copy', err);
    }
  }
  if (p.copy.modeFixes.length > 0) await normalizeModes(p.localDir);

  // 3. cmdline.txt in the export
  if (p.cmdline) {
    cb.step(`writing ${p.cmdlineName}`);
    try {
      await writeFileAtomic(p.cmdline.path, p.cmdline.after, { mode: 0o644, forceMode: true });
      report.done.push('cmdline');
    } catch (err) {
      await finish('cmdline', err);
    }
  }

  // 3b. before the Pi changes: every boot file the bootloader will request
  // (and the Pi has) is in the export and readable by others.
  const onPi = new Set(p.detected.bootList.map((e) => e.path));
  const files = p.detected.facts.bootFiles.known ? p.detected.facts.bootFiles.value.files : [];
  const missing: string[] = [];
  for (const f of files.filter((x) => x.required && !x.conditional && (onPi.has(x.path) || x.path === p.cmdlineName))) {
    const a = await canRead(OTHERS, join(p.localDir, f.path));
    if (!a.ok) missing.push(`${f.path}: ${a.reason === 'missing' ? 'missing' : a.reason}`);
  }
  if (missing.length) {
    await undoCmdline(p, report);
    await finish('verify', new Error(`the export is not ready for netboot: ${missing.join('; ')}`));
  }
  report.done.push('verify');

  // 4. the Pi: backup, fstab, hooks, bootloader (one round trip)
  const boundary = `@@pinet-${randomBytes(8).toString('hex')}@@`;
  const hookContent = p.hooks[0]?.content ?? '';
  if (piChanges || p.hooks.length > 0) {
    cb.step('changing the Pi (fstab, hooks, bootloader)');
    const args = [
      boundary,
      p.firstEnroll && piChanges ? stamp : '',
      p.bootDir,
      p.cmdlineName,
      p.eepromText,
      p.fstab ? sha256(p.fstab.before) : '',
      p.fstab?.after ?? '',
      p.eeprom?.after ?? '',
      hookContent,
      ...p.hooks.map((h) => h.path),
    ];
    let out: RemoteApplyOutput;
    try {
      const r = await remote.execScript(APPLY_SCRIPT, args, { sudo: true, step: 'changing /etc/fstab and the bootloader config', reject: false, timeoutMs: 120_000 });
      out = parseApplyOutput(String(r.stdout), boundary);
      if (!out.failure && !out.ended) out.failure = { step: 'Pi', message: `the script stopped (exit ${r.code}): ${r.stderr.trim().split('\n').pop() ?? ''}` };
    } catch (err) {
      // Connection lost mid-script: each file is the old or the new one (atomic renames),
      // but which is unknown. Keep the export as it is so a second run completes the job.
      report.uncertain = true;
      await finish('fstab', err);
    }
    const names: Record<string, string> = { backup: 'backup (Pi)', fstab: 'fstab', hooks: 'hooks', bootloader: 'bootloader' };
    for (const s of out!.steps) report.done.push(names[s] ?? s);
    for (const u of out!.undone) {
      report.undone.push(names[u] ?? u);
      report.done = report.done.filter((d) => d !== (names[u] ?? u));
    }
    if (out!.failure) {
      await undoCmdline(p, report);
      await finish(names[out!.failure.step] ?? out!.failure.step, new Error(out!.failure.message));
    }
    // 5. verify what the Pi reads back
    cb.step('verifying the Pi');
    const problems: string[] = [];
    if (p.fstab && out!.sections.get('fstab') !== p.fstab.after.replace(/\n$/, '')) problems.push('/etc/fstab does not read back as written');
    if (p.eeprom) {
      const pending = out!.sections.get('pending') ?? '';
      if (!new RegExp(`^BOOT_ORDER=${p.eeprom.afterOrder}\\s*$`, 'mi').test(pending)) problems.push(`the staged bootloader config does not have BOOT_ORDER=${p.eeprom.afterOrder}`);
    }
    for (const h of p.hooks) if (out!.sections.get(`hook ${h.path}`) !== h.content.replace(/\n$/, '')) problems.push(`${h.path} does not read back as written`);
    if (problems.length) await finish('read-back', new Error(problems.join('; ')));
  }

  return report;
}

async function undoCmdline(p: PiPlan, report: ApplyReport): Promise<void> {
  if (!p.cmdline || !report.done.includes('cmdline')) return;
  try {
    if (p.cmdline.before === null) await rm(p.cmdline.path, { force: true });
    else await writeFileAtomic(p.cmdline.path, p.cmdline.before);
    report.undone.push('cmdline');
    report.done = report.done.filter((d) => d !== 'cmdline');
  } catch {
    // reported as done: the export copy differs, the Pi itself is unchanged
  }
}
