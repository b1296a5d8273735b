/**
 * `enroll --reboot`: reboot a Pi, wait until it answers SSH again, and
 * report how it came back (what its boot partition is mounted from, the
 * bootloader config now active).
 *
 * When dnsmasq's log can be followed (netboot-watch.ts), the Pi's network
 * boot is shown live while it comes back (its stage, the bytes sent), and
 * the report says how it booted: "netbooted in N s from <export>/<dir>";
 * or the verdict that ended the boot (a file the TFTP server cannot read,
 * a missing file: the Pi's firmware halts, so pinet stops waiting); or
 * that the log has no line from it, with the likely reason (its
 * BOOT_ORDER tries a local disk first, or its requests do not reach this
 * dnsmasq). Without the log, only SSH tells.
 */
import { formatError } from '../../errors.js';
import { gather, type Detected } from '../../host/detect.js';
import { explainBootOrder, localBeforeNetwork, modeName, networkPosition, parseBootOrder, type BootOrder } from '../../pi/boot-order.js';
import { connect, type ConnectOptions, type RemoteHost } from '../../remote/index.js';
import { startScript } from '../../remote/script.js';
import type { InventoryEntry } from '../../server/state.js';
import { human } from '../../ui/progress.js';
import { STAGE_TEXT, type Stage, type WatchEvent } from '../watch/events.js';
import type { BootTracker, NetbootWatch } from './netboot-watch.js';

/** What dnsmasq's log showed of the Pi's network boot after the reboot. */
export interface NetbootReport {
  /**
   * netbooted: all boot files sent, then SSH answered; failed: a verdict ended the boot;
   * not-seen: the log has no line from the Pi; incomplete: seen, but its boot did not get to the end.
   */
  outcome: 'netbooted' | 'failed' | 'not-seen' | 'incomplete';
  /** The log that was followed. */
  log: string;
  /** From the Pi's first packet to SSH answering. */
  seconds?: number;
  /** `<tftp-root>/<dir>`. */
  from?: string;
  stage?: Stage;
  files?: number;
  bytes?: number;
  /** The worst verdict, in watch's and doctor's words. */
  verdict?: { id: string; level: string; finding: string; fix?: string; evidence?: string[] };
}

export interface RebootReport {
  ok: boolean;
  detail: string;
  bootMount?: string;
  bootOrder?: string;
  netboot?: NetbootReport;
}

export interface RebootWatch {
  watch: NetbootWatch;
  /** The Pi as the inventory holds it after enroll (serial, directory, MAC, BOOT_ORDER). */
  entry: InventoryEntry;
}

