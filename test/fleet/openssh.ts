/**
 * Run the real OpenSSH client against a fleet (tests and benches): argument
 * lists in, exit code and output out, never a shell in between.
 */
import { spawn } from 'node:child_process';

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshOptions {
  /** Data for the remote command's stdin (without it, ssh gets -n). */
  input?: string | Buffer;
  /** Extra ssh options before the destination, e.g. ['-o', 'ConnectTimeout=2']. */
  args?: string[];
  timeoutMs?: number;
}

/** `ssh -F <config> [args] <destination> <command>`; the command is one remote shell line. */
export function ssh(config: string, destination: string, command: string, opts: SshOptions = {}): Promise<SshResult> {
  const args = ['-F', config, ...(opts.input === undefined ? ['-n'] : []), ...(opts.args ?? []), destination, command];
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') reject(new Error(`ssh ${destination} ${command}: no answer within ${opts.timeoutMs ?? 60_000} ms`));
      else resolve({ code: code ?? 255, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
