// Devices that come back all at once after their server restarts: from `storm` on, every device
// retries as soon as its socket closes or its attempt fails, after a random jitter of at most
// `jitterMs` and with no backoff beyond it, as simple firmware does. The bench calls `storm` once
// the restarted server is ready: devices retrying against a server that is down would only burn
// the CPU the clients share with the server, and every device's next attempt falls within one
// jitter of the moment it is back either way. Timeouts are the device SDK's (10 s for the
// WebSocket handshake and 10 s more for `hello`). A device is online once `hello` came; a
// `command` frame is answered `succeeded` at once, as a device that runs it would.
import WebSocket from 'ws';
import { serveWorker, workerLog } from '../worker-process.ts';

export interface StormPrepareArgs {
  readonly url: string;
  readonly count: number;
  /** One device token per device (the gateway); the raw server takes none. */
  readonly tokens?: readonly string[];
  /** A loopback address of its own per process, so the ephemeral ports never run out. */
  readonly localAddress: string;
}

export interface StormArgs {
  readonly jitterMs: number;
  /** A device gives up after this many attempts in one storm, so no loop runs unbounded. */
  readonly maxAttempts: number;
  /** The loopback address the storm's attempts come from, one no earlier phase used. */
  readonly localAddress: string;
}

export interface StormStatus {
  readonly devices: number;
  readonly online: number;
  /** Devices that received their first `command` frame in this storm. */
  readonly commands: number;
  readonly attempts: number;
  readonly gaveUp: number;
  /** Failed attempts by cause (error code or HTTP status). */
  readonly failures: Record<string, number>;
  /** Closes of open sockets by close code. */
  readonly closes: Record<string, number>;
}

/** Epoch milliseconds of the devices' hellos (first and last) and first commands in the storm. */
export interface StormTimes {
  readonly firstHello: readonly number[];
  readonly lastHello: readonly number[];
  readonly command: readonly number[];
}

const HANDSHAKE_TIMEOUT_MS = 10_000;
const HELLO_TIMEOUT_MS = 10_000;

interface Device {
  readonly index: number;
  ws: WebSocket | undefined;
  online: boolean;
  attempts: number;
  firstHelloAt: number;
  helloAt: number;
  commandAt: number;
  timer: NodeJS.Timeout | undefined;
}

let prepared: StormPrepareArgs | undefined;
let devices: Device[] = [];
let retrying = false;
let jitterMs = 0;
let maxAttempts = 0;
let online = 0;
let commands = 0;
let attempts = 0;
let gaveUp = 0;
let failures: Record<string, number> = {};
let closes: Record<string, number> = {};

// The wall clock: the one clock every process of the bench shares, to the millisecond.
const now = () => Date.now();

function count(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

function failureCause(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code) return code;
  const status = /Unexpected server response: (\d+)/.exec(err.message);
  return status ? `HTTP ${status[1]}` : err.message.slice(0, 60);
}

function schedule(device: Device): void {
  if (!retrying || device.timer || device.ws) return;
  if (device.attempts >= maxAttempts) {
    gaveUp++;
    return;
  }
  device.timer = setTimeout(() => {
    device.timer = undefined;
    // A failed attempt is counted and retried by the close handler.
    open(device).catch(() => undefined);
  }, Math.random() * jitterMs);
}

function open(device: Device): Promise<void> {
  const args = prepared!;
  const token = args.tokens?.[device.index];
  device.attempts++;
  attempts++;
  const ws = new WebSocket(args.url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    perMessageDeflate: false,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    localAddress: args.localAddress,
  });
  device.ws = ws;
  return new Promise((resolve, reject) => {
    let failed: Error | undefined;
    const helloTimer = setTimeout(() => {
      failed = new Error('no hello');
      ws.terminate();
    }, HANDSHAKE_TIMEOUT_MS + HELLO_TIMEOUT_MS);
    ws.on('error', (err) => {
      failed ??= err;
    });
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { type?: string; id?: string };
      if (frame.type === 'hello' && !device.online) {
        clearTimeout(helloTimer);
        device.online = true;
        device.helloAt = now();
        if (device.firstHelloAt === 0) device.firstHelloAt = device.helloAt;
        online++;
        resolve();
      } else if (frame.type === 'command') {
        if (device.commandAt === 0) {
          device.commandAt = now();
          commands++;
        }
        ws.send(JSON.stringify({ type: 'command_result', id: frame.id, status: 'succeeded' }));
      }
    });
    ws.on('close', (code) => {
      clearTimeout(helloTimer);
      device.ws = undefined;
      if (device.online) {
        device.online = false;
        online--;
        count(closes, String(code));
      } else {
        const err = failed ?? new Error(`closed ${code} before hello`);
        count(failures, failureCause(err));
        reject(err);
      }
      schedule(device);
    });
  });
}

function reset(): void {
  retrying = false;
  for (const device of devices) {
    clearTimeout(device.timer);
    device.ws?.terminate();
  }
  devices = [];
  online = 0;
}

serveWorker({
  /** Defines this process's devices (all offline), dropping any from before. */
  prepare: (args: StormPrepareArgs) => {
    reset();
    prepared = args;
    devices = Array.from({ length: args.count }, (_, index) => ({
      index,
      ws: undefined,
      online: false,
      attempts: 0,
      firstHelloAt: 0,
      helloAt: 0,
      commandAt: 0,
      timer: undefined,
    }));
    return {};
  },
  /** Brings every device online once, `concurrency` at a time, before the server restarts. */
  connect: async ({ concurrency }: { concurrency: number }) => {
    let next = 0;
    let failed = 0;
    let firstError: string | undefined;
    const progress = setInterval(
      () => workerLog(`${online}/${devices.length} devices online`),
      5_000,
    );
    const runner = async () => {
      while (next < devices.length) {
        const device = devices[next++]!;
        try {
          await open(device);
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, runner));
    clearInterval(progress);
    return { online, failed, ...(firstError ? { firstError } : {}) };
  },
  /**
   * From now on every device reconnects whenever its socket closes, and every offline device
   * starts at once (after its jitter). Counters and times restart for the storm.
   */
  storm: (args: StormArgs) => {
    if (!prepared) throw new Error('storm before prepare');
    prepared = { ...prepared, localAddress: args.localAddress };
    jitterMs = args.jitterMs;
    maxAttempts = args.maxAttempts;
    retrying = true;
    attempts = 0;
    gaveUp = 0;
    commands = 0;
    failures = {};
    closes = {};
    for (const device of devices) {
      device.attempts = 0;
      device.firstHelloAt = 0;
      device.helloAt = 0;
      device.commandAt = 0;
      schedule(device);
    }
    return {};
  },
  status: (): StormStatus => ({
    devices: devices.length,
    online,
    commands,
    attempts,
    gaveUp,
    failures,
    closes,
  }),
  times: (): StormTimes => ({
    firstHello: devices.filter((d) => d.firstHelloAt > 0).map((d) => d.firstHelloAt),
    lastHello: devices.filter((d) => d.online).map((d) => d.helloAt),
    command: devices.filter((d) => d.commandAt > 0).map((d) => d.commandAt),
  }),
  /** Stops retrying and drops every socket; the process stays for the next server. */
  close: () => {
    reset();
    return {};
  },
});
