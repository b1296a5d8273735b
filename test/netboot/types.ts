/**
 * The types of the Raspberry Pi 4 bootloader emulator: what a caller gives
 * (the Pi's identity, its EEPROM settings, where its NIC is, its local boot
 * media) and what a boot returns (which mode booted, every TFTP request in
 * order with its outcome, the boot files as local files, timings, a log).
 * Kept in one file so the VM lab and `pinet watch` tests import one stable
 * shape; see README.md for how each field is filled.
 */
import type { NamespaceSockets } from './netns-sockets.js';

/** A Pi as the bootloader knows itself. */
export interface PiIdentity {
  /** The Ethernet MAC (`dc:a6:32:01:36:c2`): DHCP chaddr, option 97, TFTP_PREFIX=2. */
  mac: string;
  /** The serial, 16 hex digits as in /proc/cpuinfo (`10000000bf9fed6f`); 8 digits are accepted too. */
  serial: string;
  /** Board revision code, e.g. `d03114` (Pi 4B), `c03130` (Pi 400), `a03140`..`d03140` (CM4). */
  revision: string | number;
  /** A name for log lines; default the last 8 digits of the serial. */
  name?: string;
}

/**
 * The bootloader (EEPROM) properties the emulator honours, under their real
 * names (`rpi-eeprom-config` prints them). Numbers may be given as numbers or
 * as the text the config file holds (`0xf21`, `45000`).
 */
export interface EepromSettings {
  /** Default `0xf41` (the bootloader's default when BOOT_ORDER is empty). */
  BOOT_ORDER?: string | number;
  /** 0 serial (default), 1 TFTP_PREFIX_STR, 2 MAC as `dc-a6-32-01-36-c2`. */
  TFTP_PREFIX?: string | number;
  TFTP_PREFIX_STR?: string;
  /** Overrides the TFTP server taken from the DHCP offer. */
  TFTP_IP?: string;
  /** With TFTP_IP: static configuration, DHCP is skipped. */
  CLIENT_IP?: string;
  SUBNET?: string;
  GATEWAY?: string;
  /** The menu text looked for in option 43; default `Raspberry Pi Boot`. */
  PXE_OPTION43?: string;
  /** Whole DHCP sequence, ms; default 45000 (real minimum 5000, the emulator accepts less for tests). */
  DHCP_TIMEOUT?: string | number;
  /** Between DISCOVER/REQUEST retries, ms; default 4000 (real minimum 500). */
  DHCP_REQ_TIMEOUT?: string | number;
  /** One file download, ms; default 30000 (real minimum 5000). */
  TFTP_FILE_TIMEOUT?: string | number;
  /** Extra tries of a failed NETWORK / SD mode before the next mode; default 0. */
  NET_BOOT_MAX_RETRIES?: string | number;
  SD_BOOT_MAX_RETRIES?: string | number;
  /** Option 97 prefix: default the `RPi4` fourcc; 0 = the serial repeated four times (old bootloaders). */
  DHCP_OPTION97?: string | number;
  /** 1: a fatal firmware error resets the Pi (bootloaders from 2026-04-14 default to 1). */
  REBOOT_ON_FATAL_ERROR?: string | number;
  /** Seconds; non-zero: a hardware watchdog resets a Pi whose OS did not start. */
  BOOT_WATCHDOG_TIMEOUT?: string | number;
  /** 1 (default): look for pieeprom.sig / pieeprom.upd during network boot. */
  ENABLE_SELF_UPDATE?: string | number;
}

/** Where the Pi's Ethernet port is plugged in. */
export interface PiNic {
  /** The network namespace holding the interface (created by the caller or by `createPiNic`). */
  netns: string;
  /** The interface, e.g. `eth0`; it should carry the Pi's MAC. */
  iface: string;
  /**
   * A static address (CIDR, e.g. `10.251.176.20/24`) instead of one from a
   * DHCP server: the emulator adds it if missing (and removes only what it
   * added), still broadcasts DISCOVER for the PXE offer, but does not wait
   * for an address offer. Leave unset to get the address by DHCP.
   */
  address?: string;
}

/** What a local boot medium answers when the bootloader tries it (for callbacks). */
export interface LocalBootAnswer {
  /** The medium is there and holds a bootable firmware. */
  bootable: boolean;
  /** Why not, or what booted. */
  reason?: string;
}

/** What a callback medium is asked with. */
export interface LocalBootContext {
  mode: 'SD' | 'USB' | 'NVME';
  round: number;
  pi: PiIdentity;
}

/**
 * A local boot medium: a directory standing for the boot partition (the SD
 * card's FAT partition: start4.elf, config.txt, kernel, ...), or a callback
 * that decides (e.g. a VM lab that boots its disk).
 */
