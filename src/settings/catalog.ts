/**
 * Every setting pinet has, in one place: its flag, its key in pinet.yaml
 * (the catalog's shape is the file's shape), its help text, its default,
 * and its one validator. commands/index.ts declares flags from it,
 * config-file.ts builds the file's schema from it, resolve.ts merges flag >
 * file > default with it. Settings that only exist as flags (--dry-run,
 * --yes …) are in FLAGS.
 */
import { DEFAULT_NFS_OPTIONS, PRESET_NAMES } from '../pi/names.js';
import { DEFAULT_TFTP_ROOT, RPI_MENU_TEXT, SQUASH_MODES } from '../server/names.js';
import { anyPath, bad, boolean, fromCheck, int, list, ok, oneOf, plainText, text, type Checked, type LazyCheck, type Setting } from './setting.js';

/**
 * A validator that needs one of pinet's parsers: the parser's module is
 * imported by `prepare()` (awaited before a flag or file value is checked),
 * so --help and the commands that are not given such a value never load it.
 */
function later<T>(load: () => Promise<(v: unknown) => Checked<T>>): LazyCheck<T> {
  let fn: ((v: unknown) => Checked<T>) | undefined;
  const check = ((v: unknown) => {
    if (!fn) throw new Error('internal error: a validator was used before prepare()');
    return fn(v);
  }) as LazyCheck<T>;
  check.prepare = async () => {
    fn ??= await load();
  };
  return check;
}

/**
 * Every setting in `node` (CONFIG, FLAGS, WATCH) ready to check values; with `present` (a parsed
 * pinet.yaml), only the settings it gives a value, so a file with two keys loads two parsers.
 */
export async function prepareAll(node: Record<string, unknown>, present?: unknown): Promise<void> {
  const all: Promise<void>[] = [];
  const walk = (n: Record<string, unknown>, data: unknown) => {
    for (const [key, v] of Object.entries(n)) {
      const given = data === undefined ? undefined : (data as Record<string, unknown>)[key];
      if (data !== undefined && given === undefined) continue;
      if (isSetting(v)) {
        const p = (v.check as Partial<LazyCheck<unknown>>).prepare;
        if (p) all.push(p());
      } else walk(v as Record<string, unknown>, given !== null && typeof given === 'object' ? given : undefined);
    }
  };
  walk(node, present);
  await Promise.all(all);
}

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

const exportDir = setting({
  flag: '--export-dir <dir>',
  help: 'the export as mounted on this machine, also the TFTP root',
  check: later(async () => text((await import('../server/dnsmasq-values.js')).checkConfigPath)),
  default: DEFAULT_TFTP_ROOT,
  path: true,
});

const stateDir = setting({
  flag: '--state-dir <dir>',
  help: 'where pinet keeps its inventory and backups (never inside the export)',
  check: anyPath,
  defaultText: '/var/lib/pinet as root, else $XDG_STATE_HOME/pinet',
  path: true,
});

const nfs = setting({
  flag: '--nfs <server:/path>',
  help: 'how the Pis mount the export, e.g. nfs-host:/picluster-boot',
  check: later(async () => {
    const { parseNfsSource } = await import('../pi/fstab.js');
    return text((s) => {
      const r = parseNfsSource(s);
      return r.ok ? ok(s) : bad(r.error, 'e.g. --nfs nfs-host:/picluster-boot');
    });
  }),
});

const concurrency = setting({
  flag: '-j, --concurrency <n>',
  help: 'work on this many Pis at once',
  check: int(1, 256),
  default: 8,
});

const fleet = setting({
  help: 'the Pis, when no host is named on the command line',
  check: list(plainText),
});

