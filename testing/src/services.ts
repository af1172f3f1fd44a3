import { type InfluxDBOptions, type InfluxDBServer, startInfluxDB } from './influxdb-server.ts';
import { type MosquittoOptions, type MosquittoServer, startMosquitto } from './mosquitto-server.ts';

/** Options of {@link startServices}. */
export interface ServicesOptions {
  influx?: InfluxDBOptions;
  mqtt?: MosquittoOptions;
}

/** The servers the gateway talks to, started together by {@link startServices}. */
export interface Services {
  readonly influx: InfluxDBServer;
  readonly mqtt: MosquittoServer;
  /** Stops both servers for good and removes their data directories. */
  stop(): Promise<void>;
}

/**
 * Starts InfluxDB and Mosquitto in parallel. If either fails, the other is stopped before the
 * error is rethrown.
 *
 * @example
 * ```ts
 * const services = await startServices({ influx: { database: 'telemetry' } });
 * after(() => services.stop());
 * ```
 */
export async function startServices(options: ServicesOptions = {}): Promise<Services> {
  const [influx, mqtt] = await Promise.allSettled([
    startInfluxDB(options.influx),
    startMosquitto(options.mqtt),
  ]);
  if (influx.status === 'rejected' || mqtt.status === 'rejected') {
    await Promise.all([
      influx.status === 'fulfilled' ? influx.value.stop() : undefined,
      mqtt.status === 'fulfilled' ? mqtt.value.stop() : undefined,
    ]);
    throw influx.status === 'rejected' ? influx.reason : (mqtt as PromiseRejectedResult).reason;
  }
  return {
    influx: influx.value,
    mqtt: mqtt.value,
    async stop() {
      await Promise.all([influx.value.stop(), mqtt.value.stop()]);
    },
  };
}
