import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer } from 'node:net';

/**
 * A TCP relay between a client and a server on 127.0.0.1 that can swallow the client's bytes.
 *
 * With {@link TcpProxy.blackhole} on, what the client writes never reaches the server, so its
 * QoS 1 publishes stay unacknowledged for as long as the test wants, without touching the
 * server. When the server goes away, the relay cuts the client's side too, as a real network
 * path would.
 */
export class TcpProxy {
  readonly port: number;
  readonly #server: ReturnType<typeof createServer>;
  readonly #sockets = new Set<Socket>();
  #blackhole = false;

  private constructor(server: ReturnType<typeof createServer>) {
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy: { current?: TcpProxy } = {};
    const server = createServer((client) => proxy.current?.relay(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy.current = new TcpProxy(server);
    return proxy.current;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** While on, bytes from clients are dropped instead of forwarded. */
  blackhole(on: boolean): void {
    this.#blackhole = on;
  }

  relay(client: Socket, targetPort: number): void {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('data', (chunk) => {
      if (!this.#blackhole) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', cut);
    upstream.on('close', cut);
    client.on('error', cut);
    upstream.on('error', cut);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
