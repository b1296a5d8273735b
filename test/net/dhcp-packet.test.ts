/**
 * BOOTP/DHCP decoding and encoding: the seed article's real proxy offer,
 * a Pi 4 DISCOVER, round trips, and a corpus of broken packets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeDhcpAnswer } from '../../src/net/dhcp-answer.js';
import { decodeDhcp, encodeDhcp, getOption, messageTypeName, optionAddress, optionText, parseMac } from '../../src/net/dhcp-packet.js';
import { encodePiDiscover, piClientMachineId, PI_VENDOR_CLASS } from '../../src/net/pi-discover.js';
import { decodePxeOptions, encodePxeOptions, piBootMatch } from '../../src/net/pxe-options.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');

/** The fixed BOOTP header, built by hand: op, xid, flags, yiaddr, siaddr, chaddr, sname, file. */
function header(f: { op: number; xid: number; flags?: number; yiaddr?: number[]; siaddr?: number[]; mac: number[]; sname?: Buffer; file?: Buffer }): Buffer {
  const b = Buffer.alloc(240);
  b[0] = f.op;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(f.xid, 4);
  b.writeUInt16BE(f.flags ?? 0, 10);
  Buffer.from(f.yiaddr ?? [0, 0, 0, 0]).copy(b, 16);
  Buffer.from(f.siaddr ?? [0, 0, 0, 0]).copy(b, 20);
  Buffer.from(f.mac).copy(b, 28);
  f.sname?.copy(b, 44);
  f.file?.copy(b, 108);
  b.writeUInt32BE(0x63825363, 236);
  return b;
}

// The proxy offer behind the seed article's log ("sent size: … option: …" lines for xid 2408886387).
const ARTICLE_OPTION_43 = hex('06 01 03  0a 04 00 50 58 45  09 14 00 00 11') ;
const ARTICLE_MENU = Buffer.concat([ARTICLE_OPTION_43, Buffer.from('Raspberry Pi Boot', 'latin1'), hex('ff')]);
const ARTICLE_OPTION_97 = hex('00 34 69 50 52 15 31 d0 00 01 98 e0 82 6f ed 9f bf');
const ARTICLE_OFFER = Buffer.concat([
  header({ op: 2, xid: 2408886387, flags: 0x8000, mac: [0xe4, 0x5f, 0x01, 0x98, 0xe0, 0x82] }),
  hex('35 01 02'), // 53 message type: OFFER
  hex('36 04 0a 56 05 98'), // 54 server identifier 10.86.5.152
  hex('3c 09 50 58 45 43 6c 69 65 6e 74'), // 60 vendor class "PXEClient"
  hex('61 11'),
  ARTICLE_OPTION_97, // 97 client machine id
  hex('2b 20'),
  ARTICLE_MENU, // 43 vendor-encap, 32 bytes
  hex('ff'),
]);

describe('the seed article’s proxy offer', () => {
  it('is decoded field by field', () => {
    expect(ARTICLE_MENU).toHaveLength(32); // "sent size: 32 option: 43"
    const { packet, problems } = decodeDhcp(ARTICLE_OFFER);
    expect(problems).toEqual([]);
    expect(packet).not.toBeNull();
    const p = packet!;
    expect(p.op).toBe(2);
    expect(p.xid).toBe(2408886387);
    expect(p.broadcast).toBe(true);
    expect(p.chaddr).toBe('e4:5f:01:98:e0:82');
    expect(p.yiaddr).toBe('0.0.0.0');
    expect(p.messageType).toBe(2);
    expect(messageTypeName(p.messageType)).toBe('OFFER');
    expect(optionAddress(p, 54)).toBe('10.86.5.152');
    expect(optionText(p, 60)).toBe('PXEClient');
    expect(getOption(p, 97)).toEqual(ARTICLE_OPTION_97);
    expect(p.options.map((o) => o.code)).toEqual([53, 54, 60, 97, 43]);
  });

  it('carries the Raspberry Pi Boot menu in option 43', () => {
    const pxe = decodePxeOptions(ARTICLE_MENU);
    expect(pxe).toEqual({
      discoveryControl: 3,
      bootServers: [],
      menu: [{ type: 0, text: 'Raspberry Pi Boot' }],
      menuPrompt: { timeout: 0, text: 'PXE' },
      other: [],
      problems: [],
    });
  });

  it('is summarised as a proxy offer whose TFTP server is option 54', () => {
    const { packet, problems } = decodeDhcp(ARTICLE_OFFER);
    const a = describeDhcpAnswer(packet!, { address: '10.86.5.152', port: 67 }, problems);
    expect(a).toMatchObject({
      serverId: '10.86.5.152',
      messageTypeName: 'OFFER',
      offersAddress: false,
      proxyOffer: true,
      vendorClass: 'PXEClient',
      menuTexts: ['Raspberry Pi Boot'],
      piBoot: 'menu-entry',
      hasRaspberryPiBootMenu: true,
      otherPxeOffer: false,
      tftpServer: '10.86.5.152',
      tftpServerSource: 'option 54',
      bootFile: undefined,
      clientMachineId: ARTICLE_OPTION_97.toString('hex'),
      problems: [],
    });
  });

  it('option 43 is exactly what encodePxeOptions writes for dnsmasq’s layout', () => {
    expect(encodePxeOptions({ discoveryControl: 3, menuPrompt: { timeout: 0, text: 'PXE' }, menu: [{ type: 0, text: 'Raspberry Pi Boot' }] })).toEqual(ARTICLE_MENU);
  });
});

