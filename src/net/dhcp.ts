/**
 * A PXE DHCP probe: broadcast the DISCOVER a Raspberry Pi 4 bootloader sends
 * (src/net/pi-discover.ts) and collect every answer for a while, so doctor
 * can say who offers an address, who sends the PXE offer, and whether a Pi
 * would accept it (src/net/dhcp-answer.ts). Needs root: it listens on UDP
 * port 68.
 *
 * How the interface is chosen: Node's dgram sockets cannot bind to a device
 * (no SO_BINDTODEVICE), and a datagram to 255.255.255.255 leaves through the
 * interface of the default route, or fails without one. So the probe sends
 * to the *directed broadcast* of the interface's subnet (e.g. 10.86.5.255
 * for 10.86.5.12/24, see `interfaceIPv4` in src/net/interfaces.ts): the
 * routing table sends that out of exactly that interface, and it arrives at
 * the servers on that LAN as a broadcast. The source address is the
 * interface's own address instead of the Pi's 0.0.0.0; DHCP servers answer
 * by chaddr and the broadcast flag, not by source address, when ciaddr is 0.
 * Answers come back to 255.255.255.255:68, which the socket (bound to
 * 0.0.0.0:68) receives from any interface; only replies with our xid and
 * MAC count, so a reply meant for another client is never reported.
 *
 * Run on the boot server itself, the probe also sees the local dnsmasq: the
 * kernel loops a sent broadcast back to local listeners on that interface.
 *
 * The socket is opened with SO_REUSEADDR, so it can share port 68 with other
 * sockets that set it too (broadcast replies reach every one of them); if a
 * program holds the port exclusively, the probe fails with a clear error.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { PinetError, UsageError } from '../errors.js';
import { parseIPv4 } from '../util/ipv4.js';
import { isPort } from '../util/port.js';
import { describeDhcpAnswer, type DhcpAnswer } from './dhcp-answer.js';
import { BOOTREPLY, decodeDhcp, formatMac, parseMac } from './dhcp-packet.js';
import { interfaceIPv4 } from './interfaces.js';
import { encodePiDiscover } from './pi-discover.js';

export interface DhcpProbeOptions {
  /** Where the DISCOVER goes: the interface's directed broadcast (or 255.255.255.255, see above). */
  sendTo: string;
  /** The client MAC to ask for (a Pi's OUI, e.g. dc:a6:32:…, matters to servers that tag by MAC). */
  mac: string;
  bindAddress?: string;
  clientPort?: number;
  serverPort?: number;
  /** How long to listen after the first DISCOVER; default 4000 ms. */
  timeoutMs?: number;
  /** When to send the DISCOVER, in ms after the start (same xid each time); default [0, 1000, 2000]. */
  retransmitMs?: number[];
  /** Transaction id; random by default. */
  xid?: number;
  /** Pi serial (8 hex) and board revision for option 97; see src/net/pi-discover.ts. */
  serial?: string;
  revision?: number;
  /** Set the broadcast flag (default true); without it, servers unicast to the offered address and the probe may not see it. */
  broadcastFlag?: boolean;
  signal?: AbortSignal;
}

export interface ProbedDhcpAnswer extends DhcpAnswer {
  /** Identical answers received (one per DISCOVER sent, usually). */
  copies: number;
  /** Time from the first DISCOVER to the first copy of this answer. */
  receivedAfterMs: number;
}

export interface DhcpProbeResult {
  xid: number;
  mac: string;
  sentTo: string;
  discoversSent: number;
  /** Every distinct answer, in the order they arrived. */
  answers: ProbedDhcpAnswer[];
  /** Datagrams on port 68 that were not for this probe (other xid or MAC, requests, garbage). */
  ignored: number;
  durationMs: number;
}

function answerKey(a: DhcpAnswer): string {
  return JSON.stringify([a.from, a.serverId, a.messageType, a.yiaddr, a.siaddr, a.menuTexts, a.tftpServer, a.bootFile]);
}

function validatePort(port: number, what: string): number {
  if (!isPort(port)) throw new UsageError(`${what} ${port} is not a port number (1-65535)`);
  return port;
}

function socketError(err: NodeJS.ErrnoException, bind: string, port: number): PinetError {
  if (err.code === 'EACCES') {
    return new PinetError(`cannot listen on UDP ${bind}:${port} for DHCP answers: permission denied`, {
      hint: 'run the DHCP probe as root (ports below 1024 need CAP_NET_BIND_SERVICE)',
      cause: err,
    });
  }
  if (err.code === 'EADDRINUSE') {
    return new PinetError(`cannot listen on UDP ${bind}:${port} for DHCP answers: the port is in use`, {
      hint: 'another DHCP client holds port 68 without SO_REUSEADDR; stop it for the probe or probe from another machine',
      cause: err,
    });
  }
  return new PinetError(`DHCP probe on UDP ${bind}:${port}: ${err.message}`, { cause: err });
}

