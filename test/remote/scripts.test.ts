/**
 * The remote scripts as files: every script in scripts/remote/ is known to
 * src/remote/script.ts, passes shellcheck exactly as it is sent (its
 * libraries, then itself), and no TypeScript file outside the script runner
 * hands shell text to `sh -c`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCRIPT_NAMES, scriptSource } from '../../src/remote/script.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPTS = join(ROOT, 'scripts/remote');

/** The string and template literals of a TypeScript file (a small lexer: comments, quotes, `${}` nesting). */
function literals(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  const braces: ('code' | 'tpl')[] = [];
  const template = (): void => {
    let text = '';
    while (i < src.length) {
      const c = src[i]!;
      if (c === '\\') { text += src.slice(i, i + 2); i += 2; continue; }
      if (c === '`') { i++; out.push(text); return; }
      if (c === '$' && src[i + 1] === '{') { i += 2; out.push(text); text = ''; braces.push('tpl'); code(); continue; }
      text += c;
      i++;
    }
  };
  const code = (): void => {
    while (i < src.length) {
      const c = src[i]!;
      if (c === '/' && src[i + 1] === '/') { i = src.indexOf('\n', i); if (i < 0) i = src.length; continue; }
      if (c === '/' && src[i + 1] === '*') { i = src.indexOf('*/', i + 2) + 2; if (i < 2) i = src.length; continue; }
      if (c === "'" || c === '"') {
        let j = i + 1;
        while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
        out.push(src.slice(i + 1, j));
        i = j + 1;
        continue;
      }
      if (c === '`') { i++; template(); continue; }
      if (c === '{') braces.push('code');
      if (c === '}') { const b = braces.pop(); i++; if (b === 'tpl') return; continue; }
      i++;
    }
  };
  code();
  return out;
}

/** Shell script text: several lines with shell control flow or positional parameters. */
function looksLikeShell(text: string): boolean {
  const lines = text.split(/\n|\\n/);
  if (lines.length < 3) return false;
  return /(^|\n|\\n)\s*(fi|done|esac|then|do)\s*($|\n|\\n|;)/.test(text) || /"\$[0-9@]"/.test(text);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('remote scripts', () => {
  it('every file in scripts/remote/ is a script pinet runs, and every script pinet runs is a file', () => {
    const files = readdirSync(SCRIPTS).filter((f) => f.endsWith('.sh')).map((f) => f.slice(0, -3)).sort();
    expect(files).toEqual([...SCRIPT_NAMES].sort());
  });

  it.each([...SCRIPT_NAMES])('%s.sh passes shellcheck as it is sent (with its libraries)', (name) => {
    const probe = spawnSync('shellcheck', ['--version']);
    if (probe.error) throw new Error('shellcheck is not installed: install the Debian package shellcheck (.ci/run does)');
    const text = scriptSource(name).text;
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', '-'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr, `${name}.sh`).toBe('');
    expect(r.status).toBe(0);
    expect(text.startsWith('#!/bin/sh') || text.startsWith('# shellcheck shell=sh')).toBe(true);
  });

  it('the literal finder sees shell text in a template and in a string, and not in prose', () => {
    expect(literals('const a = `\nif x; then\n  y\nfi\n`; // `not this`').some(looksLikeShell)).toBe(true);
    expect(literals("const b = 'for f do\\n  cat \"$1\"\\ndone\\n';").some(looksLikeShell)).toBe(true);
    expect(literals('const c = `${x} done: ${y}\nnot done: z\nthen more`;').some(looksLikeShell)).toBe(false);
  });

  it('no TypeScript file outside src/remote/script.ts passes shell text to sh -c', () => {
    const offenders: string[] = [];
    for (const file of walk(join(ROOT, 'src')).filter((f) => f.endsWith('.ts'))) {
      const rel = relative(ROOT, file);
      if (['src/remote/script.ts', 'src/remote/remote-host.ts', 'src/remote/local-host.ts'].includes(rel)) continue; // the runner and the two hosts it runs on
      const text = readFileSync(file, 'utf8');
      if (/['"]sh['"],\s*['"]-c['"]/.test(text) || literals(text).some(looksLikeShell)) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });
});