describe('the Pi 4 DISCOVER', () => {
  it('builds option 97 like the bootloader (the article’s Pi: revision d03115, serial bf9fed6f)', () => {
    expect(piClientMachineId('e4:5f:01:98:e0:82', 'bf9fed6f', 0xd03115)).toEqual(ARTICLE_OPTION_97);
  });

  it('has the fields and options a Pi sends', () => {
    const bytes = encodePiDiscover({ mac: 'dc:a6:32:01:02:03', xid: 0xd383a6ac, serial: 'bf9fed6f' });
    expect(bytes.length).toBeGreaterThanOrEqual(300);
    // Fixed header, byte by byte.
    expect([...bytes.subarray(0, 12)]).toEqual([1, 1, 6, 0, 0xd3, 0x83, 0xa6, 0xac, 0, 0, 0x80, 0]);
    expect(bytes.subarray(12, 28).equals(Buffer.alloc(16))).toBe(true); // ciaddr, yiaddr, siaddr, giaddr
    expect([...bytes.subarray(28, 34)]).toEqual([0xdc, 0xa6, 0x32, 0x01, 0x02, 0x03]);
    expect(bytes.readUInt32BE(236)).toBe(0x63825363);

    const { packet, problems } = decodeDhcp(bytes);
    expect(problems).toEqual([]);
    const p = packet!;
    expect(p.messageType).toBe(1);
    expect(p.broadcast).toBe(true);
    expect(optionText(p, 60)).toBe('PXEClient:Arch:00000:UNDI:002001');
    expect(getOption(p, 93)).toEqual(Buffer.from([0, 0]));
    expect(getOption(p, 94)).toEqual(Buffer.from([1, 2, 1]));
    expect(getOption(p, 97)).toHaveLength(17);
    expect(getOption(p, 97)![0]).toBe(0);
    expect([...getOption(p, 55)!]).toEqual(expect.arrayContaining([1, 3, 43, 54, 60, 66, 67, 97]));
  });

  it('can leave the broadcast flag clear, as the real Pi does', () => {
    const p = decodeDhcp(encodePiDiscover({ mac: 'dc:a6:32:01:02:03', xid: 1, broadcast: false })).packet!;
    expect(p.flags).toBe(0);
  });

  it('derives the serial from the MAC when none is given', () => {
    const p = decodeDhcp(encodePiDiscover({ mac: 'dc:a6:32:01:02:03', xid: 1 })).packet!;
    expect(getOption(p, 97)!.subarray(13).toString('hex')).toBe('03020132'); // 32010203, little-endian
  });

  it('refuses bad MACs and serials', () => {
    for (const mac of ['', 'dc:a6:32:01:02', 'dc:a6:32:01:02:03:04', 'zz:a6:32:01:02:03', 'dc:a6:32:01:02:03\n', '$(id)']) {
      expect(() => encodePiDiscover({ mac, xid: 1 }), mac).toThrow(/MAC/);
    }
    for (const serial of ['bf9fed6', 'bf9fed6f0', 'bf9fed6g', '10000000bf9fed6f', 'bf9f ed6f']) {
      expect(() => encodePiDiscover({ mac: 'dc:a6:32:01:02:03', xid: 1, serial }), serial).toThrow(/serial/);
    }
  });

  it('accepts the MAC in dash form and upper case', () => {
    expect(parseMac('DC-A6-32-01-02-03')).toEqual(Buffer.from([0xdc, 0xa6, 0x32, 1, 2, 3]));
  });
});

