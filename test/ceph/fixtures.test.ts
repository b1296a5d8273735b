/**
 * The committed recordings of the real ceph CLI (test/fixtures/ceph, made by
 * test/ceph/record.ts) are complete and safe to use: every file the index
 * names exists with argv, exit code and output from Ceph 16.2, JSON output
 * parses, and no cephx key slipped through the redaction.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Recording } from './record.js';

const DIR = fileURLToPath(new URL('../fixtures/ceph/', import.meta.url));

interface Index {
  cephVersion: string;
  recordings: Array<{ name: string; exitCode: number }>;
}

const index = JSON.parse(readFileSync(`${DIR}index.json`, 'utf8')) as Index;
const load = (name: string): Recording => JSON.parse(readFileSync(`${DIR}${name}.json`, 'utf8')) as Recording;

describe('recordings of the real ceph CLI (test/fixtures/ceph)', () => {
  it('the index lists every recording file, and each has the argv, exit code and output', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.replace(/\.json$/, ''));
    expect(index.recordings.map((r) => r.name).sort()).toEqual(files.sort());
    for (const { name, exitCode } of index.recordings) {
      const r = load(name);
      expect(r.name).toBe(name);
      expect(r.argv.length).toBeGreaterThan(0);
      expect(r.exitCode).toBe(exitCode);
      expect(typeof r.stdout).toBe('string');
      expect(typeof r.stderr).toBe('string');
      expect(r.cephVersion).toBe(index.cephVersion);
    }
    expect(index.cephVersion).toMatch(/^16\.2\.\d+$/);
  });

  it('JSON output is stored parsed as well', () => {
    for (const { name } of index.recordings) {
      const r = load(name);
      const t = r.stdout.trim();
      if (t.startsWith('{') || t.startsWith('[')) expect(r.json, name).toEqual(JSON.parse(t));
    }
  });

  it('holds no cephx key (they start with AQ and are 40 base64 characters)', () => {
    for (const f of readdirSync(DIR)) {
      expect(readFileSync(`${DIR}${f}`, 'utf8'), f).not.toMatch(/AQ[A-Za-z0-9+/]{38}==/);
    }
  });
});
