/**
 * pinet's dnsmasq config from flags, pinet.yaml and defaults: the values
 * (the subnet detected when none is given, the TFTP root, the enrolled
 * Pis' MACs for --enrolled-only), checked, rendered from the template.
 * render-dnsmasq prints or writes it; server setup installs it.
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import {
  DEFAULT_TEMPLATE,
  MINIMAL_TEMPLATE,
  RPI_MENU_TEXT,
  loadTemplate,
  renderTemplate,
  templateView,
  validateDnsmasqSettings,
  type DnsmasqInput,
  type DnsmasqSettings,
  type TemplateView,
} from '../server/dnsmasq-render.js';
import type { Sourced } from '../util/checked.js';
import { CONFIG, FLAGS } from './catalog.js';
import type { Settings } from './resolve.js';

export interface RenderIo {
  /** The file it will be written to (for the regenerate line). */
  output: string | undefined;
  info(m: string): void;
  warn(m: string): void;
  /** Overrides --tftp-root (server setup: the export directory). */
  tftpRoot?: Sourced<string>;
}

export async function renderDnsmasqFrom(st: Settings, io: RenderIo): Promise<{ text: string; view: TemplateView; settings: DnsmasqSettings }> {
  const D = CONFIG.dnsmasq;
  const output = io.output;
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
    io.info(`Using subnet ${choice.subnet.cidr} of ${choice.subnet.interface} (the default route's interface); pass --subnet to choose another.`);
  }
  const tftpRoot = io.tftpRoot ?? st.get(D['tftp-root']) ?? st.get(CONFIG['export-dir'])!;
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
    const [{ StateStore }, { stateDirOf }] = await Promise.all([import('../server/state.js'), import('./dirs.js')]);
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
    io.warn(`the menu text ${JSON.stringify(settings.menuText)} does not contain "${RPI_MENU_TEXT}"; the Pi bootloader ignores such offers`);
  }

  const templateSetting = st.get(D.template);
  const templatePath = templateSetting?.value;
  const template = templatePath
    ? await loadTemplate(resolve(templatePath), templateSetting!.source.startsWith('--') ? '--template' : 'dnsmasq.template')
    : await loadTemplate(settings.minimal ? MINIMAL_TEMPLATE : DEFAULT_TEMPLATE, 'built-in template');
  if (output !== undefined && /[\u0000-\u001f\u007f]/.test(output)) {
    throw new UsageError(`-o ${JSON.stringify(output)}: file names with control characters are refused`);
  }
  const view = templateView(settings, {
    ...(output !== undefined && { output }),
    ...(templatePath !== undefined && { template: resolve(templatePath) }),
    ...(enrolledOnly && stateDirFlag !== undefined && { stateDir: resolve(stateDirFlag) }),
  });
  const text = renderTemplate(template, view, templatePath ?? 'built-in template');

  return { text, view, settings };
}
