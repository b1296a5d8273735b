import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProgress, loadLiveView } from '../../src/ui/progress.js';
import { mapLimit } from '../../src/util/concurrency.js';

function capture() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += String(d)));
  return { s, text: () => text };
}

describe('progress', () => {
  beforeAll(loadLiveView);

  it('prints one plain line per step without a terminal, never per byte', () => {
    const { s, text } = capture();
    const p = createProgress(s, ['pi-01', 'pi-02'], { live: false });
    p.step('pi-01', 'connecting');
    p.bytes('pi-01', 100);
    p.bytes('pi-01', 200);
    p.step('pi-01', 'copying boot files');
    p.done('pi-01', 'ok', '3 changes');
    p.stop();
    expect(text()).toBe('pi-01: connecting\npi-01: copying boot files\npi-01: ok (3 changes)\n');
  });

  it('redraws a live list in place on a terminal', () => {
    const { s, text } = capture();
    const p = createProgress(s, ['pi-01'], { live: true });
    p.step('pi-01', 'copying boot files');
    p.bytes('pi-01', 3 * 1024 * 1024, 7 * 1024 * 1024);
    p.stop();
    expect(text()).toContain('copying boot files  3.0 MB / 7.0 MB');
    expect(text()).toContain('\x1b[2K');
  });
});

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n * 5));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });
});
