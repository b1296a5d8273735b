/**
 * `pinet render-dnsmasq`: resolve flags and config, render, then print,
 * check with dnsmasq, or write the file (atomically, with a .bak and a diff).
 */
import { resolve } from 'node:path';
import type { Ctx } from './context.js';
import { PinetError } from '../errors.js';
import { CONFIG, FLAGS } from '../settings/catalog.js';
import { renderDnsmasqFrom } from '../settings/dnsmasq.js';
import { readFileIfExists, writeIfChanged } from '../util/fs.js';

export async function run(_args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const st = await ctx.settings();
  const D = CONFIG.dnsmasq;

  const outputPath = st.value(D.output);
  const output = outputPath !== undefined ? resolve(outputPath) : undefined;
  const { text, view } = await renderDnsmasqFrom(st, { output, info: (m) => out.info(m), warn: (m) => out.warn(m) });

  const doc: Record<string, unknown> = { config: text, regenerate: view.regenerate };

  if (st.value(FLAGS.check)) {
    const { checkWithDnsmasq } = await import('../server/dnsmasq-test.js');
    const verdict = await checkWithDnsmasq(text, output ?? 'the rendered config');
    doc.check = { ok: verdict.ok, message: verdict.message };
    if (!verdict.ok) {
      out.emitJson(doc);
      throw new PinetError(`dnsmasq rejects the config: ${verdict.message}`, {
        hint: output ? `${output} was not written` : 'fix the values or the template',
      });
    }
    out.info(`dnsmasq --test: ${verdict.message || 'syntax check OK.'}`);
  }

  if (output === undefined) {
    out.print(text.replace(/\n$/, ''));
    out.emitJson(doc);
    return 0;
  }

  const before = await readFileIfExists(output);
  const { unifiedDiff, colorDiff } = await import('../util/diff.js');
  const diff = before === text ? '' : await unifiedDiff(output, before, text);
  doc.output = { path: output, changed: before !== text, created: before === null, dryRun: st.value(FLAGS.renderDryRun) ?? false, diff };

  if (before === text) {
    out.info(`${output} is up to date; nothing to do.`);
  } else if (st.value(FLAGS.renderDryRun)) {
    out.print(colorDiff(diff, out.c).replace(/\n$/, ''));
    out.info(`dry run: ${output} would be ${before === null ? 'created' : 'changed'}; nothing was written.`);
  } else {
    let result;
    try {
      result = await writeIfChanged(output, text, { backup: true, mode: 0o644 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new PinetError(`cannot write ${output}: ${code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'its directory does not exist' : (err as Error).message}`, {
        hint: code === 'EACCES' ? 'run as a user who may write there (e.g. with sudo)' : undefined,
        cause: err,
      });
    }
    if (result.backupPath) (doc.output as Record<string, unknown>).backup = result.backupPath;
    out.print(colorDiff(diff, out.c).replace(/\n$/, ''));
    out.info(
      result.created
        ? `wrote ${output}`
        : `updated ${output} (previous version kept as ${result.backupPath}); restart dnsmasq to use it`,
    );
  }
  out.emitJson(doc);
  return 0;
}