describe('encodeDhcp / decodeDhcp round trip', () => {
  it('keeps every field and option, splitting long options (RFC 3396)', () => {
    const long = Buffer.alloc(600, 7);
    const bytes = encodeDhcp({
      op: 2,
      xid: 0xffffffff,
      chaddr: '52:54:00:12:34:56',
      secs: 3,
      flags: 0x8000,
      ciaddr: '10.0.0.1',
      yiaddr: '10.0.0.2',
      siaddr: '10.0.0.3',
      giaddr: '10.0.0.4',
      sname: 'boot-server',
      file: 'pxelinux.0',
      options: [
        { code: 53, data: Buffer.from([5]) },
        { code: 77, data: long },
        { code: 66, data: Buffer.from('10.0.0.3') },
      ],
    });
    const { packet, problems } = decodeDhcp(bytes);
    expect(problems).toEqual([]);
    expect(packet).toMatchObject({
      op: 2,
      xid: 0xffffffff,
      chaddr: '52:54:00:12:34:56',
      secs: 3,
      broadcast: true,
      ciaddr: '10.0.0.1',
      yiaddr: '10.0.0.2',
      siaddr: '10.0.0.3',
      giaddr: '10.0.0.4',
      sname: 'boot-server',
      file: 'pxelinux.0',
      messageType: 5,
    });
    expect(getOption(packet!, 77)).toEqual(long);
    expect(packet!.options.map((o) => o.code)).toEqual([53, 77, 66]);
  });

  it('round-trips any options (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ code: fc.integer({ min: 1, max: 254 }), data: fc.uint8Array({ maxLength: 400 }) }), { selector: (o) => o.code, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (options, xid) => {
          const bytes = encodeDhcp({ op: 1, xid, chaddr: 'dc:a6:32:01:02:03', options: options.map((o) => ({ code: o.code, data: Buffer.from(o.data) })) });
          const { packet } = decodeDhcp(bytes);
          expect(packet!.xid).toBe(xid);
          // Option 52 changes how file/sname are read; everything else comes back as written.
          if (options.some((o) => o.code === 52)) return;
          expect(packet!.options.map((o) => [o.code, o.data.toString('hex')])).toEqual(options.map((o) => [o.code, Buffer.from(o.data).toString('hex')]));
        },
      ),
    );
  });
});

describe('option overload (52)', () => {
  const mac = [0xdc, 0xa6, 0x32, 1, 2, 3];
  it('reads options from the file and sname fields when told to', () => {
    const file = hex('43 0c 31 30 2e 30 2e 30 2e 39 2f 62 6f 6f ff'); // 67 "10.0.0.9/boo" (12 bytes)
    const sname = hex('42 08 31 30 2e 30 2e 30 2e 39 ff'); // 66 "10.0.0.9"
    const b = Buffer.concat([header({ op: 2, xid: 1, mac, file, sname }), hex('35 01 02 34 01 03 ff')]);
    const { packet, problems } = decodeDhcp(b);
    expect(problems).toEqual([]);
    expect(packet!.file).toBe('');
    expect(packet!.sname).toBe('');
    expect(optionText(packet!, 67)).toBe('10.0.0.9/boo');
    expect(optionText(packet!, 66)).toBe('10.0.0.9');
    // RFC 2131: options, then file, then sname.
    expect(packet!.options.map((o) => o.code)).toEqual([53, 52, 67, 66]);
  });

  it('reads file and sname as text when option 52 has a bad value', () => {
    const b = Buffer.concat([header({ op: 2, xid: 1, mac, file: Buffer.from('boot.img') }), hex('35 01 02 34 01 07 ff')]);
    const { packet, problems } = decodeDhcp(b);
    expect(packet!.file).toBe('boot.img');
    expect(problems).toEqual(['option 52 (overload) has an invalid value 07: file and sname read as text']);
  });
});

