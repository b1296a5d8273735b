/**
 * The SSH side of pinet: what other parts import.
 *
 * * `connect(destination, options)` → `RemoteHost` (exec, execScript,
 *   readFile(s), stat, writeFileAtomic, listTree, streamTree, close).
 * * `resolveHost` / `resolveHostFromFiles`: the OpenSSH config for a
 *   destination, without connecting (pure / with the user's files).
 * * known_hosts helpers and the error type (`RemoteError` with a `kind`).
 *
 * Importing this module does not load ssh2; `connect` does, on first use.
 */
export { connect, withHost, type ConnectOptions } from './connect.js';
export { NO_PROMPTS, type SecretPrompter } from './prompter.js';
export { RemoteHost, scriptArgv, type ExecOptions, type ExecResult, type StartedCommand } from './remote-host.js';
export {
  resolveHost,
  hostLabel,
  knownHostsName,
  parseConfigLines,
  DEFAULT_IDENTITY_FILES,
  type ConfigSource,
  type HostOverrides,
  type IncludeReader,
  type ResolvedHost,
  type ResolveOptions,
  type StrictHostKeyChecking,
} from './ssh-config.js';
export { loadConfigSources, localContext, resolveHostFromFiles, fsIncludeReader, globPaths } from './config-files.js';
export { parseDestination, isValidHostName, isValidUserName, hostPort, type Destination } from './destination.js';
export type { LocalContext } from './expand.js';
export {
  checkHostKey,
  fingerprint,
  formatKnownHostsLine,
  hashHostName,
  hostFieldMatches,
  keyTypeLabel,
  parseKnownHosts,
  type HostKeyStatus,
  type KnownHostEntry,
} from './known-hosts.js';
export { decideHostKey, readKnownHostsFiles, recordHostKey } from './host-keys.js';
export { RemoteError, RemoteCommandError, type RemoteErrorKind } from './errors.js';
export type { FileRead, ReadOptions, RemoteStat, StatOptions, WriteOptions, WriteResult } from './files.js';
export type { ListTreeOptions, StreamTreeOptions, StreamTreeResult, TreeEntry } from './tree.js';
