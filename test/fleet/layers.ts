/**
 * The read-only overlayfs layers every fake Pi of a fleet shares, stacked
 * between the Pi's own layer and the host's `/`:
 *
 *   hide     whiteouts and opaque directories: the host's private trees
 *            (/root, /home, /tmp, the project checkout, its ssh host keys,
 *            anything at the top of `/` a Pi does not have) are not there
 *   common   the fake VideoCore tool (vcgencmd), reboot, systemctl
 *   eeprom   the rpi-eeprom package: rpi-eeprom-config/-update/-digest and
 *            bootloader images (only Pis with an EEPROM bootloader get it)
 */
import { copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deterministicBytes } from './bytes.js';
import { makeSpecialNodes, runTool } from './materialize.js';
import { EEPROM_IMAGES } from './pi-image.js';
import { NO_BOOT_ORDER_CONFIG, PI5_BOOTLOADER_CONFIG } from './variants.js';

export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** What a Debian/Ubuntu root file system has at its top; anything else on the host is hidden. */
const STANDARD_TOP = new Set([
  'bin', 'boot', 'dev', 'etc', 'home', 'lib', 'lib32', 'lib64', 'libx32', 'lost+found',
  'media', 'mnt', 'opt', 'proc', 'root', 'run', 'sbin', 'srv', 'sys', 'tmp', 'usr', 'var',
]);

/** Directories a Pi sees empty (plus what its own layer puts there). */
export const OPAQUE_DIRS = [
  '/root', '/home', '/tmp', '/var/tmp', '/var/log', '/mnt', '/media', '/srv', '/opt', '/boot',
  '/etc/ssh', '/etc/sudoers.d', '/etc/kernel/postinst.d', '/etc/initramfs/post-update.d',
];

/**
 * Which host paths the hide layer whites out and which directories it makes
 * opaque: every non-standard entry at the top of `/`, and each private path
 * (project checkout, temp dirs) not already hidden by those.
 */
export function hidePlan(topEntries: string[], privatePaths: string[]): { whiteouts: string[]; opaque: string[] } {
  const whiteouts = topEntries.filter((e) => !STANDARD_TOP.has(e)).map((e) => `/${e}`);
  const hidden = (p: string) =>
    [...whiteouts, ...OPAQUE_DIRS].some((h) => p === h || p.startsWith(h + '/')) || p === '/';
  for (const raw of privatePaths) {
    const p = posix.normalize(raw).replace(/\/+$/, '');
    if (p.startsWith('/') && !hidden(p) && !['/usr', '/etc', '/var', '/bin', '/lib'].includes(p)) whiteouts.push(p);
  }
  return { whiteouts: [...new Set(whiteouts)].sort(), opaque: OPAQUE_DIRS };
}

export async function writeHideLayer(dir: string, plan: { whiteouts: string[]; opaque: string[] }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const modes: Record<string, number> = { '/tmp': 0o1777, '/var/tmp': 0o1777, '/root': 0o700 };
  await makeSpecialNodes(
    plan.whiteouts.map((w) => join(dir, w)),
    Object.fromEntries(plan.opaque.map((o) => [join(dir, o), modes[o] ?? 0o755])),
  );
}

async function install(src: string, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(join(ASSETS_DIR, src), dest);
}

export async function writeCommonLayer(dir: string): Promise<void> {
  await install('vcgencmd', join(dir, 'usr/bin/vcgencmd'));
  await install('systemctl', join(dir, 'usr/bin/systemctl'));
  await install('reboot', join(dir, 'usr/sbin/reboot'));
  for (const alias of ['shutdown', 'poweroff', 'halt']) await symlink('reboot', join(dir, 'usr/sbin', alias));
}

export async function writeEepromLayer(dir: string): Promise<void> {
  for (const tool of ['rpi-eeprom-config', 'rpi-eeprom-update', 'rpi-eeprom-digest']) {
    await install(tool, join(dir, 'usr/bin', tool));
  }
  await install('fake_eeprom.py', join(dir, 'usr/lib/fake-pi/fake_eeprom.py'));
  await mkdir(join(dir, 'var/lib/raspberrypi/bootloader/backup'), { recursive: true });
  for (const chip of ['2711', '2712'] as const) {
    const img = EEPROM_IMAGES[chip];
    const imageDir = join(dir, img.dir);
    await mkdir(imageDir, { recursive: true });
    const conf = join(imageDir, '.bootconf.txt');
    await writeFile(conf, chip === '2711' ? NO_BOOT_ORDER_CONFIG : PI5_BOOTLOADER_CONFIG);
    await runTool('python3', [
      join(ASSETS_DIR, 'fake_eeprom.py'), 'build', '--size', String(img.size), '--timestamp', String(img.timestamp),
      '--config', conf, join(imageDir, img.file),
    ]);
    await rm(conf, { force: true });
    await writeFile(join(imageDir, 'recovery.bin'), deterministicBytes(`recovery.bin/${chip}`, 102_400));
  }
}