export interface RebootOptions {
  conn: ConnectOptions;
  timeoutMs: number;
  /** What the progress view shows. */
  step: (s: string) => void;
  /** Bytes sent by TFTP so far (the progress view). */
  bytes?: (n: number) => void;
  net?: RebootWatch;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Verdict = Extract<WatchEvent, { type: 'verdict' }>;

export async function rebootAndWait(remote: RemoteHost, host: string, o: RebootOptions): Promise<RebootReport> {
  const net = o.net;
  const tracker = net?.watch.track(net.entry);
  // The runner shows the task's own title ("rebooting") first.
  let title = 'rebooting';
  const step = (s: string): void => {
    if (s !== title) o.step((title = s));
  };
  const off = tracker?.onChange(() => {
    const e = tracker.events.at(-1)!;
    if (e.type === 'dhcp') step(`network boot: ${STAGE_TEXT.dhcp}`);
    else if (e.type === 'stage') step(e.stage === 'loaded' ? 'network boot: boot files sent, waiting for SSH' : `network boot: ${STAGE_TEXT[e.stage]}`);
    else if (e.type === 'verdict' && e.level !== 'info') step(`network boot: ${e.finding}`);
    else if (e.type === 'file' && e.outcome === 'sent') o.bytes?.(net!.watch.row(tracker)?.bytes ?? 0);
  });
  try {
    await startScript(remote, 'reboot', [], { sudo: true, step: 'rebooting', timeoutMs: 15_000 })
      .then(async (s) => {
        s.stdout.resume();
        await s.done;
      })
      .catch(() => undefined);
    await remote.close().catch(() => undefined);
    const deadline = Date.now() + o.timeoutMs;
    const failed: Promise<Verdict> = tracker ? tracker.failed() : new Promise(() => undefined);
    const halted = (v: Verdict): RebootReport => failedBoot(v, net!, tracker!);
    // Give the Pi time to go down before the first attempt (a failing network boot ends the wait).
    const first = await Promise.race([sleep(3000).then(() => undefined), failed]);
    if (first) return halted(first);
    let last: unknown;
    while (Date.now() < deadline) {
      if (!tracker?.events.length) step('waiting for the Pi to come back');
      const attempt = backUp(host, o.conn);
      const r = await Promise.race([attempt, failed]);
      if ('type' in r) {
        void attempt.then((a) => ('remote' in a ? a.remote.close().catch(() => undefined) : undefined));
        return halted(r);
      }
      if ('detected' in r) {
        await r.remote.close().catch(() => undefined);
        return await cameBack(r.detected, host, net, tracker);
      }
      last = r.error;
      const again = await Promise.race([sleep(2000).then(() => undefined), failed]);
      if (again) return halted(again);
    }
    return timedOut(o.timeoutMs, last, net, tracker);
  } finally {
    off?.();
    if (tracker) net!.watch.untrack(tracker);
  }
}

/** One attempt to reach the Pi and read it. */
async function backUp(host: string, conn: ConnectOptions): Promise<{ detected: Detected; remote: RemoteHost } | { error: unknown }> {
  let again: RemoteHost | undefined;
  try {
    again = await connect(host, { ...conn, defaultConnectTimeoutMs: 5000 });
    return { detected: await gather(again, host), remote: again };
  } catch (err) {
    await again?.close().catch(() => undefined);
    return { error: err };
  }
}

/** The Pi answered SSH: how it came back, and how it booted. */
async function cameBack(d: Detected, host: string, net: RebootWatch | undefined, tracker: BootTracker | undefined): Promise<RebootReport> {
  const bp = d.facts.bootPartition.known ? d.facts.bootPartition.value : undefined;
  const bo = d.facts.bootloader.known && d.facts.bootloader.value.bootOrder.ok ? d.facts.bootloader.value.bootOrder : undefined;
  const mount = bp?.mounted ? `${bp.mountpoint} from ${bp.mounted.source} (${bp.mounted.fstype})` : `${bp?.mountpoint ?? 'boot partition'} not mounted`;
  const facts = {
    ...(bp?.mounted ? { bootMount: `${bp.mounted.source} (${bp.mounted.fstype})` } : {}),
    ...(bo ? { bootOrder: bo.explanation } : {}),
  };
  const back = `back up; ${mount}; bootloader ${bo?.explanation ?? 'unknown'}`;
  if (!net || !tracker) return { ok: true, detail: back, ...facts };
  // What dnsmasq wrote before SSH answered may not be read yet.
  await net.watch.settle();
  const log = describe(net);
  if (tracker.failure) return { ...failedBoot(tracker.failure, net, tracker), ...facts };
  if (tracker.events.length === 0) {
    const reason = notSeenReason(bo?.order ?? orderOf(net.entry));
    return { ok: false, detail: `came back, but not over the network: ${silentLog(net)}; ${reason}; ${back}`, ...facts, netboot: { outcome: 'not-seen', log } };
  }
  const booted = net.watch.sshUp(tracker, host);
  const row = net.watch.row(tracker);
  const verdict = worstVerdict(tracker);
  const seen = { log, ...(row && { stage: row.stage, files: row.files, bytes: row.bytes }), ...(verdict && { verdict: verdictOf(verdict) }) };
  if (booted) {
    const secs = booted.seconds ?? 0;
    return { ok: true, detail: `netbooted in ${Math.round(secs)} s${booted.from ? ` from ${booted.from}` : ''}; ${back}`, ...facts, netboot: { outcome: 'netbooted', seconds: secs, ...(booted.from && { from: booted.from }), ...seen, stage: 'booted' } };
  }
  const stage = row ? STAGE_TEXT[row.stage] : 'unknown';
  return {
    ok: false,
    detail: `came back, but its network boot in the log stopped at "${stage}"${verdict ? ` (${verdict.finding})` : ''}; ${back}`,
    ...facts,
    netboot: { outcome: 'incomplete', ...seen },
  };
}

/** A verdict ended the boot: the Pi's firmware halts there, so it is not waited for. */
function failedBoot(v: Verdict, net: RebootWatch, tracker: BootTracker): RebootReport {
  const row = net.watch.row(tracker);
  return {
    ok: false,
    detail: `did not netboot: ${v.finding}`,
    netboot: { outcome: 'failed', log: describe(net), ...(row && { stage: row.stage, files: row.files, bytes: row.bytes }), verdict: verdictOf(v) },
  };
}

function timedOut(timeoutMs: number, last: unknown, net: RebootWatch | undefined, tracker: BootTracker | undefined): RebootReport {
  const base = `did not come back within ${Math.round(timeoutMs / 1000)} s`;
  const err = last ? ` (${formatError(last)})` : '';
  if (!net || !tracker) return { ok: false, detail: `${base}${err}` };
  const log = describe(net);
  if (tracker.events.length === 0) {
    return { ok: false, detail: `${base}: ${silentLog(net)}; ${notSeenReason(orderOf(net.entry))}`, netboot: { outcome: 'not-seen', log } };
  }
  const row = net.watch.row(tracker);
  const verdict = worstVerdict(tracker);
  const where = row ? `its network boot stopped at "${STAGE_TEXT[row.stage]}" after ${row.files} file${row.files === 1 ? '' : 's'} (${human(row.bytes)})` : 'its network boot did not finish';
  return {
    ok: false,
    detail: `${base}: ${where}${verdict ? `: ${verdict.finding}` : row?.stage === 'loaded' ? ', and SSH did not answer after the boot files were sent' : ''}`,
    netboot: { outcome: 'incomplete', log, ...(row && { stage: row.stage, files: row.files, bytes: row.bytes }), ...(verdict && { verdict: verdictOf(verdict) }) },
  };
}

function describe(net: RebootWatch): string {
  const s = net.watch.source;
  return s.kind === 'file' ? s.path : s.kind === 'journal' ? `the journal of ${s.unit}.service` : 'standard input';
}

function silentLog(net: RebootWatch): string {
  const e = net.entry;
  const who = [e.mac ? `MAC ${e.mac}` : undefined, `directory ${e.dir}/`].filter(Boolean).join(', ');
  return `dnsmasq's log (${describe(net)}) has no line from it (${who}) since the reboot${net.watch.broken ? ` (${net.watch.broken})` : ''}`;
}

function orderOf(e: InventoryEntry): BootOrder | undefined {
  const p = e.bootOrder?.after ? parseBootOrder(e.bootOrder.after) : undefined;
  return p?.ok ? p.order : undefined;
}

/** The medium each local boot mode boots from. */
const MEDIUM: Readonly<Record<number, string>> = { 0x0: 'SD card', 0x1: 'SD card', 0x4: 'USB disk', 0x5: 'USB disk', 0x6: 'NVMe SSD' };
const and = (xs: string[]): string => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}` : (xs[0] ?? ''));
const or = (xs: string[]): string => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}` : (xs[0] ?? ''));

