/**
 * A record of everything a fleet created, undone in reverse order: every
 * resource (lock, namespace, directory, process) is added the moment it
 * exists, so a failure half-way through start-up, a failing test, stop() or a
 * signal all tear down exactly what is there.
 */
export interface LedgerEntry {
  what: string;
  undo: () => Promise<void> | void;
  /** A synchronous fallback for process exit, where nothing async runs any more. */
  undoSync?: () => void;
}

export class Ledger {
  private readonly entries: LedgerEntry[] = [];

  add(what: string, undo: () => Promise<void> | void, undoSync?: () => void): void {
    this.entries.push({ what, undo, undoSync });
  }

  get size(): number {
    return this.entries.length;
  }

  /** Undo everything, newest first; every step runs even if an earlier one failed. */
  async unwind(): Promise<string[]> {
    const errors: string[] = [];
    while (this.entries.length > 0) {
      const e = this.entries.pop()!;
      try {
        await e.undo();
      } catch (err) {
        errors.push(`${e.what}: ${(err as Error).message}`);
      }
    }
    return errors;
  }

  /** Best effort at process exit: the synchronous fallbacks, newest first. */
  unwindSync(): void {
    while (this.entries.length > 0) {
      const e = this.entries.pop()!;
      try {
        e.undoSync?.();
      } catch {
        // Exit path: keep going.
      }
    }
  }
}
