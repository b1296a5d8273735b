/**
 * `bootPi`: power on one emulated Raspberry Pi 4 and let its EEPROM
 * bootloader walk BOOT_ORDER (boot-order.ts) over its local media
 * (local-boot.ts) and the network (network-boot.ts), against the real
 * servers on its LAN. Returns what happened: the mode that booted, every
 * TFTP request in order, the boot files as local files, timings and the log.
 * Many Pis may boot at once from one process: each has its own namespace
 * broker, its own MAC and its own address.
 */
import { mkdirSync } from 'node:fs';
import { boardOf, parseRevision } from './board.js';
import { describeBootOrder, modeName, walkBootOrder, type AttemptVerdict, type WalkStep } from './boot-order.js';
import { parseEepromConfig, resolveEeprom, type Eeprom } from './eeprom.js';
import { localBoot } from './local-boot.js';
import { BootLog } from './log.js';
import { NamespaceSockets } from './netns-sockets.js';
import { networkBoot } from './network-boot.js';
import { TftpFaults } from './tftp-session.js';
import type { BootAttempt, BootFiles, BootOptions, BootResult, FirmwareFailurePolicy, NetbootFailure, TftpRequestRecord } from './types.js';

export const DEFAULT_MAX_ROUNDS = 3;
export const DEFAULT_TFTP_BLKSIZE = 1468;

function normalizeSerial(serial: string): { serial: string; serial8: string } {
  const s = serial.trim().toLowerCase().replace(/^0x/, '');
  if (!/^([0-9a-f]{8}|[0-9a-f]{16})$/.test(s)) throw new Error(`serial ${JSON.stringify(serial)} must be 16 hex digits (as /proc/cpuinfo shows it) or its last 8`);
  return { serial: s.padStart(16, '0'), serial8: s.slice(-8) };
}

function normalizeMac(mac: string): string {
  const m = mac.trim().toLowerCase().replace(/-/g, ':');
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m)) throw new Error(`${JSON.stringify(mac)} is not a MAC address`);
  return m;
}

const LOCAL_MODES: Record<number, { key: 'sd' | 'usb' | 'nvme'; name: 'SD' | 'USB' | 'NVME' }> = {
  0x0: { key: 'sd', name: 'SD' },
  0x1: { key: 'sd', name: 'SD' },
  0x4: { key: 'usb', name: 'USB' },
  0x5: { key: 'usb', name: 'USB' },
  0x6: { key: 'nvme', name: 'NVME' },
};

