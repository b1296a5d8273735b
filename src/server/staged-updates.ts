/**
 * The bootloader configs inside staged updates (a Pi's `pieeprom.upd`) that
 * pinet has read, by the file's SHA-256, kept in the state directory.
 *
 * Reading the config inside a staged update means running rpi-eeprom-config
 * (a Python program) on the Pi. Until a Pi reboots, its update stays staged,
 * so every enroll re-run read the same bytes again; and a fleet on one image
 * stages the very same bytes on every Pi. The gather script hashes the file
 * (cheap) and runs rpi-eeprom-config only for a hash not known here. The
 * config depends only on the file's bytes, so a known hash is as good as a
 * read. It is a cache: a damaged or missing file is an empty one.
 */
import { isSha256 } from '../util/hash.js';
import type { StateStore } from './state.js';

const FILE = 'staged-updates.json';
/** At most this many are kept (the newest): one per distinct staged image. */
const MAX = 32;

export class StagedUpdates {
  private changed = false;

  private constructor(
    private readonly state: StateStore,
    private readonly configs: Map<string, string>,
  ) {}

  static async load(state: StateStore): Promise<StagedUpdates> {
    const doc = (await state.readJson(FILE).catch(() => undefined)) as { configs?: unknown } | undefined;
    const configs = new Map<string, string>();
    if (doc && typeof doc.configs === 'object' && doc.configs !== null) {
      for (const [sha, config] of Object.entries(doc.configs)) if (isSha256(sha) && typeof config === 'string') configs.set(sha, config);
    }
    return new StagedUpdates(state, configs);
  }

  /** The known configs, by SHA-256 of the staged file. */
  get known(): ReadonlyMap<string, string> {
    return this.configs;
  }

  /** Records a config rpi-eeprom-config read from a staged file with this SHA-256. */
  add(sha256: string | undefined, config: string): void {
    if (!sha256 || !isSha256(sha256)) return;
    const same = this.configs.get(sha256) === config;
    this.configs.delete(sha256); // the newest now
    this.configs.set(sha256, config);
    if (same) return;
    while (this.configs.size > MAX) this.configs.delete(this.configs.keys().next().value as string);
    this.changed = true;
  }

  /** Writes the file when something was added (errors are ignored: it is a cache). */
  async save(): Promise<void> {
    if (!this.changed) return;
    this.changed = false;
    await this.state.writeJson(FILE, { configs: Object.fromEntries(this.configs) }).catch(() => undefined);
  }
}
