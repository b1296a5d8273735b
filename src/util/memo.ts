/**
 * A pure parser's results kept by its input: enrolling fifty Pis resolves
 * fifty hosts against one SSH config file, one known_hosts file and one
 * identity file, and each was parsed fifty times. The key is the whole input
 * (texts, not paths: a file that changed is parsed again); the oldest entry
 * goes when the cache is full. Callers must not change what they get back.
 */
export function memoizeText<A extends unknown[], R>(fn: (text: string, ...rest: A) => R, max = 16): (text: string, ...rest: A) => R {
  const cache = new Map<string, R>();
  return (text, ...rest) => {
    const key = `${JSON.stringify(rest)}\0${text}`;
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as R;
    const value = fn(text, ...rest);
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(key, value);
    return value;
  };
}
