/**
 * Has a Pi come up? Its SSH port answers with an SSH banner ("SSH-2.0-…").
 * Tried once a second until `timeoutMs`; a refused or silent port is tried
 * again, since the kernel is still booting.
 */
import { connect } from 'node:net';

export type SshResult = { ok: true; banner: string } | { ok: false; detail: string };

export function splitTarget(target: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: target, port: 22 };
}

function bannerOnce(host: string, port: number, timeoutMs: number): Promise<SshResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let got = '';
    const done = (r: SshResult): void => {
      s.destroy();
      clearTimeout(t);
      resolve(r);
    };
    const t = setTimeout(() => done({ ok: false, detail: got ? `no SSH banner within ${timeoutMs} ms` : `no answer within ${timeoutMs} ms` }), timeoutMs);
    s.on('data', (b: Buffer) => {
      got += b.toString('latin1');
      const line = got.split('\n')[0]!;
      if (got.includes('\n') || got.length > 255) done(line.startsWith('SSH-') ? { ok: true, banner: line.trim() } : { ok: false, detail: `not SSH: ${JSON.stringify(line.slice(0, 40))}` });
    });
    s.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message) }));
    s.on('close', () => done({ ok: false, detail: 'closed without a banner' }));
  });
}

export async function waitForSsh(target: string, o: { timeoutMs: number; signal: AbortSignal; intervalMs?: number }): Promise<SshResult> {
  const { host, port } = splitTarget(target);
  const deadline = Date.now() + o.timeoutMs;
  let last: SshResult = { ok: false, detail: 'not tried' };
  while (!o.signal.aborted) {
    last = await bannerOnce(host, port, Math.min(3000, Math.max(500, deadline - Date.now())));
    if (last.ok || Date.now() >= deadline) return last;
    await new Promise<void>((r) => {
      const t = setTimeout(r, o.intervalMs ?? 1000);
      o.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }
  return { ok: false, detail: 'stopped' };
}
