import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { removeOnExit } from './exit-cleanup.ts';
import { findBinary } from './find-binary.ts';
import { freePort } from './free-port.ts';
import { discardDataDir, isPortTaken, LocalServer } from './local-server.ts';
import { mqttAccepts } from './mqtt-probe.ts';
import type { TestServer } from './test-server.ts';

/** Options of {@link startMosquitto}. */
export interface MosquittoOptions {
  /**
   * How long to wait for the broker to accept an MQTT connection, at start and at each restart.
   * @defaultValue 10000
   */
  startTimeoutMs?: number;
  /**
   * How long a graceful stop waits after SIGTERM before sending SIGKILL.
   * @defaultValue 5000
   */
  stopTimeoutMs?: number;
  /**
   * Clients must log in with a user of `passwordFile` (made with `mosquitto_passwd`) and may
   * only do what `aclFile` grants. Unset: anonymous clients may do anything.
   */
  auth?: { passwordFile: string; aclFile: string };
}

/** Defaults of {@link MosquittoOptions}. */
export const DEFAULT_MOSQUITTO_OPTIONS = Object.freeze({
  startTimeoutMs: 10_000,
  stopTimeoutMs: 5_000,
});

/**
 * A throwaway Mosquitto 2 broker: anonymous access, persistence on, so retained messages and
 * QoS 1/2 messages queued for persistent sessions survive {@link TestServer.restart}. After
 * {@link TestServer.kill} only what the last autosave (every second) wrote survives.
 */
export interface MosquittoServer extends TestServer {
  /** `mqtt://127.0.0.1:PORT`. */
  readonly url: string;
}

const MOSQUITTO = { name: 'mosquitto', envVar: 'MOSQUITTO_BIN', product: 'Mosquitto' } as const;
const PORT_ATTEMPTS = 3;

/**
 * Starts `mosquitto` on a free port with a fresh temporary data directory and resolves once it
 * accepts an MQTT connection. Stop it with {@link TestServer.stop} (for example in node:test's
 * `after()`); if the test process exits first, the broker is killed and the directory removed.
 *
 * The binary is looked up on `PATH` and in the sbin directories unless `MOSQUITTO_BIN` names it.
 *
 * @throws {@link HarnessError} `TESTING_ERR_BINARY_NOT_FOUND`, `TESTING_ERR_SERVER_EXITED` or
 *   `TESTING_ERR_START_TIMEOUT`, the last two with the end of the broker's log.
 *
 * @example
 * ```ts
 * const broker = await startMosquitto();
 * after(() => broker.stop());
 * const client = await mqtt.connectAsync(broker.url);
 * ```
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  const settings = { ...DEFAULT_MOSQUITTO_OPTIONS, ...options };
  const binary = findBinary(MOSQUITTO);
  const dataDir = await mkdtemp(join(tmpdir(), 'iot-gateway-mosquitto-'));
  removeOnExit(dataDir);
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = join(dataDir, 'mosquitto.conf');
      await writeFile(configFile, mosquittoConfig(dataDir, port, options.auth));
      const server = new LocalServer({
        name: MOSQUITTO.name,
        binary,
        args: ['-c', configFile],
        url: `mqtt://127.0.0.1:${port}`,
        port,
        dataDir,
        logFile: join(dataDir, 'server.log'),
        isReady: () => mqttAccepts(port, 1_000, options.auth !== undefined),
        startTimeoutMs: settings.startTimeoutMs,
        stopTimeoutMs: settings.stopTimeoutMs,
      });
      try {
        await server.start();
      } catch (error) {
        if (attempt < PORT_ATTEMPTS && isPortTaken(error)) continue;
        throw error;
      }
      return server;
    }
  } catch (error) {
    discardDataDir(dataDir);
    throw error;
  }
}

function mosquittoConfig(
  dir: string,
  port: number,
  auth?: { passwordFile: string; aclFile: string },
): string {
  const access = auth
    ? `allow_anonymous false\npassword_file ${auth.passwordFile}\nacl_file ${auth.aclFile}`
    : 'allow_anonymous true';
  return `# Written by @iot-gateway/testing for one throwaway broker.
# Started as root, mosquitto would switch to the "mosquitto" user, which cannot write the
# private temp dir; as any other user this line has no effect.
user ${userInfo().username}
listener ${port} 127.0.0.1
${access}
persistence true
persistence_location ${dir}/
# Seconds; bounds what kill() can lose, which crash tests rely on.
autosave_interval 1
# Small test messages otherwise wait on Nagle's algorithm.
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true
log_timestamp_format %H:%M:%S
`;
}
