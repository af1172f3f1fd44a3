#!/usr/bin/env -S node --import tsx
import { loadConfig, misspeltSettings } from './config.ts';
import { consoleBundle } from './console/console-bundle.ts';
import { GatewayError } from './errors.ts';
import { startGateway } from './gateway.ts';
import { createLogger } from './logger.ts';

const HELP = `iot-gateway: device sessions, telemetry into InfluxDB, MQTT bridge, commands.

Usage: npm start            (configure with environment variables or CONFIG_FILE)

Main settings (all of them: docs/configuration.md):
  PORT                 HTTP and WebSocket port (default 8080)
  INFLUX_URL           e.g. http://localhost:8086/iot; unset: readings wait in the spool
  MQTT_URL             e.g. mqtt://localhost:1883; unset: no MQTT bridge
  DATA_DIR             registry and spool (default ./.data)
  ADMIN_TOKEN          bootstrap admin API key (at least 24 characters)
  HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS, MQTT_TOPIC_PREFIX
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof GatewayError ? err.message : String(err)}\n`);
  process.exit(78); // EX_CONFIG
}

// People at a terminal get readable lines; pipes, files and log collectors get JSON.
const pretty =
  config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && process.stdout.isTTY === true);
const log = createLogger(config.LOG_LEVEL, undefined, pretty ? 'pretty' : 'json');
for (const warning of misspeltSettings(process.env)) log.warn(warning);
try {
  const gateway = await startGateway({ config, logger: log });
  for (const line of gateway.summary) log.info(line);
  for (const line of gateway.warnings) log.warn(line);
  // Bundled now rather than at the first visit, so the console opens at once; embedded and test
  // gateways bundle it when first asked.
  consoleBundle().catch((err: Error) => log.error({ err: err.message }, 'console not bundled'));
  // Certificate renewals (ACME) signal the gateway instead of restarting it.
  process.on('SIGHUP', () => {
    if (gateway.tls) gateway.tls.reload();
    else log.info('SIGHUP: TLS is off, nothing to reload');
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining sessions');
    gateway.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  if (err instanceof GatewayError) log.fatal(err.message);
  else log.fatal({ err }, 'the gateway could not start');
  process.exit(1);
}
