import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../src/util/shell.js';

/** What /bin/sh makes of a joined command line: printf each argument NUL-terminated. */
function roundTrip(args: string[]): string[] {
  // A leading marker keeps printf from running once with no argument for an empty list.
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' start ${shellJoin(args)}`]);
  return out.toString('utf8').split('\0').slice(1, -1);
}

describe('shell quoting', () => {
  const hostile = ['a b', "'", '"', '$(id)', '`id`', ';', 'x\ny', '*', '-n', '~', '$HOME', '\\', '', "it's", 'a=b', '%1', '!!', '{a,b}', '#c', '\t', 'é'];
  it('passes hostile values through /bin/sh unchanged', () => {
    expect(roundTrip(hostile)).toEqual(hostile);
  });

  it('leaves plain words readable', () => {
    expect(shellJoin(['pinet', 'render-dnsmasq', '--subnet', '10.86.5.0/24'])).toBe('pinet render-dnsmasq --subnet 10.86.5.0/24');
    expect(shellQuote('a b')).toBe("'a b'");
  });

  it('refuses NUL, which no shell word can hold', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('round-trips any string without NUL (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')), { maxLength: 5 }), (args) => {
        expect(roundTrip(args)).toEqual(args);
      }),
      { numRuns: 60 },
    );
  });
});
