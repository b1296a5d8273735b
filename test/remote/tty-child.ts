/**
 * Child process for the terminal tests: connects like a pinet command would
 * (with the terminal as the SSH layer's prompter, as src/settings/ssh.ts
 * gives it) and prints one RESULT line. Run under `script` so it has a real
 * terminal.
 */
import { connect } from '../../src/remote/connect.js';
import { RemoteError } from '../../src/remote/errors.js';
import { terminalPrompter } from '../../src/ui/prompt.js';

const [dest, configFile, askPass] = process.argv.slice(2);
try {
  const h = await connect(dest as string, { configFile, askPass: askPass === '1', prompter: terminalPrompter });
  const r = await h.exec(['id', '-un']);
  process.stdout.write(`RESULT ok ${r.stdout.trim()}\n`);
  await h.close();
} catch (err) {
  const e = err as RemoteError;
  process.stdout.write(`RESULT err ${e.kind} ${e.message} HINT ${e.hint ?? ''}\n`);
}