describe('malformed packets never throw', () => {
  const mac = [0xdc, 0xa6, 0x32, 1, 2, 3];
  const base = header({ op: 2, xid: 9, mac });
  const corpus: [string, Buffer, RegExp | null][] = [
    ['empty', Buffer.alloc(0), /truncated: 0 bytes/],
    ['one byte', Buffer.from([2]), /truncated/],
    ['235 bytes', Buffer.alloc(235), /truncated: 235 bytes/],
    ['header without cookie', base.subarray(0, 236), /no room for the DHCP magic cookie/],
    ['wrong cookie', Buffer.concat([base.subarray(0, 236), hex('63 82 53 64 35 01 02 ff')]), /magic cookie 0x63825364/],
    ['option runs past the end', Buffer.concat([base, hex('35 01 02 36 04 0a 00')]), /option 54 at offset 243 claims 4 bytes but only 2 remain/],
    ['code without length', Buffer.concat([base, hex('35 01 02 36')]), /option 54 at offset 243 has no length byte/],
    ['no END', Buffer.concat([base, hex('35 01 02')]), /no END option/],
    ['option 53 too long', Buffer.concat([base, hex('35 02 02 02 ff')]), /option 53 \(message type\) is 2 bytes long/],
    ['op 7', Buffer.concat([Buffer.from([7]), base.subarray(1), hex('ff')]), /op 7 is neither/],
    ['hlen 200', Buffer.concat([base.subarray(0, 2), Buffer.from([200]), base.subarray(3), hex('ff')]), /hlen 200/],
    ['truncated options inside the overloaded file field', Buffer.concat([header({ op: 2, xid: 9, mac, file: hex('43 ff') }), hex('34 01 01 ff')]), /file field \(overloaded\): option 67 at offset 108 claims 255 bytes/],
    ['only padding', Buffer.concat([base, Buffer.alloc(60)]), /no END option/],
  ];
  for (const [name, bytes, problem] of corpus) {
    it(name, () => {
      const r = decodeDhcp(bytes);
      if (problem) expect(r.problems.join('\n')).toMatch(problem);
    });
  }

  it('keeps what precedes a broken option', () => {
    const r = decodeDhcp(Buffer.concat([base, hex('35 01 02 36 04 0a 00 00 01 3c 09 50 58')]));
    expect(r.packet!.messageType).toBe(2);
    expect(optionAddress(r.packet!, 54)).toBe('10.0.0.1');
    expect(optionText(r.packet!, 60)).toBeUndefined();
  });

  it('random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (arr) => {
        const b = Buffer.from(arr);
        const r = decodeDhcp(b);
        if (r.packet) describeDhcpAnswer(r.packet, { address: '1.2.3.4', port: 67 }, r.problems);
        // Random bytes behind a valid header and cookie reach the option parser.
        const withHeader = Buffer.concat([base, b]);
        const r2 = decodeDhcp(withHeader);
        describeDhcpAnswer(r2.packet!, { address: '1.2.3.4', port: 67 }, r2.problems);
      }),
    );
  });
});

describe('PXE option 43', () => {
  const corpus: [string, Buffer, RegExp][] = [
    ['sub-option past the end', hex('06 05 03'), /sub-option 6 at offset 0 claims 5 bytes but only 1 remain/],
    ['code without length', hex('06 01 03 09'), /sub-option 9 at offset 3 has no length byte/],
    ['menu entry text too long', Buffer.concat([hex('09 08 00 00 40'), Buffer.from('Raspb'), hex('ff')]), /entry of type 0 claims 64 bytes of text but only 5 remain/],
    ['menu stray bytes', hex('09 02 00 00 ff'), /sub-option 9 \(boot menu\): 2 stray bytes/],
    ['boot servers short', hex('08 05 80 00 02 0a 00 ff'), /type 32768 lists 2 addresses but the data ends early/],
    ['discovery control 2 bytes', hex('06 02 03 03 ff'), /sub-option 6 \(discovery control\) is 2 bytes long/],
    ['boot item 3 bytes', hex('47 03 00 01 00 ff'), /sub-option 71 \(boot item\) is 3 bytes long/],
    ['empty prompt', hex('0a 00 ff'), /sub-option 10 \(menu prompt\) is empty/],
    ['no END', hex('06 01 03'), /no END sub-option/],
  ];
  for (const [name, bytes, problem] of corpus) {
    it(name, () => {
      expect(decodePxeOptions(bytes).problems.join('\n')).toMatch(problem);
    });
  }

  it('decodes boot servers, several menu entries, a boot item and unknown sub-options', () => {
    const bytes = encodePxeOptions({
      discoveryControl: 7,
      bootServers: [{ type: 0x8000, addresses: ['10.0.0.1', '10.0.0.2'] }],
      menu: [
        { type: 0x8000, text: 'Install Debian (x86)' },
        { type: 0x8001, text: 'Boot from local disk' },
      ],
      menuPrompt: { timeout: 10, text: 'Press F8 for boot menu' },
      bootItem: { type: 0x8000, layer: 0 },
    });
    const withUnknown = Buffer.concat([hex('01 04 e0 00 01 01'), bytes]);
    const pxe = decodePxeOptions(withUnknown);
    expect(pxe).toEqual({
      discoveryControl: 7,
      bootServers: [{ type: 0x8000, addresses: ['10.0.0.1', '10.0.0.2'] }],
      menu: [
        { type: 0x8000, text: 'Install Debian (x86)' },
        { type: 0x8001, text: 'Boot from local disk' },
      ],
      menuPrompt: { timeout: 10, text: 'Press F8 for boot menu' },
      bootItem: { type: 0x8000, layer: 0 },
      other: [{ code: 1, hex: 'e0000101' }],
      problems: [],
    });
    expect(piBootMatch(withUnknown, pxe)).toBe('none');
  });

  it('finds the Pi text in a menu entry with trailing spaces, and in raw option 43 bytes', () => {
    const spaced = encodePxeOptions({ menu: [{ type: 0, text: 'Raspberry Pi Boot   ' }] });
    expect(piBootMatch(spaced, decodePxeOptions(spaced))).toBe('menu-entry');
    const raw = Buffer.from('Raspberry Pi Boot', 'latin1'); // option 43 as some ISC dhcpd guides set it
    const pxe = decodePxeOptions(raw);
    expect(pxe.problems.length).toBeGreaterThan(0);
    expect(piBootMatch(raw, pxe)).toBe('raw-text');
  });

  it('keeps hostile menu text as bytes, without interpreting it', () => {
    const text = 'Boot\n"$(id)";`x`\u0000\u001b[31m';
    const bytes = encodePxeOptions({ menu: [{ type: 0, text }] });
    expect(decodePxeOptions(bytes).menu).toEqual([{ type: 0, text }]);
  });

  it('random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (arr) => {
        const b = Buffer.from(arr);
        piBootMatch(b, decodePxeOptions(b));
      }),
    );
  });
});

