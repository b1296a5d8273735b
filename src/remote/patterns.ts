/**
 * OpenSSH wildcard patterns, as ssh_config(5) "PATTERNS" and known_hosts use
 * them.
 *
 * A pattern is matched against the whole string: `*` matches any run of
 * characters (also none), `?` exactly one, everything else itself. A pattern
 * list is comma-separated; a `!` in front of an entry negates it, and a
 * negated match vetoes the whole list (OpenSSH match.c: match_pattern_list
 * returns -1). Host names are compared in lower case (match_hostname); user
 * names and `Host` lines are compared as written.
 */

/** Does `pattern` (only `*` and `?` are special) match all of `text`? */
export function matchPattern(text: string, pattern: string): boolean {
  // Iterative wildcard matching with back-tracking to the last `*`: linear in
  // practice and never recursive, so hostile patterns cannot blow the stack.
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starT = t;
    } else if (pc !== undefined && (pc === '?' || pc === text[t])) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** 1: a positive entry matched; -1: a negated entry matched; 0: nothing matched. */
export type ListMatch = 1 | 0 | -1;

/**
 * Matches a comma-separated pattern list. With `lowerPatterns`, the patterns
 * are lower-cased first (host name matching).
 */
export function matchPatternList(text: string, list: string, lowerPatterns = false): ListMatch {
  let positive = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    let pattern = negated ? raw.slice(1) : raw;
    if (lowerPatterns) pattern = pattern.toLowerCase();
    if (matchPattern(text, pattern)) {
      if (negated) return -1;
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

/** Host name against a pattern list, case-insensitive (OpenSSH match_hostname). */
export function matchHostname(host: string, list: string): ListMatch {
  return matchPatternList(host.toLowerCase(), list, true);
}

/**
 * A `Host` line: several whitespace-separated patterns, each maybe negated.
 * The line applies when some positive pattern matches and no negated one
 * does (OpenSSH readconf.c, oHost). Compared as written, like OpenSSH.
 */
export function matchHostLine(host: string, patterns: readonly string[]): boolean {
  let active = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (matchPattern(host, pattern)) {
      if (negated) return false;
      active = true;
    }
  }
  return active;
}
