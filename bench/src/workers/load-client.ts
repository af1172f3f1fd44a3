// The load generator: devices in this process stream one JSON reading per frame, either as fast
// as acks allow with at most `window` unacked frames per device, or at a paced rate. The same
// code drives all three servers: protocol v1 over `ws` (raw sink and gateway alike) or Socket.IO
// emits with ack callbacks. Ack latency is send → ack as the device sees it.
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { LatencyHistogram } from '../../../device-sim/src/sim/latency-histogram.ts';
import { serveWorker, workerLog } from '../worker-process.ts';

export interface LoadConnectArgs {
  readonly url: string;
  readonly protocol: 'ws' | 'socketio';
  readonly count: number;
  /** One device token per device (the gateway); the other servers take none. */
  readonly tokens?: readonly string[];
  readonly window: number;
  readonly localAddress?: string;
  readonly concurrency?: number;
  /** Reading timestamps are `tsBase + seq`: unique per device, so InfluxDB keeps every point. */
  readonly tsBase: number;
}

export interface LoadReport {
  /** Frames acked since `mark`. */
  readonly frames: number;
  readonly elapsedMs: number;
  readonly latency: ReturnType<LatencyHistogram['snapshot']>;
  readonly errors: number;
  readonly closes: number;
}

export interface LoadTotals {
  readonly sent: number;
  readonly acked: number;
  readonly rejected: number;
  readonly unacked: number;
  readonly closes: number;
}

interface Device {
  readonly index: number;
  /** Last seq sent; seqs start at 1. */
  seq: number;
  /** Last seq acked (ws) or acks received (Socket.IO). */
  acked: number;
  inFlight: number;
  closed: boolean;
  readonly sentAt: Float64Array;
  /** Seqs answered with an error frame and not yet passed by an ack. */
  readonly rejected: Set<number>;
  send(seq: number): void;
  /** Brackets a burst of sends so it leaves the process in one write. */
  cork(): void;
  uncork(): void;
  close(): void;
}

const ACK_PREFIX = '{"type":"ack","seq":';

let window = 1;
let tsBase = 0;
const devices: Device[] = [];
const histogram = new LatencyHistogram();
let sending = false;
let measuring = false;
let closing = false;
let pacedRate = 0;
let pacer: NodeJS.Timeout | undefined;
let markedAt = 0;
let windowFrames = 0;
let windowErrors = 0;
let windowCloses = 0;
let totalSent = 0;
let totalAcked = 0;
let totalRejected = 0;
let totalCloses = 0;
let errorsLogged = 0;

function telemetryText(seq: number): string {
  return `{"type":"telemetry","seq":${seq},"ts":${tsBase + seq},"metrics":{"temperature":${21 + (seq % 50) / 10},"humidity":${40 + (seq % 20)}}}`;
}

function sendNext(device: Device): void {
  const seq = ++device.seq;
  device.inFlight++;
  totalSent++;
  device.sentAt[seq % window] = performance.now();
  device.send(seq);
}

function pump(device: Device): void {
  if (!sending || pacedRate > 0 || device.closed || device.inFlight >= window) return;
  // A device refilling its window after an ack writes its frames in one go, as a device
  // flushing its buffer would: one syscall instead of one per frame keeps the client lean.
  device.cork();
  while (device.inFlight < window) sendNext(device);
  device.uncork();
}

function settled(device: Device, seq: number, now: number): void {
  device.inFlight--;
  totalAcked++;
  if (measuring) {
    windowFrames++;
    histogram.record((now - device.sentAt[seq % window]!) * 1000);
  }
}

/** A cumulative ack: every frame up to `seq` not answered with an error is durable. */
function onAck(device: Device, seq: number): void {
  if (seq <= device.acked) return;
  const now = performance.now();
  for (let s = device.acked + 1; s <= seq; s++) {
    if (device.rejected.size > 0 && device.rejected.delete(s)) continue;
    settled(device, s, now);
  }
  device.acked = seq;
  pump(device);
}

function onError(device: Device, frame: { seq?: number; code?: string; message?: string }): void {
  if (measuring) windowErrors++;
  if (errorsLogged++ < 3) workerLog(`error frame: ${JSON.stringify(frame)}`);
  if (typeof frame.seq === 'number' && frame.seq > device.acked) {
    totalRejected++;
    device.inFlight--;
    device.rejected.add(frame.seq);
    pump(device);
  }
}

function onClose(device: Device, code: number, reason: string): void {
  if (device.closed) return;
  device.closed = true;
  if (closing) return;
  totalCloses++;
  if (measuring) windowCloses++;
  workerLog(`device ${device.index} closed by the server: ${code} ${reason}`);
}

const noop = () => {};

function newDevice(
  index: number,
  send: (seq: number) => void,
  close: () => void,
  socket?: () => { cork(): void; uncork(): void } | undefined,
): Device {
  return {
    index,
    seq: 0,
    acked: 0,
    inFlight: 0,
    closed: false,
    sentAt: new Float64Array(window),
    rejected: new Set(),
    send,
    cork: socket ? () => socket()?.cork() : noop,
    uncork: socket ? () => socket()?.uncork() : noop,
    close,
  };
}

