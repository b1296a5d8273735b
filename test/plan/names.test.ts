/**
 * A Pi's own names (src/plan/names.ts): found in its texts, replaced by
 * placeholders only where they stand alone, and many Pis listed in one line.
 */
import { describe, expect, it } from 'vitest';
import { abstractNames, listPis, namesOf, pis } from '../../src/plan/names.js';

describe('namesOf', () => {
  it('reads the serial, the directory, the address of its label and its PARTUUIDs', () => {
    const n = namesOf('pi-07', ['serial 10000000bf9fed6f, Pi 4B, directory bf9fed6f', 'pi-07 (10.0.0.17): cannot connect', '-PARTUUID=a285926b-01  /boot/firmware']);
    expect(n).toEqual({ pi: 'pi-07', serial: '10000000bf9fed6f', dir: 'bf9fed6f', ips: ['10.0.0.17'], partuuids: ['a285926b'] });
  });

  it('without a directory named, the serial’s last 8 digits; a MAC directory (TFTP_PREFIX=2) gives the MAC', () => {
    expect(namesOf('a', ['serial 10000000bf9fed6f']).dir).toBe('bf9fed6f');
    expect(namesOf('a', ['directory dc-a6-32-01-36-c2'])).toMatchObject({ dir: 'dc-a6-32-01-36-c2', mac: 'dc:a6:32:01:36:c2' });
  });
});

describe('abstractNames', () => {
  const n = namesOf('pi-01', ['serial 10000000aaaa0001, directory aaaa0001', 'pi-01 (10.0.0.1)']);

  it('replaces the serial before the directory it ends with, and every occurrence', () => {
    expect(abstractNames('record aaaa0001 (serial 10000000aaaa0001) in /mnt/netboot/aaaa0001/', n)).toBe('record <dir> (serial <serial>) in /mnt/netboot/<dir>/');
  });

  it('leaves a name inside a longer one alone (pi-01 in pi-010, 10.0.0.1 in 10.0.0.17)', () => {
    expect(abstractNames('reboot pi-01; pi-010 and 10.0.0.17 stay; 10.0.0.1 goes', n)).toBe('reboot <pi>; pi-010 and 10.0.0.17 stay; <ip> goes');
  });

  it('a Pi named by its directory gets the directory’s placeholder, so it reads like an enrolled one', () => {
    const byDir = namesOf('aaaa0001', ['directory aaaa0001']);
    expect(abstractNames('/mnt/netboot/aaaa0001/start4.elf is missing', byDir)).toBe('/mnt/netboot/<dir>/start4.elf is missing');
  });

  it('two Pis’ texts that differ only in their names become equal; other differences stay', () => {
    const m = namesOf('pi-02', ['serial 10000000aaaa0002, directory aaaa0002']);
    expect(abstractNames('create /mnt/netboot/aaaa0001/', n)).toBe(abstractNames('create /mnt/netboot/aaaa0002/', m));
    expect(abstractNames('BOOT_ORDER 0xf41 on pi-01', n)).not.toBe(abstractNames('BOOT_ORDER 0xf14 on pi-02', m));
  });
});

describe('listPis', () => {
  it('a run of numbered names is its first and last; the order is natural', () => {
    const names = Array.from({ length: 40 }, (_, i) => `pi-${String(40 - i).padStart(2, '0')}`);
    expect(listPis(names)).toBe('pi-01 … pi-40');
    expect(listPis(['pi-10', 'pi-2', 'pi-1', 'pi-3'])).toBe('pi-1 … pi-3, pi-10');
  });

  it('gaps split runs; two in a row are listed; short lists are comma lists', () => {
    expect(listPis(['pi-01', 'pi-02', 'pi-03', 'pi-05', 'pi-06', 'pi-09'])).toBe('pi-01 … pi-03, pi-05, pi-06, pi-09');
    expect(listPis(['web', 'db', 'cache'])).toBe('cache, db, web');
  });

  it('past the limit: the first items and how many more', () => {
    const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
    expect(listPis(names, 4)).toBe('alpha, bravo, charlie and 7 more');
    expect(listPis([...names, 'pi-01', 'pi-02', 'pi-03'], 11)).toBe('alpha, bravo, charlie, delta, echo, foxtrot, golf, hotel, india, juliet, pi-01 … pi-03');
  });

  it('counts', () => {
    expect([pis(1), pis(0), pis(50)]).toEqual(['1 Pi', '0 Pis', '50 Pis']);
  });
});
