/**
 * dnsmasq as a service on the boot server, through systemd: is there a
 * unit, is it active, restart it. Without systemd, pinet says what to run.
 */
import { LocalHost } from '../../remote/local-host.js';

export interface DnsmasqService {
  exists(): Promise<boolean>;
  active(): Promise<boolean>;
  /** Restarts it; returns what ran. */
  restart(): Promise<string>;
}

export function systemdDnsmasq(here = new LocalHost()): DnsmasqService {
  return {
    exists: async () => (await here.exec(['systemctl', 'cat', 'dnsmasq.service'], { reject: false }).catch(() => ({ code: 1 }))).code === 0,
    active: async () => (await here.exec(['systemctl', 'is-active', '--quiet', 'dnsmasq'], { reject: false }).catch(() => ({ code: 1 }))).code === 0,
    restart: async () => {
      await here.exec(['systemctl', 'restart', 'dnsmasq'], { sudo: true, step: 'restarting dnsmasq', timeoutMs: 60_000 });
      return 'systemctl restart dnsmasq';
    },
  };
}