function connectWs(args: LoadConnectArgs, index: number): Promise<Device> {
  const token = args.tokens?.[index];
  const ws = new WebSocket(args.url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    perMessageDeflate: false,
    ...(args.localAddress ? { localAddress: args.localAddress } : {}),
  });
  const device = newDevice(
    index,
    (seq) => ws.send(telemetryText(seq)),
    () => ws.terminate(),
    // ws keeps its net.Socket in `_socket`; ws itself corks it around each frame's two writes.
    () => (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket,
  );
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`device ${index}: HTTP ${res.statusCode} at the upgrade`)),
    );
    ws.once('error', (err) => reject(err));
    ws.on('close', (code, reason) => onClose(device, code, reason.toString()));
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith(ACK_PREFIX)) {
        onAck(device, Number.parseInt(text.slice(ACK_PREFIX.length), 10));
        return;
      }
      const frame = JSON.parse(text) as { type: string; seq?: number };
      if (frame.type === 'hello') resolve(device);
      else if (frame.type === 'ack' && typeof frame.seq === 'number') onAck(device, frame.seq);
      else if (frame.type === 'error') onError(device, frame);
    });
  });
}

function connectSocketIo(args: LoadConnectArgs, index: number): Promise<Device> {
  const socket: Socket = io(args.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...(args.localAddress ? { localAddress: args.localAddress } : {}),
  });
  const device = newDevice(
    index,
    (seq) => {
      socket.emit(
        'telemetry',
        {
          seq,
          ts: tsBase + seq,
          metrics: { temperature: 21 + (seq % 50) / 10, humidity: 40 + (seq % 20) },
        },
        () => {
          // Socket.IO acks each emit on its own, in order.
          device.acked++;
          settled(device, seq, performance.now());
          pump(device);
        },
      );
    },
    () => socket.disconnect(),
  );
  // Socket.IO buffers the emits of one tick and writes them on the next, one ws.send each; the
  // same one-write-per-burst treatment as the ws devices corks its socket until after that flush.
  let corked = false;
  device.cork = () => {
    if (corked) return;
    const engine = socket.io.engine as unknown as {
      transport?: { ws?: { _socket?: { cork(): void; uncork(): void } } };
    };
    const raw = engine.transport?.ws?._socket;
    if (!raw) return;
    corked = true;
    raw.cork();
    setImmediate(() => {
      corked = false;
      raw.uncork();
    });
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(device));
    socket.once('connect_error', (err) => reject(err));
    socket.on('disconnect', (reason) => onClose(device, 0, reason));
  });
}

async function connectAll(args: LoadConnectArgs): Promise<{ connected: number; ms: number }> {
  window = args.window;
  tsBase = args.tsBase;
  const started = performance.now();
  let next = 0;
  const connectOne = args.protocol === 'ws' ? connectWs : connectSocketIo;
  const runner = async () => {
    while (next < args.count) {
      const index = next++;
      devices[index] = await connectOne(args, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency ?? 32, args.count) }, runner));
  return { connected: devices.length, ms: performance.now() - started };
}

/** Paced mode: a budget of frames refilled every 5 ms, spread round-robin over the devices. */
function startPacer(rate: number): void {
  let last = performance.now();
  let budget = 0;
  let cursor = 0;
  pacer = setInterval(() => {
    const now = performance.now();
    budget = Math.min(budget + (rate * (now - last)) / 1000, rate * 0.05);
    last = now;
    let idle = 0;
    while (budget >= 1 && idle < devices.length) {
      const device = devices[cursor]!;
      cursor = (cursor + 1) % devices.length;
      if (device.closed || device.inFlight >= window) {
        idle++;
        continue;
      }
      idle = 0;
      sendNext(device);
      budget--;
    }
  }, 5);
}

serveWorker({
  connect: (args: LoadConnectArgs) => connectAll(args),
  /** Starts sending: as fast as acks allow, or `rate` frames/s for this process. */
  start: ({ rate }: { rate?: number }) => {
    sending = true;
    pacedRate = rate ?? 0;
    if (pacedRate > 0) startPacer(pacedRate);
    else for (const device of devices) pump(device);
    return {};
  },
  /** Starts the measurement window. */
  mark: () => {
    histogram.reset();
    windowFrames = 0;
    windowErrors = 0;
    windowCloses = 0;
    measuring = true;
    markedAt = performance.now();
    return {};
  },
  report: (): LoadReport => {
    measuring = false;
    return {
      frames: windowFrames,
      elapsedMs: performance.now() - markedAt,
      latency: histogram.snapshot(),
      errors: windowErrors,
      closes: windowCloses,
    };
  },
  /** Stops sending and waits until every frame in flight is acked (or `timeoutMs` passes). */
  drain: async ({ timeoutMs }: { timeoutMs: number }): Promise<LoadTotals> => {
    sending = false;
    measuring = false;
    clearInterval(pacer);
    const deadline = performance.now() + timeoutMs;
    while (devices.some((d) => !d.closed && d.inFlight > 0) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return {
      sent: totalSent,
      acked: totalAcked,
      rejected: totalRejected,
      unacked: devices.reduce((sum, d) => sum + d.inFlight, 0),
      closes: totalCloses,
    };
  },
  close: () => {
    closing = true;
    for (const device of devices) device.close();
    return {};
  },
});
