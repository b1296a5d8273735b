/**
 * bench/enroll: `pinet enroll` against what users would otherwise run (the
 * baselines in ../shared/bench-anchors: a minimal shell script and an Ansible
 * playbook), each on a fresh fake fleet, in the same run. Issue 4 targets:
 *  * 1 Pi: pinet <= 1.2x the shell script;
 *  * 50 Pis (--concurrency 50): pinet <= the shell script with xargs -P 50,
 *    and <= 1/4 of the Ansible playbook;
 *  * a second, no-op run on the 50 enrolled Pis copies no file and takes
 *    <= 1/2 of the first run.
 *
 *   sudo node --import tsx bench/enroll.ts [runs] [pis]   (default 3 runs, 50 Pis)
 * The Ansible baseline needs the Debian packages `ansible` and `rsync`; without ansible it is skipped.
 *
 * PINET_BENCH_BEFORE=<older checkout>/bin/pinet.js adds that build as a
 * fourth tool, run interleaved with the others on fresh fleets, and the
 * ratios of this pinet to it (a change must not make enroll slower):
 *   git worktree add /tmp/pinet-before <commit> && (cd /tmp/pinet-before && npm ci)
 *   sudo PINET_BENCH_BEFORE=/tmp/pinet-before/bin/pinet.js npm run bench:enroll
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet, type Fleet } from '../test/fleet/fleet.js';
import { median, report, roundOrder, timeIt } from './lib.js';

const runs = Number(process.argv[2] ?? 3);
const many = Number(process.argv[3] ?? 50);
const PINET = fileURLToPath(new URL('../bin/pinet.js', import.meta.url));
// The baselines users would otherwise run (the steering repository's shared/bench-anchors).
const ANCHORS = process.env.PINET_BENCH_ANCHORS ?? fileURLToPath(new URL('../../shared/bench-anchors/', import.meta.url));
if (!existsSync(join(ANCHORS, 'shell-enroll.sh'))) {
  console.error(`bench/enroll: no baselines in ${ANCHORS}; set PINET_BENCH_ANCHORS to the bench-anchors directory`);
  process.exit(2);
}
const NFS = 'nfs-host:/picluster-boot';
const hasAnsible = (await execa('sh', ['-c', 'command -v ansible-playbook'], { reject: false })).exitCode === 0;
const BEFORE = process.env.PINET_BENCH_BEFORE;
if (BEFORE !== undefined && !existsSync(BEFORE)) {
  console.error(`bench/enroll: PINET_BENCH_BEFORE=${BEFORE} does not exist (the older checkout's bin/pinet.js, built)`);
  process.exit(2);
}

interface Trial {
  fleet: Fleet;
  exp: string;
  state: string;
  names: string[];
  scratch: string;
}

async function freshFleet(n: number): Promise<Trial> {
  const scratch = await mkdtemp(join(tmpdir(), 'pinet-bench-'));
  await chmod(scratch, 0o755);
  const exp = join(scratch, 'export');
  await execa('mkdir', ['-p', exp]);
  const names = Array.from({ length: n }, (_, i) => `pi-${String(i + 1).padStart(2, '0')}`);
  const fleet = await startFleet({ pis: names.map((name) => ({ name, variant: 'ubuntu-2404-pi4' as const })) });
  return { fleet, exp, state: join(scratch, 'state'), names, scratch };
}

async function done(t: Trial): Promise<void> {
  await t.fleet.stop();
  await rm(t.scratch, { recursive: true, force: true });
}

const enrollWith = (bin: string) => (t: Trial) =>
  timeIt(process.execPath, [bin, 'enroll', '-F', t.fleet.sshConfig, '--nfs', NFS, '--export-dir', t.exp, '--state-dir', t.state, '--yes', '--json', '--concurrency', String(t.names.length), ...t.names]);

const tools = {
  pinet: enrollWith(PINET),
  before: enrollWith(BEFORE ?? PINET),
  shell: (t: Trial) =>
    t.names.length === 1
      ? timeIt(join(ANCHORS, 'shell-enroll.sh'), [t.fleet.sshConfig, t.names[0]!, t.exp, NFS])
      : timeIt('sh', ['-c', `xargs -P ${t.names.length} -I{} "$0" "$1" {} "$2" "$3"`, join(ANCHORS, 'shell-enroll.sh'), t.fleet.sshConfig, t.exp, NFS], { input: `${t.names.join('\n')}\n` }),
  ansible: async (t: Trial) => {
    const inv = join(t.scratch, 'inventory.ini');
    await writeFile(inv, `[pis]\n${t.names.join('\n')}\n`);
    return timeIt('ansible-playbook', ['-i', inv, join(ANCHORS, 'enroll.yml')], {
      env: {
        ANSIBLE_CONFIG: join(ANCHORS, 'ansible.cfg'),
        ANSIBLE_SSH_ARGS: `-F ${t.fleet.sshConfig} -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=${t.scratch}/cp-%C`,
        EXP: t.exp,
        NFS,
        ANSIBLE_LOCAL_TEMP: join(t.scratch, 'ansible-tmp'),
        ANSIBLE_HOME: join(t.scratch, 'ansible-home'),
      },
    });
  },
};

/** Each tool on its own fresh fleet, interleaved, `runs` times; medians. */
async function measure(n: number, which: (keyof typeof tools)[]): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(which.map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const tool of roundOrder(which, i)) {
      const t = await freshFleet(n);
      try {
        times[tool]!.push(await tools[tool](t));
      } finally {
        await done(t);
      }
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

let ok = true;
const base: (keyof typeof tools)[] = hasAnsible ? ['pinet', 'shell', 'ansible'] : ['pinet', 'shell'];
if (!hasAnsible) console.log('ansible-playbook not found (Debian package ansible): the Ansible baseline is skipped');
if (BEFORE) {
  base.push('before');
  console.log(`before: ${BEFORE}`);
}
const vsBefore: [string, string, string, number][] = BEFORE ? [['pinet / before (this build against the older one)', 'pinet', 'before', 1.0]] : [];

const one = await measure(1, base);
ok = report('enroll 1 Pi (fresh fleet each run)', one, [['pinet / shell', 'pinet', 'shell', 1.2], ...vsBefore]) && ok;

const fifty = await measure(many, base);
const r50: [string, string, string, number][] = [['pinet / shell (xargs -P)', 'pinet', 'shell', 1.0], ...vsBefore];
if (hasAnsible) r50.push(['pinet / Ansible', 'pinet', 'ansible', 0.25]);
ok = report(`enroll ${many} Pis, --concurrency ${many}`, fifty, r50) && ok;

// The second run on enrolled Pis: a no-op that copies nothing.
const first: number[] = [];
const second: number[] = [];
let copied = 0;
for (let i = 0; i < runs; i++) {
  const t = await freshFleet(many);
  try {
    first.push(await tools.pinet(t));
    const t0 = performance.now();
    const r = await execa(process.execPath, [PINET, 'enroll', '-F', t.fleet.sshConfig, '--nfs', NFS, '--export-dir', t.exp, '--state-dir', t.state, '--yes', '--json', '--concurrency', String(many), ...t.names], { reject: false });
    second.push(performance.now() - t0);
    const doc = JSON.parse(String(r.stdout)) as { plan: { upToDate: boolean; targets: { changes: { id: string }[] }[] } };
    copied += doc.plan.targets.filter((x) => x.changes.some((c) => c.id === 'copy')).length;
    if (!doc.plan.upToDate) console.log('  note: the second run was not a no-op');
  } finally {
    await done(t);
  }
}
ok = report(`second run on ${many} enrolled Pis`, { 'first run': median(first), 'second run (no-op)': median(second) }, [['second / first', 'second run (no-op)', 'first run', 0.5]]) && ok;
console.log(`  files copied by the second runs: ${copied === 0 ? 'none' : `${copied} Pis copied files`}`);
process.exitCode = ok && copied === 0 ? 0 : 1;
