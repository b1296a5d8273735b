/**
 * Socket broker: runs inside a network namespace (`ip netns exec <ns> node
 * socket-broker.mjs`) and hands UDP sockets opened there to its parent over
 * the IPC channel. A Node process cannot enter a namespace itself, but a
 * socket keeps the namespace it was created in, so the parent (the
 * emulator, in the test's process) talks from many namespaces at once.
 *
 * Request: { id, address, port, broadcast, reuseAddr }. Answer: { id, ok }
 * with the socket as the message's handle, or { id, error }. The broker
 * exits when its parent disconnects (or dies). Plain JavaScript so it
 * starts without a TypeScript loader.
 */
import dgram from 'node:dgram';

process.on('message', (req) => {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: Boolean(req.reuseAddr) });
  socket.once('error', (err) => {
    process.send({ id: req.id, error: `${err.code ?? ''} ${err.message}`.trim() });
    socket.close();
  });
  socket.bind({ address: req.address, port: req.port }, () => {
    if (req.broadcast) socket.setBroadcast(true);
    process.send({ id: req.id, ok: true }, socket, () => socket.close());
  });
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
