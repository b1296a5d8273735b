/**
 * `pinet render-dnsmasq`: resolve flags and config, render, then print,
 * check with dnsmasq, or write the file (atomically, with a .bak and a diff).
 */
import { resolve } from 'node:path';
import type { Ctx } from './index.js';
import { pick } from '../config.js';
import { PinetError, UsageError } from '../errors.js';
import {
  DEFAULT_TEMPLATE,
  DEFAULT_TFTP_ROOT,
  MINIMAL_TEMPLATE,
  RPI_MENU_TEXT,
  loadTemplate,
  renderTemplate,
  templateView,
  validateDnsmasqSettings,
  type DnsmasqInput,
} from '../server/dnsmasq.js';
import { readFileIfExists, writeIfChanged } from '../util/fs.js';

export interface RenderDnsmasqOptions {
  subnet?: string;
  tftpRoot?: string;
  interface?: string;
  mode?: string;
  range?: string;
  allClients?: boolean;
  minimal?: boolean;
  menuText?: string;
  template?: string;
  output?: string;
  dryRun?: boolean;
  check?: boolean;
  /** Only the MACs of enrolled Pis get the boot menu. */
  enrolledOnly?: boolean;
  stateDir?: string;
}

export async function run(_args: string[], opts: RenderDnsmasqOptions, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const cfg = await ctx.config();
  const d = cfg.data.dnsmasq ?? {};

  let subnet = pick(opts.subnet, '--subnet', d.subnet, 'dnsmasq.subnet', cfg);
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
  const tftpRoot =
    pick(opts.tftpRoot, '--tftp-root', d['tftp-root'], 'dnsmasq.tftp-root', cfg) ??
    pick(undefined, '', cfg.data['export-dir'], 'export-dir', cfg, DEFAULT_TFTP_ROOT)!;

  const input: DnsmasqInput = {
    subnet,
    tftpRoot,
    interface: pick(opts.interface, '--interface', d.interface, 'dnsmasq.interface', cfg),
    mode: pick(opts.mode, '--mode', d.mode, 'dnsmasq.mode', cfg),
    range: pick(opts.range, '--range', d.range, 'dnsmasq.range', cfg),
    menuText: pick(opts.menuText, '--menu-text', d['menu-text'], 'dnsmasq.menu-text', cfg),
    allClients: opts.allClients ?? d['all-clients'],
    minimal: opts.minimal,
  };
  if (opts.enrolledOnly) {
    const [{ StateStore }, { resolveStateDir }] = await Promise.all([import('../server/state.js'), import('./enroll.js')]);
    const state = new StateStore(resolveStateDir(opts.stateDir, cfg));
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

  const templatePath = opts.template ?? d.template;
  const template = templatePath
    ? await loadTemplate(resolve(templatePath), opts.template ? '--template' : 'dnsmasq.template')
    : await loadTemplate(settings.minimal ? MINIMAL_TEMPLATE : DEFAULT_TEMPLATE, 'built-in template');
  const outputPath = opts.output ?? d.output;
  const output = outputPath !== undefined ? resolve(outputPath) : undefined;
  if (output !== undefined && /[\u0000-\u001f\u007f]/.test(output)) {
    throw new UsageError(`-o ${JSON.stringify(output)}: file names with control characters are refused`);
  }
  const view = templateView(settings, {
    ...(output !== undefined && { output }),
    ...(templatePath !== undefined && { template: resolve(templatePath) }),
    ...(opts.enrolledOnly && opts.stateDir !== undefined && { stateDir: resolve(opts.stateDir) }),
  });
  const text = renderTemplate(template, view, templatePath ?? 'built-in template');

  const doc: Record<string, unknown> = { config: text, regenerate: view.regenerate };

  if (opts.check) {
    const { checkWithDnsmasq } = await import('../server/dnsmasq-check.js');
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
  doc.output = { path: output, changed: before !== text, created: before === null, dryRun: opts.dryRun ?? false, diff };

  if (before === text) {
    out.info(`${output} is up to date; nothing to do.`);
  } else if (opts.dryRun) {
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
