/**
 * config.txt as the Pi 4 firmware reads it, written for the emulator (it
 * plays the hardware pinet is tested against, so it does not share pinet's
 * own parser in src/pi). Documented behaviour (raspberrypi/documentation,
 * config_txt/conditional.adoc and boot.adoc):
 *
 * - `key=value` lines, `#` comments, surrounding blanks ignored; a later
 *   value of a key wins, except `dtoverlay`, which accumulates.
 * - `initramfs <file>[,<file>...] <address|followkernel>` (no `=`).
 * - `include <file>`: the file is read in place, under the filters active
 *   at that point (the caller supplies the reader: TFTP or a directory).
 * - Conditional sections: `[all]` resets every filter; model filters
 *   (`[pi4]`, `[pi400]`, `[cm4]`, `[cm4s]`, `[pi5]`, `[pi3]`, ...,
 *   `[board-type=0x14]`, and `[none]`, which matches nothing) replace each
 *   other; filters of other types (`[0x<serial>]`, `[tryboot]`, `[EDID=…]`,
 *   `[gpioN=V]`, `[HDMI:N]`) combine with them (AND). A headless Pi on a
 *   bench has no EDID, is not in tryboot, and its GPIO filters are taken as
 *   not matching; `[HDMI:N]` only scopes HDMI settings, so it matches.
 */
import type { Board } from './board.js';

export interface ConfigDirective {
  /** Lower-cased key (`kernel`, `dtoverlay`, `initramfs`, `include`). */
  key: string;
  value: string;
  /** Which file and line it came from (for log lines). */
  file: string;
  line: number;
}

export interface ConfigTxt {
  /** Directives that apply to this board, in order (includes expanded). */
  applied: ConfigDirective[];
  /** Last value of each key. */
  settings: Map<string, string>;
  /** `dtoverlay=` names in order (parameters after the first comma dropped). */
  overlays: string[];
  /** From the last applying `initramfs` line. */
  initramfs?: { files: string[]; address: string };
  /** Files named by `include`, in order, with whether they could be read. */
  includes: { name: string; found: boolean }[];
  /** Lines that were not understood, and filters taken as not matching. */
  notes: string[];
}

export interface ConfigContext {
  board: Pick<Board, 'filters' | 'type'>;
  /** 8 hex digits, for `[0x12345678]`. */
  serial8: string;
  tryboot?: boolean;
  /** Reads an included file; null when it does not exist. */
  readInclude?: (name: string) => Promise<string | null> | string | null;
}

/** Model filters that exist, so an unknown name is noted rather than silently skipped. */
const MODEL_FILTERS = new Set(['pi1', 'pi2', 'pi3', 'pi3+', 'pi4', 'pi400', 'cm4', 'cm4s', 'pi5', 'pi500', 'cm5', 'pi0', 'pi0w', 'pi02']);
const MAX_INCLUDE_DEPTH = 8;

type Filters = { model: boolean; other: Map<string, boolean> };

function allFilters(): Filters {
  return { model: true, other: new Map() };
}

function active(f: Filters): boolean {
  if (!f.model) return false;
  for (const v of f.other.values()) if (!v) return false;
  return true;
}

/** Apply a `[...]` section header to the filter state; returns a note for unknown filters. */
function applySection(header: string, f: Filters, ctx: ConfigContext): string | undefined {
  const h = header.trim();
  const lower = h.toLowerCase();
  if (lower === 'all') {
    f.model = true;
    f.other.clear();
    return undefined;
  }
  if (lower === 'none') {
    f.model = false;
    return undefined;
  }
  if (MODEL_FILTERS.has(lower)) {
    f.model = ctx.board.filters.includes(lower);
    return undefined;
  }
  const boardType = /^board-type=(0x[0-9a-f]+|[0-9]+)$/i.exec(h);
  if (boardType) {
    f.model = Number(boardType[1]) === ctx.board.type;
    return undefined;
  }
  const serial = /^0x([0-9a-f]{1,8})$/i.exec(h);
  if (serial) {
    f.other.set('serial', serial[1]!.toLowerCase().padStart(8, '0') === ctx.serial8.toLowerCase());
    return undefined;
  }
  if (lower === 'tryboot') {
    f.other.set('tryboot', ctx.tryboot ?? false);
    return undefined;
  }
  if (/^hdmi:[01]$/i.test(h)) return undefined;
  if (/^edid=/i.test(h)) {
    f.other.set('edid', false);
    return `[${h}]: no monitor is attached, so this section does not apply`;
  }
  if (/^gpio[0-9]+=[01]$/i.test(h)) {
    f.other.set(`gpio:${lower.split('=')[0]}`, false);
    return `[${h}]: GPIO levels are not emulated; this section is taken as not matching`;
  }
  f.other.set(`unknown:${lower}`, false);
  return `[${h}]: a filter the emulator does not know; this section is taken as not matching`;
}

