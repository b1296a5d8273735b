/**
 * What every command implementation receives: the output (stdout results,
 * stderr progress, one JSON document), the config file, and its own flags
 * merged with that file and the defaults (src/settings).
 */
import type { OptionValues } from 'commander';
import { isDebug } from '../errors.js';
import type { Settings } from '../settings/resolve.js';
import { Output } from '../ui/output.js';
import type { LoadedConfig } from '../settings/config-file.js';

export interface GlobalOptions {
  json?: boolean;
  color?: boolean;
  debug?: boolean;
  config?: string;
}

/** What every command implementation receives. */
export interface Ctx {
  out: Output;
  debug: boolean;
  globals: GlobalOptions;
  /** The config file (loaded once, on first use). */
  config(): Promise<LoadedConfig>;
  /** The command's flags merged with the config file and the defaults. */
  settings(): Promise<Settings>;
}

export type Run = (args: string[], ctx: Ctx) => Promise<number>;

export function makeCtx(globals: GlobalOptions, flags: OptionValues = {}): Ctx {
  let loaded: Promise<LoadedConfig> | undefined;
  const config = (): Promise<LoadedConfig> => {
    loaded ??= import('../settings/config-file.js').then((m) => m.loadConfig(globals.config));
    return loaded;
  };
  return {
    out: new Output({ json: globals.json ?? false, color: globals.color ?? true }),
    debug: (globals.debug ?? false) || isDebug([]),
    globals,
    config,
    settings: async () => {
      const [{ Settings }, loadedConfig] = await Promise.all([import('../settings/resolve.js'), config()]);
      return new Settings(flags, loadedConfig);
    },
  };
}