export type BootMedium = string | { dir: string } | ((ctx: LocalBootContext) => LocalBootAnswer | Promise<LocalBootAnswer>);

export interface BootMedia {
  /** BOOT_ORDER 1 (and 0): SD card, or a CM4's eMMC. */
  sd?: BootMedium;
  /** BOOT_ORDER 4 and 5: USB mass storage. */
  usb?: BootMedium;
  /** BOOT_ORDER 6: NVMe. */
  nvme?: BootMedium;
}

/**
 * What happens when the firmware (start4.elf, already loaded) cannot load a
 * required OS file (kernel, initramfs, dtb, cmdline.txt):
 * - `halt`: it shows its error and stops; the walk does not go on (real Pi 4
 *   firmware without a watchdog);
 * - `reset`: the Pi resets and BOOT_ORDER starts again from the right
 *   (REBOOT_ON_FATAL_ERROR=1 or BOOT_WATCHDOG_TIMEOUT set);
 * - `next-mode`: the walk goes on with the next BOOT_ORDER mode (not what the
 *   hardware does; for comparing with tools that assume it).
 */
export type FirmwareFailurePolicy = 'halt' | 'reset' | 'next-mode';

export interface BootOptions {
  pi: PiIdentity;
  /** The EEPROM config: its text as `rpi-eeprom-config` prints it, or the properties. */
  eeprom?: string | EepromSettings;
  /** Required for NETWORK boot; without it NETWORK fails with "no network interface". */
  nic?: PiNic;
  media?: BootMedia;
  /** Where the boot files land (created if missing); files keep their boot-partition names. */
  outDir: string;
  /** How many passes over BOOT_ORDER before giving up (a real Pi with RESTART loops forever); default 3. */
  maxRounds?: number;
  /** Default: `reset` when the EEPROM sets REBOOT_ON_FATAL_ERROR=1 or BOOT_WATCHDOG_TIMEOUT, else `halt`. */
  onFirmwareFailure?: FirmwareFailurePolicy;
  /** TFTP block size asked for; default 1468 (the bootloader's since 2022-10). */
  tftpBlockSize?: number;
  /** Resend the last TFTP packet after this long without an answer; default 1000 ms. */
  tftpRetransmitMs?: number;
  /** Set the DHCP broadcast flag (default true; the real Pi clears it, see README). */
  dhcpBroadcastFlag?: boolean;
  /**
   * Packet loss, for tests (this kernel has no netem): the Nth TFTP packet
   * the Pi receives / the Nth ACK it sends, counted over the whole boot from
   * 1, is lost. The real server's retransmissions then have to carry the boot.
   * Or a transfer stalls half-way, as when a cable is pulled.
   */
  faults?: {
    loseReceived?: number[];
    loseAcks?: number[];
    /** The `get` of the file whose name ends with `file` stalls after `afterBytes`: the Pi stops answering until TFTP_FILE_TIMEOUT. */
    stall?: { file: string; afterBytes: number };
  };
  /**
   * A socket broker already running in `nic.netns` (NamespaceSockets.open),
   * kept open across boots by the caller (reboots, benches); default: one is
   * started for the boot and stopped at its end.
   */
  sockets?: NamespaceSockets;
  /** Every log line as it happens. */
  onLog?: (line: string) => void;
  signal?: AbortSignal;
}

export type BootModeName = 'SD-DETECT' | 'SD' | 'NETWORK' | 'RPIBOOT' | 'USB-MSD' | 'BCM-USB-MSD' | 'NVME' | 'HTTP' | 'STOP' | 'RESTART';

/** One TFTP request, in the order the Pi sent it. */
export interface TftpRequestRecord {
  /** 1, 2, ... over the whole boot. */
  seq: number;
  /** The name as sent, with the TFTP prefix (`bf9fed6f/start4.elf`). */
  file: string;
  /** `probe`: tsize, aborted at the OACK; `probe-block`: aborted after the first DATA block; `get`: the whole file. */
  kind: 'probe' | 'probe-block' | 'get';
  /** `bootloader` (EEPROM code) until start4.elf and fixup4.dat are in, then `firmware`. */
  stage: 'bootloader' | 'firmware';
  /** What the Pi wanted it for: `start4.elf probe`, `config.txt`, `kernel`, `overlay disable-bt`, ... */
  purpose: string;
  /** A failure of a required file ends the network boot at this file. */
  required: boolean;
  /**
   * `sent`: the file arrived whole; `probed`: it exists (probe answered);
   * `not-found`: TFTP error 1; `denied`: error 2 (access violation, e.g.
   * "Permission denied"); `error`: any other TFTP error; `timeout`: no answer.
   */
  outcome: 'sent' | 'probed' | 'not-found' | 'denied' | 'error' | 'timeout';
  /** Bytes received (whole file for `get`, the first block for `probe-block`). */
  bytes: number;
  /** The size the server announced (OACK tsize). */
  tsize?: number;
  /** The block size the server accepted. */
  blksize?: number;
  /** TFTP error code and the server's exact words. */
  errorCode?: number;
  serverMessage?: string;
  /** The local UDP port (the Pi uses a new one per request). */
  clientPort: number;
  retransmissions: number;
  /** Ms since the boot started, and how long the request took. */
  atMs: number;
  durationMs: number;
  /** Where a `get` was stored (absolute path). */
  savedAs?: string;
}

