// Command round trips as an operator sees them: `POST /v1/devices/:id/commands?wait=` until the
// answer, while devices in this process answer every command at once with a command_result.
import http from 'node:http';
import WebSocket from 'ws';
import { LatencyHistogram } from '../../../device-sim/src/sim/latency-histogram.ts';
import { serveWorker, workerLog } from '../worker-process.ts';

const sockets: WebSocket[] = [];
let commandsSeen = 0;

function connectDevice(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string };
      if (frame.type === 'hello') {
        resolve(ws);
      } else if (frame.type === 'command') {
        commandsSeen++;
        ws.send(
          JSON.stringify({ type: 'command_result', id: frame.id, status: 'succeeded', result: {} }),
        );
      }
    });
  });
}

interface PostArgs {
  readonly apiUrl: string;
  readonly adminToken: string;
  readonly waitMs: number;
}

// node:http with one kept-alive connection rather than fetch: undici's fetch added about 0.7 ms
// of its own to every round trip (and a tail of its own), which is the client's, not the
// gateway's. Sequential round trips need no more than one connection.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function postCommand(args: PostArgs, deviceId: string) {
  const body = JSON.stringify({ name: 'reboot', params: {} });
  const url = `${args.apiUrl}/v1/devices/${encodeURIComponent(deviceId)}/commands?wait=${args.waitMs}`;
  return new Promise<{ status: number; state: string | undefined; text: string }>(
    (resolve, reject) => {
      const req = http.request(
        url,
        {
          method: 'POST',
          agent,
          timeout: args.waitMs + 5_000,
          headers: {
            authorization: `Bearer ${args.adminToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let state: string | undefined;
            try {
              state = (JSON.parse(text) as { state?: string }).state;
            } catch {
              // Not JSON: reported as is.
            }
            resolve({ status: res.statusCode ?? 0, state, text });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${args.waitMs + 5_000} ms`)));
      req.on('error', reject);
      req.end(body);
    },
  );
}

serveWorker({
  connect: async ({ url, tokens }: { url: string; tokens: readonly string[] }) => {
    for (const token of tokens) sockets.push(await connectDevice(url, token));
    return { connected: sockets.length };
  },
  /** One command, to tell whether the API is there. */
  probe: async (args: PostArgs & { deviceId: string }) => {
    const { status, state, text } = await postCommand(args, args.deviceId);
    return { status, state, body: text.slice(0, 500) };
  },
  /** `count` sequential round trips (after `warmup` unrecorded ones), round-robin over `ids`. */
  run: async (args: PostArgs & { ids: readonly string[]; count: number; warmup: number }) => {
    const histogram = new LatencyHistogram();
    const states: Record<string, number> = {};
    let failures = 0;
    let firstFailure: string | undefined;
    for (let i = 0; i < args.warmup + args.count; i++) {
      const deviceId = args.ids[i % args.ids.length]!;
      const started = performance.now();
      const { status, state, text } = await postCommand(args, deviceId);
      const micros = (performance.now() - started) * 1000;
      if (i < args.warmup) continue;
      states[state ?? `HTTP ${status}`] = (states[state ?? `HTTP ${status}`] ?? 0) + 1;
      if (status === 200 && state === 'succeeded') {
        histogram.record(micros);
      } else {
        failures++;
        if (firstFailure === undefined) {
          firstFailure = `HTTP ${status}: ${text.slice(0, 300)}`;
          workerLog(`command failed: ${firstFailure}`);
        }
      }
    }
    return { latency: histogram.snapshot(), states, failures, firstFailure, commandsSeen };
  },
  close: () => {
    for (const ws of sockets) ws.terminate();
    return {};
  },
});
