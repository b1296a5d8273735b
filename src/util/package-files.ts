/**
 * Where pinet's own files are: the package root, with package.json,
 * templates/ and scripts/remote/. Every module that reads one of them goes
 * through here. This module is two directories below the root in every
 * layout pinet runs from: src/util/ (tests), dist/util/ (tsc's modules) and
 * dist/bundle/ (the bundle bin/pinet.js runs, whose chunks all sit in that
 * one directory).
 */
export const PACKAGE_ROOT = new URL('../../', import.meta.url);

/** A file of the package, by its path from the root (e.g. "templates/dnsmasq.conf.mustache"). */
export function packageFile(path: string): URL {
  return new URL(path, PACKAGE_ROOT);
}
