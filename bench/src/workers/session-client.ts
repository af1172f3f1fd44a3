// Idle device sessions, as many as one process may hold: each connects, waits for `hello`, and
// then only answers the server's pings (ws does that by itself), as a quiet device would.
import WebSocket from 'ws';
import { serveWorker, workerLog } from '../worker-process.ts';

export interface SessionConnectArgs {
  readonly url: string;
  readonly count: number;
  readonly tokens?: readonly string[];
  /** A loopback address of its own per process, so the ephemeral ports never run out. */
  readonly localAddress?: string;
  readonly concurrency: number;
}

const sockets: WebSocket[] = [];
let open = 0;
let pings = 0;
let closing = false;
const closeCodes: Record<string, number> = {};

function connectOne(args: SessionConnectArgs, index: number): Promise<void> {
  const token = args.tokens?.[index];
  const ws = new WebSocket(args.url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    perMessageDeflate: false,
    ...(args.localAddress ? { localAddress: args.localAddress } : {}),
  });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`session ${index}: HTTP ${res.statusCode} at the upgrade`)),
    );
    ws.once('error', (err) => reject(err));
    ws.once('message', () => {
      open++;
      resolve();
    });
    ws.on('ping', () => {
      pings++;
    });
    ws.once('close', (code) => {
      if (closing) return;
      open--;
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    });
  });
}

serveWorker({
  connect: async (args: SessionConnectArgs) => {
    const started = performance.now();
    let next = 0;
    let failed = 0;
    let firstError: string | undefined;
    const progress = setInterval(() => workerLog(`${open}/${args.count} sessions open`), 5_000);
    const runner = async () => {
      while (next < args.count) {
        const index = next++;
        try {
          await connectOne(args, index);
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: args.concurrency }, runner));
    clearInterval(progress);
    return { open, failed, firstError, ms: performance.now() - started };
  },
  status: () => ({ open, pings, closeCodes }),
  close: () => {
    closing = true;
    for (const ws of sockets) ws.terminate();
    return {};
  },
});
