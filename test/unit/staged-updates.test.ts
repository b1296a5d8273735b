/**
 * The configs of staged bootloader updates pinet has read, by the file's
 * SHA-256 (src/server/staged-updates.ts), and how detect uses them when the
 * gather script hashed a pieeprom.upd instead of running rpi-eeprom-config.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StagedUpdates } from '../../src/server/staged-updates.js';
import { StateStore } from '../../src/server/state.js';
import { memoizeText } from '../../src/util/memo.js';
import { interpretSections } from '../../src/host/detect.js';
import { pendingUpdate, recordedSections } from '../jobs/fixtures.js';

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const store = (): StateStore => {
  const d = mkdtempSync(join(tmpdir(), 'pinet-staged-'));
  made.push(d);
  return new StateStore(join(d, 'state'));
};
const sha = (n: number): string => n.toString(16).padStart(64, '0');
const CONFIG = '[all]\nBOOT_UART=0\nBOOT_ORDER=0xf241\n';

describe('StagedUpdates', () => {
  it('remembers a config by SHA-256 across runs, and writes nothing when nothing was learnt', async () => {
    const s = store();
    const a = await StagedUpdates.load(s);
    expect(a.known.size).toBe(0);
    await a.save();
    expect(existsSync(join(s.dir, 'staged-updates.json'))).toBe(false);
    a.add(sha(1), CONFIG);
    await a.save();
    const b = await StagedUpdates.load(s);
    expect(b.known.get(sha(1))).toBe(CONFIG);
  });

  it('ignores what is not a SHA-256, and a damaged or foreign file is an empty cache', async () => {
    const s = store();
    const a = await StagedUpdates.load(s);
    a.add(undefined, CONFIG);
    a.add('', CONFIG);
    a.add('not-a-hash', CONFIG);
    a.add(sha(2).toUpperCase().replace(/0/g, 'G'), CONFIG);
    expect(a.known.size).toBe(0);
    await s.ensure();
    writeFileSync(join(s.dir, 'staged-updates.json'), '{ damaged');
    expect((await StagedUpdates.load(s)).known.size).toBe(0);
    writeFileSync(join(s.dir, 'staged-updates.json'), JSON.stringify({ configs: { [sha(3)]: 42, '../x': CONFIG, [sha(4)]: CONFIG } }));
    expect([...(await StagedUpdates.load(s)).known.keys()]).toEqual([sha(4)]);
  });

  it('keeps the newest 32', async () => {
    const s = store();
    const a = await StagedUpdates.load(s);
    for (let i = 1; i <= 40; i++) a.add(sha(i), `${CONFIG}# ${i}\n`);
    expect([...a.known.keys()]).toEqual(Array.from({ length: 32 }, (_, i) => sha(i + 9)));
    a.add(sha(9), `${CONFIG}# 9\n`); // seen again: the newest now
    a.add(sha(41), `${CONFIG}# 41\n`);
    await a.save();
    const keys = [...(await StagedUpdates.load(s)).known.keys()];
    expect(keys).toHaveLength(32);
    expect(keys).toContain(sha(9));
    expect(keys).toContain(sha(41));
    expect(keys).not.toContain(sha(10));
    expect(JSON.parse(readFileSync(join(s.dir, 'staged-updates.json'), 'utf8')).configs[sha(40)]).toBe(`${CONFIG}# 40\n`);
  });
});

describe('detect: a staged update hashed, not read', () => {
  /** The recorded Ubuntu Pi with an update staged, as gather.sh prints it when it read the file (or only hashed it). */
  const sections = (how: 'read' | 'hashed', hash: string): Map<string, string> => {
    const s = recordedSections('ubuntu-2404-pi4');
    pendingUpdate(CONFIG)(s);
    s.set('eeprom-pending-sha256', `${hash}\n`);
    if (how === 'hashed') s.delete('eeprom-pending');
    return s;
  };

  it('a file read this time: its config, its hash, and that it was read (so enroll records it)', () => {
    const d = interpretSections('pi-07', 'pi-07', sections('read', sha(5)));
    expect(d.eeprom).toMatchObject({ pendingConfig: CONFIG, pendingSha256: sha(5), pendingRead: true });
    expect(d.facts.bootloader.known && d.facts.bootloader.value.pending).toMatchObject({ known: true });
  });

  it('a file only hashed: the config known for that hash, not marked as read', () => {
    const known = new Map([[sha(5), CONFIG]]);
    const d = interpretSections('pi-07', 'pi-07', sections('hashed', sha(5)), known);
    expect(d.eeprom.pendingConfig).toBe(CONFIG);
    expect(d.eeprom.pendingRead).toBeUndefined();
    // the same plan as when the file was read
    const read = interpretSections('pi-07', 'pi-07', sections('read', sha(5)));
    expect(d.facts).toEqual(read.facts);
  });

  it('an unknown hash without a reading gives no pending config (never a guess)', () => {
    const d = interpretSections('pi-07', 'pi-07', sections('hashed', sha(6)), new Map([[sha(5), CONFIG]]));
    expect(d.eeprom.pendingConfig).toBeUndefined();
    expect(d.eeprom.pendingSha256).toBe(sha(6));
  });
});

describe('memoizeText', () => {
  it('parses a text once, a changed text again; errors are not kept', () => {
    let calls = 0;
    const parse = memoizeText((text: string, name: string) => {
      calls++;
      if (text === 'bad') throw new Error(`${name}: bad`);
      return { text, name };
    });
    const a = parse('Host a', 'f');
    expect(parse('Host a', 'f')).toBe(a);
    expect(calls).toBe(1);
    expect(parse('Host a', 'g')).not.toBe(a); // another name, another result
    expect(parse('Host b', 'f').text).toBe('Host b');
    expect(calls).toBe(3);
    expect(() => parse('bad', 'f')).toThrow(/bad/);
    expect(() => parse('bad', 'f')).toThrow(/bad/);
    expect(calls).toBe(5);
  });
});
