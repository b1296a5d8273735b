/**
 * Run the built `pinet` binary the way a user does and capture what it prints.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const PINET = fileURLToPath(new URL('../../bin/pinet.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function pinet(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string; timeout?: number } = {},
): Promise<CliResult> {
  const r = await execa(process.execPath, [PINET, ...args], {
    cwd: opts.cwd,
    env: { NO_COLOR: '1', ...opts.env },
    input: opts.input ?? '',
    reject: false,
    timeout: opts.timeout ?? 120_000,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
