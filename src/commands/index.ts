/**
 * Declares every subcommand: its flags, help text and examples. This file
 * is loaded on every run, so it imports nothing heavy: each command's code
 * (`commands/<name>.ts`) is imported only when that command runs.
 */
import { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { makeCtx, type GlobalOptions, type Run } from './context.js';
import { CONFIG, FLAGS, WATCH } from '../settings/catalog.js';
import { helpText, longFlag, prepareCheck, type Setting } from '../settings/setting.js';

/** Wraps a lazily imported implementation as a commander action. */
function lazy(load: () => Promise<{ run: Run }>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command & { pinetExitCode?: number };
    const positional = args.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a : a === undefined ? [] : [a])) as string[];
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    let ctx = makeCtx(globals, {});
    try {
      // The command's module, and the settings modules every command reads, load while the
      // flags are checked: the imports run side by side instead of one after the other.
      const loading = load();
      loading.catch(() => undefined);
      prefetchSettings();
      await checkFlags(cmd);
      ctx = makeCtx(globals, cmd.opts());
      const { run } = await loading;
      cmd.pinetExitCode = await run(positional, ctx);
    } catch (err) {
      const { reportError } = await import('../ui/report-error.js');
      cmd.pinetExitCode = reportError(err, { debug: ctx.debug, json: ctx.out.json, out: ctx.out });
    }
  };
}

