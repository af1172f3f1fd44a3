import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { HandshakeRefusal, Transport, TransportConnection } from './transport.ts';
import { ABNORMAL_CLOSE } from './transport.ts';

/** Options of {@link createWsTransport}. */
export interface WsTransportOptions {
  /**
   * Whether to answer the gateway's WebSocket pings; the simulator's zombies say no.
   * @defaultValue () =\> true
   */
  readonly answerPings?: () => boolean;
  /** Gives up on an upgrade that takes longer. @defaultValue 10000 */
  readonly handshakeTimeoutMs?: number;
  /** Extra upgrade request headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

const MAX_REFUSAL_BODY = 4096;

function parseRefusal(res: IncomingMessage, body: string): HandshakeRefusal {
  let code: string | undefined;
  let message = body.slice(0, 200) || `HTTP ${res.statusCode}`;
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof json.error === 'string') code = json.error;
    if (typeof json.message === 'string') message = json.message;
  } catch {
    // Not the gateway (a proxy's HTML page, say): keep the status only.
  }
  const retryAfter = Number(res.headers['retry-after']);
  return {
    status: res.statusCode ?? 0,
    code,
    message,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
  };
}

/**
 * The Node transport, on `ws`: the credential goes in `Authorization: Bearer`, pings are real
 * WebSocket pings, and a refused upgrade reports its HTTP status and the gateway's error code, so
 * the client can tell a revoked device (stop) from a busy gateway (retry after `Retry-After`).
 */
export function createWsTransport(options: WsTransportOptions = {}): Transport {
  const answerPings = options.answerPings ?? (() => true);
  return (request, listener) => {
    const ws = new WebSocket(request.url, {
      headers: { ...options.headers, authorization: `Bearer ${request.credential}` },
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
      autoPong: false,
    });
    let refusal: HandshakeRefusal | undefined;
    let error: Error | undefined;
    let closed = false;
    ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_REFUSAL_BODY) body += chunk;
      });
      const finish = () => {
        refusal ??= parseRefusal(res, body);
        req.destroy();
        ws.terminate();
      };
      res.on('end', finish);
      res.on('error', finish);
    });
    ws.on('open', () => listener.open());
    ws.on('message', (data, isBinary) => {
      if (!isBinary) listener.message(String(data));
    });
    ws.on('ping', (data) => {
      listener.activity();
      if (answerPings()) ws.pong(data);
    });
    ws.on('pong', () => listener.activity());
    ws.on('error', (err) => {
      error ??= err;
    });
    ws.on('close', (code, reason) => {
      if (closed) return;
      closed = true;
      listener.close({
        code: refusal ? ABNORMAL_CLOSE : code,
        reason: refusal ? (refusal.code ?? `HTTP ${refusal.status}`) : String(reason),
        ...(refusal ? { refusal } : {}),
        ...(error && !refusal ? { error } : {}),
      });
    });
    const connection: TransportConnection = {
      send: (text) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
      },
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
      ping: () => {
        if (ws.readyState === WebSocket.OPEN) ws.ping();
        return true;
      },
    };
    return connection;
  };
}
