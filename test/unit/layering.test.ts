/**
 * Dependencies point one way (README, "Development"):
 *   cli → commands → settings → jobs → domain (pi, remote, host, server, net, plan) → ui, util, errors
 * A file imports its own layer or lower ones, never higher; no command file
 * imports another command file (only the registry and the shared context);
 * src/pi imports nothing outside itself; the SSH layer never imports the
 * terminal (it asks and warns through callbacks). Static and lazy imports
 * both count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

const LAYERS: [string, number][] = [
  ['cli.ts', 6],
  ['commands/', 5],
  ['settings/', 4],
  ['jobs/', 3],
  ['pi/', 2],
  ['remote/', 2],
  ['host/', 2],
  ['server/', 2],
  ['net/', 2],
  ['plan/', 2],
  ['ui/', 1],
  ['util/', 1],
  ['errors.ts', 1],
];

function layerOf(rel: string): [string, number] {
  const hit = LAYERS.find(([prefix]) => rel === prefix || rel.startsWith(prefix));
  if (!hit) throw new Error(`src/${rel} is in no layer: add its folder to LAYERS (and to the README's layering rule)`);
  return hit;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative import of a file (static, `import type`, and lazy `import()`), as paths relative to src/. */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

export function violations(all: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [rel, text] of all) {
    const [layer, rank] = layerOf(rel);
    for (const target of importsOf(join(SRC, rel), text)) {
      const [tLayer, tRank] = layerOf(target);
      if (tRank > rank) out.push(`${rel} (${layer}) imports ${target} (${tLayer}), a higher layer`);
      if (layer === 'commands/' && tLayer === 'commands/' && !['commands/index.ts', 'commands/context.ts'].includes(rel) && target !== 'commands/context.ts') {
        out.push(`${rel} imports another command file, ${target}`);
      }
      if (layer === 'pi/' && tLayer !== 'pi/') out.push(`${rel} imports ${target}: src/pi imports nothing outside itself`);
      if (layer === 'remote/' && tLayer === 'ui/') out.push(`${rel} imports ${target}: the SSH layer asks and warns through the callbacks it is given`);
    }
    if (layer === 'pi/' && /from\s+['"]node:/.test(text)) out.push(`${rel} imports a Node module: src/pi is pure`);
  }
  return out;
}

describe('layering', () => {
  it('dependencies point one way; no command imports another; src/pi is self-contained; SSH never touches the terminal', () => {
    const all = new Map(files(SRC).map((f) => [relative(SRC, f), readFileSync(f, 'utf8')]));
    expect(violations(all)).toEqual([]);
  });

  it('catches each kind of violation (the rule can fail)', () => {
    const cases = new Map([
      ['commands/list.ts', "import { x } from './enroll.js';\nimport type { Ctx } from './context.js';"],
      ['pi/fstab.ts', "import { x } from '../util/ipv4.js';\nimport { readFile } from 'node:fs';"],
      ['server/state.ts', "const m = await import('../jobs/enroll/job.js');"],
      ['remote/auth.ts', "import { askSecret } from '../ui/prompt.js';"],
      ['jobs/runner.ts', "import type { Ctx } from '../commands/context.js';"],
    ]);
    expect(violations(cases)).toEqual([
      'commands/list.ts imports another command file, commands/enroll.ts',
      'pi/fstab.ts imports util/ipv4.ts: src/pi imports nothing outside itself',
      'pi/fstab.ts imports a Node module: src/pi is pure',
      'server/state.ts (server/) imports jobs/enroll/job.ts (jobs/), a higher layer',
      'remote/auth.ts imports ui/prompt.ts: the SSH layer asks and warns through the callbacks it is given',
      'jobs/runner.ts (jobs/) imports commands/context.ts (commands/), a higher layer',
    ]);
  });
});
