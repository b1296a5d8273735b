import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { hostPort, parseDestination } from '../../src/remote/destination.js';
import { matchHostLine, matchHostname, matchPattern, matchPatternList } from '../../src/remote/patterns.js';

describe('parseDestination', () => {
  it.each([
    ['pi-07', { host: 'pi-07' }],
    ['pi@pi-07', { host: 'pi-07', user: 'pi' }],
    ['pi@10.0.0.17:2222', { host: '10.0.0.17', user: 'pi', port: 2222 }],
    ['10.0.0.17:22', { host: '10.0.0.17', port: 22 }],
    ['[fe80::1]:2200', { host: 'fe80::1', port: 2200 }],
    ['root@[2001:db8::7]', { host: '2001:db8::7', user: 'root' }],
    ['fe80::1', { host: 'fe80::1' }],
    ['ssh://ubuntu@pi-02.lan:2022', { host: 'pi-02.lan', user: 'ubuntu', port: 2022 }],
    ['ssh://pi-02', { host: 'pi-02' }],
    ['me@corp@pi', { host: 'pi', user: 'me@corp' }],
    ['Pi_07.local', { host: 'Pi_07.local' }],
  ])('accepts %s', (text, want) => {
    expect(parseDestination(text)).toEqual({ text, ...want });
  });

  it.each([
    '',
    'a b',
    '-oProxyCommand=x',
    '-p22',
    '$(id)',
    '`id`',
    'pi;reboot',
    'pi|x',
    'pi&',
    "pi'",
    'pi"',
    'pi\nreboot',
    'pi\r\n',
    'pi\0',
    'pi\t',
    '@pi',
    'pi@',
    '-user@pi',
    'pi:0',
    'pi:65536',
    'pi:abc',
    'pi:22:33x',
    'user@host:22:33',
    '[fe80::1',
    '[nothex]:22',
    '*',
    'pi-*',
    'pi/x',
    '../pi',
    '.pi',
    '$USER@pi',
    'pi,other',
    'pi{a,b}',
    'ssh://',
    'x'.repeat(300),
  ])('refuses %j as a UsageError, naming it', (text) => {
    let err: unknown;
    try {
      parseDestination(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg).toContain(JSON.stringify(text).slice(0, 20));
    expect(msg).not.toContain('\n');
  });

  it('formats [host]:port only for ports other than 22', () => {
    expect(hostPort('pi', 22)).toBe('pi');
    expect(hostPort('pi', 2222)).toBe('[pi]:2222');
  });
});

describe('OpenSSH patterns', () => {
  it.each([
    ['pi-07', 'pi-*', true],
    ['pi-07', 'pi-0?', true],
    ['pi-07', 'pi-?', false],
    ['pi-07', '*', true],
    ['', '*', true],
    ['pi', 'pi*', true],
    ['pi-07.lan', '*.lan', true],
    ['pi-07.lan', '*.lan*x', false],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaab', '*a*a*a*a*a*a*a*a*a*a*c', false],
    ['a?b', 'a?b', true],
    ['PI-07', 'pi-*', false],
  ])('%s ~ %s = %s', (text, pattern, want) => {
    expect(matchPattern(text, pattern)).toBe(want);
  });

  it('pattern lists: a negated match vetoes', () => {
    expect(matchPatternList('pi-07', 'pi-*,!pi-07')).toBe(-1);
    expect(matchPatternList('pi-08', 'pi-*,!pi-07')).toBe(1);
    expect(matchPatternList('x', 'pi-*,!pi-07')).toBe(0);
    expect(matchHostname('PI-07', 'pi-*')).toBe(1);
    expect(matchHostname('pi-07', 'PI-*')).toBe(1);
  });

  it('Host lines: several patterns, negation wins, only-negated never matches', () => {
    expect(matchHostLine('pi-07', ['web', 'pi-*'])).toBe(true);
    expect(matchHostLine('pi-07', ['pi-*', '!pi-07'])).toBe(false);
    expect(matchHostLine('pi-07', ['!pi-07', 'pi-*'])).toBe(false);
    expect(matchHostLine('pi-07', ['!other'])).toBe(false);
  });
});