/** Starts importing the settings layer (a module cache fill: nothing runs, errors surface where it is used). */
function prefetchSettings(): void {
  for (const m of [import('../settings/resolve.js'), import('../settings/config-file.js')]) m.catch(() => undefined);
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

/** Per command: the settings behind its flags that take a value. */
const valued = new WeakMap<Command, Map<string, Setting<unknown>>>();

/**
 * Declares a setting's flag: help and default from the catalog. Commander
 * only collects a valued flag's text (a repeated one into a list); its
 * validator runs in checkFlags when the command runs, so --help loads none
 * of pinet's parsers.
 */
function option(cmd: Command, s: Setting<unknown>, help?: string): Command {
  const o = new Option(s.flag!, help ?? helpText(s));
  if (/[<[]/.test(s.flag!)) {
    if (s.repeatable) o.argParser((raw: string, previous: unknown) => [...((previous as string[] | undefined) ?? []), raw]);
    const map = valued.get(cmd) ?? new Map<string, Setting<unknown>>();
    valued.set(cmd, map.set(o.attributeName(), s));
  }
  return cmd.addOption(o);
}

/** Runs each given flag's validator and keeps its value: a bad one is a usage error naming the flag (exit 2), before anything runs. */
async function checkFlags(cmd: Command): Promise<void> {
  const given = [...(valued.get(cmd) ?? [])].filter(([attr]) => cmd.getOptionValue(attr) !== undefined);
  await Promise.all(given.map(([, s]) => prepareCheck(s)));
  for (const [attr, s] of given) {
    const value = cmd.getOptionValue(attr) as string | string[];
    const values: unknown[] = [];
    for (const raw of s.repeatable ? (value as string[]) : [value as string]) {
      const r = s.check(raw);
      if (!r.ok) throw new UsageError(`${longFlag(s)} ${JSON.stringify(raw)}: ${r.error}`, r.hint);
      values.push(r.value);
    }
    cmd.setOptionValueWithSource(attr, s.repeatable ? values.flat() : values[0], cmd.getOptionValueSource(attr) ?? 'cli');
  }
}

/** The SSH options of every command that reaches Pis (they mirror ssh's). */
function sshOptions(cmd: Command, opts: { hosts?: boolean } = {}): Command {
  const s = CONFIG.ssh;
  for (const x of [s.config, s.user, s.port, s['identity-file'], s.options, s['accept-new']]) option(cmd, x);
  option(cmd, FLAGS.askPass);
  option(cmd, s['connect-timeout']);
  if (opts.hosts === false) return cmd;
  option(cmd, FLAGS.hostsFile);
  return option(cmd, CONFIG.concurrency);
}

/** Declares each setting's flag on `cmd`. */
function options(cmd: Command, settings: Setting<unknown>[]): Command {
  for (const x of settings) option(cmd, x);
  return cmd;
}

export function registerCommands(program: Command): void {
  const D = CONFIG.dnsmasq;
  const E = CONFIG.enroll;
  options(
    subcommand(program, 'render-dnsmasq')
      .summary('render the dnsmasq proxy-DHCP + TFTP config for netbooting Pis')
      .description(
        'Render the boot server\'s dnsmasq configuration: proxy DHCP (or a full DHCP server with --mode standalone) that offers ' +
          'the "Raspberry Pi Boot" PXE service, and the TFTP server that serves <tftp-root>/<serial>/. Prints to stdout, or ' +
          'writes a file with -o (atomically, keeping the old one as <file>.bak and showing a diff).',
      ),
    [D.subnet, D['tftp-root'], D.interface, D.mode, D.range, D['all-clients'], FLAGS.minimal, D['menu-text'], FLAGS.enrolledOnly],
  );
  const render = program.commands.find((c) => c.name() === 'render-dnsmasq')!;
  option(render, CONFIG['state-dir'], 'with --enrolled-only: where pinet keeps its inventory');
  options(render, [D.template, D.output, FLAGS.renderDryRun, FLAGS.check])
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

  option(
    options(
      sshOptions(
        subcommand(program, 'enroll')
          .summary('turn running Pis into netbooted ones (plan, confirm, apply, verify)')
          .description(
            'For each Pi: read its serial, copy its boot partition to <export-dir>/<serial>/ (every file readable by the TFTP ' +
              'server), point its /etc/fstab at that directory over NFS, install a hook that keeps boot files readable after ' +
              'kernel updates, and make its bootloader try NETWORK (rpi-eeprom-config --apply; takes effect at the next reboot). ' +
              'Shows the plan first and asks; --dry-run only shows it. A second run on an enrolled Pi is a no-op.',
          )
          .argument('[host...]', 'the Pis (default: the fleet in the config file)'),
      ),
      [CONFIG.nfs, CONFIG['export-dir'], CONFIG['state-dir'], E['boot-order'], E['mount-options'], E.root, E['nfs-root'], E.rbd, E['rbd-key-file'], FLAGS.force, FLAGS.dryRun, FLAGS.yes, FLAGS.reboot, FLAGS.rebootTimeout, FLAGS.verbose],
    ),
    CONFIG.doctor['dnsmasq-conf'],
    "the dnsmasq config (may be repeated): with --reboot, whose log shows the Pis' network boots; with --squash tftp-user, whose TFTP user gets the files (default: /etc/dnsmasq.conf and /etc/dnsmasq.d)",
  );
  option(
    program.commands.find((c) => c.name() === 'enroll')!,
    CONFIG.server.squash,
    "how the export squashes the Pis, as in pinet server setup: with root or tftp-user the Pi's directory and files are given to the anonymous identity, so its kernel updates can replace them (default: what pinet server setup recorded, else none; pinet.yaml: server.squash)",
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

  options(
    sshOptions(
      subcommand(program, 'rollback')
        .summary('undo enroll: restore fstab, cmdline.txt and the bootloader config')
        .description(
          'Restore each Pi\'s /etc/fstab (the original boot partition line), the bootloader config saved before enroll (a ' +
            'still-pending update is cancelled instead), the original cmdline.txt in the export, remove pinet\'s kernel hooks, ' +
            'and remove the Pi from the inventory. Its directory in the export is kept unless --purge. Locks each Pi like enroll.',
        )
        .argument('<host...>', 'the Pis to roll back'),
    ),
    [CONFIG['state-dir'], FLAGS.purge, FLAGS.dryRun, FLAGS.yes, FLAGS.verbose],
  )
    .addHelpText(
      'after',
      examples([
        ['pinet rollback pi-07 --dry-run', 'show what would be restored'],
        ['pinet rollback pi-07 --yes --purge', 'restore and delete its export directory'],
      ]),
    )
    .action(lazy(() => import('./rollback.js')));

  const doctor = sshOptions(
    subcommand(program, 'doctor')
      .summary('find every known reason a Pi will not netboot, and how to fix it')
      .description(
        'Without hosts: check the boot server (dnsmasq config and dnsmasq --test, the export directory: names, every boot ' +
          'file each Pi requests, readable by the TFTP user under real permission rules, cmdline.txt; live TFTP fetches; ' +
          'with --dhcp-probe a Pi-like PXE DISCOVER; with --log a dnsmasq log per Pi). With hosts (or --all): also check each ' +
          'Pi (BOOT_ORDER, pending update, fstab, NFS mount, files in sync, kernel hook, CM4/Pi 5). Exit 1 if a check fails.',
      )
      .argument('[host...]', 'Pis to check over SSH'),
  );
  options(doctor, [FLAGS.all, CONFIG['export-dir'], CONFIG['state-dir'], CONFIG.doctor['dnsmasq-conf'], CONFIG.doctor['tftp-server'], FLAGS.dhcpProbe, FLAGS.probeMac, FLAGS.log]);
  option(doctor, CONFIG.nfs, 'how Pis mount the export, for Pis not in the inventory');
  option(doctor, FLAGS.verbose);
  option(doctor, FLAGS.strict)
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

  const SV = CONFIG.server;
  const server = program
    .command('server')
    .summary('set up the boot server: the NFS export, its mount, dnsmasq')
    .description('The boot server as code: `pinet server setup` makes the NFS export, mounts it here and installs dnsmasq; `pinet server rollback` undoes it.')
    .configureOutput({ outputError: usageErrorWriter('pinet server') });
  const setup = sshOptions(
    server
      .command('setup')
      .summary('make the NFS export, mount it here, install dnsmasq (plan, confirm, apply, verify)')
      .description(
        'Make the NFS export of the boot files (a Linux NFS server or NFS-Ganesha, on this machine or over SSH with --on; ' +
          '--export existing only verifies one made by hand), mount it here at --export-dir (the article\'s fstab line), and ' +
          'install pinet\'s dnsmasq config and restart dnsmasq; then prove it: a probe file read as the TFTP user through the ' +
          'mount, and fetched over TFTP. Only what is missing or different changes; a second run is a no-op. Refuses the ' +
          "article's bootstrap traps (an NFS server that netboots from here, a resolver that does, an export open to everyone).",
      )
      .configureOutput({ outputError: usageErrorWriter('pinet server setup') }),
    { hosts: false },
  );
  options(setup, [SV.export, CONFIG.nfs, SV.on, SV.path, SV.clients, SV.squash, SV.ceph.fs, SV.ceph.subvolume, SV.ceph.group, SV.ceph.cluster, E.root, CONFIG['export-dir'], SV['mount-options'], SV['dnsmasq-conf'], D.subnet, D.interface, CONFIG['state-dir'], FLAGS.dryRun, FLAGS.yes])
    .addHelpText(
      'after',
      examples([
        ['pinet server setup --export kernel-nfs --nfs 10.86.5.3:/srv/picluster-boot --on root@10.86.5.3 --dry-run', 'show the plan'],
        ['pinet server setup --export ganesha --nfs 10.86.5.3:/picluster-boot --path /srv/boot --on nfs-host --yes', 'NFS-Ganesha'],
        ['pinet server setup --export ceph --on ceph-admin --nfs 10.86.5.3:/picluster-boot --ceph-fs homenet-fs --ceph-cluster hn-nfs', "the article's CephFS + Ganesha"],
        ['pinet server setup --export existing --nfs nfs-host:/picluster-boot', 'mount and serve an export made by hand'],
      ]),
    )
    .action(lazy(() => import('./server-setup.js')));
  options(
    sshOptions(
      server
        .command('rollback')
        .summary('undo server setup: restore the export, fstab and dnsmasq config it replaced')
        .description("Restore what pinet server setup replaced (from its backups): the export's files on the NFS server, the boot server's fstab line and mount, pinet's dnsmasq config. The exported directory and the boot files stay.")
        .configureOutput({ outputError: usageErrorWriter('pinet server rollback') }),
      { hosts: false },
    ),
    [CONFIG['state-dir'], FLAGS.dryRun, FLAGS.yes],
  )
    .addHelpText('after', examples([['pinet server rollback --dry-run', 'what would be restored'], ['pinet server rollback --yes', 'restore it']]))
    .action(lazy(() => import('./server-rollback.js')));

  const W = WATCH;
  options(
    subcommand(program, 'watch')
      .summary("show every Pi's network boot live, from dnsmasq's log")
      .description(
        "Follow dnsmasq's log (the log-facility= file of the dnsmasq config doctor reads, else the journal of dnsmasq.service; " +
          'or --log/--journal) and show each Pi\'s boot: DHCP proxy offer, bootloader files, initramfs, kernel, booted (its ' +
          'SSH port answers, for Pis in the inventory), with files and bytes sent, time since its first packet, and verdicts ' +
          'in doctor\'s words as they happen. A live table on a terminal, one line per event elsewhere, one JSON event per ' +
          'line with --json. Ctrl-C prints the summary; --once reads what is there and prints doctor\'s log summary.',
      ),
    [W.log, W.journal, W.journalFile, W.unit, W.once, W.since, CONFIG.doctor['dnsmasq-conf'], CONFIG['export-dir'], CONFIG['state-dir'], W.stall, W.bootTimeout, W.noSsh],
  )
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

  option(
    subcommand(program, 'list')
      .summary('list the enrolled Pis (from the inventory)')
      .description("Print the inventory enroll keeps: each Pi's directory, serial, host, MAC, board, OS and BOOT_ORDER."),
    CONFIG['state-dir'],
  )
    .addHelpText('after', examples([['pinet list', 'a table'], ['pinet list --json', 'for scripts']]))
    .action(lazy(() => import('./list.js')));
}