/** Why a Pi asks this dnsmasq nothing, from its BOOT_ORDER. */
function notSeenReason(order: BootOrder | undefined): string {
  if (order) {
    const pos = networkPosition(order);
    const explained = explainBootOrder(order);
    if (pos.index === -1 || !pos.reachable) return `its BOOT_ORDER never tries NETWORK (${explained})`;
    const local = localBeforeNetwork(order);
    if (local.length) {
      const modes = [...new Set(local.map((m) => modeName(m)))];
      const media = [...new Set(local.map((m) => MEDIUM[m] ?? modeName(m)))];
      return `its BOOT_ORDER tries ${and(modes)} before NETWORK (${explained}): a bootable ${or(media)} wins over the network (remove it, or pinet enroll --boot-order net-first)`;
    }
  }
  return "its PXE requests did not reach this dnsmasq: is it on the boot server's LAN (no other VLAN, no switch dropping DHCP broadcasts), and does dnsmasq answer on that interface?";
}

function worstVerdict(t: BootTracker): Verdict | undefined {
  const vs = t.events.filter((e): e is Verdict => e.type === 'verdict' && e.level !== 'info');
  return vs.find((v) => v.level === 'fail') ?? vs[0];
}

function verdictOf(v: Verdict): NonNullable<NetbootReport['verdict']> {
  return { id: v.id, level: v.level, finding: v.finding, ...(v.fix && { fix: v.fix }), ...(v.evidence && { evidence: v.evidence }) };
}
