import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { EventLoopStalls } from '../event-loop-stalls.ts';

/** The outcome of one write request, classified by what the caller should do next. */
export type WriteOutcome =
  | { readonly kind: 'ok' }
  /** The points themselves are bad (parse error, field type conflict): retrying will not help. */
  | { readonly kind: 'rejected'; readonly status: number; readonly message: string }
  /** The database is missing; create it and retry. */
  | { readonly kind: 'no_database'; readonly message: string }
  /** Unreachable, slow, overloaded or misconfigured: keep the points and retry later. */
  | { readonly kind: 'unavailable'; readonly status?: number; readonly message: string };

export interface InfluxTarget {
  readonly baseUrl: string;
  readonly database: string;
  readonly username?: string;
  readonly password?: string;
}

/** Splits INFLUX_URL (`http://user:pass@host:8086/database`) into its parts. */
export function parseInfluxUrl(url: string): InfluxTarget {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, '')) || 'iot';
  return {
    baseUrl: `${parsed.protocol}//${parsed.host}`,
    database,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
  };
}

/**
 * Writes line protocol to InfluxDB 1.x over keep-alive HTTP. Writes go straight to `/write`
 * rather than through the `influx` package: the text is already encoded (and the same bytes are
 * spooled), and the sink needs the raw status to tell a bad point from an outage.
 */
export class InfluxWriter {
  readonly target: InfluxTarget;
  readonly #timeoutMs: number;
  readonly #agent: Agent;
  readonly #request: typeof request;
  readonly #auth: string | undefined;
  readonly #stalls: EventLoopStalls | undefined;

  constructor(
    url: string,
    options: { timeoutMs: number; maxSockets: number; stalls?: EventLoopStalls },
  ) {
    this.target = parseInfluxUrl(url);
    this.#timeoutMs = options.timeoutMs;
    this.#stalls = options.stalls;
    const https = this.target.baseUrl.startsWith('https:');
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.#agent = https ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
    this.#request = https ? (httpsRequest as typeof request) : request;
    this.#auth =
      this.target.username !== undefined
        ? `Basic ${Buffer.from(`${this.target.username}:${this.target.password ?? ''}`).toString('base64')}`
        : undefined;
  }

  /** Writes lines (joined by newlines) with millisecond precision. */
  write(lines: readonly string[]): Promise<WriteOutcome> {
    return this.writeText(lines.join('\n'));
  }

  /** {@link write} for lines already joined by newlines. */
  writeText(text: string): Promise<WriteOutcome> {
    const db = encodeURIComponent(this.target.database);
    return this.#post(`/write?db=${db}&precision=ms`, text);
  }

  /** Creates the database if it does not exist (InfluxDB treats this as a no-op then). */
  async ensureDatabase(): Promise<WriteOutcome> {
    const q = encodeURIComponent(`CREATE DATABASE "${this.target.database.replace(/"/g, '\\"')}"`);
    return this.#post(`/query?q=${q}`, '');
  }

  #post(path: string, body: string): Promise<WriteOutcome> {
    return new Promise((resolve) => {
      const headers: Record<string, string | number> = {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      };
      if (this.#auth) headers.authorization = this.#auth;
      const req = this.#request(
        `${this.target.baseUrl}${path}`,
        { method: 'POST', agent: this.#agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status >= 200 && status < 300) return resolve({ kind: 'ok' });
            let message = text;
            try {
              message = (JSON.parse(text) as { error?: string }).error ?? text;
            } catch {
              // Not JSON: keep the text.
            }
            if (status === 404 && /database not found/i.test(message)) {
              return resolve({ kind: 'no_database', message });
            }
            // 400 is about the points; 401/403/413 and 5xx are about the server or its setup,
            // where keeping the points and retrying is right.
            if (status === 400) return resolve({ kind: 'rejected', status, message });
            resolve({ kind: 'unavailable', status, message: `HTTP ${status}: ${message}` });
          });
          res.on('error', (err) => resolve({ kind: 'unavailable', message: err.message }));
        },
      );
      const deadline = this.#deadline();
      req.on('close', () => clearTimeout(deadline.timer));
      req.on('error', (err) => resolve({ kind: 'unavailable', message: err.message }));
      deadline.arm(() => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.end(body);
    });
  }

  /**
   * INFLUX_TIMEOUT_MS of the gateway's own running time: time the event loop was stalled is
   * added, because an answer that arrived while the gateway could not read it was not late, and
   * calling InfluxDB down for it would send healthy writes to the spool.
   */
  #deadline(): { timer: NodeJS.Timeout | undefined; arm(onExpired: () => void): void } {
    const stalls = this.#stalls;
    const started = performance.now();
    const stalledAtStart = stalls?.stalledMs ?? 0;
    const state = {
      timer: undefined as NodeJS.Timeout | undefined,
      arm: (onExpired: () => void) => {
        const check = () => {
          const stalled = (stalls?.stalledMs ?? 0) - stalledAtStart;
          const left = started + this.#timeoutMs + stalled - performance.now();
          if (left > 0) state.timer = setTimeout(check, Math.ceil(left));
          else onExpired();
        };
        state.timer = setTimeout(check, this.#timeoutMs);
      },
    };
    return state;
  }

  close(): void {
    this.#agent.destroy();
  }
}
