/**
 * File operations on a remote host, each in one round trip.
 *
 * Each operation is a constant POSIX sh script run with `execScript`; paths
 * and values arrive as positional parameters. By default they run as root
 * (directly, or through `sudo -n`), since the files pinet touches on a Pi
 * (fstab, the boot partition, the bootloader config) belong to root.
 *
 * * `readFiles(paths)`: many files in one stream, each as
 *   `<ok|missing|error> <length>\n<bytes>`; a missing file is reported as
 *   missing, not as an error. Works for /proc and /sys files too (each file
 *   is first copied to a private temporary file, so the length is exact).
 * * `stat`/`statMany`: mode, owner, size, mtime, type (GNU stat).
 * * `writeFileAtomic`: the content goes over stdin into a temporary file in
 *   the target's directory; only when its size and SHA-256 match what was
 *   sent is it given the old file's mode and owner, fsynced and renamed over
 *   the target. A connection that drops mid-way leaves the old file and no
 *   temporary file; a completed rename leaves the new one. Never a partial
 *   file.
 */
import { createHash } from 'node:crypto';
import { RemoteError } from './errors.js';
import { showValue } from './destination.js';
import type { RemoteHost } from './remote-host.js';

export interface ReadOptions {
  /** Read as root (default true). */
  sudo?: boolean;
  step?: string;
  timeoutMs?: number;
}

export type FileRead = { status: 'ok'; content: Buffer } | { status: 'missing' } | { status: 'error'; message: string };

const READ_SCRIPT = `
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
for f do
  if [ ! -e "$f" ]; then
    printf 'missing 0\\n'
  elif cat -- "$f" >"$d/c" 2>"$d/e"; then
    printf 'ok %s\\n' "$(wc -c <"$d/c")"
    cat "$d/c"
  else
    printf 'error %s\\n' "$(wc -c <"$d/e")"
    cat "$d/e"
  fi
done
`;

function checkPath(host: RemoteHost, path: string, step: string): void {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new RemoteError('remote-file', host.label, step, `${step}: ${showValue(path)} is not an absolute path`);
  }
}

/** Parses the stream READ_SCRIPT prints. */
export function parseReadStream(out: Buffer, paths: readonly string[]): Map<string, FileRead> {
  const result = new Map<string, FileRead>();
  let off = 0;
  for (const path of paths) {
    const nl = out.indexOf(0x0a, off);
    if (nl < 0) throw new Error(`truncated output before ${path}`);
    const header = out.subarray(off, nl).toString('latin1');
    const m = /^(ok|missing|error) +([0-9]+)$/.exec(header);
    if (!m) throw new Error(`unexpected output before ${path}: ${JSON.stringify(header.slice(0, 80))}`);
    const len = Number(m[2]);
    const body = out.subarray(nl + 1, nl + 1 + len);
    if (body.length !== len) throw new Error(`truncated content of ${path}`);
    off = nl + 1 + len;
    if (m[1] === 'ok') result.set(path, { status: 'ok', content: Buffer.from(body) });
    else if (m[1] === 'missing') result.set(path, { status: 'missing' });
    else result.set(path, { status: 'error', message: body.toString('utf8').trim() });
  }
  return result;
}

/** Reads several files in one round trip. */
export async function readFiles(host: RemoteHost, paths: readonly string[], opts: ReadOptions = {}): Promise<Map<string, FileRead>> {
  const step = opts.step ?? (paths.length === 1 ? `reading ${paths[0]}` : `reading ${paths.length} files`);
  for (const p of paths) checkPath(host, p, step);
  if (paths.length === 0) return new Map();
  const r = await host.execScript(READ_SCRIPT, paths, {
    step,
    sudo: opts.sudo ?? true,
    encoding: 'buffer',
    timeoutMs: opts.timeoutMs,
  });
  try {
    return parseReadStream(r.stdout, paths);
  } catch (err) {
    throw new RemoteError('protocol', host.label, step, `${step}: ${(err as Error).message}`);
  }
}

/** Reads one file; a missing or unreadable file is an error naming it. */
export async function readFile(host: RemoteHost, path: string, opts: ReadOptions = {}): Promise<Buffer> {
  const step = opts.step ?? `reading ${path}`;
  const r = (await readFiles(host, [path], { ...opts, step })).get(path);
  if (r?.status === 'ok') return r.content;
  const why = r?.status === 'missing' ? 'no such file' : r?.status === 'error' ? r.message : 'no answer';
  throw new RemoteError('remote-file', host.label, step, `cannot read ${path}: ${why}`);
}

export interface RemoteStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** Permission bits (e.g. 0o644), including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

export interface StatOptions {
  sudo?: boolean;
  /** Follow a final symlink (stat -L). */
  follow?: boolean;
  step?: string;
}

const STAT_SCRIPT = `
opt=$1; shift
for f do
  if s=$(stat $opt -c '%f %u %g %s %Y' -- "$f" 2>/dev/null); then
    printf 'ok %s\\n' "$s"
  elif [ -e "$f" ] || [ -L "$f" ]; then
    printf 'error\\n'
  else
    printf 'missing\\n'
  fi
done
`;

/** Parses one `stat -c '%f %u %g %s %Y'` line. */
export function parseStatLine(line: string): RemoteStat | undefined {
  const m = /^([0-9a-f]+) ([0-9]+) ([0-9]+) ([0-9]+) (-?[0-9]+)$/.exec(line.trim());
  if (!m) return undefined;
  const raw = parseInt(m[1] ?? '0', 16);
  const fmt = raw & 0o170000;
  const type = fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'directory' : fmt === 0o120000 ? 'symlink' : 'other';
  return { type, mode: raw & 0o7777, uid: Number(m[2]), gid: Number(m[3]), size: Number(m[4]), mtime: Number(m[5]) };
}

