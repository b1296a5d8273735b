/**
 * Declares every subcommand: its flags, help text and examples. This file
 * is loaded on every run, so it imports nothing heavy: each command's code
 * (`commands/<name>.ts`) is imported only when that command runs.
 */
import { Command, Option, type OptionValues } from 'commander';
import { isDebug } from '../errors.js';
import { Output } from '../ui/output.js';
import type { LoadedConfig } from '../config.js';

export interface GlobalOptions {
  json?: boolean;
  color?: boolean;
  debug?: boolean;
  config?: string;
}

/** What every command implementation receives. */
export interface Ctx {
  out: Output;
  debug: boolean;
  globals: GlobalOptions;
  /** The config file (loaded once, on first use). */
  config(): Promise<LoadedConfig>;
}

export type Run<O> = (args: string[], opts: O, ctx: Ctx) => Promise<number>;

export function makeCtx(globals: GlobalOptions): Ctx {
  let loaded: Promise<LoadedConfig> | undefined;
  return {
    out: new Output({ json: globals.json ?? false, color: globals.color ?? true }),
    debug: (globals.debug ?? false) || isDebug([]),
    globals,
    config() {
      loaded ??= import('../config.js').then((m) => m.loadConfig(globals.config));
      return loaded;
    },
  };
}

/** Wraps a lazily imported implementation as a commander action. */
function lazy<O extends OptionValues>(load: () => Promise<{ run: Run<O> }>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command & { pinetExitCode?: number };
    const positional = args.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a : a === undefined ? [] : [a])) as string[];
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    const ctx = makeCtx(globals);
    try {
      const { run } = await load();
      cmd.pinetExitCode = await run(positional, cmd.opts<O>(), ctx);
    } catch (err) {
      const { reportError } = await import('../cli.js');
      cmd.pinetExitCode = reportError(err, { debug: ctx.debug, json: ctx.out.json, out: ctx.out });
    }
  };
}

function examples(lines: [string, string][]): string {
  const width = Math.max(...lines.map(([c]) => c.length));
  return `\nExamples:\n${lines.map(([c, d]) => `  ${c.padEnd(width)}   ${d}`).join('\n')}\n`;
}

/** Commander's usage errors, in pinet's one-line format, pointing at the right --help. */
export function usageErrorWriter(name: string) {
  return (str: string, write: (s: string) => void): void => {
    const msg = str.replace(/^error:\s*/i, '').trim().replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    write(`pinet: error: ${msg}; see '${name} --help'\n`);
  };
}

