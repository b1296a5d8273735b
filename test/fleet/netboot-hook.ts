/**
 * Fake-fleet Pis that really network-boot when they reboot.
 *
 * A fleet Pi reboots by restarting its namespaces (assets/init.sh): its
 * "bootloader" flashes a staged EEPROM update, then, with this hook
 * installed, waits at a gate. The hook plays the Pi's real bootloader
 * for it: test/netboot's emulator (`bootPi`) with the Pi's identity
 * (serial, MAC, revision), its own network namespace and address, the
 * EEPROM config it has just flashed, and its SD card as the local medium,
 * against whatever dnsmasq serves the fleet's LAN. The emulator walks
 * BOOT_ORDER as the Pi would: a NETWORK boot leaves real lines in
 * dnsmasq's log and fetches the real files from the export. The gate
 * then opens ("boot ...": init goes on to mount the boot partition and
 * start sshd) or stays shut ("halt ...": the Pi stops there, as its
 * firmware does after a fatal error, and never answers SSH).
 *
 * The gate is two FIFOs in the Pi's state directory: init writes the boot
 * number to `netboot.ready` (this process holds it open, so that never
 * blocks) and reads its verdict from `netboot.gate`.
 *
 * ```ts
 * const hook = await installNetbootHook(fleet, { pis: ['pi-01'], eeprom: 'DHCP_TIMEOUT=5000\nDHCP_REQ_TIMEOUT=1000\n' });
 * await fleet.pi('pi-01').reboot();                // its network boot happens on the way
 * const boot = await hook.waitFor('pi-01');         // { verdict, result: BootResult }
 * await hook.remove();
 * ```
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bootPi, type BootMedia, type BootResult } from '../netboot/index.js';
import type { FakePi } from './fake-pi.js';
import type { Fleet } from './fleet.js';

const run = promisify(execFile);

export interface NetbootHookOptions {
  /** The Pis that netboot when they reboot (default: every Pi with an EEPROM bootloader). */
  pis?: string[];
  /** Settings appended to the Pi's EEPROM config for the emulator, e.g. short DHCP timeouts for a test that expects no answer. */
  eeprom?: string;
  /** Runs before each emulated boot (a test breaks something here: a 0600 kernel, a pulled cable). */
  before?: (pi: FakePi, boot: number) => Promise<void> | void;
  /** Passes over BOOT_ORDER before the emulated Pi gives up (a real one with RESTART loops forever). Default 1. */
  maxRounds?: number;
}

/** One boot the hook played. */
export interface HookBoot {
  pi: string;
  /** init's boot number. */
  boot: number;
  /** What the gate answered: "boot NETWORK: …" or "halt: …". */
  verdict: string;
  result?: BootResult;
  error?: string;
}

interface Gate {
  pi: FakePi;
  ready: string;
  gate: string;
  socket: net.Socket;
  queue: Promise<void>;
}

export class NetbootHook {
  readonly boots: HookBoot[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly gates: Gate[],
    private readonly scratch: string,
  ) {}

  /** The `count`-th boot of this Pi the hook played (1 = the first since it was installed). */
  waitFor(pi: string, count = 1, timeoutMs = 60_000): Promise<HookBoot> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const mine = this.boots.filter((b) => b.pi === pi);
        if (mine.length < count) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(mine[count - 1]!);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${pi}: no network boot #${count} within ${timeoutMs} ms (the hook played ${this.boots.filter((b) => b.pi === pi).length})`));
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }

  record(b: HookBoot): void {
    this.boots.push(b);
    for (const w of [...this.waiters]) w();
  }

  /** Stop netbooting: later reboots boot as before. A Pi waiting at the gate is let through. */
  async remove(): Promise<void> {
    await Promise.all(this.gates.map((g) => g.queue));
    for (const g of this.gates) {
      g.socket.destroy();
      await rm(g.ready, { force: true });
      await openGate(g.gate, 'boot: the netboot hook was removed', 200).catch(() => undefined);
      await rm(g.gate, { force: true });
    }
    await rm(this.scratch, { recursive: true, force: true });
  }
}

/** Write the verdict to init waiting on the gate (it has it open for reading by now); never blocks. */
async function openGate(path: string, verdict: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      // ENXIO: nobody reads it yet (init is about to open it).
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    try {
      writeSync(fd, `${verdict.replace(/\s*\n\s*/g, ' ')}\n`);
    } finally {
      closeSync(fd);
    }
    return;
  }
}

const MEDIUM: Record<string, keyof BootMedia> = { sd: 'sd', emmc: 'sd', usb: 'usb', nvme: 'nvme' };

export async function installNetbootHook(fleet: Fleet, o: NetbootHookOptions = {}): Promise<NetbootHook> {
  const pis = o.pis ? o.pis.map((n) => fleet.pi(n)) : fleet.pis.filter((p) => p.hasEeprom);
  const scratch = await mkdtemp(join(tmpdir(), 'pinet-netboot-hook-'));
  const gates: Gate[] = [];
  const hook = new NetbootHook(gates, scratch);

  const play = async (pi: FakePi, boot: number, gate: string): Promise<void> => {
    let rec: HookBoot;
    try {
      // The config the bootloader runs with: the EEPROM's, after init flashed a staged update.
      const eeprom = await readFile(join(pi.stateDir, 'sysfw', 'fake-videocore', 'bootloader_config'), 'utf8');
      await o.before?.(pi, boot);
      const kind = pi.identity.storage[0];
      const media: BootMedia = kind ? { [MEDIUM[kind]!]: join(pi.stateDir, 'boot') } : {};
      const outDir = await mkdtemp(join(scratch, `${pi.name}-`));
      try {
        const result = await bootPi({
          pi: { mac: pi.mac, serial: pi.serial, revision: pi.revision, name: pi.name },
          eeprom: `${eeprom}\n${o.eeprom ?? ''}`,
          nic: { netns: pi.netns, iface: 'eth0', address: `${pi.ip}/${fleet.lan.prefixLength}` },
          media,
          outDir,
          maxRounds: o.maxRounds ?? 1,
        });
        rec = { pi: pi.name, boot, result, verdict: result.outcome === 'booted' ? `boot ${result.mode}: ${result.summary}` : `halt: ${result.summary}` };
      } finally {
        await rm(outDir, { recursive: true, force: true });
      }
    } catch (err) {
      rec = { pi: pi.name, boot, error: (err as Error).message, verdict: `halt: the netboot hook failed: ${(err as Error).message}` };
    }
    await openGate(gate, rec.verdict, 10_000).catch((err: Error) => {
      rec.error = `${rec.error ? `${rec.error}; ` : ''}could not open the gate: ${err.message}`;
    });
    hook.record(rec);
  };

  for (const pi of pis) {
    const ready = join(pi.stateDir, 'netboot.ready');
    const gate = join(pi.stateDir, 'netboot.gate');
    await run('mkfifo', ['-m', '600', ready, gate]);
    // Held open for reading and writing: init's write never blocks, and the stream never sees an end.
    const socket = new net.Socket({ fd: openSync(ready, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    const g: Gate = { pi, ready, gate, socket, queue: Promise.resolve() };
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) if (line.trim()) g.queue = g.queue.then(() => play(pi, Number(line), gate));
    });
    socket.on('error', () => undefined);
    gates.push(g);
  }
  return hook;
}
