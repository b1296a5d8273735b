/**
 * Unified diffs for the plans and file updates pinet shows. The `diff`
 * library is loaded only when a diff is actually printed.
 */

export async function unifiedDiff(path: string, before: string | null, after: string | null): Promise<string> {
  const { createTwoFilesPatch } = await import('diff');
  const patch = createTwoFilesPatch(
    before === null ? '/dev/null' : `a${path.startsWith('/') ? '' : '/'}${path}`,
    after === null ? '/dev/null' : `b${path.startsWith('/') ? '' : '/'}${path}`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    { context: 3 },
  );
  // Drop the "Index:"/"====" preamble some versions print; keep ---/+++ and hunks.
  return patch
    .split('\n')
    .filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===='))))
    .join('\n');
}

export function colorDiff(text: string, c: { red: (s: string) => string; green: (s: string) => string; cyan: (s: string) => string; bold: (s: string) => string }): string {
  return text
    .split('\n')
    .map((l) => {
      if (l.startsWith('+++') || l.startsWith('---')) return c.bold(l);
      if (l.startsWith('@@')) return c.cyan(l);
      if (l.startsWith('+')) return c.green(l);
      if (l.startsWith('-')) return c.red(l);
      return l;
    })
    .join('\n');
}
