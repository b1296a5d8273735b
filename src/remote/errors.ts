/**
 * Errors of the SSH side. Each names the host (as "pi-07 (10.0.0.17)") and
 * the step that failed, and carries a `kind` that callers such as doctor can
 * switch on without parsing messages.
 */
import { PinetError } from '../errors.js';

export type RemoteErrorKind =
  | 'dns' // the host name does not resolve
  | 'refused' // nothing listens on the port
  | 'unreachable' // no route, network down
  | 'timeout' // connect or handshake took longer than ConnectTimeout
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'auth' // every authentication method was refused
  | 'unsupported' // something in the SSH config pinet cannot do
  | 'connection-lost' // the connection dropped after it was up
  | 'protocol' // the server spoke something unexpected
  | 'command-failed' // a remote command exited non-zero
  | 'command-timeout'
  | 'sudo-password' // sudo -n wants a password
  | 'sudo-denied' // the user may not use sudo
  | 'remote-file'; // a remote file operation failed (missing, unreadable, verify)

export class RemoteError extends PinetError {
  readonly kind: RemoteErrorKind;
  /** "pi-07 (10.0.0.17)" */
  readonly host: string;
  /** What was being done, e.g. "connecting", "reading /etc/fstab". */
  readonly step: string;

  constructor(
    kind: RemoteErrorKind,
    host: string,
    step: string,
    message: string,
    options: { hint?: string; cause?: unknown; exitCode?: number } = {},
  ) {
    super(`${host}: ${message}`, options);
    this.name = 'RemoteError';
    this.kind = kind;
    this.host = host;
    this.step = step;
  }
}

/** A remote command that exited with a non-zero status. */
export class RemoteCommandError extends RemoteError {
  readonly command: string;
  readonly code: number | null;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;

  constructor(
    host: string,
    step: string,
    info: { command: string; code: number | null; signal?: string; stdout: string; stderr: string },
    hint?: string,
  ) {
    const status = info.code === null ? `was killed by ${info.signal ?? 'a signal'}` : `exited with status ${info.code}`;
    const err = lastLine(info.stderr);
    super('command-failed', host, step, `${step} failed: the command ${status}${err ? `: ${err}` : ''}`, { hint });
    this.name = 'RemoteCommandError';
    this.command = info.command;
    this.code = info.code;
    this.signal = info.signal;
    this.stdout = info.stdout;
    this.stderr = info.stderr;
  }
}

/** The last non-empty line of a command's stderr, trimmed and bounded, for one-line messages. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
