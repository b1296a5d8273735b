/**
 * Names and defaults of the boot server side that pinet's settings show in
 * --help before any parser is loaded: this module imports nothing, so the
 * command line's catalog (src/settings/catalog.ts) stays cheap to load.
 * dnsmasq-values.ts and nfs-export.ts re-export them with their checks.
 */

/** Where the export is mounted on the boot server, also the TFTP root. */
export const DEFAULT_TFTP_ROOT = '/mnt/netboot';
/** The boot menu text the Pi bootloader looks for in the PXE offer. */
export const RPI_MENU_TEXT = 'Raspberry Pi Boot';

/** How an NFS export maps the Pis' root: see pinet server setup --squash. */
export type Squash = 'none' | 'root' | 'tftp-user';
export const SQUASH_MODES: readonly Squash[] = ['none', 'root', 'tftp-user'];
