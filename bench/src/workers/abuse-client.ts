// The attackers of the abuse benchmark, each bounded in count and time and aimed at the gateway
// on loopback only: floods of malformed frames, devices that never read, unauthenticated
// upgrades, and slowloris handshakes.
import { connect, type Socket } from 'node:net';
import {
  RawDevice,
  repeated,
  textFrame,
  upgradeRequest,
  wrongTypesBatch,
} from '../../../gateway/test/support/raw-device.ts';
import { serveWorker, workerLog } from '../worker-process.ts';

export interface AttackReport {
  /** Frames written, or connections opened. */
  readonly sent: number;
  /** Sessions opened (frame attacks) or answers received (connection attacks). */
  readonly sessions: number;
  /** Sessions the gateway ended (frame attacks), answers ended by its FIN, slowloris cuts. */
  readonly closedByGateway: number;
  readonly elapsedMs: number;
}

function loopbackOnly(url: string): URL {
  const parsed = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`attacks only target loopback, not ${parsed.hostname}`);
  }
  return parsed;
}

/**
 * Devices that send `frame` as fast as TCP takes it and, each time the gateway closes them,
 * reconnect and go on, until `maxFrames` were written or `durationMs` passed.
 */
async function frameAttack(args: {
  url: string;
  tokens: readonly string[];
  frame: string;
  maxFrames: number;
  durationMs: number;
  stopReading: boolean;
}): Promise<AttackReport> {
  loopbackOnly(args.url);
  const started = performance.now();
  const deadline = started + args.durationMs;
  const perWrite = Math.max(1, Math.floor((256 * 1024) / Buffer.byteLength(args.frame)));
  const chunk = repeated(textFrame(args.frame), perWrite);
  let sent = 0;
  let sessions = 0;
  let closedByGateway = 0;
  const attacker = async (token: string) => {
    while (sent < args.maxFrames && performance.now() < deadline) {
      let device: RawDevice;
      try {
        device = await RawDevice.open(args.url, token);
      } catch {
        // Refused (a replaced or closing session): try again shortly.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      sessions++;
      if (args.stopReading) device.stopReading();
      while (sent < args.maxFrames && performance.now() < deadline) {
        const ok = await Promise.race([
          device.write(chunk),
          new Promise<false>((r) => setTimeout(() => r(false), 2_000)),
        ]);
        if (!ok) break;
        sent += perWrite;
      }
      // Read again and wait (bounded) for the gateway to end the session: a device that stops
      // by itself proves nothing.
      device.socket.resume();
      const waitUntil = Math.min(deadline, performance.now() + 5_000);
      while (!device.closed && performance.now() < waitUntil) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (device.closed) closedByGateway++;
      device.destroy();
    }
  };
  await Promise.all(args.tokens.map(attacker));
  return { sent, sessions, closedByGateway, elapsedMs: performance.now() - started };
}

/**
 * Opens `perSecond` connections a second that ask for an upgrade with a credential that is no
 * token, read the answer and never close their side; counts those the gateway closed itself.
 */
async function unauthenticated(args: {
  url: string;
  perSecond: number;
  durationMs: number;
}): Promise<AttackReport> {
  const url = loopbackOnly(args.url);
  const port = Number(url.port);
  const started = performance.now();
  const open = new Set<Socket>();
  let sent = 0;
  let answered = 0;
  let closedByGateway = 0;
  const request = upgradeRequest(url.host, 'dt_not_a_device_token');
  const tick = 50;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - started >= args.durationMs) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (let i = 0; i < (args.perSecond * tick) / 1000; i++) {
        const socket = connect({ port, host: url.hostname, allowHalfOpen: true });
        sent++;
        open.add(socket);
        let gotAnswer = false;
        socket.on('error', () => {});
        socket.once('connect', () => socket.write(request));
        socket.once('data', () => {
          gotAnswer = true;
          answered++;
        });
        socket.once('end', () => {
          // The answer ended with the gateway's FIN; whether it then released the socket is
          // read from its open file descriptors by the orchestrator. This side lets go after
          // 3 s: holding every socket of the phase would exhaust this process's open files.
          if (gotAnswer) closedByGateway++;
          setTimeout(() => socket.destroy(), 3_000).unref();
        });
        socket.once('close', () => open.delete(socket));
      }
    }, tick);
  });
  for (const socket of open) socket.destroy();
  return { sent, sessions: answered, closedByGateway, elapsedMs: performance.now() - started };
}

/**
 * Keeps `count` connections that send an upgrade request one header byte at a time, reopening
 * each one the gateway drops, for `durationMs`.
 */
async function slowloris(args: {
  url: string;
  count: number;
  durationMs: number;
}): Promise<AttackReport> {
  const url = loopbackOnly(args.url);
  const port = Number(url.port);
  const started = performance.now();
  const request = upgradeRequest(url.host, 'dt_slow');
  const open = new Map<Socket, number>();
  let sent = 0;
  let closedByGateway = 0;
  let stopping = false;
  const openOne = () => {
    if (stopping) return;
    const socket = connect({ port, host: url.hostname });
    sent++;
    open.set(socket, 0);
    socket.on('error', () => {});
    socket.once('close', () => {
      open.delete(socket);
      if (!stopping) {
        closedByGateway++;
        openOne();
      }
    });
  };
  for (let i = 0; i < args.count; i++) openOne();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (const [socket, at] of open) {
        if (at < request.length - 4 && socket.writable) {
          socket.write(request[at] ?? '');
          open.set(socket, at + 1);
        }
      }
      if (performance.now() - started >= args.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 1_000);
  });
  stopping = true;
  for (const socket of open.keys()) socket.destroy();
  return { sent, sessions: 0, closedByGateway, elapsedMs: performance.now() - started };
}

/** The malformed frame of attack (a): cut-off JSON. */
const MALFORMED = '{"type":"telemetry","seq":';

/** The invalid batch of attack (b). */
const WRONG_TYPES_BATCH = wrongTypesBatch(1);

serveWorker({
  malformedFlood: async (args: {
    url: string;
    tokens: string[];
    maxFrames: number;
    durationMs: number;
  }) => {
    const report = await frameAttack({ ...args, frame: MALFORMED, stopReading: false });
    workerLog(`malformed flood: ${report.sent} frames over ${report.sessions} sessions`);
    return report;
  },
  nonReaders: async (args: { url: string; tokens: string[]; durationMs: number }) => {
    const report = await frameAttack({
      ...args,
      frame: WRONG_TYPES_BATCH,
      maxFrames: Number.MAX_SAFE_INTEGER,
      stopReading: true,
    });
    workerLog(`non-readers: ${report.sent} invalid batches over ${report.sessions} sessions`);
    return report;
  },
  unauthenticated: async (args: { url: string; perSecond: number; durationMs: number }) => {
    const report = await unauthenticated(args);
    workerLog(
      `unauthenticated: ${report.sent} upgrades, ${report.sessions} answered, ${report.closedByGateway} closed by the gateway`,
    );
    return report;
  },
  slowloris: async (args: { url: string; count: number; durationMs: number }) => {
    const report = await slowloris(args);
    workerLog(
      `slowloris: ${report.sent} connections, ${report.closedByGateway} cut by the gateway`,
    );
    return report;
  },
});
