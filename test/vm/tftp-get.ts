/**
 * A TFTP download from inside the lab's LAN namespace (`lab.inLan`), for the
 * VM tests that check a boot server VM's TFTP service as a Pi on the LAN
 * would reach it: `node --import tsx test/vm/tftp-get.ts <server> <file>`
 * writes the file to stdout, or the server's error to stderr (exit 1).
 */
import { tftpGet } from '../../src/net/tftp.js';

const [server, file] = process.argv.slice(2);
if (!server || !file) {
  process.stderr.write('usage: tftp-get.ts <server> <file>\n');
  process.exit(2);
}
try {
  const r = await tftpGet({ server, file, timeoutMs: 2000, retries: 5 });
  process.stdout.write(r.data ?? Buffer.alloc(0));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