const ssh = {
  config: setting({
    flag: '-F, --ssh-config <file>',
    help: 'OpenSSH client config file, like ssh -F ("none" for none)',
    check: anyPath,
    defaultText: '~/.ssh/config',
    path: true,
  }),
  user: setting({
    flag: '-l, --user <name>',
    help: 'log in as this user',
    check: later(async () => {
      const { isValidUserName } = await import('../remote/destination.js');
      return text((s) => (isValidUserName(s) ? ok(s) : bad('not a valid user name')));
    }),
    defaultText: 'from the destination or the SSH config',
  }),
  port: setting({
    flag: '-p, --port <port>',
    help: 'SSH port',
    check: int(1, 65535),
    defaultText: 'from the destination or the SSH config, else 22',
  }),
  'identity-file': setting({
    flag: '-i, --identity <file>',
    help: 'identity (private key) file; may be repeated',
    check: list(anyPath),
    repeatable: true,
    path: true,
  }),
  'accept-new': setting({
    flag: '--accept-new',
    help: 'record host keys of Pis not yet in known_hosts (changed keys are still refused)',
    check: boolean,
    default: false,
  }),
  'connect-timeout': setting({
    flag: '--connect-timeout <seconds>',
    help: 'give up connecting after this long',
    check: int(1, 3600),
    defaultText: 'ConnectTimeout from the SSH config, else 15',
  }),
  options: setting({
    flag: '--ssh-option <Keyword=value>',
    help: 'an OpenSSH option, like ssh -o; may be repeated',
    check: list(text((o) => (/^[A-Za-z]+\s*[= ]\s*\S/.test(o) && !/[\0\n\r]/.test(o) ? ok(o) : bad('expected Keyword=value, like ssh -o')))),
    repeatable: true,
  }),
};

const enroll = {
  'boot-order': setting({
    flag: '--boot-order <hex|preset>',
    help: `set BOOT_ORDER: a hex order like 0xf241, or a preset (${PRESET_NAMES.join(', ')})`,
    check: later(async () => {
      const { resolveBootOrder } = await import('../pi/boot-order.js');
      return text((s) => {
        const r = resolveBootOrder(s);
        return r.ok ? ok(s) : bad(r.error, r.hint ?? 'use a hex order like 0xf241 or a preset');
      });
    }),
    defaultText: 'add NETWORK before RESTART',
  }),
  'mount-options': setting({
    flag: '--mount-options <opts>',
    help: 'NFS mount options of the fstab line',
    check: later(async () => fromCheck((await import('../pi/fstab.js')).validateMountOptions)),
    default: DEFAULT_NFS_OPTIONS,
  }),
  root: setting({
    flag: '--root <how>',
    help: 'the root file system in cmdline.txt: keep, nfs (--nfs-root) or rbd (--rbd)',
    check: oneOf(['keep', 'nfs', 'rbd'] as const),
    choices: ['keep', 'nfs', 'rbd'],
    default: 'keep' as const,
  }),
  'nfs-root': setting({
    flag: '--nfs-root <ip:/path>',
    help: "with --root nfs: nfsroot server (an IPv4 address) and path; {serial} becomes the Pi's directory name",
    check: later(async () => {
      const { parseNfsRootSpec } = await import('../pi/cmdline.js');
      return text((s) => {
        const r = parseNfsRootSpec(s);
        return r.ok ? ok(s) : bad(r.error, r.hint);
      });
    }),
  }),
  rbd: setting({
    flag: '--rbd <mons:user:pool:image>',
    help: 'with --root rbd: the Ceph RBD image ({serial} allowed in image)',
    check: later(async () => {
      const { parseRbdSpec } = await import('../pi/cmdline.js');
      return text((s) => {
        const r = parseRbdSpec(s);
        return r.ok ? ok(s) : bad(r.error, r.hint);
      });
    }),
  }),
  'rbd-key-file': setting({
    flag: '--rbd-key-file <file>',
    help: 'with --root rbd: the file holding the Ceph key',
    check: anyPath,
    path: true,
  }),
};

