/**
 * The bundle that bin/pinet.js runs (`npm run build`, after tsc): tsc's
 * modules in dist/ and the dependencies they use, joined by rolldown into
 * chunks in dist/bundle/. A command then loads a few dozen files instead of
 * a hundred of pinet's modules plus the many small files of the CommonJS
 * dependencies (tar-stream, yaml, ssh-config, write-file-atomic); each
 * command's code is still its own chunk, loaded only when it runs. ssh2
 * stays in node_modules: it finds its optional native bindings next to
 * itself. `PINET_UNBUNDLED=1` runs tsc's modules instead (bench/startup
 * uses it to list the modules a command loads).
 */
import { rmSync } from 'node:fs';

rmSync(new URL('./dist/bundle/', import.meta.url), { recursive: true, force: true });

export default {
  input: 'dist/cli.js',
  platform: 'node',
  external: ['ssh2'],
  output: {
    dir: 'dist/bundle',
    format: 'esm',
    sourcemap: true,
    // What the CommonJS dependencies expect of a module scope (write-file-atomic names its
    // temporary files after __filename; the others require Node's built-in modules).
    banner:
      "import { createRequire as __pinetRequire } from 'node:module'; import { fileURLToPath as __pinetPath } from 'node:url';\n" +
      'const require = __pinetRequire(import.meta.url), __filename = __pinetPath(import.meta.url), __dirname = __pinetPath(new URL(".", import.meta.url));',
  },
};
