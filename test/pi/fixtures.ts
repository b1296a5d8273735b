/** Read the real-world sample files under test/pi/fixtures/<system>/<file>. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type System =
  | 'ubuntu-2404-pi4b'
  | 'raspios-bookworm-pi4b'
  | 'raspios-bullseye-pi4b'
  | 'cm4-raspios-bookworm'
  | 'pi5-raspios-bookworm';

export function fixture(system: System, file: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${system}/${file}`, import.meta.url)), 'latin1');
}

/** Hostile values every parser must survive (and every editor must refuse or quote). */
export const HOSTILE = [
  'a b',
  "it's",
  '"quoted"',
  '$(id)',
  '`id`',
  'a;reboot',
  'line\nbreak',
  'nul\0byte',
  'cr\rlf',
  '\\040',
  '../../etc/passwd',
  '',
  ' ',
  '\t',
  '#comment',
  '[all]',
  '='.repeat(10),
  'x'.repeat(100_000),
  '\u00ff\u00fe binary \u0001\u0002',
];

/** `it.each` rows: a short printable name, then the value. */
export const HOSTILE_CASES: [string, string][] = HOSTILE.map((v) => [JSON.stringify(v).slice(0, 40), v]);
