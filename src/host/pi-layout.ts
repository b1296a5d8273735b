/**
 * What pinet keeps on a Pi, and where: its state directory (the lock that
 * keeps two pinet runs from changing one Pi at once, and the backups enroll
 * makes) and its kernel hook in the run-parts directories that kernel and
 * initramfs updates run. The remote scripts receive these as arguments;
 * nothing else spells them out.
 */
export const PI_STATE_DIR = '/var/lib/pinet';
export const PI_BACKUP_DIR = `${PI_STATE_DIR}/backup`;

/**
 * The hook's name: run-parts runs hooks in C-locale name order, so it runs
 * after Ubuntu's `zz-flash-kernel`/`flash-kernel` and Raspberry Pi OS's
 * `z50-raspi-firmware`, which copy the kernel into the boot partition.
 */
export const HOOK_NAME = 'zzz-pinet-bootfiles';
export const HOOK_DIRS = ['/etc/kernel/postinst.d', '/etc/initramfs/post-update.d'] as const;
export const HOOK_PATHS = HOOK_DIRS.map((d) => `${d}/${HOOK_NAME}`);
