import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FrameInbox } from '@iot-gateway/testing';
import { WebSocket, WebSocketServer } from 'ws';

export interface Frame {
  type: string;
  [key: string]: any;
}

export const DEFAULT_HELLO_LIMITS = {
  maxFrameBytes: 64 * 1024,
  maxInFlight: 256,
  ratePerSec: 1000,
  burst: 1000,
  maxBatch: 500,
};

/**
 * One connection to the {@link FakeGateway}: what the device sent, and a way to answer it as the
 * gateway would (hello, acks, errors, commands, closes). Tests wait for frames instead of
 * sleeping.
 */
export class FakeSession {
  readonly ws: WebSocket;
  readonly request: IncomingMessage;
  readonly #inbox = new FrameInbox<Frame>();
  readonly raw: string[] = [];
  closed: { code: number; reason: string } | undefined;
  #closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  constructor(ws: WebSocket, request: IncomingMessage) {
    this.ws = ws;
    this.request = request;
    ws.on('message', (data) => {
      const text = String(data);
      this.raw.push(text);
      let frame: Frame;
      try {
        frame = JSON.parse(text) as Frame;
      } catch {
        return;
      }
      this.#inbox.push(frame);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.#closeWaiters.splice(0)) w(this.closed);
    });
    ws.on('error', () => {});
  }

  hello(overrides: { heartbeat?: object; limits?: object } = {}): void {
    this.send({
      type: 'hello',
      deviceId: 'dev-1',
      sessionId: `s-${Math.random().toString(36).slice(2)}`,
      heartbeat: { intervalMs: 15_000, timeoutMs: 45_000, ...overrides.heartbeat },
      limits: { ...DEFAULT_HELLO_LIMITS, ...overrides.limits },
    });
  }

  send(frame: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** Frames received and not yet taken by {@link FakeSession.next}. */
  get frames(): Frame[] {
    return this.#inbox.frames;
  }

  /** The first frame seen or coming that matches; each frame is handed out once. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return this.#inbox.next(match, timeoutMs);
  }

  /** Waits for `count` telemetry frames and returns them in order. */
  async telemetry(count: number): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next((f) => f.type === 'telemetry'));
    return out;
  }

  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
      this.#closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }
}

/** Readings of telemetry frames, either form, as `[ts, metrics]`. */
export function readingsOf(frame: Frame): Array<{ ts: unknown; metrics: Record<string, unknown> }> {
  return frame.readings ?? [{ ts: frame.ts, metrics: frame.metrics }];
}

type Refusal = { status: number; body: unknown; headers?: Record<string, string> };

/**
 * A WebSocket server that speaks just enough of protocol v1 for SDK tests: it says hello (unless
 * told not to), records frames, and lets the test play the gateway's part.
 */
export class FakeGateway {
  readonly server: Server;
  readonly wss: WebSocketServer;
  readonly sessions: FakeSession[] = [];
  /** Upgrade requests seen, refused ones included. */
  readonly upgrades: IncomingMessage[] = [];
  autoHello: { heartbeat?: object; limits?: object } | false = {};
  #refusals: Refusal[] = [];
  #waiters: Array<(s: FakeSession) => void> = [];

  private constructor() {
    this.server = createServer();
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (offered) => (offered.has('iot-gateway.v1') ? 'iot-gateway.v1' : false),
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades.push(req);
      const refusal = this.#refusals.shift();
      if (refusal) {
        const body = JSON.stringify(refusal.body);
        const headers = Object.entries({ 'content-type': 'application/json', ...refusal.headers })
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        socket.end(
          `HTTP/1.1 ${refusal.status} Refused\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const session = new FakeSession(ws, req);
        this.sessions.push(session);
        if (this.autoHello) session.hello(this.autoHello);
        for (const waiter of this.#waiters.splice(0)) waiter(session);
      });
    });
  }

  static async start(): Promise<FakeGateway> {
    const gateway = new FakeGateway();
    await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
    return gateway;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The next upgrade is answered with this HTTP status and JSON body. */
  refuseNext(status: number, body: unknown, headers?: Record<string, string>): void {
    this.#refusals.push({ status, body, ...(headers ? { headers } : {}) });
  }

  /** The `n`-th session (0-based), once it exists. */
  session(n: number, timeoutMs = 5000): Promise<FakeSession> {
    const existing = this.sessions[n];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`session ${n} did not connect`)), timeoutMs);
      const check = () => {
        const s = this.sessions[n];
        if (s) {
          clearTimeout(timer);
          resolve(s);
        } else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
