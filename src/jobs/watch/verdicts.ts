/**
 * The words of watch's verdicts. Where doctor already says the same thing
 * (the log summary, the export and dnsmasq config checks), these are its
 * findings and fixes, word for word, so a Pi reads the same in both.
 */
import type { Check } from '../doctor/model.js';
import type { FileFacts } from './catalog.js';

export interface Words {
  finding: string;
  fix?: string;
  evidence?: string[];
}

/** doctor's log summary: a required file the server did not have. */
export function notFound(file: string, dir: string | undefined, root: string | undefined, host: string | undefined): Words {
  return {
    finding: `${file} was requested but not found`,
    fix: `put the missing files in the Pi's directory of the export${host ? ` (pinet enroll ${host} copies them)` : ''}`,
    ...(root && dir !== undefined ? { evidence: [`${root}/${dir ? `${dir}/` : ''}${file} does not exist`] } : {}),
  };
}

/** doctor's log summary and export check: a boot file the TFTP server's user cannot read. */
export function denied(file: string, path: string, facts: FileFacts | undefined, dirPath: string, user: string | undefined, host: string | undefined): Words {
  const evidence = [facts?.owner || facts?.mode ? `${path}: owner ${facts.owner ?? '?'}, mode ${facts.mode ?? '?'}` : `${path}: dnsmasq answered "Permission denied"`];
  if (facts?.unreadable) evidence.push(facts.unreadable);
  const squash = user ?? 'the TFTP user';
  return {
    finding: `${file} could not be read by the TFTP server (permission denied)`,
    evidence,
    fix: `chmod -R a+rX ${dirPath}; keep it so after kernel updates with pinet's hook (pinet enroll${host ? ` ${host}` : ''}) or an export that squashes to ${squash}`,
  };
}

/** The bootloader's probe of <dir>/start4.elf found nothing: it goes on without a prefix (doctor's words for what follows). */
export function prefixMissing(dir: string, root: string | undefined, host: string | undefined): Words {
  return {
    finding: `the Pi asked for ${dir}/start4.elf, which does not exist: it asks for its files without a directory prefix now`,
    fix: `create ${root ? `${root}/${dir}/` : `${dir}/ in the export`} with the Pi's boot files${host ? ` (pinet enroll ${host})` : ''}, named after its serial (or its MAC with TFTP_PREFIX=2)`,
  };
}

/** doctor's log summary: the Pi asked without a directory prefix. */
export const NO_PREFIX: Words = {
  finding: 'the Pi asked for files without a directory prefix: it did not find <serial>/start4.elf',
  fix: "create the Pi's directory (named after its serial, or its MAC with TFTP_PREFIX=2)",
};

export function stalled(seconds: number, last: string, failed: string[]): Words {
  const lost = failed.map((f) => `${f} failed and was never sent`);
  return {
    finding: `${lost.length ? `${lost.join('; ')}; ` : ''}no TFTP progress for ${seconds} s (last: ${last})`,
    fix: 'dnsmasq gives up on a transfer after about 30 s without acknowledgements: check the link between the Pi and the boot server, and power-cycle the Pi',
  };
}

/** A Pi got a proxy offer but never asked for a file. `pxe` is doctor's PXE menu check of the config, when one was read. */
export function dhcpWithoutTftp(seconds: number, offers: number, pxe: Check | undefined): Words {
  const base = `got ${offers === 1 ? 'a DHCP proxy offer' : `${offers} DHCP proxy offers`} but asked for no file over TFTP for ${seconds} s`;
  if (pxe && pxe.status === 'fail') return { finding: `${base}: ${pxe.finding}`, ...(pxe.fix && { fix: pxe.fix }), ...(pxe.evidence && { evidence: pxe.evidence }) };
  return {
    finding: `${base}: the bootloader did not take the offer, or cannot reach the TFTP server`,
    fix: 'see what a Pi is offered: sudo pinet doctor --dhcp-probe <interface> (the "Raspberry Pi Boot" menu text, another PXE server answering first, UDP port 69 blocked)',
    ...(pxe?.evidence && { evidence: pxe.evidence }),
  };
}

/**
 * A PXE DISCOVER dnsmasq did not answer (log-dhcp shows its vendor class and
 * nothing more, and no MAC). With a config that offers no Pi menu, that is
 * every Pi (doctor's words); otherwise it looks exactly like a non-Pi PXE
 * client that pinet's tagged config ignores on purpose (checked with the
 * real dnsmasq), so it is only a note.
 */
export function unanswered(vendorClass: string, pxe: Check | undefined): Words & { level: 'fail' | 'info' } {
  const base = `a PXE client (vendor class ${vendorClass}) asked and dnsmasq sent no offer`;
  if (pxe && pxe.status === 'fail') return { level: 'fail', finding: `${base}: ${pxe.finding}`, ...(pxe.fix && { fix: pxe.fix }), ...(pxe.evidence && { evidence: pxe.evidence }) };
  return {
    level: 'info',
    finding: `${base}: a client whose MAC is not a Raspberry Pi's (an x86 PC, ignored on purpose by a tagged config), or a Pi whose MAC prefix is not in the dhcp-mac tags`,
    fix: 'if it is a Pi: pinet render-dnsmasq --all-clients, or add its MAC prefix to the dhcp-mac tags',
  };
}

export const EARLY_TERMINATE: Words = {
  finding: '"Early terminate" is the bootloader\'s size probe, not an error: it asks for a file\'s size, then aborts the transfer',
};

export const OPTIONAL_NOT_FOUND: Words = {
  finding: 'an optional file not found is normal: the bootloader probes for pieeprom.sig, recover4.elf, recovery.elf, dt-blob.bin, bootcfg.txt, armstub8-gic.bin and boots without them',
};

export const NO_LOG_DHCP: Words = {
  finding:
    'log-dhcp is not set: dnsmasq then logs a PXE offer as one line without the vendor class, and a DISCOVER it does not answer (no matching pxe-service) not at all, so watch cannot see a Pi that gets no offer',
  fix: 'add log-dhcp to the dnsmasq config (pinet render-dnsmasq writes it) and restart dnsmasq',
};

export const QUIET = (key: string): Words => ({
  finding: `${key} is set: dnsmasq leaves out the lines watch reads (${key === 'quiet-tftp' ? '"file … not found"' : 'the DHCP exchanges'})`,
  fix: `remove ${key} from the dnsmasq config while you watch boots`,
});

export function noSsh(seconds: number, ssh: string, detail: string): Words {
  return {
    finding: `the boot files were sent ${seconds} s ago, but SSH on ${ssh} does not answer (${detail})`,
    fix: "the kernel or the root file system did not come up: look at the Pi's console, its cmdline.txt (pinet doctor), and the NFS server",
  };
}
