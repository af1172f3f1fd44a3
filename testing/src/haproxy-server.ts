import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOnExit } from './exit-cleanup.ts';
import { findBinary } from './find-binary.ts';
import { freePort } from './free-port.ts';
import { discardDataDir, isPortTaken, LocalServer } from './local-server.ts';
import type { TestServer } from './test-server.ts';

/** One server behind the load balancer. */
export interface HAProxyBackend {
  /** A name of letters, digits, `-` and `_`, as HAProxy reports it. */
  readonly name: string;
  readonly port: number;
}

/** Options of {@link startHAProxy}. */
export interface HAProxyOptions {
  readonly backends: readonly HAProxyBackend[];
  /**
   * The HTTP path of the health check each backend must answer 2xx to take connections.
   * @defaultValue '/readyz'
   */
  readonly healthPath?: string;
  /** How often each backend is checked, in ms. @defaultValue 500 */
  readonly checkIntervalMs?: number;
  /** @defaultValue 10000 */
  readonly startTimeoutMs?: number;
  /** @defaultValue 5000 */
  readonly stopTimeoutMs?: number;
}

/** Defaults of {@link HAProxyOptions}. */
export const DEFAULT_HAPROXY_OPTIONS = Object.freeze({
  healthPath: '/readyz',
  checkIntervalMs: 500,
  startTimeoutMs: 10_000,
  stopTimeoutMs: 5_000,
});

/** What HAProxy reports of a backend server: `UP`, `DOWN`, `MAINT`, or a transition. */
export type HAProxyServerStatus = string;

/**
 * A throwaway HAProxy in HTTP mode in front of the given backends: WebSocket upgrades pass
 * (the connection becomes a tunnel), new connections go to the backend with the fewest, and a
 * backend failing its health check twice takes no more.
 */
export interface HAProxyServer extends TestServer {
  /** `http://127.0.0.1:PORT`, the frontend. */
  readonly url: string;
  /** Each backend's status as the health checks see it, by name. */
  serverStates(): Promise<Record<string, HAProxyServerStatus>>;
  /**
   * What an operator does before taking a backend out: `drain` sends it no new connections
   * (the open ones stay), `maint` none at all, `ready` puts it back. Resolves once HAProxy took it.
   */
  setServerState(name: string, state: HAProxyAdminState): Promise<void>;
}

/** An administrative state of a backend, set through HAProxy's runtime API. */
export type HAProxyAdminState = 'ready' | 'drain' | 'maint';

const HAPROXY = { name: 'haproxy', envVar: 'HAPROXY_BIN', product: 'HAProxy' } as const;
const PORT_ATTEMPTS = 3;

/** Resolves true once something accepts TCP connections on 127.0.0.1:`port`. */
function tcpAccepts(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Sends one command to HAProxy's stats socket and resolves with its whole answer. */
function statsCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    let answer = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.once('end', () => resolve(answer));
    socket.once('error', reject);
  });
}

/**
 * Starts `haproxy` on a free port with a generated configuration and a fresh temporary
 * directory, and resolves once the frontend accepts connections (backends may still be down:
 * wait on {@link HAProxyServer.serverStates} for them).
 *
 * The binary is looked up on `PATH` and in the sbin directories unless `HAPROXY_BIN` names it.
 *
 * @throws {@link HarnessError} `TESTING_ERR_BINARY_NOT_FOUND`, `TESTING_ERR_SERVER_EXITED` or
 *   `TESTING_ERR_START_TIMEOUT`
 */
export async function startHAProxy(options: HAProxyOptions): Promise<HAProxyServer> {
  const settings = { ...DEFAULT_HAPROXY_OPTIONS, ...options };
  for (const b of settings.backends) {
    if (!/^[A-Za-z0-9_-]+$/.test(b.name)) throw new Error(`backend name ${b.name} is not plain`);
  }
  const binary = findBinary(HAPROXY);
  const dataDir = await mkdtemp(join(tmpdir(), 'iot-gateway-haproxy-'));
  removeOnExit(dataDir);
  const statsSocket = join(dataDir, 'stats.sock');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = join(dataDir, 'haproxy.cfg');
      await writeFile(configFile, haproxyConfig(port, statsSocket, settings));
      const server = new LocalServer({
        name: HAPROXY.name,
        binary,
        // -db: stay in the foreground, so stop() and kill() reach the process itself.
        args: ['-db', '-f', configFile],
        url: `http://127.0.0.1:${port}`,
        port,
        dataDir,
        logFile: join(dataDir, 'server.log'),
        isReady: () => tcpAccepts(port),
        startTimeoutMs: settings.startTimeoutMs,
        stopTimeoutMs: settings.stopTimeoutMs,
      });
      try {
        await server.start();
      } catch (error) {
        if (attempt < PORT_ATTEMPTS && isPortTaken(error)) continue;
        throw error;
      }
      return Object.assign(server, {
        async serverStates() {
          const csv = await statsCommand(statsSocket, 'show stat');
          const states: Record<string, string> = {};
          for (const line of csv.split('\n')) {
            const fields = line.split(',');
            // pxname, svname, …, status (the 18th field)
            if (fields[0] === 'gateways' && fields[1] && fields[1] !== 'BACKEND') {
              states[fields[1]] = fields[17] ?? '';
            }
          }
          return states;
        },
        async setServerState(name: string, state: HAProxyAdminState) {
          if (!settings.backends.some((b) => b.name === name)) {
            throw new Error(`no backend named ${name}`);
          }
          // An empty answer means done; anything else is HAProxy's complaint.
          const answer = await statsCommand(
            statsSocket,
            `set server gateways/${name} state ${state}`,
          );
          if (answer.trim() !== '') throw new Error(`HAProxy refused: ${answer.trim()}`);
        },
      });
    }
  } catch (error) {
    discardDataDir(dataDir);
    throw error;
  }
}

function haproxyConfig(
  port: number,
  statsSocket: string,
  settings: Required<Omit<HAProxyOptions, 'backends'>> & Pick<HAProxyOptions, 'backends'>,
): string {
  const servers = settings.backends
    .map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`)
    .join('\n');
  return `# Written by @iot-gateway/testing for one throwaway load balancer.
global
  maxconn 4096
  stats socket ${statsSocket} mode 600 level admin

defaults
  mode http
  log stdout format raw local0 notice
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # An upgraded WebSocket is a tunnel; the gateway's own pings keep it alive.
  timeout tunnel 1h
  timeout http-request 10s
  option redispatch
  retries 2

frontend devices
  bind 127.0.0.1:${port}
  default_backend gateways

backend gateways
  # Long-lived sessions: new ones go to the gateway with the fewest.
  balance leastconn
  option httpchk GET ${settings.healthPath}
  http-check expect status 200
  default-server inter ${settings.checkIntervalMs}ms fall 2 rise 1
${servers}
`;
}
