/**
 * What doctor reads on a Pi besides detect's facts, to tell "a reboot is
 * still pending" from "the NFS mount failed at boot": when the Pi last booted
 * (PID 1's age), when /etc/fstab last changed, and which directory (device
 * and inode) is mounted at each boot mount point. Read with one constant
 * script (no value is pasted into it) on the connection detect already uses.
 */

/**
 * The script: one `key value` line each; a fact it cannot read is left empty.
 * The boot time is now minus PID 1's age, its age being the uptime minus its
 * start (field 22 of /proc/1/stat, in clock ticks since the kernel booted):
 * 10 ms resolution, and right in a container too, where only PID 1 is new.
 */
export const BOOT_STATE_SCRIPT = `
now=$(date +%s.%N)
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
awk -v hz="$hz" -v now="$now" 'NR == FNR { up = $1; next } { sub(/^.*\\) /, ""); split($0, f, " "); printf "booted %.2f\\n", now - (up - f[20] / hz) }' /proc/uptime /proc/1/stat 2>/dev/null
printf 'fstab-mtime %s\\n' "$(date -r /etc/fstab +%s.%N 2>/dev/null)"
for d in /boot/firmware /boot; do printf 'dir %s %s\\n' "$(stat -L -c '%d:%i' "$d" 2>/dev/null)" "$d"; done
`;

export interface BootState {
  /** When the Pi last booted (seconds since the epoch, by the Pi's clock; PID 1's start). */
  bootedAt?: number;
  /** When /etc/fstab last changed (same clock). */
  fstabChangedAt?: number;
  /** Mount point → "device:inode" of the directory mounted there. */
  dirs: Record<string, string>;
}

const num = (s: string | undefined): number | undefined => (s !== undefined && /^\d+(\.\d+)?$/.test(s) ? Number(s) : undefined);

export function parseBootState(text: string): BootState {
  const kv = new Map<string, string>();
  const dirs: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'dir') {
      const d = /^(\d+:\d+) (\/\S*)$/.exec(m[2]!);
      if (d) dirs[d[2]!] = d[1]!;
    } else kv.set(m[1]!, m[2]!);
  }
  const out: BootState = { dirs };
  const booted = num(kv.get('booted'));
  if (booted !== undefined) out.bootedAt = booted;
  const fstab = num(kv.get('fstab-mtime'));
  if (fstab !== undefined) out.fstabChangedAt = fstab;
  return out;
}

/** Did /etc/fstab change after the last boot? Undefined when either time is unknown. */
export function fstabChangedSinceBoot(s: BootState | undefined): boolean | undefined {
  if (s?.bootedAt === undefined || s.fstabChangedAt === undefined) return undefined;
  return s.fstabChangedAt > s.bootedAt;
}
