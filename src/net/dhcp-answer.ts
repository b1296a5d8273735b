/**
 * What one DHCP answer means for a Raspberry Pi that is trying to netboot:
 * who sent it, whether it offers an address or is a PXE proxy offer, whether
 * its option 43 carries the "Raspberry Pi Boot" menu, and which TFTP server
 * the Pi would use. Pure: a decoded packet in, a summary out.
 */
import { DHCP_OPTION, getOption, messageTypeName, optionAddress, optionText, type DhcpPacket } from './dhcp-packet.js';
import { PI_BOOT_TEXT, decodePxeOptions, piBootMatch, type PiBootMatch, type PxeOptions } from './pxe-options.js';

export interface DhcpAnswer {
  /** Source address and port of the datagram. */
  from: string;
  fromPort: number;
  /** Option 54. */
  serverId: string | undefined;
  messageType: number | undefined;
  /** `OFFER`, `ACK`, … or `BOOTP` without option 53. */
  messageTypeName: string;
  yiaddr: string;
  siaddr: string;
  /** yiaddr is not 0.0.0.0: this server hands out addresses. */
  offersAddress: boolean;
  /** A PXE answer with yiaddr 0.0.0.0: proxy DHCP (what `dhcp-range=…,proxy` sends). */
  proxyOffer: boolean;
  /** Option 60 (dnsmasq answers `PXEClient`). */
  vendorClass: string | undefined;
  /** Option 43 read as PXE sub-options, when present. */
  pxe: PxeOptions | undefined;
  menuTexts: string[];
  /** Where "Raspberry Pi Boot" was found in option 43. */
  piBoot: PiBootMatch;
  /** A menu entry carries "Raspberry Pi Boot" (what dnsmasq's pxe-service sends). */
  hasRaspberryPiBootMenu: boolean;
  /** A PXE answer a Pi would not take (no "Raspberry Pi Boot"): typically an x86 boot menu. */
  otherPxeOffer: boolean;
  /** The TFTP server a Pi would use: option 66, else siaddr, else option 54. */
  tftpServer: string | undefined;
  tftpServerSource: 'option 66' | 'siaddr' | 'option 54' | undefined;
  /** Option 67, else the file field. */
  bootFile: string | undefined;
  /** Option 97 as hex (dnsmasq echoes the client's). */
  clientMachineId: string | undefined;
  problems: string[];
  packet: DhcpPacket;
}

export function describeDhcpAnswer(
  packet: DhcpPacket,
  from: { address: string; port: number },
  problems: string[] = [],
  piText = PI_BOOT_TEXT,
): DhcpAnswer {
  const all = [...problems];
  const option43 = getOption(packet, DHCP_OPTION.VENDOR_ENCAPSULATED);
  const pxe = option43 ? decodePxeOptions(option43) : undefined;
  if (pxe) all.push(...pxe.problems.map((p) => `option 43: ${p}`));
  const vendorClass = optionText(packet, DHCP_OPTION.VENDOR_CLASS);
  const piBoot = option43 && pxe ? piBootMatch(option43, pxe, piText) : 'none';
  const isPxe = (vendorClass?.startsWith('PXEClient') ?? false) || option43 !== undefined;
  const offersAddress = packet.yiaddr !== '0.0.0.0';

  const serverId = optionAddress(packet, DHCP_OPTION.SERVER_ID);
  if (getOption(packet, DHCP_OPTION.SERVER_ID) && !serverId) all.push('option 54 (server identifier) is not 4 bytes long');
  const option66 = optionText(packet, DHCP_OPTION.TFTP_SERVER_NAME);
  let tftpServer: string | undefined;
  let tftpServerSource: DhcpAnswer['tftpServerSource'];
  if (option66) [tftpServer, tftpServerSource] = [option66, 'option 66'];
  else if (packet.siaddr !== '0.0.0.0') [tftpServer, tftpServerSource] = [packet.siaddr, 'siaddr'];
  else if (serverId) [tftpServer, tftpServerSource] = [serverId, 'option 54'];

  const option67 = optionText(packet, DHCP_OPTION.BOOTFILE_NAME);
  const machineId = getOption(packet, DHCP_OPTION.CLIENT_MACHINE_ID);
  return {
    from: from.address,
    fromPort: from.port,
    serverId,
    messageType: packet.messageType,
    messageTypeName: messageTypeName(packet.messageType),
    yiaddr: packet.yiaddr,
    siaddr: packet.siaddr,
    offersAddress,
    proxyOffer: isPxe && !offersAddress,
    vendorClass,
    pxe,
    menuTexts: pxe?.menu.map((e) => e.text) ?? [],
    piBoot,
    hasRaspberryPiBootMenu: piBoot === 'menu-entry',
    otherPxeOffer: isPxe && piBoot === 'none',
    tftpServer,
    tftpServerSource,
    bootFile: option67 || packet.file || undefined,
    clientMachineId: machineId?.toString('hex'),
    problems: all,
    packet,
  };
}
