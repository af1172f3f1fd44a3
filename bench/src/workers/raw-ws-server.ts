// (a) The transport ceiling: a plain `ws` server that parses each frame's JSON and answers with
// coalesced cumulative acks, exactly as the gateway frames them, and nothing else. With
// `heartbeatMs` it also pings every socket and drops the silent ones (the ws README's recipe), so
// the sessions comparison holds heartbeats on both sides.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { serveWorker } from '../worker-process.ts';

interface Peer {
  lastSeq: number;
  ackedSeq: number;
  alive: boolean;
}

const peers = new Map<WebSocket, Peer>();
let frames = 0;
let invalid = 0;

// Sockets whose ack advanced in this turn of the event loop; one setImmediate acks them all.
const ackQueue = new Set<WebSocket>();
let ackScheduled = false;
function flushAcks(): void {
  ackScheduled = false;
  for (const ws of ackQueue) {
    const peer = peers.get(ws);
    if (!peer || peer.lastSeq <= peer.ackedSeq) continue;
    peer.ackedSeq = peer.lastSeq;
    ws.send(JSON.stringify({ type: 'ack', seq: peer.lastSeq }));
  }
  ackQueue.clear();
}

function onMessage(this: WebSocket, data: Buffer): void {
  const peer = peers.get(this);
  if (!peer) return;
  peer.alive = true;
  let frame: { seq?: unknown };
  try {
    frame = JSON.parse(data.toString('utf8')) as { seq?: unknown };
  } catch {
    invalid++;
    return;
  }
  frames++;
  if (typeof frame.seq === 'number' && frame.seq > peer.lastSeq) {
    peer.lastSeq = frame.seq;
    ackQueue.add(this);
    if (!ackScheduled) {
      ackScheduled = true;
      setImmediate(flushAcks);
    }
  }
}

function onPong(this: WebSocket): void {
  const peer = peers.get(this);
  if (peer) peer.alive = true;
}

function onClose(this: WebSocket): void {
  peers.delete(this);
}

const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, path: '/v1/connect', perMessageDeflate: false });
wss.on('connection', (ws) => {
  peers.set(ws, { lastSeq: -1, ackedSeq: -1, alive: true });
  ws.on('message', onMessage);
  ws.on('pong', onPong);
  ws.on('close', onClose);
  ws.on('error', () => ws.terminate());
  ws.send('{"type":"hello"}');
});

let heartbeat: NodeJS.Timeout | undefined;

serveWorker({
  listen: async ({ port, heartbeatMs }: { port: number; heartbeatMs?: number }) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', backlog: 4096 }, resolve);
    });
    if (heartbeatMs) {
      heartbeat = setInterval(() => {
        for (const [ws, peer] of peers) {
          if (!peer.alive) {
            ws.terminate();
            continue;
          }
          peer.alive = false;
          ws.ping();
        }
      }, heartbeatMs);
    }
    // When it listened, by the wall clock every process shares: the reconnect storm counts from it.
    return { port: (server.address() as AddressInfo).port, listenedAt: Date.now() };
  },
  stats: () => ({
    cpu: process.cpuUsage(),
    rss: process.memoryUsage.rss(),
    frames,
    invalid,
    connections: peers.size,
  }),
  close: async () => {
    clearInterval(heartbeat);
    for (const ws of peers.keys()) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => server.close(() => resolve())));
  },
});
