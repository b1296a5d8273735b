/**
 * `pinet render-dnsmasq`: resolve flags and config, render, then print,
 * check with dnsmasq, or write the file (atomically, with a .bak and a diff).
 */
import { resolve } from 'node:path';
import type { Ctx } from './context.js';
import { PinetError, UsageError } from '../errors.js';
import { CONFIG, FLAGS } from '../settings/catalog.js';
import {
  DEFAULT_TEMPLATE,
  MINIMAL_TEMPLATE,
  RPI_MENU_TEXT,
  loadTemplate,
  renderTemplate,
  templateView,
  validateDnsmasqSettings,
  type DnsmasqInput,
} from '../server/dnsmasq-render.js';
import { readFileIfExists, writeIfChanged } from '../util/fs.js';

export async function run(_args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const st = await ctx.settings();
  const D = CONFIG.dnsmasq;

  let subnet = st.get(D.subnet);
  if (!subnet) {
    const { detectSubnet } = await import('../server/subnet.js');
    const choice = await detectSubnet();
    if (!choice.ok) {
      const list = choice.candidates.map((c) => `${c.cidr} (${c.interface})`).join(', ');
      throw new UsageError(
        `cannot choose the Pis' subnet: ${choice.reason}`,
        list ? `pass --subnet with one of: ${list}` : 'pass --subnet, e.g. --subnet 10.86.5.0/24',
      );
    }
    subnet = { value: choice.subnet.cidr, source: `the subnet detected on ${choice.subnet.interface}` };
    out.info(`Using subnet ${choice.subnet.cidr} of ${choice.subnet.interface} (the default route's interface); pass --subnet to choose another.`);
  }
  const tftpRoot = st.get(D['tftp-root']) ?? st.get(CONFIG['export-dir'])!;
  const enrolledOnly = st.value(FLAGS.enrolledOnly)!;
  const stateDirFlag = st.flags.stateDir as string | undefined;

  const input: DnsmasqInput = {
    subnet,
    tftpRoot,
    interface: st.get(D.interface),
    mode: st.get(D.mode),
    range: st.get(D.range),
    menuText: st.get(D['menu-text']),
    allClients: st.value(D['all-clients']),
    minimal: st.value(FLAGS.minimal),
  };
  if (enrolledOnly) {
    const [{ StateStore }, { stateDirOf }] = await Promise.all([import('../server/state.js'), import('../settings/dirs.js')]);
    const state = new StateStore(stateDirOf(st));
    const inv = await state.readInventory();
    const macs = Object.values(inv.pis).flatMap((p) => (p.mac ? [p.mac] : []));
    if (macs.length === 0) {
      throw new UsageError(`--enrolled-only: no enrolled Pi with a known MAC address in ${state.inventoryPath}`, 'enroll Pis first (pinet enroll), or pass --state-dir');
    }
    input.macs = macs;
  }
  const settings = validateDnsmasqSettings(input);
  if (!settings.menuText.includes(RPI_MENU_TEXT)) {
    out.warn(`the menu text ${JSON.stringify(settings.menuText)} does not contain "${RPI_MENU_TEXT}"; the Pi bootloader ignores such offers`);
  }

  const templateSetting = st.get(D.template);
  const templatePath = templateSetting?.value;
  const template = templatePath
    ? await loadTemplate(resolve(templatePath), templateSetting!.source.startsWith('--') ? '--template' : 'dnsmasq.template')
    : await loadTemplate(settings.minimal ? MINIMAL_TEMPLATE : DEFAULT_TEMPLATE, 'built-in template');
  const outputPath = st.value(D.output);
  const output = outputPath !== undefined ? resolve(outputPath) : undefined;
  if (output !== undefined && /[\u0000-\u001f\u007f]/.test(output)) {
    throw new UsageError(`-o ${JSON.stringify(output)}: file names with control characters are refused`);
  }
  const view = templateView(settings, {
    ...(output !== undefined && { output }),
    ...(templatePath !== undefined && { template: resolve(templatePath) }),
    ...(enrolledOnly && stateDirFlag !== undefined && { stateDir: resolve(stateDirFlag) }),
  });
  const text = renderTemplate(template, view, templatePath ?? 'built-in template');

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
