/**
 * `pinet watch --since`: a time as people write it, relative ("10m",
 * "2 hours ago"), a clock time today ("14:05"), or a date and time
 * ("2024-11-25 14:05", ISO 8601), in local time unless a zone is given.
 */
import { UsageError } from '../../errors.js';

const UNITS: Record<string, number> = { s: 1, sec: 1, second: 1, seconds: 1, m: 60, min: 60, minute: 60, minutes: 60, h: 3600, hour: 3600, hours: 3600, d: 86400, day: 86400, days: 86400 };

/** `--since`: "10m" / "2 hours ago" (relative), "14:05" (today), "2024-11-25 14:05", an ISO time. */
export function parseSince(text: string, nowMs: number): number {
  const t = text.trim();
  let m = /^-?(\d+)\s*([a-z]+)(?:\s+ago)?$/i.exec(t);
  if (m && UNITS[m[2]!.toLowerCase()] !== undefined) return nowMs - Number(m[1]) * UNITS[m[2]!.toLowerCase()]! * 1000;
  m = /^(\d{1,2}):(\d\d)(?::(\d\d))?$/.exec(t);
  if (m) {
    const d = new Date(nowMs);
    d.setHours(Number(m[1]), Number(m[2]), Number(m[3] ?? 0), 0);
    return d.getTime();
  }
  if (/^\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z|[+-]\d\d:?\d\d)?$/.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00:00` : t.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`--since ${JSON.stringify(text)}: not a time`, 'write it like 10m, "2 hours ago", 14:05 or "2024-11-25 14:05"');
}
