/**
 * Questions to the person at the terminal: the one place pinet prompts.
 *
 * Prompts go to stderr (stdout is for results and JSON) and only happen on
 * a terminal; callers check `canPrompt()` first and fail with a clear
 * message otherwise. Prompts are serialised: when several Pis are handled at
 * once, their questions come one after another, never interleaved.
 * @inquirer/prompts is imported only when a prompt is actually shown.
 */

/** True when both stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

let queue: Promise<unknown> = Promise.resolve();
let waiting = 0;

/** Number of prompts shown or waiting; timeouts pause while someone is being asked. */
export function promptsPending(): number {
  return waiting;
}

function serialised<T>(fn: () => Promise<T>): Promise<T> {
  waiting++;
  const run = queue.then(fn, fn).finally(() => {
    waiting--;
  });
  queue = run.catch(() => undefined);
  return run;
}

/** Raised when the user aborts a prompt (Ctrl-C) or no terminal is there. */
export class PromptCancelled extends Error {
  constructor(message = 'prompt cancelled') {
    super(message);
    this.name = 'PromptCancelled';
  }
}

/** Asks for a secret (passphrase, password) without echoing it. */
export function askSecret(message: string): Promise<string> {
  return serialised(async () => {
    if (!canPrompt()) throw new PromptCancelled('no terminal to ask on');
    const { password } = await import('@inquirer/prompts');
    try {
      return await password({ message, mask: false }, { output: process.stderr, clearPromptOnDone: true });
    } catch (err) {
      if (err instanceof Error && err.name === 'ExitPromptError') throw new PromptCancelled();
      throw err;
    }
  });
}

/** Asks a yes/no question; the default is no. Ctrl-C answers no. */
export function confirm(message: string): Promise<boolean> {
  return serialised(async () => {
    if (!canPrompt()) throw new PromptCancelled('no terminal to ask on');
    const prompts = await import('@inquirer/prompts');
    try {
      return await prompts.confirm({ message, default: false }, { output: process.stderr, clearPromptOnDone: false });
    } catch (err) {
      if (err instanceof Error && err.name === 'ExitPromptError') return false;
      throw err;
    }
  });
}

/**
 * The terminal as the SSH layer's prompter (src/remote/prompter.ts): asks
 * on stderr when a terminal is there, and answers undefined when the person
 * cancels (Ctrl-C) or no terminal is there.
 */
export const terminalPrompter = {
  available: canPrompt,
  pending: promptsPending,
  async ask(message: string): Promise<string | undefined> {
    try {
      return await askSecret(message);
    } catch (err) {
      if (err instanceof PromptCancelled) return undefined;
      throw err;
    }
  },
};
