/**
 * Names and defaults of the Pi side that pinet's settings show in --help
 * before any parser is loaded: this module imports nothing, so the command
 * line's catalog (src/settings/catalog.ts) stays cheap to load.
 * boot-order.ts and fstab.ts re-export them with their parsers.
 */

/** The BOOT_ORDER presets a user can name (`--boot-order net-first`), with the alias `article`. */
export const PRESET_NAMES = ['sd-usb-net', 'article', 'net-first', 'sd-net', 'net-usb-sd', 'net-only'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** The article's NFS mount options for /boot/firmware. */
export const DEFAULT_NFS_OPTIONS = 'defaults,timeo=900,_netdev';
