/**
 * Sends one PXE DHCP DISCOVER with a vendor class of the caller's bytes
 * (hex), as a broken or odd client would: to see what the real dnsmasq logs
 * for bytes that are not printable UTF-8, and how the real journalctl
 * prints that line. Run inside a Pi's namespace:
 *   ip netns exec <ns> node --import tsx send-dhcp.ts '{"mac":"…","vendorHex":"…","broadcast":"…"}'
 */
import dgram from 'node:dgram';
import { BOOTREQUEST, DHCP_OPTION, encodeDhcp } from '../../../src/net/dhcp-packet.js';

const req = JSON.parse(process.argv[2] ?? '{}') as { mac: string; vendorHex: string; broadcast: string; xid?: number; options?: Record<string, string> };
const packet = encodeDhcp({
  op: BOOTREQUEST,
  xid: req.xid ?? 1515847681,
  chaddr: req.mac,
  flags: 0x8000,
  options: [
    { code: DHCP_OPTION.MESSAGE_TYPE, data: Buffer.from([1]) },
    { code: DHCP_OPTION.CLIENT_ARCH, data: Buffer.from([0, 0]) },
    { code: DHCP_OPTION.VENDOR_CLASS, data: Buffer.from(req.vendorHex, 'hex') },
    ...Object.entries(req.options ?? {}).map(([code, hex]) => ({ code: Number(code), data: Buffer.from(hex, 'hex') })),
  ],
});
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
s.bind(68, () => {
  s.setBroadcast(true);
  s.send(packet, 67, req.broadcast, (err) => {
    s.close();
    if (err) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    }
  });
});
