/**
 * Colour in pinet's output: chalk is loaded only when a stream will be
 * coloured; every other run gets text through unchanged, whatever chain of
 * styles the code asks for (what chalk does at level 0).
 */
import { afterEach, describe, expect, it } from 'vitest';

const sink = (isTTY: boolean) => ({ isTTY, write: () => true }) as unknown as NodeJS.WritableStream & { isTTY: boolean };

describe('Output colours', () => {
  const noColor = process.env.NO_COLOR;
  afterEach(() => {
    if (noColor === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = noColor;
  });

  it('passes text through unchanged when the stream is not a terminal, for any chain of styles', async () => {
    const { Output } = await import('../../src/ui/output.js');
    const out = new Output({ stdout: sink(false), stderr: sink(false) });
    expect(out.c.red('failed')).toBe('failed');
    expect(out.ce.bold.yellow.dim('careful')).toBe('careful');
    expect(out.c.green(42)).toBe('42');
    expect(out.c.cyan('two', 'words')).toBe('two words');
    expect(out.c.level).toBe(0);
  });

  it('colours a terminal once loadColors has run, and only then', async () => {
    delete process.env.NO_COLOR;
    const { Output, loadColors } = await import('../../src/ui/output.js');
    await loadColors(true, [sink(false)]); // nothing to colour: chalk stays unloaded
    expect(() => new Output({ stdout: sink(true), stderr: sink(false) })).toThrow(/before loadColors/);
    await loadColors(true, [sink(true)]);
    const out = new Output({ stdout: sink(true), stderr: sink(false) });
    expect(out.c.red('failed')).toBe('\x1b[31mfailed\x1b[39m');
    expect(out.ce.red('failed')).toBe('failed');
  });

  it('--no-color and NO_COLOR turn colour off on a terminal', async () => {
    const { Output, loadColors } = await import('../../src/ui/output.js');
    await loadColors(true, [sink(true)]);
    expect(new Output({ stdout: sink(true), color: false }).c.red('x')).toBe('x');
    process.env.NO_COLOR = '1';
    expect(new Output({ stdout: sink(true) }).c.red('x')).toBe('x');
  });
});