export async function bootPi(o: BootOptions): Promise<BootResult> {
  const startedAt = new Date().toISOString();
  const { serial, serial8 } = normalizeSerial(o.pi.serial);
  const mac = normalizeMac(o.pi.mac);
  const name = o.pi.name ?? serial8;
  const log = new BootLog(name, o.onLog);
  const board = boardOf(o.pi.revision);
  const revision = parseRevision(o.pi.revision);
  const attempts: BootAttempt[] = [];
  const records: TftpRequestRecord[] = [];
  let bytesReceived = 0;
  let dhcpMs: number | undefined;
  let tftpMs: number | undefined;

  const base = {
    pi: { name, mac, serial, serial8, revision: board.revision, board: board.name },
    attempts,
    requests: records,
  };
  const finish = (r: Pick<BootResult, 'outcome' | 'summary' | 'bootOrder'> & Partial<BootResult>): BootResult => {
    log.line(`RESULT: ${r.outcome}: ${r.summary}`);
    return {
      ...base,
      ...r,
      timings: { startedAt, totalMs: log.now(), ...(dhcpMs !== undefined && { dhcpMs }), ...(tftpMs !== undefined && { tftpMs }), bytesReceived },
      log: log.lines,
    };
  };

  log.line(`RPi: ${board.name} rev ${board.revision} serial ${serial} MAC ${mac}`);
  if (!board.supported) return finish({ outcome: 'unsupported', summary: board.unsupportedReason!, bootOrder: '' });

  let eeprom: Eeprom;
  if (typeof o.eeprom === 'string') {
    const parsed = await parseEepromConfig(o.eeprom, board, serial8);
    eeprom = resolveEeprom(parsed.settings, parsed.notes);
  } else eeprom = resolveEeprom(o.eeprom ?? {});
  for (const note of eeprom.notes) log.line(`EEPROM: ${note}`);
  const order = describeBootOrder(eeprom.bootOrder);
  log.line(`EEPROM: BOOT_ORDER ${eeprom.bootOrderText} = ${order}`);
  const policy: FirmwareFailurePolicy = o.onFirmwareFailure ?? (eeprom.rebootOnFatalError || eeprom.bootWatchdogTimeout > 0 ? 'reset' : 'halt');
  mkdirSync(o.outDir, { recursive: true });

  let sockets: NamespaceSockets | undefined = o.sockets;
  const faults = o.faults ? new TftpFaults(o.faults) : undefined;
  let booted: { mode: BootResult['mode']; files?: BootFiles; network?: BootResult['network'] } | undefined;
  let halted: { mode: BootResult['mode']; failure: NetbootFailure; network?: BootResult['network'] } | undefined;
  const firmwareVerdict = (): AttemptVerdict => (policy === 'halt' ? 'halted' : policy === 'reset' ? 'reset' : 'failed');
  const firmwareWords = { halt: 'the firmware stops (error pattern); the Pi stays here', reset: 'the Pi resets and starts BOOT_ORDER again', 'next-mode': 'the walk goes on to the next mode (onFirmwareFailure: next-mode)' }[policy];

  const attempt = async (step: WalkStep): Promise<AttemptVerdict> => {
    const mode = step.effectiveMode;
    const startedMs = log.now();
    const record = (a: Omit<BootAttempt, 'round' | 'mode' | 'modeName' | 'startedMs' | 'durationMs'>): void => {
      attempts.push({ round: step.round, mode, modeName: modeName(mode), startedMs, durationMs: log.now() - startedMs, ...a });
    };
    log.line(`Boot mode: ${modeName(mode)} (0x${mode.toString(16)}) round ${step.round}${step.try > 1 ? ` retry ${step.try - 1}` : ''}`);
    if (o.signal?.aborted) throw new Error('aborted');

    const local = LOCAL_MODES[mode];
    if (local) {
      const r = await localBoot(o.media?.[local.key], local.name, { round: step.round, pi: o.pi, board, serial8, outDir: o.outDir, log });
      if (r.verdict === 'booted') {
        record({ outcome: 'booted', reason: r.reason });
        booted = { mode: local.name, files: r.files };
        return 'booted';
      }
      if (r.verdict === 'absent') {
        record({ outcome: 'absent', reason: r.reason });
        log.line(`${local.name}: ${r.reason}`);
        return 'absent';
      }
      const verdict = firmwareVerdict();
      record({ outcome: verdict === 'failed' ? 'failed' : verdict, reason: `${r.reason}: ${firmwareWords}`, failure: r.failure });
      if (verdict === 'halted') halted = { mode: local.name, failure: r.failure! };
      return verdict;
    }
    switch (mode) {
      case 0x2: {
        if (!o.nic) {
          record({ outcome: 'failed', reason: 'no network interface given (BootOptions.nic)' });
          return 'failed';
        }
        if (!sockets) {
          sockets = await NamespaceSockets.open(o.nic.netns);
          log.line(`NET: socket broker started in ${o.nic.netns} (pid ${sockets.pid})`);
        }
        const r = await networkBoot({
          nic: o.nic,
          sockets,
          mac,
          serial8,
          revision,
          board,
          eeprom,
          outDir: o.outDir,
          blksize: o.tftpBlockSize ?? DEFAULT_TFTP_BLKSIZE,
          retransmitMs: o.tftpRetransmitMs ?? 1000,
          broadcastFlag: o.dhcpBroadcastFlag ?? true,
          log,
          records,
          ...(faults && { faults }),
          signal: o.signal,
        });
        bytesReceived += r.bytes;
        dhcpMs = r.dhcpMs;
        tftpMs = r.tftpMs;
        const network = r.address && r.tftpServer && r.dhcp ? { address: r.address, tftpServer: r.tftpServer, prefix: r.prefix ?? '', dhcp: r.dhcp } : undefined;
        const common = { ...(r.dhcp && { dhcp: r.dhcp }), ...(r.prefix !== undefined && { prefix: r.prefix }), ...(r.failure && { failure: r.failure }) };
        if (r.ok) {
          record({ outcome: 'booted', reason: `loaded everything from ${r.tftpServer} (${r.prefix ? `prefix ${r.prefix}` : 'no prefix'})`, ...common });
          booted = { mode: 'NETWORK', files: r.files, network };
          return 'booted';
        }
        if (r.failure?.stage === 'firmware') {
          const verdict = firmwareVerdict();
          record({ outcome: verdict === 'failed' ? 'failed' : verdict, reason: `${r.reason}; ${firmwareWords}`, ...common });
          if (verdict === 'halted') halted = { mode: 'NETWORK', failure: r.failure, network };
          return verdict;
        }
        record({ outcome: 'failed', reason: r.reason, ...common });
        return 'failed';
      }
      case 0x3:
        record({ outcome: 'stopped', reason: 'RPIBOOT waits for a USB host (rpiboot) and has no timeout' });
        return 'stopped';
      case 0x7:
        record({ outcome: 'not-emulated', reason: 'HTTP boot is not emulated' });
        return 'not-emulated';
      case 0xe:
        record({ outcome: 'stopped', reason: 'STOP' });
        return 'stopped';
      default:
        record({ outcome: 'absent', reason: `mode 0x${mode.toString(16)} is not a boot mode` });
        return 'absent';
    }
  };

  try {
    const walk = await walkBootOrder({
      order: eeprom.bootOrder,
      maxRounds: o.maxRounds ?? DEFAULT_MAX_ROUNDS,
      retries: (m) => (m === 0x2 ? eeprom.netBootMaxRetries : m === 0x0 || m === 0x1 ? eeprom.sdBootMaxRetries : 0),
      attempt,
    });
    const bootOrder = eeprom.bootOrderText;
    if (walk.outcome === 'booted' && booted) {
      const where = booted.mode === 'NETWORK' && booted.network ? ` from ${booted.network.tftpServer} (${booted.network.prefix ? `prefix ${booted.network.prefix}` : 'no prefix'})` : '';
      return finish({ outcome: 'booted', mode: booted.mode, summary: `booted from ${booted.mode}${where}`, bootOrder, ...(booted.files && { files: booted.files }), ...(booted.network && { network: booted.network }) });
    }
    if (walk.outcome === 'halted' && halted) {
      return finish({ outcome: 'halted', mode: halted.mode, summary: `${halted.mode}: the firmware could not load ${halted.failure.message}; ${firmwareWords}`, bootOrder, failure: halted.failure, ...(halted.network && { network: halted.network }) });
    }
    const lastFailure = [...attempts].reverse().find((a) => a.failure)?.failure;
    const tried = attempts.map((a) => `${a.modeName}: ${a.reason}`).join('; ');
    return finish({ outcome: walk.outcome === 'gave-up' ? 'gave-up' : 'stopped', summary: `${walk.reason}. Tried: ${tried}`, bootOrder, ...(lastFailure && { failure: lastFailure }) });
  } catch (err) {
    if (o.signal?.aborted) return finish({ outcome: 'aborted', summary: 'the boot was aborted', bootOrder: eeprom.bootOrderText });
    throw err;
  } finally {
    if (sockets !== o.sockets) await sockets?.close();
  }
}