const doctor = {
  'tftp-server': setting({
    flag: '--tftp-server <addr>',
    help: 'fetch boot files from this TFTP server',
    check: later(async () => {
      const { isIPv4 } = await import('../util/ipv4.js');
      return text((s) => (isIPv4(s) ? ok(s) : bad('expected an IPv4 address')));
    }),
    defaultText: "dnsmasq's listen-address, else this machine's address in its DHCP range",
  }),
  'dnsmasq-conf': setting({
    flag: '--dnsmasq-conf <file>',
    help: 'dnsmasq config file or directory to check; may be repeated',
    check: list(anyPath),
    repeatable: true,
    path: true,
    defaultText: '/etc/dnsmasq.conf and /etc/dnsmasq.d',
  }),
};

const dnsmasq = {
  subnet: setting({
    flag: '--subnet <addr|cidr>',
    help: "the Pis' LAN, e.g. 10.86.5.0/24 or 10.86.5.255",
    check: later(async () => {
      const { checkSubnet } = await import('../server/dnsmasq-values.js');
      return text((s) => {
        const r = checkSubnet(s);
        return r.ok ? ok(s) : r;
      });
    }),
    defaultText: "the network of the default route's interface",
  }),
  'tftp-root': setting({
    flag: '--tftp-root <dir>',
    help: 'the directory TFTP serves: the export directory',
    check: later(async () => text((await import('../server/dnsmasq-values.js')).checkConfigPath)),
    defaultText: `export-dir, else ${DEFAULT_TFTP_ROOT}`,
  }),
  interface: setting({ flag: '--interface <name>', help: 'answer only on this interface', check: later(async () => text((await import('../server/dnsmasq-values.js')).checkInterfaceName)), defaultText: 'all interfaces' }),
  mode: setting({
    flag: '--mode <mode>',
    help: 'proxy: next to an existing DHCP server; standalone: hand out addresses too',
    check: oneOf(['proxy', 'standalone'] as const),
    choices: ['proxy', 'standalone'],
    default: 'proxy' as const,
  }),
  range: setting({ flag: '--range <start,end[,lease]>', help: 'addresses to hand out with --mode standalone, e.g. 10.86.5.100,10.86.5.200,12h', check: plainText }),
  'all-clients': setting({ flag: '--all-clients', help: 'offer the boot menu to every PXE client, not only to Raspberry Pi MAC addresses', check: boolean, default: false }),
  'menu-text': setting({ flag: '--menu-text <text>', help: 'PXE menu text (the bootloader looks for "Raspberry Pi Boot")', check: later(async () => text((await import('../server/dnsmasq-values.js')).checkMenuText)), default: RPI_MENU_TEXT }),
  template: setting({ flag: '--template <file>', help: 'render this Mustache template instead of the built-in one (same values)', check: anyPath, path: true }),
  output: setting({ flag: '-o, --output <file>', help: 'write the config to this file', check: anyPath, defaultText: 'stdout', path: true }),
};

/** A Ceph name (file system, subvolume, group, NFS cluster): letters, digits, . _ - */
function cephName(s: string) {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(s) ? ok(s) : bad('is not a Ceph name (letters, digits, ".", "_", "-")');
}

