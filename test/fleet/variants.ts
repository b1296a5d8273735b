/**
 * The fake-Pi variants a test can ask for by name: a board, an operating
 * system and a bootloader (EEPROM) configuration. Each is a real-world
 * combination that pinet must handle (see issue 3, section 4).
 */
import type { BoardName } from './boards.js';
import type { OsName } from './os-images.js';

export type VariantName =
  | 'ubuntu-2404-pi4'
  | 'rpios-bookworm-pi4'
  | 'rpios-bullseye-pi4'
  | 'cm4'
  | 'no-boot-order'
  | 'pi5'
  | 'pi3';

export interface Variant {
  name: VariantName;
  board: BoardName;
  os: OsName;
  /**
   * The config `rpi-eeprom-config` prints (the bootloader's running config),
   * or null for a board without an EEPROM bootloader (and without the
   * rpi-eeprom package).
   */
  bootloaderConfig: string | null;
  description: string;
}

/** A Pi 4 bootloader as shipped: SD → USB → restart, no network boot. */
export const PI4_BOOTLOADER_CONFIG = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf41\n';

/** The config embedded in current Pi 4 EEPROM images: no BOOT_ORDER line at all. */
export const NO_BOOT_ORDER_CONFIG = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\n';

export const CM4_BOOTLOADER_CONFIG = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nENABLE_SELF_UPDATE=1\nBOOT_ORDER=0xf41\n';

export const PI5_BOOTLOADER_CONFIG = '[all]\nBOOT_UART=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf461\n';

export const VARIANTS: Record<VariantName, Variant> = {
  'ubuntu-2404-pi4': {
    name: 'ubuntu-2404-pi4',
    board: 'pi4',
    os: 'ubuntu-2404',
    bootloaderConfig: PI4_BOOTLOADER_CONFIG,
    description: 'Ubuntu 24.04 on a Pi 4B (LABEL= fstab, vmlinuz 0600 + initrd.img in /boot/firmware)',
  },
  'rpios-bookworm-pi4': {
    name: 'rpios-bookworm-pi4',
    board: 'pi4',
    os: 'rpios-bookworm',
    bootloaderConfig: PI4_BOOTLOADER_CONFIG,
    description: 'Raspberry Pi OS Bookworm on a Pi 4B (PARTUUID fstab, kernel8.img, auto_initramfs)',
  },
  'rpios-bullseye-pi4': {
    name: 'rpios-bullseye-pi4',
    board: 'pi4',
    os: 'rpios-bullseye',
    bootloaderConfig: PI4_BOOTLOADER_CONFIG,
    description: 'Raspberry Pi OS Bullseye on a Pi 4B (boot partition at /boot)',
  },
  cm4: {
    name: 'cm4',
    board: 'cm4',
    os: 'rpios-bookworm',
    bootloaderConfig: CM4_BOOTLOADER_CONFIG,
    description: 'Raspberry Pi OS Bookworm on a CM4 with eMMC (rpi-eeprom-update disabled by default)',
  },
  'no-boot-order': {
    name: 'no-boot-order',
    board: 'pi4',
    os: 'rpios-bookworm',
    bootloaderConfig: NO_BOOT_ORDER_CONFIG,
    description: 'Raspberry Pi OS Bookworm on a Pi 4B whose bootloader config has no BOOT_ORDER line',
  },
  pi5: {
    name: 'pi5',
    board: 'pi5',
    os: 'rpios-bookworm',
    bootloaderConfig: PI5_BOOTLOADER_CONFIG,
    description: 'Raspberry Pi OS Bookworm on a Pi 5 (kernel_2712.img, 2 MB EEPROM images)',
  },
  pi3: {
    name: 'pi3',
    board: 'pi3',
    os: 'rpios-bookworm',
    bootloaderConfig: null,
    description: 'Raspberry Pi OS Bookworm on a Pi 3B: no EEPROM bootloader, no rpi-eeprom tools',
  },
};

export function variantNamed(name: string): Variant {
  const v = (VARIANTS as Record<string, Variant | undefined>)[name];
  if (!v) {
    throw new Error(`unknown fake-Pi variant ${JSON.stringify(name)}; known: ${Object.keys(VARIANTS).join(', ')}`);
  }
  return v;
}
