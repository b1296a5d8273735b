/**
 * `pinet info <host...>`: connect, detect, and print what pinet knows about
 * each Pi. Hosts run concurrently; one unreachable host is reported and does
 * not stop the others (exit 1 if any failed).
 */
import type { Ctx } from './context.js';
import { formatError, UsageError } from '../errors.js';
import { concurrencyOf, connectOptions, resolveHosts } from '../settings/ssh.js';
import { mapLimit } from '../util/concurrency.js';

export async function run(args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const st = await ctx.settings();
  const hosts = await resolveHosts(args, st);
  if (hosts.length === 0) throw new UsageError('no host given', 'name one or more Pis (pinet info pi-07), use --hosts-file, or list a fleet in pinet.yaml');
  const conn = connectOptions(st, (m) => out.warn(m));
  const [{ gather }, { summarize, formatSummary }, { withHost }] = await Promise.all([import('../host/detect.js'), import('../host/summary.js'), import('../remote/index.js')]);

  const results = await mapLimit(hosts, concurrencyOf(st), async (host) => {
    try {
      const d = await withHost(host, conn, (remote) => gather(remote, host));
      const s = summarize(d);
      out.print(`${formatSummary(s, d, out.c)}\n`);
      return { host, ok: true as const, info: s };
    } catch (err) {
      out.error(formatError(err));
      return { host, ok: false as const, error: formatError(err) };
    }
  });
  const failed = results.filter((r) => !r.ok).length;
  if (hosts.length > 1) out.info(`${hosts.length - failed} of ${hosts.length} Pis read${failed ? `, ${failed} failed` : ''}`);
  out.emitJson({ pis: results });
  return failed > 0 ? 1 : 0;
}
