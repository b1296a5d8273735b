/**
 * A real journal file written by the real systemd-journald from the real
 * dnsmasq's syslog lines (assets/journal-lab.sh), for `pinet watch
 * --journal-file`. This machine has no systemd as PID 1, so journald runs
 * by hand in a private mount namespace, and dnsmasq in the cgroup
 * /system.slice/dnsmasq.service of a private cgroup namespace: journald
 * then records the same fields as on a boot server (_SYSTEMD_UNIT,
 * SYSLOG_IDENTIFIER, _PID, __REALTIME_TIMESTAMP).
 *
 * Cleanup (through the lab): dnsmasq and journald by their PIDs, then the
 * cgroup directories; the journal directory goes with the lab's dirs.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO, waitFor, type WatchLab } from './lab.js';

const SCRIPT = join(REPO, 'test/watch/assets/journal-lab.sh');
const CGROUP2 = '/sys/fs/cgroup/unified';

export interface JournalLab {
  /** The journal file journald writes (JOURNAL/<machine-id>/system.journal). */
  file: string;
  dnsmasqPid: number;
  /** `journalctl --file <file> <args>` (the real one). */
  journalctl(args: string[]): Promise<string>;
  /**
   * Hand journald a syslog line as dnsmasq's TFTP process would (tag
   * dnsmasq-tftp, dnsmasq's PID, from dnsmasq's cgroup), with bytes dnsmasq
   * itself never writes (it strips unprintable ones): to see how the real
   * journalctl prints a message that is not UTF-8.
   */
  inject(message: Buffer, from?: 'dnsmasq.service' | 'systemd-journald.service'): Promise<void>;
}

async function cgroupRoot(): Promise<string> {
  for (const root of [CGROUP2, '/sys/fs/cgroup']) {
    if (await readFile(join(root, 'cgroup.procs'), 'utf8').then(() => true, () => false)) {
      if (await readFile(join(root, 'cgroup.controllers'), 'utf8').then(() => true, () => false)) return root;
    }
  }
  throw new Error('no cgroup2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup');
}

export async function startJournalLab(lab: WatchLab, dnsmasqConf: string): Promise<JournalLab> {
  const cg = join(await cgroupRoot(), lab.prefix);
  const units = ['systemd-journald.service', 'dnsmasq.service'].map((u) => join(cg, 'system.slice', u));
  for (const u of units) await mkdir(u, { recursive: true });
  lab.defer(async () => {
    for (const d of [...units, join(cg, 'system.slice'), cg]) await rmdir(d).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  });
  const state = await lab.dir('jstate');
  const journal = await lab.dir('journal');
  const conf = join(state, 'dnsmasq.conf');
  await writeFile(conf, dnsmasqConf);
  // Into the cgroup that becomes the namespace's root, then unshare.
  const child = spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs"; shift; exec unshare --cgroup --mount --fork sh "$@"', 'sh', cg, SCRIPT, cg, state, journal, `/run/netns/${lab.srv}`, conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const pid = async (name: string): Promise<number | undefined> => {
    const t = await readFile(join(state, `${name}.pid`), 'utf8').catch(() => undefined);
    return t ? Number(t.trim()) : undefined;
  };
  lab.defer(async () => {
    for (const name of ['dnsmasq', 'journald']) {
      const p = await pid(name);
      if (p) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    if (!gone) await exited;
  });
  await waitFor('the journal lab', async () => {
    if (gone) throw new Error(`journal-lab.sh ended: ${stderr}`);
    return (await readFile(join(state, 'ready'), 'utf8').catch(() => '')).trim() === 'ready' ? true : undefined;
  }, 20_000);
  const machine = await waitFor('the journal file', async () => (await readdir(journal).catch(() => []))[0]);
  const file = join(journal, machine, 'system.journal');
  const journalctl = async (args: string[]): Promise<string> => String((await execa('journalctl', ['--file', file, '--no-pager', ...args])).stdout);
  await waitFor('dnsmasq in the journal', async () => ((await journalctl(['-u', 'dnsmasq', '-o', 'cat']).catch(() => '')).includes('TFTP root is') ? true : undefined), 20_000);
  const dnsmasqPid = (await pid('dnsmasq'))!;
  const journaldPid = (await pid('journald'))!;
  const inject = async (message: Buffer, from: 'dnsmasq.service' | 'systemd-journald.service' = 'dnsmasq.service'): Promise<void> => {
    await execa(
      'nsenter',
      [`--mount=/proc/${journaldPid}/ns/mnt`, '--', 'sh', '-c', 'echo $$ > "$1"; exec logger -t dnsmasq-tftp --id="$2" -u /dev/log', 'sh', join(cg, 'system.slice', from, 'cgroup.procs'), String(from === 'dnsmasq.service' ? dnsmasqPid : journaldPid)],
      { input: message },
    );
  };
  return { file, dnsmasqPid, journalctl, inject };
}
