/**
 * How the SSH layer asks a person for a secret (a key's passphrase, a
 * password): through a prompter its caller gives to connect(). The CLI
 * passes the terminal's (src/ui/prompt.ts); without one, nothing is asked
 * and keys that need a passphrase are skipped with a reason.
 */
export interface SecretPrompter {
  /** Can a question be asked now (is a terminal there)? */
  available(): boolean;
  /** The answer, or undefined when the person cancelled or cannot be asked. */
  ask(message: string): Promise<string | undefined>;
  /** Questions being asked or waiting: timeouts pause meanwhile. */
  pending(): number;
}

export const NO_PROMPTS: SecretPrompter = {
  available: () => false,
  ask: async () => undefined,
  pending: () => 0,
};