/** Send a Pi-like PXE DISCOVER and collect the answers. */
export async function probeDhcp(options: DhcpProbeOptions): Promise<DhcpProbeResult> {
  const bindAddress = options.bindAddress ?? '0.0.0.0';
  const clientPort = validatePort(options.clientPort ?? 68, 'DHCP client port');
  const serverPort = validatePort(options.serverPort ?? 67, 'DHCP server port');
  if (parseIPv4(options.sendTo) === null) throw new UsageError(`DHCP probe destination ${JSON.stringify(options.sendTo)} is not an IPv4 address`);
  if (parseIPv4(bindAddress) === null) throw new UsageError(`DHCP probe bind address ${JSON.stringify(bindAddress)} is not an IPv4 address`);
  const mac = formatMac(parseMac(options.mac));
  const timeoutMs = options.timeoutMs ?? 4000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new UsageError(`DHCP probe timeout ${timeoutMs} ms must be a positive number`);
  const schedule = options.retransmitMs ?? [0, 1000, 2000].filter((t) => t < timeoutMs);
  if (schedule.length === 0 || schedule.some((t) => !(Number.isFinite(t) && t >= 0 && t < timeoutMs))) {
    throw new UsageError(`DHCP probe schedule ${JSON.stringify(schedule)} must list send times from 0 up to the timeout (${timeoutMs} ms)`);
  }
  const xid = options.xid ?? randomBytes(4).readUInt32BE(0);
  // Validate the packet options (serial, revision) before touching the network.
  encodePiDiscover({ mac, xid, serial: options.serial, revision: options.revision });

  return new Promise<DhcpProbeResult>((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const timers: NodeJS.Timeout[] = [];
    const answers: ProbedDhcpAnswer[] = [];
    const byKey = new Map<string, ProbedDhcpAnswer>();
    let ignored = 0;
    let sent = 0;
    let settled = false;
    let start = performance.now();

    const finish = (err?: PinetError): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
      try {
        socket.close();
      } catch {
        // never bound
      }
      if (err) reject(err);
      else resolve({ xid, mac, sentTo: options.sendTo, discoversSent: sent, answers, ignored, durationMs: performance.now() - start });
    };
    function onAbort(): void {
      finish(new PinetError(`DHCP probe to ${options.sendTo} was aborted`, { cause: options.signal?.reason }));
    }
    const sendDiscover = (): void => {
      const secs = Math.floor((performance.now() - start) / 1000);
      const packet = encodePiDiscover({ mac, xid, secs, serial: options.serial, revision: options.revision, broadcast: options.broadcastFlag ?? true });
      socket.send(packet, serverPort, options.sendTo, (err) => {
        if (err) finish(new PinetError(`cannot send the DHCP DISCOVER to ${options.sendTo}:${serverPort}: ${err.message}`, { cause: err, hint: 'check that an interface has a route to that address' }));
        else sent += 1;
      });
    };

    socket.on('error', (err) => finish(socketError(err, bindAddress, clientPort)));
    socket.on('message', (msg, from) => {
      if (settled) return;
      const { packet, problems } = decodeDhcp(msg);
      if (!packet || packet.op !== BOOTREPLY || packet.xid !== xid || packet.chaddr !== mac) {
        ignored += 1;
        return;
      }
      const answer = describeDhcpAnswer(packet, from, problems);
      const key = answerKey(answer);
      const seen = byKey.get(key);
      if (seen) {
        seen.copies += 1;
        return;
      }
      const probed: ProbedDhcpAnswer = { ...answer, copies: 1, receivedAfterMs: performance.now() - start };
      byKey.set(key, probed);
      answers.push(probed);
    });

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind({ port: clientPort, address: bindAddress }, () => {
      if (settled) return;
      socket.setBroadcast(true);
      start = performance.now();
      for (const at of schedule) timers.push(setTimeout(sendDiscover, at));
      timers.push(setTimeout(() => finish(), timeoutMs));
    });
  });
}

/** `probeDhcp` out of one interface: its directed broadcast, its name in errors. */
export async function probeDhcpOnInterface(name: string, options: Omit<DhcpProbeOptions, 'sendTo'>): Promise<DhcpProbeResult> {
  const iface = interfaceIPv4(name);
  return probeDhcp({ ...options, sendTo: iface.broadcast });
}
