/**
 * Line-level text helpers shared by the Pi file parsers.
 *
 * The editors in src/pi (fstab, the bootloader config) must give back every
 * byte they did not change, so lines are split together with their own line
 * ending ('\n', '\r\n' or '' for a last line without one) and joined back
 * verbatim. Also: the octal escapes (`\040` for a space) that /proc/mounts,
 * mountinfo and fstab use inside fields.
 */

export type Eol = '' | '\n' | '\r\n';

/** `table[key]` for the table's own keys only: `__proto__` or `constructor` in a Pi's file must not reach Object.prototype. */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** An empty record without a prototype, for keys that come from a Pi's files. */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export interface Line {
  /** The line without its ending. A lone '\r' inside a line stays here. */
  text: string;
  eol: Eol;
}

/** Split into lines, each with its own ending; `joinLines` gives the text back unchanged. */
export function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) {
      lines.push({ text: text.slice(start), eol: '' });
      break;
    }
    const crlf = nl > start && text[nl - 1] === '\r';
    lines.push({ text: text.slice(start, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return lines;
}

export function joinLines(lines: readonly Line[]): string {
  return lines.map((l) => l.text + l.eol).join('');
}

/** The ending most lines use ('\n' when there are none), for lines we add. */
export function dominantEol(lines: readonly Line[]): '\n' | '\r\n' {
  let crlf = 0;
  let lf = 0;
  for (const l of lines) {
    if (l.eol === '\r\n') crlf++;
    else if (l.eol === '\n') lf++;
  }
  return crlf > lf ? '\r\n' : '\n';
}

/** Decode `\NNN` octal escapes (three octal digits), as the kernel and libmount write them. */
export function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Encode the characters that would break a whitespace-separated field. */
export function escapeOctal(value: string): string {
  return value.replace(/[\\ \t\n\r]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** Split a line into whitespace-separated fields (spaces or tabs, any number). */
export function splitFields(line: string): string[] {
  return line.split(/[ \t]+/).filter((f) => f !== '');
}


/** Show a value inside a one-line message: control characters made visible, long values cut. */
export function showValue(value: string, max = 80): string {
  const visible = JSON.stringify(value);
  return visible.length > max ? visible.slice(0, max - 1) + '…"' : visible;
}
