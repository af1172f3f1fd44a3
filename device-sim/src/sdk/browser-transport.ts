import type { Transport, TransportConnection } from './transport.ts';
import { ABNORMAL_CLOSE, BEARER_SUBPROTOCOL_PREFIX, PROTOCOL_V1 } from './transport.ts';

/** The part of the WHATWG WebSocket the browser transport uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WHATWG WebSocket constructor: the browser's, Deno's, Node 22's global one. */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/**
 * A transport over a WHATWG WebSocket. Browsers cannot set an Authorization header, so the
 * credential travels as the subprotocol `bearer.<credential>` beside `iot-gateway.v1`; the
 * gateway picks `iot-gateway.v1` and never echoes the credential. It keeps the secret out of
 * URLs, proxies' access logs and browser history.
 *
 * Browsers answer the gateway's pings themselves but cannot send pings, so {@link
 * TransportConnection.ping} returns false and the client falls back to `{"type":"ping"}`. A
 * refused upgrade is indistinguishable from a network error here (browsers hide the status).
 *
 * @param WebSocketImpl - defaults to `globalThis.WebSocket`
 */
export function createBrowserTransport(WebSocketImpl?: WebSocketConstructor): Transport {
  return (request, listener) => {
    const Impl =
      WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    if (!Impl) throw new Error('no WebSocket implementation: pass one to createBrowserTransport');
    const socket = new Impl(request.url, [
      PROTOCOL_V1,
      `${BEARER_SUBPROTOCOL_PREFIX}${request.credential}`,
    ]);
    let closed = false;
    socket.onopen = () => listener.open();
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') listener.message(event.data);
    };
    socket.onclose = (event) => {
      if (closed) return;
      closed = true;
      listener.close({ code: event.code || ABNORMAL_CLOSE, reason: event.reason });
    };
    socket.onerror = () => {
      // Followed by a close event, which carries what little the browser tells.
    };
    const connection: TransportConnection = {
      send: (text) => socket.send(text),
      close: (code, reason) => socket.close(code, reason),
      terminate: () => {
        // Browsers have no abrupt close; report the end now so the client can move on.
        socket.close();
        if (!closed) {
          closed = true;
          listener.close({ code: ABNORMAL_CLOSE, reason: 'terminated' });
        }
      },
      ping: () => false,
    };
    return connection;
  };
}