describe('describeDhcpAnswer', () => {
  const base = { op: 2, xid: 5, chaddr: 'dc:a6:32:01:02:03' };
  const summary = (m: Parameters<typeof encodeDhcp>[0]) => {
    const { packet, problems } = decodeDhcp(encodeDhcp(m));
    return describeDhcpAnswer(packet!, { address: '192.168.1.1', port: 67 }, problems);
  };

  it('a home router’s plain offer hands out an address and is no PXE offer', () => {
    const a = summary({ ...base, yiaddr: '192.168.1.50', options: [{ code: 53, data: Buffer.from([2]) }, { code: 54, data: Buffer.from([192, 168, 1, 1]) }] });
    expect(a).toMatchObject({ offersAddress: true, proxyOffer: false, otherPxeOffer: false, piBoot: 'none', tftpServer: '192.168.1.1', tftpServerSource: 'option 54' });
  });

  it('an x86 PXE menu is a PXE offer a Pi would not take', () => {
    const menu = encodePxeOptions({ discoveryControl: 3, menu: [{ type: 0x8000, text: 'iPXE' }] });
    const a = summary({
      ...base,
      file: 'undionly.kpxe',
      options: [
        { code: 53, data: Buffer.from([2]) },
        { code: 60, data: Buffer.from('PXEClient') },
        { code: 43, data: menu },
      ],
    });
    expect(a).toMatchObject({ proxyOffer: true, otherPxeOffer: true, hasRaspberryPiBootMenu: false, menuTexts: ['iPXE'], bootFile: 'undionly.kpxe' });
  });

  it('prefers option 66, then siaddr, then option 54 for the TFTP server', () => {
    const sid = { code: 54, data: Buffer.from([10, 0, 0, 54]) };
    expect(summary({ ...base, siaddr: '10.0.0.20', options: [sid, { code: 66, data: Buffer.from('10.0.0.66') }] })).toMatchObject({ tftpServer: '10.0.0.66', tftpServerSource: 'option 66' });
    expect(summary({ ...base, siaddr: '10.0.0.20', options: [sid] })).toMatchObject({ tftpServer: '10.0.0.20', tftpServerSource: 'siaddr' });
    expect(summary({ ...base, options: [sid] })).toMatchObject({ tftpServer: '10.0.0.54', tftpServerSource: 'option 54' });
    expect(summary({ ...base, options: [] })).toMatchObject({ tftpServer: undefined, tftpServerSource: undefined, messageTypeName: 'BOOTP' });
  });

  it('reports a bad option 54 and option 43 problems', () => {
    const a = summary({ ...base, options: [{ code: 54, data: Buffer.from([10, 0, 0]) }, { code: 43, data: hex('09 05 00 00') }] });
    expect(a.serverId).toBeUndefined();
    expect(a.problems).toEqual(expect.arrayContaining(['option 54 (server identifier) is not 4 bytes long', expect.stringMatching(/^option 43: sub-option 9/)]));
  });

  it('uses the vendor class the Pi sends', () => {
    expect(PI_VENDOR_CLASS).toBe('PXEClient:Arch:00000:UNDI:002001');
  });
});
