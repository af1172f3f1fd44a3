import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import Fastify, { LogController } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { WebSocketServer } from 'ws';
import { registerApiKeyRoutes } from './api/api-key-routes.ts';
import type { ApiKeyStore } from './api/api-key-store.ts';
import { registerCommandRoutes } from './api/command-routes.ts';
import { registerDeviceRoutes } from './api/device-routes.ts';
import { registerEventRoutes } from './api/event-routes.ts';
import { registerHealthRoutes } from './api/health-routes.ts';
import { clientErrorHandler, installErrorHandling } from './api/http-errors.ts';
import { installOriginPolicy } from './api/origins.ts';
import { RequestDeadlines } from './api/request-deadlines.ts';
import { responseSerializerCompiler } from './api/response-serializer.ts';
import { registerScheduleRoutes } from './api/schedule-routes.ts';
import { registerSchemaRoutes } from './api/schema-routes.ts';
import { registerTelemetryRoutes } from './api/telemetry-routes.ts';
import { DeviceAuthenticator, PROTOCOL_V1 } from './auth/device-authenticator.ts';
import { Cluster } from './cluster/cluster.ts';
import { defaultInstanceId } from './cluster/instance-id.ts';
import { PostgresPresenceStore } from './cluster/postgres-presence-store.ts';
import { LocalPresence } from './cluster/presence.ts';
import { CommandPoints } from './commands/command-points.ts';
import { CommandService } from './commands/command-service.ts';
import type { Config } from './config.ts';
import { readSettingFile } from './config.ts';
import { registerConsoleRoutes } from './console/console-routes.ts';
import { loadDeviceTypes } from './device-types.ts';
import { EventLoopStalls } from './event-loop-stalls.ts';
import { DeviceBus } from './events/device-bus.ts';
import { LatestReadings } from './events/latest-readings.ts';
import { StatusRecorder } from './events/status-recorder.ts';
import { TelemetryHistory } from './history/telemetry-history.ts';
import type { Logger } from './logger.ts';
import { createLogger } from './logger.ts';
import { GatewayMetrics } from './metrics.ts';
import { MqttBridge } from './mqtt/mqtt-bridge.ts';
import { defaultClientId } from './mqtt/mqtt-bridge-options.ts';
import { DeviceLifecycle } from './registry/device-lifecycle.ts';
import { Scheduler } from './schedules/scheduler.ts';
import { HeartbeatMonitor } from './sessions/heartbeat-monitor.ts';
import { heldSessions } from './sessions/held-sessions.ts';
import { PressureGate } from './sessions/pressure-gate.ts';
import type { SessionContext } from './sessions/session-context.ts';
import { SessionJournal } from './sessions/session-journal.ts';
import { noteAccepted, SessionManager } from './sessions/session-manager.ts';
import { InfluxSink } from './sink/influx-sink.ts';
import { InfluxWriter, parseInfluxUrl } from './sink/influx-writer.ts';
import { SpoolOnlySink } from './sink/spool-only-sink.ts';
import type { TelemetrySink } from './sink/telemetry-sink.ts';
import { Spool } from './spool/spool.ts';
import { StatsReporter } from './stats-reporter.ts';
import { openStores, type Stores } from './store/stores.ts';
import { OperatorStream } from './stream/operator-stream.ts';
import { registerStreamRoutes } from './stream/stream-routes.ts';
import { SummaryLog } from './summary-log.ts';
import { TlsCredentials } from './tls/tls-credentials.ts';

export interface GatewayOptions {
  readonly config: Config;
  readonly logger?: Logger;
  /** Collect Node's default process metrics (off for gateways embedded in tests). */
  readonly defaultMetrics?: boolean;
  /** Replaces the sink chosen from the configuration (tests and embedders). */
  readonly sink?: TelemetrySink;
}

