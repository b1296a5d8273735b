/**
 * Helpers for the VM lab's end-to-end tests: the boot server's view of an
 * export (owner and mode as the NFS server stores them), what the real TFTP
 * server answered the bootloader, pinet doctor's JSON report, and an NFS root
 * tree for a Pi (the lab image's root file system plus the Pi's own fstab, as
 * a user copies a Pi's root onto the NFS server).
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootResult, TftpRequestRecord } from '../netboot/index.js';
import { sh } from './lab.js';
import type { VmLab } from './lab.js';
import { pinetIn } from './pinet-cli.js';
import type { VmPi } from './vm-pi.js';

export interface Owner {
  uid: number;
  gid: number;
  mode: string;
}

export async function ownerOf(path: string): Promise<Owner | null> {
  try {
    const s = await stat(path);
    return { uid: s.uid, gid: s.gid, mode: (s.mode & 0o7777).toString(8).padStart(4, '0') };
  } catch {
    return null;
  }
}

/** The bootloader's request for `name` under the Pi's prefix in a boot (the last one of that name). */
export function tftpRequest(boot: BootResult | undefined, name: string): TftpRequestRecord | undefined {
  return boot?.requests.filter((r) => r.file === name || r.file.endsWith(`/${name}`)).pop();
}

export interface DoctorCheck {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  finding: string;
  evidence?: string[];
}

export interface DoctorReport {
  groups: Array<{ name: string; checks: DoctorCheck[] }>;
}

/** `pinet doctor --json` run inside the LAN namespace (its live TFTP check reaches the real dnsmasq). */
export async function doctor(lab: VmLab, args: string[]): Promise<{ code: number; report: DoctorReport; text: string }> {
  const r = await pinetIn(lab, ['doctor', '--json', '-F', lab.sshConfigLan, '--tftp-server', lab.serverIp, '--dnsmasq-conf', lab.bootDnsmasq!.confFile, ...args]);
  let report: DoctorReport;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    throw new Error(`pinet doctor did not print JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, text: `${r.stdout}\n${r.stderr}` };
}

/** Every check with this id whose finding or evidence mentions `about` (a Pi's directory, a file). */
export function checksAbout(report: DoctorReport, id: string, about?: string): DoctorCheck[] {
  return report.groups
    .flatMap((g) => g.checks.map((c) => ({ ...c, group: g.name })))
    .filter((c) => c.id === id && (about === undefined || c.group.includes(about) || c.finding.includes(about) || (c.evidence ?? []).some((e) => e.includes(about))));
}

/** An NFS root for `pi` at `dir`: the lab image's root file system and the Pi's /etc/fstab now. */
export async function makeNfsRoot(lab: VmLab, pi: VmPi, dir: string): Promise<void> {
  await sh('cp', ['-a', '--reflink=auto', `${lab.image.rootfs}/.`, `${dir}/`]);
  await writeFile(join(dir, 'etc/fstab'), await pi.run('cat /etc/fstab'));
}
