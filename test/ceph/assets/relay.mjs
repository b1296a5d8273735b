// TCP relay of the test Ceph admin host: accepts on a listening socket it
// inherits as fd 3 (bound on the host's 127.0.0.1 before this process
// entered the cluster's LAN namespace) and connects each client to
// <host>:<port> inside that namespace. No address is added to the host.
// Usage: node relay.mjs <host> <port>
import net from 'node:net';

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
const server = net.createServer({ allowHalfOpen: true }, (client) => {
  const upstream = net.connect({ host, port, allowHalfOpen: true });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen({ fd: 3 });