/** A running gateway: one HTTP server for the operator API and device sessions. */
export interface Gateway {
  readonly config: Config;
  readonly url: string;
  readonly app: FastifyInstance;
  readonly bus: DeviceBus;
  readonly sessions: SessionManager;
  readonly metrics: GatewayMetrics;
  readonly sink: TelemetrySink;
  readonly mqtt: MqttBridge | undefined;
  readonly commands: CommandService;
  readonly scheduler: Scheduler;
  /** INSTANCE_ID, or the one made at start. */
  readonly instanceId: string;
  /** This instance's part in a cluster, when the stores are shared (DATABASE_URL). */
  readonly cluster: Cluster | undefined;
  /** The operator stream at `/v1/stream`. */
  readonly stream: OperatorStream;
  /** Lines describing what the gateway uses, printed at start. */
  readonly summary: readonly string[];
  /** Warnings printed at start (an exposed port without TLS, say). */
  readonly warnings: readonly string[];
  /** The certificate and key in use, when TLS is on; `reload()` re-reads them (SIGHUP). */
  readonly tls: TlsCredentials | undefined;
  /** Graceful stop: see SessionManager.shutdown; then releases every resource. */
  close(): Promise<void>;
}

/**
 * A random suffix made once per data directory: it tells apart the MQTT client ids of gateways
 * on one host (two with one id knock each other off the broker) and stays the same across
 * restarts, so the broker's persistent session is found again.
 */
function instanceSuffix(dataDir: string): string {
  const file = join(dataDir, 'instance-suffix');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{6}$/.test(existing)) return existing;
  } catch {
    // First start in this data directory.
  }
  const suffix = randomBytes(3).toString('hex');
  writeFileSync(file, `${suffix}\n`);
  return suffix;
}

/**
 * Creates an admin key at first start when none is configured, so the API is never open.
 * Returns the key's file while it exists: it is mentioned at every start, so an operator who
 * forgot where the key went finds it, and one who stored it elsewhere is reminded to delete it.
 */
async function bootstrapAdmin(
  keys: ApiKeyStore,
  dataDir: string,
  log: Logger,
): Promise<string | undefined> {
  const file = join(dataDir, 'admin-api-key');
  if (await keys.hasAdmin()) return existsSync(file) ? file : undefined;
  const { secret } = await keys.create('bootstrap admin', 'admin');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  log.warn({ file }, 'no ADMIN_TOKEN set: created an admin API key, stored in this file only');
  return file;
}

function describeSink(sink: TelemetrySink, config: Config): string {
  const state = sink.describe();
  const spooled = state.spoolRecords > 0 ? `; ${state.spoolRecords} points in the spool` : '';
  if (state.kind === 'spool-only') {
    return `INFLUX_URL unset: readings are acked from the on-disk spool and kept until InfluxDB is configured${spooled}`;
  }
  if (config.INFLUX_URL) {
    const target = parseInfluxUrl(config.INFLUX_URL);
    const status =
      state.influx === 'connected' ? 'reachable' : `unreachable (${state.detail}), spooling`;
    return `InfluxDB ${target.baseUrl}, database ${target.database}: ${status}${spooled}`;
  }
  return state.kind;
}

/** Connections waiting to be accepted; Linux caps it at net.core.somaxconn (4096 by default). */
const LISTEN_BACKLOG = 4096;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const log = options.logger ?? createLogger(config.LOG_LEVEL);
  const deviceTypes = loadDeviceTypes(config.DEVICE_TYPES_FILE);
  mkdirSync(config.DATA_DIR, { recursive: true });
  const stores = await openStores(config);
  try {
    return await assemble(options, log, deviceTypes, stores);
  } catch (err) {
    // A part that could not be made (a settings file that cannot be read, say) leaves no
    // database connection open; the parts that started are stopped by the start itself.
    await stores.close();
    throw err;
  }
}

