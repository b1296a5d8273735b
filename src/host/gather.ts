/**
 * One round trip that gathers everything pinet needs to know about a Pi.
 *
 * `GATHER_SCRIPT` is a constant POSIX sh script (no value is ever pasted
 * into it): it prints each fact as a section between boundary lines, where
 * the boundary is a random token passed as `$1`, so file contents can never
 * fake a section. `splitSections` takes the output apart again. Privileged
 * reads (the bootloader config) go through `sudo -n` when the login user is
 * not root and sudo allows it.
 */
import { randomBytes } from 'node:crypto';

export const GATHER_SCRIPT = `
B=$1
sec() { printf '\\n%s %s\\n' "$B" "$1"; }
if [ "$(id -u)" = 0 ]; then S=; SUDO=root
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then S="sudo -n"; SUDO=ok
elif command -v sudo >/dev/null 2>&1; then S=; SUDO=password
else S=; SUDO=absent; fi
sec id; id -u; id -un; echo "$SUDO"; hostname 2>/dev/null || cat /etc/hostname 2>/dev/null
sec cpuinfo; cat /proc/cpuinfo 2>/dev/null
sec dt-serial; tr -d '\\000' 2>/dev/null < /sys/firmware/devicetree/base/serial-number
sec dt-model; tr -d '\\000' 2>/dev/null < /sys/firmware/devicetree/base/model
sec os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
sec rpi-issue; [ -e /etc/rpi-issue ] && head -c 4096 /etc/rpi-issue
sec fstab; cat /etc/fstab 2>/dev/null
sec mounts; cat /proc/mounts 2>/dev/null
sec net
for i in /sys/class/net/*; do
  [ -e "$i/address" ] || continue
  w=0; [ -e "$i/wireless" ] || [ -e "$i/phy80211" ] && w=1
  printf '%s %s %s %s\\n' "\${i##*/}" "$(cat "$i/address" 2>/dev/null)" "$(cat "$i/type" 2>/dev/null)" "$w"
done
sec eeprom-tool; command -v rpi-eeprom-config 2>/dev/null
sec eeprom
if command -v rpi-eeprom-config >/dev/null 2>&1; then $S rpi-eeprom-config 2>&1; echo "rc=$?"; fi
sec eeprom-defaults; cat /etc/default/rpi-eeprom-update 2>/dev/null
if [ -f /boot/firmware/config.txt ] || mountpoint -q /boot/firmware 2>/dev/null; then D=/boot/firmware
elif [ -f /boot/config.txt ]; then D=/boot
else D=; fi
sec boot-dir; echo "$D"
if [ -n "$D" ]; then
  sec boot-list; find "$D" -xdev -mindepth 1 -printf '%y %m %U %G %s %T@ %P\\0' 2>/dev/null
  for f in "$D"/*.txt; do
    [ -f "$f" ] || continue
    sec "txt:\${f##*/}"; head -c 65536 "$f"
  done
  if [ -f "$D/pieeprom.upd" ] && command -v rpi-eeprom-config >/dev/null 2>&1; then
    sec eeprom-pending; $S rpi-eeprom-config "$D/pieeprom.upd" 2>&1; echo "rc=$?"
  fi
fi
sec otp
if ! grep -q '^Serial' /proc/cpuinfo 2>/dev/null && command -v vcgencmd >/dev/null 2>&1; then $S vcgencmd otp_dump 2>/dev/null | grep '^28:'; fi
sec hooks
for f in /etc/kernel/postinst.d/* /etc/initramfs/post-update.d/*; do [ -e "$f" ] && printf '%s\\n' "$f"; done
for f in /etc/kernel/postinst.d/zzz-pinet-bootfiles /etc/initramfs/post-update.d/zzz-pinet-bootfiles; do
  [ -f "$f" ] && { sec "hook:$f"; cat "$f"; }
done
sec backups; ls -1 /var/lib/pinet/backup 2>/dev/null
sec end
`;

export function newBoundary(): string {
  return `@@pinet-${randomBytes(12).toString('hex')}@@`;
}

/** Output of GATHER_SCRIPT → section name → text (without the framing newlines). */
export function splitSections(output: string, boundary: string): Map<string, string> {
  const out = new Map<string, string>();
  const marker = `\n${boundary} `;
  const parts = `\n${output}`.split(marker);
  for (const part of parts.slice(1)) {
    const nl = part.indexOf('\n');
    const name = nl < 0 ? part : part.slice(0, nl);
    const body = nl < 0 ? '' : part.slice(nl + 1);
    out.set(name, body);
  }
  return out;
}

export interface BootEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  path: string;
}

/** `find -printf '%y %m %U %G %s %T@ %P\0'` output → entries (names may hold any byte but NUL). */
export function parseFindListing(text: string): BootEntry[] {
  const out: BootEntry[] = [];
  for (const rec of text.split('\0')) {
    const m = /^([a-zA-Z]) ([0-7]+) (\d+) (\d+) (\d+) (\d+)(?:\.\d+)? ([\s\S]+)$/.exec(rec.replace(/^\n/, ''));
    if (!m) continue;
    const y = m[1]!;
    out.push({
      type: y === 'f' ? 'file' : y === 'd' ? 'dir' : y === 'l' ? 'symlink' : 'other',
      mode: parseInt(m[2]!, 8),
      uid: Number(m[3]),
      gid: Number(m[4]),
      size: Number(m[5]),
      mtimeMs: Number(m[6]) * 1000,
      path: m[7]!,
    });
  }
  return out;
}