/** The DHCP part of a NETWORK attempt. */
export interface DhcpOutcome {
  ok: boolean;
  /** Why it failed: no answer at all, PXE offers without the Pi menu, a menu but no address, no ACK. */
  failure?: 'no-offer' | 'no-pi-menu' | 'no-address' | 'no-ack';
  /** Human-readable, says what was missing and what was seen. */
  message: string;
  /** The Pi's address (CIDR) and where it came from. */
  address?: string;
  addressSource?: 'dhcp' | 'static' | 'eeprom';
  gateway?: string;
  /** The server that gave the address (option 54 of its ACK). */
  dhcpServer?: string;
  /** The server whose PXE offer carried the Pi menu (option 54). */
  pxeServer?: string;
  /** The TFTP server used, and why. */
  tftpServer?: string;
  tftpServerSource?: 'TFTP_IP' | 'option 66' | 'siaddr' | 'option 54';
  /** The menu texts of every PXE offer seen. */
  menusSeen: string[][];
  discoversSent: number;
  offersSeen: number;
  xid?: number;
  durationMs: number;
}

/** Where a failed network boot stopped. */
export interface NetbootFailure {
  file: string;
  purpose: string;
  outcome: TftpRequestRecord['outcome'];
  errorCode?: number;
  serverMessage?: string;
  message: string;
  stage: 'bootloader' | 'firmware';
}

/** The files of a boot, as local paths under `outDir`. */
export interface BootFiles {
  dir: string;
  start: string;
  fixup: string;
  config?: string;
  kernel: string;
  initramfs: string[];
  dtb: string;
  overlays: string[];
  cmdlinePath: string;
  /** cmdline.txt's text, trimmed of the trailing newline. */
  cmdline: string;
  /** The names as the boot partition has them (relative, without the TFTP prefix). */
  names: { kernel: string; initramfs: string[]; dtb: string; cmdline: string; overlays: string[] };
}

/** One try of one BOOT_ORDER mode. */
export interface BootAttempt {
  round: number;
  /** The nibble (1, 2, 4, ...) and its name. */
  mode: number;
  modeName: BootModeName;
  outcome: 'booted' | 'absent' | 'failed' | 'halted' | 'reset' | 'stopped' | 'not-emulated';
  reason: string;
  dhcp?: DhcpOutcome;
  /** The TFTP prefix used for everything after the probe (`bf9fed6f/` or ``). */
  prefix?: string;
  failure?: NetbootFailure;
  startedMs: number;
  durationMs: number;
}

export interface BootResult {
  pi: { name: string; mac: string; serial: string; serial8: string; revision: string; board: string };
  /**
   * `booted`: a mode loaded everything (files in `files`); `halted`: the
   * firmware stopped at a file; `stopped`: STOP / end of BOOT_ORDER /
   * RPIBOOT; `gave-up`: `maxRounds` passes without a boot; `unsupported`:
   * a board the emulator does not play (Pi 5, Pi 3 and older).
   */
  outcome: 'booted' | 'halted' | 'stopped' | 'gave-up' | 'unsupported' | 'aborted';
  /** The mode that booted (or halted). */
  mode?: 'SD' | 'NETWORK' | 'USB' | 'NVME';
  /** One sentence: what happened, or why it did not boot. */
  summary: string;
  bootOrder: string;
  attempts: BootAttempt[];
  /** Every TFTP request of every attempt, in order. */
  requests: TftpRequestRecord[];
  /** The network side of the booting (or halting) network attempt. */
  network?: { address: string; tftpServer: string; prefix: string; dhcp: DhcpOutcome };
  files?: BootFiles;
  failure?: NetbootFailure;
  timings: {
    startedAt: string;
    totalMs: number;
    /** Of the last NETWORK attempt. */
    dhcpMs?: number;
    tftpMs?: number;
    bytesReceived: number;
  };
  log: string[];
}
