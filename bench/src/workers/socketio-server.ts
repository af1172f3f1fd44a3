// (b) The popular choice: a Socket.IO 4 server that only receives. Each reading is an `emit`
// with an acknowledgement callback, which the server calls at once; no parsing beyond Socket.IO's
// own, no validation, no storage. WebSocket transport only, as IoT clients would use it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { serveWorker } from '../worker-process.ts';

let frames = 0;
const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
});
io.on('connection', (socket) => {
  socket.on('telemetry', (_reading: unknown, ack?: () => void) => {
    frames++;
    if (typeof ack === 'function') ack();
  });
});

serveWorker({
  listen: async ({ port }: { port: number }) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', backlog: 4096 }, resolve);
    });
    return { port: (server.address() as AddressInfo).port };
  },
  stats: () => ({
    cpu: process.cpuUsage(),
    rss: process.memoryUsage.rss(),
    frames,
    connections: io.engine.clientsCount,
  }),
  close: async () => {
    await io.close();
  },
});