const server = {
  export: setting({
    flag: '--export <backend>',
    help: 'how the NFS export is served: kernel-nfs (Linux NFS server), ganesha (NFS-Ganesha), ceph (CephFS + Ganesha managed by Ceph), or existing (change nothing, only verify)',
    check: oneOf(['kernel-nfs', 'ganesha', 'ceph', 'existing'] as const),
    choices: ['kernel-nfs', 'ganesha', 'ceph', 'existing'],
  }),
  on: setting({
    flag: '--on <destination>',
    help: 'the NFS server, reached over SSH like a Pi (user@host, an alias); without it, this machine',
    check: later(async () => {
      const { checkDestination } = await import('../remote/destination.js');
      return text((s) => {
        const r = checkDestination(s);
        return r.ok ? ok(s) : bad(r.error);
      });
    }),
    defaultText: 'this machine',
  }),
  path: setting({
    flag: '--path <dir>',
    help: 'the exported directory on the NFS server',
    check: later(async () => text((await import('../server/nfs-export.js')).checkExportPath)),
    defaultText: 'the path of --nfs',
  }),
  clients: setting({
    flag: '--client <addr|cidr>',
    help: 'who may mount the export; may be repeated (never everyone)',
    check: list(later(async () => text((await import('../server/nfs-export.js')).checkClient))),
    repeatable: true,
    defaultText: "the Pis' subnet and this boot server",
  }),
  squash: setting({
    flag: '--squash <mode>',
    help: "how the NFS server maps the Pis' root: none (files stay root's; pinet's kernel hook keeps them readable), root (root squashed to the anonymous user), tftp-user (every access squashed to the TFTP server's user)",
    check: oneOf(SQUASH_MODES),
    choices: SQUASH_MODES,
    default: 'none' as const,
  }),
  'mount-options': setting({
    flag: "--mount-options <opts>",
    help: "NFS mount options of the boot server's own fstab line",
    check: later(async () => fromCheck((await import('../pi/fstab.js')).validateMountOptions)),
    default: DEFAULT_NFS_OPTIONS,
  }),
  ceph: {
    fs: setting({ flag: '--ceph-fs <name>', help: 'with --export ceph: the CephFS file system (the article: homenet-fs)', check: text(cephName) }),
    subvolume: setting({ flag: '--ceph-subvolume <name>', help: 'with --export ceph: the subvolume holding the boot files', check: text(cephName), defaultText: 'the last name in the path of --nfs' }),
    group: setting({ flag: '--ceph-group <name>', help: 'with --export ceph: the subvolume group', check: text(cephName), defaultText: 'none (_nogroup)' }),
    cluster: setting({ flag: '--ceph-cluster <id>', help: 'with --export ceph: the NFS cluster (ceph nfs cluster ls; the article: hn-nfs)', check: text(cephName) }),
  },
  'dnsmasq-conf': setting({
    flag: '--dnsmasq-conf <file>',
    help: "where pinet's dnsmasq config goes",
    check: anyPath,
    default: '/etc/dnsmasq.d/pinet.conf',
    path: true,
  }),
};

/** The settings pinet.yaml may hold; the object's shape is the file's shape. */
export const CONFIG = {
  'export-dir': exportDir,
  nfs,
  'state-dir': stateDir,
  concurrency,
  fleet,
  ssh,
  enroll,
  doctor,
  dnsmasq,
  server,
};

