import { FrameInbox } from '@iot-gateway/testing';
import WebSocket from 'ws';

export interface Frame {
  type: string;
  [key: string]: any;
}

/**
 * A bare protocol-v1 client for tests: it records every frame and close, and lets a test wait for
 * the frame it expects instead of sleeping.
 */
export class TestDevice {
  readonly ws: WebSocket;
  readonly #inbox = new FrameInbox<Frame>();
  closed: { code: number; reason: string } | undefined;
  /** The session's `hello` frame. */
  hello: Frame | undefined;
  #closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      this.#inbox.push(JSON.parse(String(data)) as Frame);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.#closeWaiters.splice(0)) w(this.closed);
    });
    ws.on('error', () => {});
  }

  /** Connects and waits for `hello`. Rejects with the HTTP status and body when refused. */
  static async connect(
    baseUrl: string,
    credential: string | undefined,
    options: {
      via?: 'header' | 'subprotocol';
      headers?: Record<string, string>;
      autoPong?: boolean;
      /** For wss: the CA to trust, and a client certificate and key to present. */
      tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
      /** Subprotocols to offer as they are (a browser's choice), instead of the usual pair. */
      protocols?: string[];
    } = {},
  ): Promise<TestDevice> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/v1/connect`;
    const headers: Record<string, string> = { ...options.headers };
    let protocols: string[] | undefined;
    if (credential !== undefined) {
      if (options.via === 'subprotocol') protocols = ['iot-gateway.v1', `bearer.${credential}`];
      else headers.authorization = `Bearer ${credential}`;
    }
    if (options.protocols) protocols = options.protocols;
    const ws = new WebSocket(url, protocols, {
      headers,
      autoPong: options.autoPong ?? true,
      ...options.tls,
    });
    const device = new TestDevice(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c;
        });
        res.on('end', () => reject(new RefusedError(res.statusCode ?? 0, body, res.headers)));
      });
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    device.hello = await device.next((f) => f.type === 'hello');
    // The gateway sends queued commands once the session shows life. A ping answered is a round
    // trip after which it has: a test may then expect commands at once. A silent device
    // (autoPong off) shows none.
    if (options.autoPong ?? true) {
      await new Promise<void>((resolve) => {
        // A session the gateway closes at once resolves too: the test sees the close.
        const done = () => {
          ws.off('pong', done);
          ws.off('close', done);
          resolve();
        };
        ws.once('pong', done);
        ws.once('close', done);
        ws.ping();
      });
    }
    return device;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Frames received and not yet taken by {@link TestDevice.next}. */
  get frames(): Frame[] {
    return this.#inbox.frames;
  }

  /** The first frame (already received or coming) that matches; each is handed out once. */
  next(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.#inbox.next(match, timeoutMs);
  }

  /** Waits for an ack covering `seq`. */
  ackFor(seq: number, timeoutMs = 5000): Promise<Frame> {
    return this.next((f) => f.type === 'ack' && f.seq >= seq, timeoutMs);
  }

  errorFor(seq: number, timeoutMs = 5000): Promise<Frame> {
    return this.next((f) => f.type === 'error' && f.seq === seq, timeoutMs);
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

  close(): void {
    this.ws.close();
  }
}

export class RefusedError extends Error {
  readonly status: number;
  readonly body: any;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  constructor(
    status: number,
    body: string,
    headers: Readonly<Record<string, string | string[] | undefined>> = {},
  ) {
    super(`refused with ${status}: ${body}`);
    this.status = status;
    this.headers = headers;
    try {
      this.body = JSON.parse(body);
    } catch {
      this.body = body;
    }
  }
}

/** The refusal of a connection attempt that must be refused; fails the test if it was accepted. */
export async function refusal(attempt: Promise<unknown>): Promise<RefusedError> {
  try {
    await attempt;
  } catch (err) {
    if (err instanceof RefusedError) return err;
    throw err;
  }
  throw new Error('the connection was accepted');
}
