/**
 * Run the built pinet CLI (bin/pinet.js, as a user does) for lab tests: on
 * the host (SSH to the VMs through the relays: `lab.sshConfig`) or inside
 * the lab's LAN namespace (`inLan`: where the boot server's address is, so
 * doctor's live TFTP check reaches the real dnsmasq; VMs by their LAN
 * addresses: `lab.sshConfigLan`).
 */
import { execa } from 'execa';
import { PINET } from './lab.js';
import type { VmLab } from './lab.js';

export interface PinetRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export async function pinetIn(lab: VmLab | null, args: string[], opts: { timeoutMs?: number } = {}): Promise<PinetRun> {
  const argv = [process.execPath, PINET, ...args];
  const full = lab ? lab.inLan(argv) : argv;
  const t = Date.now();
  const r = await execa(full[0]!, full.slice(1), { env: { NO_COLOR: '1' }, input: '', reject: false, timeout: opts.timeoutMs ?? 300_000 });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms: Date.now() - t };
}