/** One line → a directive (or null for blanks and comments, or a note). */
function parseLine(raw: string): { key: string; value: string } | { note: string } | null {
  const line = raw.replace(/\r$/, '').trim();
  if (line === '' || line.startsWith('#')) return null;
  const initramfs = /^initramfs\s+(\S+)(?:\s+(\S+))?\s*$/i.exec(line);
  if (initramfs) return { key: 'initramfs', value: `${initramfs[1]} ${initramfs[2] ?? ''}`.trim() };
  const include = /^include\s+(\S.*)$/i.exec(line);
  if (include) return { key: 'include', value: include[1]!.trim() };
  const eq = line.indexOf('=');
  if (eq <= 0) return { note: `not a setting: ${JSON.stringify(line)}` };
  return { key: line.slice(0, eq).trim().toLowerCase(), value: line.slice(eq + 1).trim() };
}

/** Read config.txt (and what it includes) for one board. */
export async function readConfigTxt(text: string, ctx: ConfigContext, fileName = 'config.txt'): Promise<ConfigTxt> {
  const out: ConfigTxt = { applied: [], settings: new Map(), overlays: [], includes: [], notes: [] };
  const filters = allFilters();

  const walk = async (content: string, file: string, depth: number): Promise<void> => {
    const lines = content.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.replace(/\r$/, '');
      const section = /^\s*\[([^\]]*)\]\s*(#.*)?$/.exec(raw);
      if (section) {
        const note = applySection(section[1]!, filters, ctx);
        if (note) out.notes.push(`${file}:${i + 1}: ${note}`);
        continue;
      }
      const parsed = parseLine(raw);
      if (parsed === null) continue;
      if ('note' in parsed) {
        out.notes.push(`${file}:${i + 1}: ${parsed.note}`);
        continue;
      }
      if (!active(filters)) continue;
      const directive: ConfigDirective = { ...parsed, file, line: i + 1 };
      out.applied.push(directive);
      if (parsed.key === 'include') {
        if (depth >= MAX_INCLUDE_DEPTH) {
          out.notes.push(`${file}:${i + 1}: include nested deeper than ${MAX_INCLUDE_DEPTH}: ${parsed.value} skipped`);
          continue;
        }
        const included = ctx.readInclude ? await ctx.readInclude(parsed.value) : null;
        out.includes.push({ name: parsed.value, found: included !== null });
        if (included !== null) await walk(included, parsed.value, depth + 1);
        continue;
      }
      if (parsed.key === 'initramfs') {
        const [files, address] = parsed.value.split(' ');
        out.initramfs = { files: files!.split(',').filter((f) => f !== ''), address: address ?? '' };
        continue;
      }
      if (parsed.key === 'dtoverlay') {
        const name = parsed.value.split(',')[0]!.trim();
        if (name !== '') out.overlays.push(name);
        continue;
      }
      out.settings.set(parsed.key, parsed.value);
    }
  };
  await walk(text, fileName, 0);
  return out;
}

/** `setting` as an integer (`0x10`, `12`), or undefined when absent or not a number. */
export function configNumber(config: Pick<ConfigTxt, 'settings'>, key: string): number | undefined {
  const v = config.settings.get(key);
  if (v === undefined || !/^(0x[0-9a-f]+|-?[0-9]+)$/i.test(v)) return undefined;
  return Number(v);
}
