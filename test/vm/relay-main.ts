/**
 * The SSH relay of one lab VM (run inside the lab's LAN namespace by lab.ts):
 * fd 3 is a socket listening on the host's 127.0.0.1 (created in the host's
 * namespace and handed over), each connection goes on to the VM's address
 * here. Reuses the fake fleet's relay (test/fleet/relay.ts). Argument: the
 * VM's address and port. Ends when its stdin closes (the lab's process died
 * or stopped it).
 */
import net from 'node:net';
import { PiRelay } from '../fleet/relay.js';

const [host, port] = [process.argv[2]!, Number(process.argv[3] ?? 22)];
const server = net.createServer({ allowHalfOpen: true });
server.listen({ fd: 3 });
const relay = new PiRelay(server, { host, port });
process.stdin.resume();
process.stdin.on('end', () => {
  relay.close();
  process.exit(0);
});
process.stdin.on('error', () => process.exit(0));
