import { credentials } from './api.ts';

/** The subprotocol of the gateway's operator stream. */
const PROTOCOL = 'iot-gateway.stream.v1';
/** The gateway caps subscriptions per client at this. */
const MAX_FOLLOWED = 200;

export interface StreamMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

type Listener = (message: StreamMessage) => void;
export type StreamState = 'connecting' | 'live' | 'down';

/**
 * The console's one connection to `/v1/stream`. The key goes in a subprotocol (a browser cannot
 * set headers on a WebSocket), never in the URL. It reconnects with backoff, and subscribes
 * again to what the pages follow.
 */
export class LiveStream {
  state: StreamState = 'connecting';
  #ws: WebSocket | undefined;
  #listeners = new Set<Listener>();
  #stateListeners = new Set<() => void>();
  /** Device id → how many views follow it. */
  #followed = new Map<string, number>();
  #sent = new Set<string>();
  #retryMs = 500;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #flush: ReturnType<typeof setTimeout> | undefined;

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#ws?.close();
    this.#ws = undefined;
  }

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onState(listener: () => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Follows the telemetry of these devices until the returned function is called. */
  follow(ids: readonly string[]): () => void {
    for (const id of ids) this.#followed.set(id, (this.#followed.get(id) ?? 0) + 1);
    this.#sync();
    return () => {
      for (const id of ids) {
        const n = (this.#followed.get(id) ?? 1) - 1;
        if (n <= 0) this.#followed.delete(id);
        else this.#followed.set(id, n);
      }
      this.#sync();
    };
  }

  #setState(state: StreamState): void {
    this.state = state;
    for (const l of this.#stateListeners) l();
  }

  #connect(): void {
    const key = credentials.get();
    if (!key || this.#stopped) return;
    this.#setState('connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream`;
    const ws = new WebSocket(url, [PROTOCOL, `bearer.${key}`]);
    this.#ws = ws;
    ws.onopen = () => {
      this.#retryMs = 500;
      this.#sent.clear();
      this.#setState('live');
      this.#sync();
    };
    ws.onmessage = (m) => {
      const message = JSON.parse(String(m.data)) as StreamMessage;
      for (const l of this.#listeners) l(message);
    };
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#setState('down');
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
      // A reconnect may have missed transitions: views reload what they show.
      for (const l of this.#listeners) l({ type: 'reconnecting' });
    };
  }

  /** Sends the difference between what is followed and what the gateway was told, batched. */
  #sync(): void {
    if (this.#flush) return;
    this.#flush = setTimeout(() => {
      this.#flush = undefined;
      const ws = this.#ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const wanted = [...this.#followed.keys()].slice(0, MAX_FOLLOWED);
      const wantedSet = new Set(wanted);
      const drop = [...this.#sent].filter((id) => !wantedSet.has(id));
      const add = wanted.filter((id) => !this.#sent.has(id));
      if (drop.length > 0) ws.send(JSON.stringify({ type: 'unsubscribe', devices: drop }));
      if (add.length > 0) ws.send(JSON.stringify({ type: 'subscribe', devices: add }));
      this.#sent = wantedSet;
    }, 50);
  }
}

export const stream = new LiveStream();
