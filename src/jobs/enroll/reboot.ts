/**
 * `pinet enroll --reboot`: reboot a Pi, wait for SSH to come back, and
 * report how it booted (what its boot partition is mounted from, the
 * bootloader config now active).
 */
import { formatError } from '../../errors.js';
import { gather } from '../../host/detect.js';
import { connect, type ConnectOptions, type RemoteHost } from '../../remote/index.js';
import { startScript } from '../../remote/script.js';

export interface RebootReport {
  ok: boolean;
  detail: string;
  bootMount?: string;
  bootOrder?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function rebootAndWait(remote: RemoteHost, host: string, conn: ConnectOptions, timeoutMs: number, step: (s: string) => void): Promise<RebootReport> {
  await startScript(remote, 'reboot', [], { sudo: true, step: 'rebooting', timeoutMs: 15_000 })
    .then(async (s) => {
      s.stdout.resume();
      await s.done;
    })
    .catch(() => undefined);
  await remote.close().catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  await sleep(3000); // give the Pi time to go down before the first attempt
  let last: unknown;
  while (Date.now() < deadline) {
    step('waiting for the Pi to come back');
    let again: RemoteHost | undefined;
    try {
      again = await connect(host, { ...conn, defaultConnectTimeoutMs: 5000 });
      const d = await gather(again, host);
      const bp = d.facts.bootPartition.known ? d.facts.bootPartition.value : undefined;
      const bo = d.facts.bootloader.known && d.facts.bootloader.value.bootOrder.ok ? d.facts.bootloader.value.bootOrder.explanation : undefined;
      const mount = bp?.mounted ? `${bp.mountpoint} from ${bp.mounted.source} (${bp.mounted.fstype})` : `${bp?.mountpoint ?? 'boot partition'} not mounted`;
      return {
        ok: true,
        detail: `back up; ${mount}; bootloader ${bo ?? 'unknown'}`,
        ...(bp?.mounted ? { bootMount: `${bp.mounted.source} (${bp.mounted.fstype})` } : {}),
        ...(bo ? { bootOrder: bo } : {}),
      };
    } catch (err) {
      last = err;
      await sleep(2000);
    } finally {
      await again?.close().catch(() => undefined);
    }
  }
  return { ok: false, detail: `did not come back within ${Math.round(timeoutMs / 1000)} s${last ? ` (${formatError(last)})` : ''}` };
}
