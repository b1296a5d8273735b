/**
 * The Raspberry Pi 4 bootloader emulator for pinet's tests: power on an
 * emulated Pi whose NIC sits in a network namespace and it network-boots
 * against the real dnsmasq (proxy DHCP + TFTP), the way the EEPROM
 * bootloader and start4.elf do. See README.md in this folder.
 */
export { bootPi, DEFAULT_MAX_ROUNDS, DEFAULT_TFTP_BLKSIZE } from './emulator.js';
export { boardOf, type Board } from './board.js';
export { bootModes, describeBootOrder, modeName, walkBootOrder, type WalkResult, type WalkStep } from './boot-order.js';
export { readConfigTxt, type ConfigTxt } from './config-txt.js';
export { firmwareFiles, osFiles, type OsFiles } from './boot-files.js';
export { parseEepromConfig, resolveEeprom, tftpPrefixFor, type Eeprom } from './eeprom.js';
export { NamespaceSockets } from './netns-sockets.js';
export { createPiNic, type CreatedNic, type CreateNicOptions } from './nic.js';
export { NetbootLan, type LanOptions, type LanPi } from './lan.js';
export type * from './types.js';