/** A subcommand whose usage errors point at its own --help. */
function subcommand(program: Command, name: string): Command {
  return program.command(name).configureOutput({ outputError: usageErrorWriter(`pinet ${name}`) });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The SSH options of every command that reaches Pis (they mirror ssh's). */
function sshOptions(cmd: Command): Command {
  return cmd
    .option('-F, --ssh-config <file>', 'OpenSSH client config file, like ssh -F (default: ~/.ssh/config; "none" for none)')
    .option('-l, --user <name>', 'log in as this user (default: from the destination or the SSH config)')
    .option('-p, --port <port>', 'SSH port (default: from the destination or the SSH config, else 22)')
    .option('-i, --identity <file>', 'identity (private key) file; may be repeated', collect)
    .option('--ssh-option <Keyword=value>', 'an OpenSSH option, like ssh -o; may be repeated', collect)
    .option('--accept-new', 'record host keys of Pis not yet in known_hosts (changed keys are still refused)')
    .option('--ask-pass', 'allow a password prompt (on a terminal) when keys are refused')
    .option('--connect-timeout <seconds>', 'give up connecting after this long (default: ConnectTimeout, else 15)')
    .option('--hosts-file <file>', 'read more hosts from this file, one per line (# comments); - for stdin')
    .option('-j, --concurrency <n>', 'work on this many Pis at once (default: concurrency from the config, else 8)');
}

export function registerCommands(program: Command): void {
  subcommand(program, 'render-dnsmasq')
    .summary('render the dnsmasq proxy-DHCP + TFTP config for netbooting Pis')
    .description(
      'Render the boot server\'s dnsmasq configuration: proxy DHCP (or a full DHCP server with --mode standalone) that offers ' +
        'the "Raspberry Pi Boot" PXE service, and the TFTP server that serves <tftp-root>/<serial>/. Prints to stdout, or ' +
        'writes a file with -o (atomically, keeping the old one as <file>.bak and showing a diff).',
    )
    .option('--subnet <addr|cidr>', "the Pis' LAN, e.g. 10.86.5.0/24 or 10.86.5.255 (default: the network of the default route's interface)")
    .option('--tftp-root <dir>', 'directory TFTP serves, the export directory (default: export-dir from the config, else /mnt/netboot)')
    .option('--interface <name>', 'answer only on this interface')
    .addOption(new Option('--mode <mode>', 'proxy: next to an existing DHCP server; standalone: hand out addresses too (default: proxy)').choices(['proxy', 'standalone']))
    .option('--range <start,end[,lease]>', 'addresses to hand out with --mode standalone, e.g. 10.86.5.100,10.86.5.200,12h')
    .option('--all-clients', 'offer the boot menu to every PXE client, not only to Raspberry Pi MAC addresses')
    .option('--minimal', "only the seed article's six directives (implies --all-clients)")
    .option('--menu-text <text>', 'PXE menu text (default: "Raspberry Pi Boot", which the bootloader looks for)')
    .option('--enrolled-only', 'offer the boot menu only to the MAC addresses of enrolled Pis (from the inventory)')
    .option('--state-dir <dir>', 'with --enrolled-only: where pinet keeps its inventory')
    .option('--template <file>', 'render this Mustache template instead of the built-in one (same values)')
    .option('-o, --output <file>', 'write the config to this file instead of stdout')
    .option('--dry-run', 'with -o: show the diff, write nothing')
    .option('--check', 'validate the result with the real dnsmasq (dnsmasq --test)')
    .addHelpText(
      'after',
      examples([
        ['pinet render-dnsmasq --subnet 10.86.5.0/24', 'print the config for this LAN'],
        ['pinet render-dnsmasq --minimal --subnet 10.86.5.255 --tftp-root /mnt/netboot', "the seed article's file, exactly"],
        ['pinet render-dnsmasq -o /etc/dnsmasq.d/pinet.conf --check', 'write it (subnet detected) and check it with dnsmasq'],
        ['pinet render-dnsmasq -o /etc/dnsmasq.d/pinet.conf --dry-run', 'show what would change'],
        ['pinet render-dnsmasq --enrolled-only -o /etc/dnsmasq.d/pinet.conf', 'answer only the enrolled Pis'],
        ['pinet render-dnsmasq --mode standalone --subnet 10.0.0.0/24 --range 10.0.0.100,10.0.0.200,12h', 'a LAN without DHCP'],
      ]),
    )
    .action(lazy(() => import('./render-dnsmasq.js')));

  sshOptions(
    subcommand(program, 'info')
      .summary("show a Pi's serial, board, OS, boot partition and bootloader config")
      .description(
        'Connect to each Pi over SSH (like ssh: host, user@host, user@host:port or a Host alias from the SSH config) and print ' +
          'its serial and TFTP directory name, model and revision, MAC, OS, boot partition, bootloader config with BOOT_ORDER ' +
          'explained, whether a bootloader update is pending, and the files its bootloader will request. Changes nothing.',
      )
      .argument('[host...]', 'the Pis (default: the fleet in the config file)'),
  )
    .addHelpText(
      'after',
      examples([
        ['pinet info pi-07', 'one Pi, by its SSH alias'],
        ['pinet info pi@10.0.0.17 root@10.0.0.18:2222', 'by address'],
        ['pinet info -F ~/.ssh/fleet.conf --hosts-file pis.txt -j 20', 'many Pis at once'],
        ['pinet info pi-07 --json | jq .pis[0].info.serial', 'for scripts'],
      ]),
    )
    .action(lazy(() => import('./info.js')));

  sshOptions(
    subcommand(program, 'enroll')
      .summary('turn running Pis into netbooted ones (plan, confirm, apply, verify)')
      .description(
        'For each Pi: read its serial, copy its boot partition to <export-dir>/<serial>/ (every file readable by the TFTP ' +
          'server), point its /etc/fstab at that directory over NFS, install a hook that keeps boot files readable after ' +
          'kernel updates, and make its bootloader try NETWORK (rpi-eeprom-config --apply; takes effect at the next reboot). ' +
          'Shows the plan first and asks; --dry-run only shows it. A second run on an enrolled Pi is a no-op.',
      )
      .argument('[host...]', 'the Pis (default: the fleet in the config file)')
      .option('--nfs <server:/path>', 'how the Pis mount the export, e.g. nfs-host:/picluster-boot (required; flag or config)')
      .option('--export-dir <dir>', 'the export as mounted on this machine, also the TFTP root (default: config, else /mnt/netboot)')
      .option('--state-dir <dir>', 'where pinet keeps its inventory and backups (default: /var/lib/pinet as root, else ~/.local/state/pinet)')
      .option('--boot-order <hex|preset>', 'set BOOT_ORDER (0xf241, or a preset: sd-usb-net, net-first, sd-net, net-usb-sd, net-only); default: add NETWORK before RESTART')
      .option('--mount-options <opts>', 'NFS mount options in /etc/fstab (default: defaults,timeo=900,_netdev)')
      .addOption(new Option('--root <how>', 'the root file system in cmdline.txt: keep (default), nfs (--nfs-root) or rbd (--rbd)').choices(['keep', 'nfs', 'rbd']))
      .option('--nfs-root <ip:/path>', 'with --root nfs: nfsroot server and path; {serial} becomes the Pi\'s directory name')
      .option('--rbd <mons:user:pool:image>', 'with --root rbd: the Ceph RBD image ({serial} allowed in image)')
      .option('--rbd-key-file <file>', 'with --root rbd: file holding the Ceph key')
      .option('--force', 'take over an existing directory in the export; allow a BOOT_ORDER without local fallback')
      .option('-n, --dry-run', 'show the plan and change nothing')
      .option('-y, --yes', 'apply without asking (needed without a terminal)')
      .option('--reboot', 'reboot each Pi afterwards and report how it came back')
      .option('--reboot-timeout <seconds>', 'how long to wait for a rebooted Pi (default 300)'),
  )
    .addHelpText(
      'after',
      examples([
        ['pinet enroll pi-07 --nfs nfs-host:/picluster-boot --dry-run', 'show what would change'],
        ['pinet enroll pi-07 --nfs nfs-host:/picluster-boot', 'enroll one Pi (asks first)'],
        ['pinet enroll --hosts-file pis.txt -j 20 --yes', 'a fleet, nfs from pinet.yaml'],
        ['pinet enroll pi-07 --boot-order net-first --reboot --yes', 'netboot first, reboot, report'],
        ['pinet enroll pi-07 --dry-run --json > plan.json', 'a stable plan for CI to diff'],
      ]),
    )
    .action(lazy(() => import('./enroll.js')));

  sshOptions(
    subcommand(program, 'rollback')
      .summary('undo enroll: restore fstab, cmdline.txt and the bootloader config')
      .description(
        'Restore each Pi\'s /etc/fstab (the original boot partition line), the bootloader config saved before enroll (a ' +
          'still-pending update is cancelled instead), the original cmdline.txt in the export, remove pinet\'s kernel hooks, ' +
          'and remove the Pi from the inventory. Its directory in the export is kept unless --purge.',
      )
      .argument('<host...>', 'the Pis to roll back')
      .option('--state-dir <dir>', 'where pinet keeps its inventory and backups')
      .option('--purge', "also delete the Pi's directory in the export")
      .option('-n, --dry-run', 'show the plan and change nothing')
      .option('-y, --yes', 'apply without asking (needed without a terminal)'),
  )
    .addHelpText(
      'after',
      examples([
        ['pinet rollback pi-07 --dry-run', 'show what would be restored'],
        ['pinet rollback pi-07 --yes --purge', 'restore and delete its export directory'],
      ]),
    )
    .action(lazy(() => import('./rollback.js')));

  sshOptions(
    subcommand(program, 'doctor')
      .summary('find every known reason a Pi will not netboot, and how to fix it')
      .description(
        'Without hosts: check the boot server (dnsmasq config and dnsmasq --test, the export directory: names, every boot ' +
          'file each Pi requests, readable by the TFTP user under real permission rules, cmdline.txt; live TFTP fetches; ' +
          'with --dhcp-probe a Pi-like PXE DISCOVER; with --log a dnsmasq log per Pi). With hosts (or --all): also check each ' +
          'Pi (BOOT_ORDER, pending update, fstab, NFS mount, files in sync, kernel hook, CM4/Pi 5). Exit 1 if a check fails.',
      )
      .argument('[host...]', 'Pis to check over SSH')
      .option('--all', 'also check every Pi in the inventory')
      .option('--export-dir <dir>', 'the export as mounted here, also the TFTP root (default: config, else /mnt/netboot)')
      .option('--state-dir <dir>', 'where pinet keeps its inventory')
      .option('--dnsmasq-conf <file>', 'dnsmasq config file or directory to check; may be repeated (default: /etc/dnsmasq.conf and /etc/dnsmasq.d)', collect)
      .option('--tftp-server <addr>', 'fetch boot files from this TFTP server (default: from the dnsmasq config)')
      .option('--dhcp-probe <iface>', 'send a Pi-like PXE DISCOVER on this interface and report every answer (needs root)')
      .option('--probe-mac <mac>', 'with --dhcp-probe: the Pi MAC to ask for (default: a random dc:a6:32:… address)')
      .option('--log <file>', 'summarise a dnsmasq log (log-dhcp) per Pi; - for stdin')
      .option('--nfs <server:/path>', 'how Pis mount the export, for Pis not in the inventory')
      .option('--strict', 'exit 1 on warnings too'),
  )
    .addHelpText(
      'after',
      examples([
        ['pinet doctor', 'the boot server and the export'],
        ['pinet doctor pi-07', '... and one Pi'],
        ['pinet doctor --all --json > report.json', 'everything, for a support thread or CI'],
        ['sudo pinet doctor --dhcp-probe eth0', 'what a Pi sees on the wire'],
        ['journalctl -u dnsmasq | pinet doctor --log -', 'why did the last boot stop?'],
      ]),
    )
    .action(lazy(() => import('./doctor.js')));

  subcommand(program, 'watch')
    .summary("show every Pi's network boot live, from dnsmasq's log")
    .description(
      "Follow dnsmasq's log (the log-facility= file of the dnsmasq config doctor reads, else the journal of dnsmasq.service; " +
        'or --log/--journal) and show each Pi\'s boot: DHCP proxy offer, bootloader files, kernel, initramfs, booted (its ' +
        'SSH port answers, for Pis in the inventory), with files and bytes sent, time since its first packet, and verdicts ' +
        'in doctor\'s words as they happen. A live table on a terminal, one line per event elsewhere, one JSON event per ' +
        'line with --json. Ctrl-C prints the summary; --once reads what is there and prints doctor\'s log summary.',
    )
    .option('--log <file>', 'read this log file (followed like tail -F: survives rotation and truncation); - for stdin')
    .option('--journal', 'read the systemd journal of the dnsmasq unit (journalctl -u dnsmasq -f)')
    .option('--journal-file <file>', 'read this journal file (journalctl --file)')
    .option('--unit <name>', 'the systemd unit of dnsmasq (default: dnsmasq)')
    .option('--once', 'read what is in the log now, print the summary and exit (1 if a boot failed)')
    .option('--since <time>', 'start this far back: 10m, "2 hours ago", 14:05, "2024-11-25 14:05" (default: new lines only)')
    .option('--dnsmasq-conf <file>', 'dnsmasq config file or directory; may be repeated (default: /etc/dnsmasq.conf and /etc/dnsmasq.d)', collect)
    .option('--export-dir <dir>', 'the export as mounted here, the TFTP root (default: config, else /mnt/netboot)')
    .option('--state-dir <dir>', 'where pinet keeps its inventory (Pis are named from it)')
    .option('--stall <seconds>', 'a booting Pi with no log line for this long is stuck (default 60)')
    .option('--boot-timeout <seconds>', 'how long to wait for SSH after the last boot file (default 300)')
    .option('--no-ssh', 'do not check SSH of enrolled Pis after their boot files were sent')
    .addHelpText(
      'after',
      examples([
        ['sudo pinet watch', 'follow the boots as they happen'],
        ['sudo pinet watch --since 10m', 'include the last ten minutes'],
        ['pinet watch --log /var/log/dnsmasq.log --once', 'the summary of a log (as doctor --log)'],
        ['journalctl -u dnsmasq -o short | pinet watch --log -', 'any log on stdin'],
        ['sudo pinet watch --json | jq -c \'select(.type=="verdict")\'', 'one JSON event per line'],
      ]),
    )
    .action(lazy(() => import('./watch.js')));

  subcommand(program, 'list')
    .summary('list the enrolled Pis (from the inventory)')
    .description('Print the inventory enroll keeps: each Pi\'s directory, serial, host, MAC, board, OS and BOOT_ORDER.')
    .option('--state-dir <dir>', 'where pinet keeps its inventory (default: /var/lib/pinet as root, else ~/.local/state/pinet)')
    .addHelpText('after', examples([['pinet list', 'a table'], ['pinet list --json', 'for scripts']]))
    .action(lazy(() => import('./list.js')));
}