/** Settings that exist only as flags. */
export const FLAGS = {
  dryRun: setting({ flag: '-n, --dry-run', help: 'show the plan and change nothing', check: boolean, default: false }),
  yes: setting({ flag: '-y, --yes', help: 'apply without asking (needed without a terminal)', check: boolean, default: false }),
  force: setting({ flag: '--force', help: 'take over an existing directory in the export; allow a BOOT_ORDER without local fallback', check: boolean, default: false }),
  reboot: setting({ flag: '--reboot', help: 'reboot each Pi afterwards and report how it came back', check: boolean, default: false }),
  rebootTimeout: setting({ flag: '--reboot-timeout <seconds>', help: 'how long to wait for a rebooted Pi', check: int(10, 86_400), default: 300 }),
  purge: setting({ flag: '--purge', help: "also delete the Pi's directory in the export", check: boolean, default: false }),
  askPass: setting({ flag: '--ask-pass', help: 'allow a password prompt (on a terminal) when keys are refused', check: boolean, default: false }),
  hostsFile: setting({ flag: '--hosts-file <file>', help: 'read more hosts from this file, one per line (# comments); - for stdin', check: anyPath }),
  all: setting({ flag: '--all', help: 'also check every Pi in the inventory', check: boolean, default: false }),
  strict: setting({ flag: '--strict', help: 'exit 1 on warnings too', check: boolean, default: false }),
  verbose: setting({ flag: '-v, --verbose', help: "every Pi on its own: the per-Pi table (enroll, rollback) or each Pi's evidence under a grouped finding (doctor)", check: boolean, default: false }),
  dhcpProbe: setting({
    flag: '--dhcp-probe <iface>',
    help: 'send a Pi-like PXE DISCOVER on this interface and report every answer (needs root)',
    check: text((s) => (/^[A-Za-z0-9_.@-]{1,15}$/.test(s) ? ok(s) : bad('not an interface name', 'use a name from `ip link`, e.g. eth0'))),
  }),
  probeMac: setting({
    flag: '--probe-mac <mac>',
    help: 'with --dhcp-probe: the Pi MAC to ask for',
    check: later(async () => {
      const { checkMac } = await import('../pi/ids.js');
      return text((s) => {
        const r = checkMac(s);
        return r.ok ? ok(r.value) : bad('expected a MAC like dc:a6:32:01:02:03');
      });
    }),
    defaultText: 'a random dc:a6:32:… address',
  }),
  log: setting({ flag: '--log <file>', help: 'summarise a dnsmasq log (log-dhcp) per Pi; - for stdin', check: anyPath }),
  minimal: setting({ flag: '--minimal', help: "only the seed article's six directives (implies --all-clients)", check: boolean, default: false }),
  enrolledOnly: setting({ flag: '--enrolled-only', help: 'offer the boot menu only to the MAC addresses of enrolled Pis (from the inventory)', check: boolean, default: false }),
  check: setting({ flag: '--check', help: 'validate the result with the real dnsmasq (dnsmasq --test)', check: boolean, default: false }),
  renderDryRun: setting({ flag: '--dry-run', help: 'with -o: show the diff, write nothing', check: boolean, default: false }),
};

/** The flags of `pinet watch`. */
export const WATCH = {
  log: setting({ flag: '--log <file>', help: 'read this log file (followed like tail -F: survives rotation and truncation); - for stdin', check: anyPath }),
  journal: setting({ flag: '--journal', help: 'read the systemd journal of the dnsmasq unit (journalctl -u dnsmasq -f)', check: boolean, default: false }),
  journalFile: setting({ flag: '--journal-file <file>', help: 'read this journal file (journalctl --file)', check: anyPath }),
  unit: setting({
    flag: '--unit <name>',
    help: 'the systemd unit of dnsmasq',
    check: text((u) => (/^[A-Za-z0-9@._:-]{1,128}$/.test(u) ? ok(u) : bad('not a unit name', 'e.g. --unit dnsmasq'))),
    default: 'dnsmasq',
  }),
  once: setting({ flag: '--once', help: 'read what is in the log now, print the summary and exit (1 if a boot failed)', check: boolean, default: false }),
  since: setting({ flag: '--since <time>', help: 'start this far back: 10m, "2 hours ago", 14:05, "2024-11-25 14:05"', check: plainText, defaultText: 'new lines only' }),
  stall: setting({ flag: '--stall <seconds>', help: 'a booting Pi with no log line for this long is stuck', check: seconds(), default: 60 }),
  bootTimeout: setting({ flag: '--boot-timeout <seconds>', help: 'how long to wait for SSH after the last boot file', check: seconds(), default: 300 }),
  noSsh: setting({ flag: '--no-ssh', help: 'do not check SSH of enrolled Pis after their boot files were sent', check: boolean }),
};

function seconds() {
  return text((v) => {
    const n = Number(v);
    return /^\d+(\.\d+)?$/.test(v.trim()) && n > 0 ? ok(n) : bad('expected a number of seconds', 'e.g. 60');
  });
}

/** Gives every setting in CONFIG its dotted key ("enroll.boot-order"). */
function assignKeys(node: Record<string, unknown>, prefix: string): void {
  for (const [k, v] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isSetting(v)) v.key = key;
    else assignKeys(v as Record<string, unknown>, key);
  }
}

export function isSetting(v: unknown): v is Setting<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { check?: unknown }).check === 'function';
}

assignKeys(CONFIG, '');