export async function statMany(host: RemoteHost, paths: readonly string[], opts: StatOptions = {}): Promise<Map<string, RemoteStat | null>> {
  const step = opts.step ?? (paths.length === 1 ? `checking ${paths[0]}` : `checking ${paths.length} paths`);
  for (const p of paths) checkPath(host, p, step);
  const out = new Map<string, RemoteStat | null>();
  if (paths.length === 0) return out;
  const r = await host.execScript(STAT_SCRIPT, [opts.follow ? '-L' : '', ...paths], { step, sudo: opts.sudo ?? true });
  const lines = r.stdout.split('\n');
  paths.forEach((p, i) => {
    const line = lines[i] ?? '';
    if (line === 'missing') out.set(p, null);
    else if (line.startsWith('ok ')) {
      const st = parseStatLine(line.slice(3));
      if (!st) throw new RemoteError('protocol', host.label, step, `${step}: unexpected stat output ${showValue(line)}`);
      out.set(p, st);
    } else throw new RemoteError('remote-file', host.label, step, `cannot stat ${p}`);
  });
  return out;
}

/** stat(2) (lstat unless `follow`); null when the path does not exist. */
export async function stat(host: RemoteHost, path: string, opts: StatOptions = {}): Promise<RemoteStat | null> {
  return (await statMany(host, [path], opts)).get(path) ?? null;
}

export interface WriteOptions {
  /** Mode to set (e.g. 0o644); default: the old file's mode, 0644 for a new file. */
  mode?: number;
  /** Keep the old file's owner, group and mode (default true). */
  keepOwnerAndMode?: boolean;
  sudo?: boolean;
  step?: string;
  timeoutMs?: number;
}

export interface WriteResult {
  /** The file did not exist before. */
  created: boolean;
}

const WRITE_SCRIPT = `
target=$1 size=$2 sum=$3 mode=$4 keep=$5
if [ -L "$target" ]; then target=$(readlink -f -- "$target") || exit 2; fi
dir=\${target%/*}
[ -n "$dir" ] || dir=/
base=\${target##*/}
tmp=$(mktemp "$dir/.$base.pinet-XXXXXX" 2>/dev/null) || tmp=$(mktemp "$dir/.pinet-XXXXXX") || exit 3
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat >"$tmp" || exit 4
got=$(wc -c <"$tmp")
[ "$got" -eq "$size" ] || { echo "received $got of $size bytes" >&2; exit 5; }
h=$(sha256sum <"$tmp") || exit 5
[ "\${h%% *}" = "$sum" ] || { echo "checksum mismatch" >&2; exit 5; }
existed=0
[ -e "$target" ] && existed=1
if [ -n "$mode" ]; then
  chmod "$mode" "$tmp" || exit 6
elif [ "$existed" = 1 ] && [ "$keep" = 1 ]; then
  chmod "$(stat -c %a -- "$target")" "$tmp" || exit 6
else
  # best effort: file systems such as vfat may not take modes at all
  chmod 644 "$tmp" 2>/dev/null || true
fi
if [ "$existed" = 1 ] && [ "$keep" = 1 ] && [ "$(id -u)" = 0 ]; then
  chown "$(stat -c %u:%g -- "$target")" "$tmp" || exit 6
fi
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$target" || exit 7
trap - EXIT
sync -- "$dir" 2>/dev/null || true
printf '%s\\n' "$existed"
`;

const WRITE_FAILURES: Record<number, string> = {
  2: 'cannot resolve the symbolic link',
  3: 'cannot create a temporary file next to it',
  4: 'cannot write the temporary file',
  5: 'the content did not arrive complete',
  6: 'cannot set mode or owner',
  7: 'cannot rename the temporary file over it',
};

/** Replaces a remote file atomically (see the module comment). */
export async function writeFileAtomic(
  host: RemoteHost,
  path: string,
  content: string | Buffer,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  const step = opts.step ?? `writing ${path}`;
  checkPath(host, path, step);
  if (path.endsWith('/')) throw new RemoteError('remote-file', host.label, step, `${step}: ${showValue(path)} names a directory`);
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (opts.mode !== undefined && !(Number.isInteger(opts.mode) && opts.mode >= 0 && opts.mode <= 0o7777)) {
    throw new Error(`internal error: bad mode ${opts.mode}`);
  }
  const sum = createHash('sha256').update(data).digest('hex');
  const args = [
    path,
    String(data.length),
    sum,
    opts.mode === undefined ? '' : opts.mode.toString(8),
    opts.keepOwnerAndMode === false ? '0' : '1',
  ];
  const r = await host.execScript(WRITE_SCRIPT, args, {
    step,
    sudo: opts.sudo ?? true,
    input: data,
    reject: false,
    timeoutMs: opts.timeoutMs,
  });
  if (r.code !== 0) {
    const detail = r.stderr.trim().split('\n').pop() ?? '';
    const why = WRITE_FAILURES[r.code ?? -1] ?? `the script exited with status ${r.code}`;
    throw new RemoteError('remote-file', host.label, step, `cannot write ${path}: ${why}${detail ? ` (${detail})` : ''}`, {
      hint: 'the old file was left as it was',
    });
  }
  return { created: r.stdout.trim() === '0' };
}
