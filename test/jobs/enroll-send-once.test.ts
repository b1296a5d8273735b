/**
 * Send each unique boot file once (issue 14), without root: who sends which
 * content (planSending: each content once, the bytes spread over the Pis
 * that have it, deterministic), the plan's line and JSON for the bytes over
 * the network and copied here, and the progress view's bytes with rates and
 * totals.
 */
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { planSending, type PiFiles } from '../../src/jobs/enroll/send-once.js';
import { formatPlan, planToJson, transferLine, type Plan } from '../../src/plan/model.js';
import { createProgress, loadLiveView } from '../../src/ui/progress.js';

const h = (c: string): string => c.repeat(64).slice(0, 64);
const MB = 1024 * 1024;

/** A Pi of one image: the same contents at the same paths, and its own user-data. */
function imagePi(pi: string, own = `${pi}-own`): PiFiles {
  return {
    pi,
    files: [
      { path: 'initrd.img', sha256: h('a'), size: 52 * MB },
      { path: 'vmlinuz', sha256: h('b'), size: 10 * MB },
      { path: 'start4.elf', sha256: h('c'), size: 2 * MB },
      { path: 'start4.elf.bak', sha256: h('c'), size: 2 * MB }, // flash-kernel's backup: the same bytes
      { path: 'overlays/a.dtbo', sha256: h('d'), size: 3000 },
      { path: 'user-data', sha256: Buffer.from(own).toString('hex').padEnd(64, '0').slice(0, 64), size: 900 },
    ],
  };
}

describe('planSending: each content once, spread over the Pis that have it', () => {
  it('sends every distinct content once, by a Pi that has it, and counts every copy into the Pis\' directories', () => {
    const pis = ['pi-01', 'pi-02', 'pi-03'].map((p) => imagePi(p));
    const s = planSending(pis);
    // a, b, c, d shared; three user-data of their own
    expect(s.contents.map((c) => c.size).sort((x, y) => y - x)).toEqual([52 * MB, 10 * MB, 2 * MB, 3000, 900, 900, 900]);
    for (const c of s.contents) {
      expect(pis.find((p) => p.pi === c.sender)!.files.some((f) => f.path === c.path && f.sha256 === c.sha256 && f.size === c.size)).toBe(true);
    }
    // Each Pi's own user-data is sent by that Pi: nobody else has it.
    for (const p of pis) expect(s.contents.find((c) => c.path === 'user-data' && c.holders.length === 1 && c.holders[0] === p.pi)?.sender).toBe(p.pi);
    const perPi = 52 * MB + 10 * MB + 4 * MB + 3000 + 900;
    expect(s.transfer).toEqual({
      files: 18,
      bytes: 3 * perPi,
      pis: 3,
      // the Pi that sends the initrd also sends its own user-data
      network: { files: 7, bytes: 64 * MB + 3000 + 3 * 900, senders: 3, largestSender: 52 * MB + 900 },
      local: { files: 11, bytes: 3 * perPi - (64 * MB + 3000 + 3 * 900) },
    });
    // start4.elf and its .bak are one content with two copies per Pi
    expect(s.uses.get(`${h('c')}-${2 * MB}`)).toBe(6);
    expect([...s.bySender.values()].reduce((n, l) => n + l.bytes, 0)).toBe(s.transfer.network.bytes);
  });

  it('balances the bytes: on 50 Pis of one image, a Pi sends more than the least busy one only by its smallest content', () => {
    const files = Array.from({ length: 400 }, (_, i) => ({ path: `overlays/o${i}.dtbo`, sha256: i.toString(16).padStart(64, 'e'), size: 1000 + ((i * 7919) % 50_000) }));
    const pis: PiFiles[] = Array.from({ length: 50 }, (_, i) => ({ pi: `pi-${String(i + 1).padStart(2, '0')}`, files: [...imagePi('x').files.slice(0, 4), ...files] }));
    const s = planSending(pis);
    const loads = [...s.bySender.values()];
    expect(s.bySender.size).toBe(50);
    expect(Math.max(...loads.map((l) => l.bytes))).toBe(52 * MB); // the initrd alone: nothing is added to it
    // Largest first, each to the least busy Pi: a Pi's last (smallest) content went to it when it was the least busy.
    const least = Math.min(...loads.map((l) => l.bytes));
    for (const l of loads.filter((x) => x.files.length > 1)) expect(l.bytes - Math.min(...l.files.map((f) => f.content.size))).toBeLessThanOrEqual(least);
    expect(loads.reduce((n, l) => n + l.bytes, 0)).toBe(s.transfer.network.bytes);
  });

  it('is deterministic, and the first Pi named wins a tie', () => {
    const pis = ['pi-02', 'pi-01'].map((p) => imagePi(p));
    expect(planSending(pis)).toEqual(planSending(pis));
    expect(planSending(pis).contents[0]).toMatchObject({ size: 52 * MB, sender: 'pi-02', holders: ['pi-02', 'pi-01'] });
  });

  it('a content two paths of one Pi share is sent once, from the first of its paths', () => {
    const s = planSending([imagePi('pi-01')]);
    const c = s.contents.find((x) => x.sha256 === h('c'))!;
    expect(c.path).toBe('start4.elf');
    expect(s.bySender.get('pi-01')!.files.map((f) => f.path)).not.toContain('start4.elf.bak');
  });

  it('only: plans just the named contents among the Pis given (a failed sender\'s, asked of the others)', () => {
    const pis = ['pi-01', 'pi-02', 'pi-03'].map((p) => imagePi(p));
    const first = planSending(pis);
    const initrd = first.contents[0]!;
    const others = pis.filter((p) => p.pi !== initrd.sender);
    const again = planSending(others, new Set([initrd.name]));
    expect(again.contents.map((c) => c.name)).toEqual([initrd.name]);
    expect(again.contents[0]!.sender).not.toBe(initrd.sender);
    expect(again.transfer.network).toMatchObject({ files: 1, bytes: 52 * MB, senders: 1 });
  });

  it('nothing to copy: nothing to send', () => {
    const s = planSending([{ pi: 'pi-01', files: [] }]);
    expect(s.contents).toEqual([]);
    expect(s.transfer).toMatchObject({ files: 0, bytes: 0, pis: 0, network: { files: 0, bytes: 0, senders: 0, largestSender: 0 } });
  });
});