async function assemble(
  options: GatewayOptions,
  log: Logger,
  deviceTypes: ReturnType<typeof loadDeviceTypes>,
  stores: Stores,
): Promise<Gateway> {
  const { config } = options;
  const { registry, keys } = stores;
  const instanceId = config.INSTANCE_ID ?? defaultInstanceId(hostname());
  let adminKeyFile: string | undefined;

  const metrics = new GatewayMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const bus = new DeviceBus();
  const latest = new LatestReadings(bus);
  const mqtt = config.MQTT_URL
    ? new MqttBridge(
        {
          url: config.MQTT_URL,
          topicPrefix: config.MQTT_TOPIC_PREFIX,
          qos: config.MQTT_QOS,
          ...(config.MQTT_TELEMETRY_QOS === undefined
            ? {}
            : { telemetryQos: config.MQTT_TELEMETRY_QOS }),
          telemetryFormat: config.MQTT_TELEMETRY_FORMAT,
          flushMs: config.MQTT_FLUSH_MS,
          clientId:
            config.MQTT_CLIENT_ID ?? defaultClientId(hostname(), instanceSuffix(config.DATA_DIR)),
          maxQueued: config.MQTT_MAX_QUEUE,
          ...(config.MQTT_SHARE_GROUP ? { shareGroup: config.MQTT_SHARE_GROUP } : {}),
          commandIngress: config.MQTT_COMMAND_INGRESS === 'on',
          username: config.MQTT_USERNAME,
          password: config.MQTT_PASSWORD_FILE
            ? readSettingFile(config.MQTT_PASSWORD_FILE, 'MQTT_PASSWORD_FILE')
                .toString('utf8')
                .trim()
            : config.MQTT_PASSWORD,
          ca: config.MQTT_CA_FILE
            ? readSettingFile(config.MQTT_CA_FILE, 'MQTT_CA_FILE')
            : undefined,
          cert: config.MQTT_CERT_FILE
            ? readSettingFile(config.MQTT_CERT_FILE, 'MQTT_CERT_FILE')
            : undefined,
          key: config.MQTT_KEY_FILE
            ? readSettingFile(config.MQTT_KEY_FILE, 'MQTT_KEY_FILE')
            : undefined,
        },
        { bus, metrics, log: log.child({ component: 'mqtt' }) },
      )
    : undefined;

  const spool = new Spool({
    dir: join(config.DATA_DIR, 'spool'),
    maxBytes: config.SPOOL_MAX_BYTES,
    fsync: config.SPOOL_FSYNC,
  });
  const stalls = new EventLoopStalls();
  let sink: TelemetrySink;
  // Opens the spool (and starts the InfluxDB sink on it): a part of the start list below.
  let startSink = () => spool.open();
  if (options.sink) sink = options.sink;
  else if (config.INFLUX_URL) {
    const writer = new InfluxWriter(config.INFLUX_URL, {
      timeoutMs: config.INFLUX_TIMEOUT_MS,
      maxSockets: config.INFLUX_MAX_IN_FLIGHT + 2,
      stalls,
    });
    const influx = new InfluxSink(
      writer,
      spool,
      { metrics, log },
      {
        batchSize: config.INFLUX_BATCH_SIZE,
        flushMs: config.INFLUX_FLUSH_MS,
        maxInFlight: config.INFLUX_MAX_IN_FLIGHT,
        deadLetterFile: join(config.DATA_DIR, 'rejected', 'points.lp'),
      },
    );
    startSink = async () => {
      await spool.open();
      await influx.start();
    };
    sink = influx;
  } else {
    sink = new SpoolOnlySink(spool, metrics);
  }
  const stats = new StatsReporter({ metrics, sink, log }, config.STATS_INTERVAL_MS);

  const heartbeat = new HeartbeatMonitor({
    intervalMs: config.HEARTBEAT_INTERVAL_MS,
    timeoutMs: config.HEARTBEAT_TIMEOUT_MS,
    // A session that never showed life is no more trusted than one that fell silent: it is
    // offline after whichever of the two timeouts is shorter.
    firstFrameTimeoutMs: Math.min(config.FIRST_FRAME_TIMEOUT_MS, config.HEARTBEAT_TIMEOUT_MS),
    stalls,
  });
  const pressure = new PressureGate({ onHold: () => metrics.backpressure.inc() });
  if (mqtt) pressure.add(mqtt);
  const context: SessionContext = {
    config,
    sink,
    bus,
    deviceTypes,
    metrics,
    heartbeat,
    log,
    pressure,
    stalls,
    peerLog: {
      rejects: new SummaryLog(log, 'frames rejected', { level: 'debug' }),
      closes: new SummaryLog(log, 'device session closed for misbehaving', { level: 'warn' }),
    },
    commands: undefined,
  };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.MAX_FRAME_BYTES,
    perMessageDeflate: config.PER_MESSAGE_DEFLATE,
    // One message per socket per turn of the event loop: ws then hands each socket's next frame
    // over in its own setImmediate, so sockets take turns and one socket's burst (a 64 KiB read
    // can hold thousands of tiny frames) cannot hold every other session up until it is done.
    allowSynchronousEvents: false,
    // SessionManager tracks the sessions; ws's own set would be a second copy.
    clientTracking: false,
    // Browsers offer `iot-gateway.v1` beside `bearer.<token>`; the credential is never echoed.
    handleProtocols: (offered) => (offered.has(PROTOCOL_V1) ? PROTOCOL_V1 : false),
  });
  const auth = new DeviceAuthenticator(registry, { jwtMaxTtlS: config.JWT_MAX_TTL_S });
  const sessions = new SessionManager(context, wss, auth);
  const cluster = stores.pool
    ? new Cluster(
        { store: new PostgresPresenceStore(stores.pool), sessions, bus, registry, mqtt, log },
        { instanceId, leaseMs: config.INSTANCE_LEASE_MS },
      )
    : undefined;

  const commandPoints = new CommandPoints({ registry, sink, log });
  const commands = new CommandService(
    {
      store: stores.commands,
      registry,
      deviceTypes,
      sessions,
      bus,
      metrics,
      log,
      publish: (deviceId, commandId, view) => {
        bus.emit('command', view);
        mqtt?.publishCommandState(deviceId, commandId, { ...view });
      },
      record: commandPoints.record,
      routing: cluster,
    },
    {
      defaultTtlMs: config.COMMAND_DEFAULT_TTL_MS,
      defaultTimeoutMs: config.COMMAND_DEFAULT_TIMEOUT_MS,
      maxPending: config.COMMAND_MAX_PENDING,
      maxInFlight: config.COMMAND_MAX_IN_FLIGHT,
      retentionMs: config.COMMAND_RETENTION_MS,
    },
  );
  context.commands = commands;
  cluster?.attach(commands);
  const lifecycle = new DeviceLifecycle({
    registry,
    auth,
    // Alone, a session to close can only be here; in a cluster, its holder is told.
    sessions: cluster ?? { closeSession: (id) => void sessions.revoke(id) },
    latest,
    commands,
  });
  mqtt?.setCommandIngress(commands);
  const scheduler = new Scheduler(
    { store: stores.schedules, commands, deviceTypes, metrics, log, instanceId },
    {
      retentionMs: config.COMMAND_RETENTION_MS,
      // Schedules made through another instance are armed here within this time.
      resyncMs: cluster ? 5_000 : undefined,
    },
  );
  const history = config.INFLUX_URL
    ? new TelemetryHistory(config.INFLUX_URL, {
        timeoutMs: Math.max(config.INFLUX_TIMEOUT_MS, 5_000),
      })
    : undefined;

  const statusPoints = new StatusRecorder(
    { bus, sink, registry, log },
    { tagLabels: config.TELEMETRY_TAG_LABELS },
  );

  const tls = config.TLS_CERT_FILE
    ? new TlsCredentials(
        {
          certFile: config.TLS_CERT_FILE,
          keyFile: config.TLS_KEY_FILE ?? '',
          clientCaFile: config.TLS_CLIENT_CA_FILE,
        },
        log,
      )
    : undefined;
  const answerClientError = clientErrorHandler(metrics);
  // A connection's first request gets HANDSHAKE_TIMEOUT_MS, the gateway's own stalls left out.
  const deadlines = new RequestDeadlines({
    timeoutMs: config.HANDSHAKE_TIMEOUT_MS,
    stalls,
    onTimeout: (socket) =>
      answerClientError(
        Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
        socket,
      ),
  });
  const serverOptions = {
    // Slow or silent clients (handshakes included) are dropped after these; the first request
    // of a connection already after HANDSHAKE_TIMEOUT_MS (RequestDeadlines), later ones here.
    headersTimeout: Math.max(3 * config.HANDSHAKE_TIMEOUT_MS, 30_000),
    requestTimeout: Math.max(3 * config.HANDSHAKE_TIMEOUT_MS, 30_000),
    connectionsCheckingInterval: Math.min(1000, config.HANDSHAKE_TIMEOUT_MS),
    keepAliveTimeout: 5_000,
  };

  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps fastify's generics at their defaults.
    loggerInstance: log as FastifyBaseLogger,
    // Operators' requests are few and device sessions are logged by the session code.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    clientErrorHandler: answerClientError,
    // fastify applies its own requestTimeout to the server it is given; keep it non-zero so
    // Node keeps checking for slow handshakes.
    requestTimeout: Math.max(3 * config.HANDSHAKE_TIMEOUT_MS, 30_000),
    serverFactory: (handler) => {
      if (!tls) return createServer(serverOptions, handler);
      // One port, TLS only: a clear-text request fails the TLS handshake. Client certificates
      // are asked for but not required, so token and JWT devices (and operators) need none;
      // the device authenticator decides what a certificate is worth.
      const server = createHttpsServer(
        {
          ...serverOptions,
          ...tls.options,
          requestCert: tls.state.clientCertificates,
          rejectUnauthorized: false,
          handshakeTimeout: config.HANDSHAKE_TIMEOUT_MS,
        },
        handler,
      );
      tls.onReload((options) => server.setSecureContext(options));
      return server as unknown as ReturnType<typeof createServer>;
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);
  installErrorHandling(app, metrics);
  installOriginPolicy(app, config.ALLOWED_ORIGINS);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'IoT gateway operator API',
        version: '1.0.0',
        description:
          'Provision devices, watch who is online, send commands. Devices connect with WebSockets at `GET /v1/connect` (see docs/protocol.md).',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'API key' } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerHealthRoutes(app, {
    keys,
    metrics,
    tls: tls !== undefined,
    checks: [
      { name: 'store', check: () => ({ ok: stores.ready() }) },
      { name: 'sink', check: () => ({ ok: sink.describe().ready }) },
      // A broker outage does not take the gateway out of rotation while the bridge can buffer:
      // all instances share the broker, so none would be left.
      ...(mqtt
        ? [
            {
              name: 'mqtt',
              check: () => {
                const s = mqtt.state();
                return { ok: s.connected || s.queued < s.maxQueued };
              },
            },
          ]
        : []),
    ],
  });
  registerDeviceRoutes(app, {
    registry,
    lifecycle,
    keys,
    deviceTypes,
    latest,
    presence: cluster ?? new LocalPresence(sessions, instanceId),
  });
  registerCommandRoutes(app, { commands, registry, keys });
  registerScheduleRoutes(app, { scheduler, keys });
  registerApiKeyRoutes(app, { keys, adminToken: config.ADMIN_TOKEN !== undefined });
  registerSchemaRoutes(app, { deviceTypes, keys });
  registerTelemetryRoutes(app, { keys, registry, deviceTypes, history });
  registerEventRoutes(app, { keys, registry, history });
  registerStreamRoutes(app, { keys });
  registerConsoleRoutes(app);
  const stream = new OperatorStream({
    bus,
    keys,
    log,
    metrics,
    allowedOrigins: config.ALLOWED_ORIGINS,
    maxBufferedBytes: config.MAX_OUTBOUND_BYTES,
  });

  // Upgrades are ordered by when their connection was accepted (after TLS, with TLS), not by
  // when the gateway got to their request: in a reconnect storm a device's abandoned first
  // attempt can be read after its second one.
  app.server.on(tls ? 'secureConnection' : 'connection', (socket: Duplex) => {
    noteAccepted(socket);
    deadlines.accepted(socket);
  });
  app.server.on('request', (req: IncomingMessage) => deadlines.arrived(req.socket));
  app.server.on('upgrade', (req, socket, head) => {
    deadlines.arrived(socket);
    if (stream.handles(req)) return void stream.handleUpgrade(req, socket, head);
    void sessions.handleUpgrade(req, socket, head);
  });

  let journal: SessionJournal | undefined;
  /**
   * The parts, in the order they start; they stop in the reverse order, by close() and by a
   * start that fails (which stops what it had started, the failed part included, so nothing is
   * left open). A part without `start` was ready when it was made. A step that fails to stop is
   * logged and the next one still runs.
   */
  const parts: ReadonlyArray<{
    readonly name: string;
    readonly start?: () => unknown;
    readonly stop?: () => unknown;
  }> = [
    { name: 'stores', stop: () => stores.close() },
    {
      name: 'admin key',
      start: async () => {
        adminKeyFile = await bootstrapAdmin(keys, config.DATA_DIR, log);
        if (!(await keys.hasAdmin())) throw new Error('no admin key could be created');
      },
    },
    {
      // After the sink has flushed and before the stores close.
      name: 'last seen',
      stop: () =>
        registry.touch(new Map([...sessions.values()].map((s) => [s.device.id, s.lastSeen]))),
    },
    { name: 'stalls', start: () => stalls.start(), stop: () => stalls.stop() },
    { name: 'request deadlines', start: () => deadlines.start(), stop: () => deadlines.stop() },
    { name: 'sink', start: () => startSink(), stop: () => sink.close() },
    // Stopped after the sessions, so their last statuses are handed to the sink before it closes.
    { name: 'status points', start: () => statusPoints.start(), stop: () => statusPoints.stop() },
    // After the commands stopped, so their last states are in the sink before it closes.
    { name: 'command points', stop: () => commandPoints.flush() },
    { name: 'http', stop: () => app.close() },
    { name: 'tls', start: () => tls?.watch(), stop: () => tls?.stop() },
    { name: 'stats', start: () => stats.start(), stop: () => stats.stop() },
    { name: 'pressure', stop: () => pressure.stop() },
    { name: 'heartbeat', start: () => heartbeat.start(), stop: () => heartbeat.stop() },
    // Started before any device can connect, so no status transition is missed; stopped after
    // the sessions, so the devices' `shutdown` statuses go out first.
    { name: 'mqtt', start: () => mqtt?.start(), stop: () => mqtt?.stop() },
    {
      // One instance on its own: devices a crash left announced online are announced offline
      // before any can connect again (several instances do this through their leases).
      name: 'session journal',
      start: () => {
        if (cluster) return;
        journal = new SessionJournal(config.DATA_DIR, heldSessions(sessions), log);
        const lost = journal.recover(bus);
        if (lost > 0) {
          log.warn(
            { devices: lost },
            'the last run ended without closing its sessions; devices announced offline',
          );
        }
      },
      stop: () => journal?.close(),
    },
    // Stopped after the sessions, so their releases are in; the others see the lease end at once.
    { name: 'cluster', start: () => cluster?.start(), stop: () => cluster?.stop() },
    // Deadlines that passed while the gateway was down end before any device can connect;
    // stopped after the sessions and before the bridge, so the last command states are published.
    { name: 'commands', start: () => commands.start(), stop: () => commands.stop() },
    // Refuses new sessions, lets in-flight frames become durable, then closes them with 1001.
    { name: 'sessions', stop: () => sessions.shutdown(() => sink.flush()) },
    { name: 'stream', start: () => stream.start(), stop: () => stream.stop() },
    { name: 'scheduler', start: () => scheduler.start(), stop: () => scheduler.stop() },
    // Last: devices and operators are let in once everything above is up.
    {
      name: 'listen',
      // A reconnect storm arrives faster than connections are accepted: past the backlog the
      // kernel drops SYNs, and each device waits out a 1 s, 3 s, 7 s… retransmission.
      start: () => app.listen({ host: config.HOST, port: config.PORT, backlog: LISTEN_BACKLOG }),
    },
  ];
  const stopParts = async (count: number): Promise<void> => {
    for (const part of parts.slice(0, count).reverse()) {
      try {
        await part.stop?.();
      } catch (err) {
        log.warn({ err: (err as Error).message, step: part.name }, 'a part did not stop cleanly');
      }
    }
  };
  for (const [i, part] of parts.entries()) {
    try {
      await part.start?.();
    } catch (err) {
      await stopParts(i + 1);
      throw err;
    }
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  const loopback = /^(127\.|\[?::1\]?$|localhost$)/.test(config.HOST);
  const warnings = [
    ...(!tls && !loopback
      ? [
          `listening on ${config.HOST} without TLS: device tokens and API keys cross the network in clear text; set TLS_CERT_FILE and TLS_KEY_FILE, or HOST=127.0.0.1 behind a TLS proxy`,
        ]
      : []),
    ...(cluster && mqtt && config.MQTT_COMMAND_INGRESS === 'on' && !config.MQTT_SHARE_GROUP
      ? [
          'MQTT command ingress on several instances without MQTT_SHARE_GROUP: every instance takes every request, so a request without an id becomes one command per instance; set MQTT_SHARE_GROUP to the same name on every instance',
        ]
      : []),
    ...(cluster && !mqtt
      ? [
          'DATABASE_URL without MQTT_URL: instances cannot nudge each other, so commands for devices on other instances wait up to a second, and a device that moves keeps its old session open until the next lease renewal',
        ]
      : []),
  ];

  const summary = [
    `operator console ${url}/console, API ${url}/v1 (docs ${url}/docs), devices connect at ${url.replace('http', 'ws')}/v1/connect`,
    tls
      ? `TLS: on (${tls.state.subject}, valid until ${tls.state.validTo}; reloaded on change or SIGHUP)${tls.state.clientCertificates ? '; X.509 devices: client certificates chained to TLS_CLIENT_CA_FILE' : ''}`
      : 'TLS: off (set TLS_CERT_FILE and TLS_KEY_FILE to serve HTTPS and WSS on this port)',
    `data directory ${config.DATA_DIR} (spool spool/)`,
    stores.description,
    cluster
      ? `instance ${instanceId}: one of a cluster sharing the database (lease ${config.INSTANCE_LEASE_MS} ms; nudges over ${mqtt ? `${config.MQTT_TOPIC_PREFIX}/instances/${instanceId}/inbox` : 'nothing: MQTT_URL unset, commands reach other instances at their next sweep'})`
      : `instance ${instanceId} (alone: set DATABASE_URL to run several)`,
    `telemetry: ${describeSink(sink, config)}`,
    mqtt ? mqtt.describe() : 'MQTT bridge: off (MQTT_URL unset)',
    `device types: ${deviceTypes
      .list()
      .map((t) => t.name)
      .join(', ')}`,
    ...(adminKeyFile
      ? [
          `admin API key: ${adminKeyFile} (made at first start; delete the file once the key is stored elsewhere)`,
        ]
      : []),
  ];

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= stopParts(parts.length);
    return closing;
  };

  return {
    config,
    url,
    app,
    bus,
    sessions,
    metrics,
    sink,
    mqtt,
    commands,
    scheduler,
    instanceId,
    cluster,
    stream,
    summary,
    warnings,
    tls,
    close,
  };
}
