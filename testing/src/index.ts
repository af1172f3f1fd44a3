export { HarnessError, type HarnessErrorCode, INSTALL_COMMAND } from './errors.ts';
export { killOnExit, removeOnExit } from './exit-cleanup.ts';
export { FrameInbox } from './frame-inbox.ts';
export { freePort } from './free-port.ts';
export {
  DEFAULT_HAPROXY_OPTIONS,
  type HAProxyAdminState,
  type HAProxyBackend,
  type HAProxyOptions,
  type HAProxyServer,
  type HAProxyServerStatus,
  startHAProxy,
} from './haproxy-server.ts';
export {
  DEFAULT_INFLUXDB_OPTIONS,
  type InfluxDBOptions,
  type InfluxDBServer,
  type InfluxRow,
  type InfluxValue,
  startInfluxDB,
} from './influxdb-server.ts';
export {
  DEFAULT_MOSQUITTO_OPTIONS,
  type MosquittoOptions,
  type MosquittoServer,
  startMosquitto,
} from './mosquitto-server.ts';
export {
  createPostgresDatabase,
  DEFAULT_POSTGRES_ADMIN_URL,
  type PostgresDatabase,
  type PostgresDatabaseOptions,
} from './postgres-database.ts';
export { type Services, type ServicesOptions, startServices } from './services.ts';
export type { StopOptions, TestServer } from './test-server.ts';
export { DEFAULT_WAIT_UNTIL_OPTIONS, type WaitUntilOptions, waitUntil } from './wait-until.ts';
