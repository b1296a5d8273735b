/**
 * The fake-Pi fleet for pinet's integration tests and benchmarks: start N
 * fake Raspberry Pis, each with a real OpenSSH sshd on 127.0.0.1:<port>,
 * and stop them without a trace. See README.md in this directory.
 */
export { startFleet, Fleet } from './fleet.js';
export type { FleetOptions, WriteSshConfigOptions } from './fleet.js';
export { FakePi } from './fake-pi.js';
export type { ExecOptions, ExecResult, PiStat } from './fake-pi.js';
export type { FileOverride, PiSpec } from './pi-image.js';
export type { BootServerNet, LanInfo, LinkCounters } from './netns.js';
export type { BootImage } from './real-boot.js';
export type { PiStatus } from './protocol.js';
export type { RelayStats } from './relay.js';
export { cleanupStale } from './stale.js';
export { ssh } from './openssh.js';
export type { SshOptions, SshResult } from './openssh.js';
export type { StaleReport } from './stale.js';
export { VARIANTS } from './variants.js';
export type { VariantName } from './variants.js';
