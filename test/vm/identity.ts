/**
 * Who a lab VM is at one power-on, as a tar QEMU hands to the guest through
 * fw_cfg (`opt/pinet/identity`; read by the image's pinet-lab-identity):
 * name, MAC, address, /etc/hosts lines, the lab's SSH key, its own SSH host
 * key, and for a VM Pi the Pi identity of the fake fleet (test/fleet:
 * /proc/cpuinfo and /sys/firmware with the device tree and the fake
 * VideoCore), with the bootloader config of the Pi's EEPROM as it is now.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dtU32 } from '../fleet/boards.js';
import { writeTree } from '../fleet/materialize.js';
import { buildPiImage, renderBootloaderVersion } from '../fleet/pi-image.js';
import type { PiIdentity } from '../fleet/pi-image.js';
import { sh } from './lab.js';

export interface EepromState {
  /** What `rpi-eeprom-config` prints (the EEPROM's bootconf.txt). */
  config: string;
  /** Build timestamp of the image in the EEPROM, and when it was flashed. */
  build: number;
  updated: number;
  /** SHA-256 of the last update image flashed from a boot medium. */
  appliedSha: string | null;
}

export interface IdentityInput {
  name: string;
  mac: string;
  /** Address with prefix length, e.g. 10.251.160.20/24. */
  ip: string;
  gw?: string;
  hosts: Array<[string, string]>;
  authorizedKey: string;
  hostKey: { privateKey: string; publicKey: string };
  pi?: { identity: PiIdentity; eeprom: EepromState };
}

const SAFE = /^[\w.:/@+= -]*$/;

function safe(what: string, v: string): string {
  if (!SAFE.test(v)) throw new Error(`VM identity ${what} ${JSON.stringify(v)} has characters the lab does not allow`);
  return v;
}

/** Write the identity tar to `file` (staging under `file`.d). */
export async function writeIdentity(file: string, id: IdentityInput): Promise<void> {
  const d = `${file}.d`;
  await rm(d, { recursive: true, force: true });
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'name'), safe('name', id.name) + '\n');
  await writeFile(join(d, 'mac'), safe('mac', id.mac) + '\n');
  await writeFile(join(d, 'ip'), safe('ip', id.ip) + '\n');
  if (id.gw) await writeFile(join(d, 'gw'), safe('gw', id.gw) + '\n');
  await writeFile(join(d, 'hosts'), id.hosts.map(([ip, n]) => `${safe('host ip', ip)}\t${safe('host name', n)}\n`).join(''));
  await writeFile(join(d, 'authorized_keys'), id.authorizedKey.trim() + '\n', { mode: 0o600 });
  await writeFile(join(d, 'ssh_host_ed25519_key'), id.hostKey.privateKey, { mode: 0o600 });
  await writeFile(join(d, 'ssh_host_ed25519_key.pub'), id.hostKey.publicKey);
  if (id.pi) {
    const image = buildPiImage({ ...id.pi.identity, bootloaderConfig: id.pi.eeprom.config }, {
      clientPublicKey: id.authorizedKey,
      hostKey: id.hostKey,
      accounts: { passwd: 'root:x:0:0:root:/root:/bin/sh\n', group: 'root:x:0:\n', skel: {} },
      bootFilesBytes: 0,
    });
    await writeTree(join(d, 'sysfw'), image.sysfw);
    // The EEPROM as the harness's bootloader left it (flashed updates included).
    const e = id.pi.eeprom;
    await writeFile(join(d, 'sysfw/fake-videocore/bootloader_config'), e.config);
    await writeFile(join(d, 'sysfw/fake-videocore/bootloader_version'), renderBootloaderVersion(e.build, e.updated));
    await writeFile(join(d, 'sysfw/devicetree/base/chosen/bootloader/build-timestamp'), dtU32(e.build));
    await writeFile(join(d, 'sysfw/devicetree/base/chosen/bootloader/update-timestamp'), dtU32(e.updated));
    await writeFile(join(d, 'cpuinfo'), image.cpuinfo);
  }
  await sh('tar', ['--owner=0', '--group=0', '-C', d, '-cf', file, '.']);
  await rm(d, { recursive: true, force: true });
}