describe('the plan says the bytes over the network and copied here', () => {
  const transfer = planSending(['pi-01', 'pi-02'].map((p) => imagePi(p))).transfer;
  const plain = { bold: (s: string) => s, dim: (s: string) => s, yellow: (s: string) => s, green: (s: string) => s, red: (s: string) => s, cyan: (s: string) => s };
  const plan: Plan = { command: 'enroll', targets: [{ target: 'pi-01', changes: [], warnings: [], notes: [] }], transfer };

  it('in one line after the Pis', () => {
    expect(transferLine(transfer)).toBe(
      'copy: 12 files (132.0 MB) into 2 Pis\' directories: 64.0 MB over the network (6 distinct files, each sent once, by 2 Pis, at most 52.0 MB from one), 68.0 MB copied on this machine',
    );
    expect(formatPlan(plan, plain).trimEnd().split('\n').at(-1)).toBe(transferLine(transfer));
    // One Pi: its own directory, nobody else sends
    expect(transferLine(planSending([imagePi('pi-01')]).transfer)).toBe(
      "copy: 6 files (66.0 MB) into the Pi's directory: 64.0 MB over the network (5 distinct files, each sent once), 2.0 MB copied on this machine",
    );
  });

  it('in the JSON as `transfer`, and not at all without a copy', () => {
    expect((planToJson(plan) as { transfer: unknown }).transfer).toEqual(transfer);
    const none: Plan = { command: 'enroll', targets: plan.targets };
    expect(planToJson(none)).not.toHaveProperty('transfer');
    expect(formatPlan(none, plain)).not.toMatch(/over the network/);
  });
});

describe('progress: bytes over the network and copied here, per Pi and in total, with a rate', () => {
  beforeAll(loadLiveView);

  function capture() {
    const s = new PassThrough();
    let text = '';
    s.on('data', (d) => (text += String(d)));
    return { s, text: () => text };
  }

  it('without a terminal: each Pi says its bytes when it finishes, the phase ends with the total', () => {
    const { s, text } = capture();
    let now = 1000;
    const p = createProgress(s, ['pi-01', 'pi-02'], { live: false, now: () => now });
    p.step('pi-01', 'sending 2 files');
    p.moved!('pi-01', 'network', 0, 4 * MB);
    p.moved!('pi-02', 'network', 0, 2 * MB);
    now += 1000;
    p.moved!('pi-01', 'network', 4 * MB, 4 * MB);
    p.done('pi-01', 'ok');
    now += 1000;
    p.moved!('pi-02', 'network', 2 * MB, 2 * MB);
    p.done('pi-02', 'ok', 'note');
    p.stop();
    expect(text().split('\n')).toEqual([
      'pi-01: sending 2 files',
      'pi-01: ok (sent 4.0 MB over the network in 1.0 s, 4.0 MB/s)',
      'pi-02: ok (note; sent 2.0 MB over the network in 2.0 s, 1.0 MB/s)',
      'total over the network: 6.0 MB of 6.0 MB from 2 Pis in 2.0 s (3.0 MB/s)',
      '',
    ]);
  });

  it('on a terminal: the row shows the bytes and the rate, a total line sums all Pis', () => {
    const { s, text } = capture();
    let now = 0;
    const p = createProgress(s, ['pi-01', 'pi-02'], { live: true, now: () => now });
    p.step('pi-01', 'copying into the export');
    p.moved!('pi-01', 'local', 0, 8 * MB);
    p.moved!('pi-02', 'local', 0, 8 * MB);
    now = 2000;
    p.moved!('pi-01', 'local', 4 * MB, 8 * MB);
    p.moved!('pi-02', 'local', 2 * MB, 8 * MB);
    p.stop();
    expect(text()).toContain('copying into the export  4.0 MB / 8.0 MB  2.0 MB/s');
    expect(text()).toContain('total copied on this machine: 6.0 MB of 16.0 MB for 2 Pis in 2.0 s (3.0 MB/s)');
  });
});
