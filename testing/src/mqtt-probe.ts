import { connect } from 'node:net';

// MQTT 3.1.1 CONNECT with clean session, no keep-alive and an empty client id, which the broker
// must accept and replace with its own. A full client library would reconnect and log on its
// own schedule; one hand-written packet answers "is the broker accepting clients?" in one
// round trip.
const CONNECT = Buffer.from([
  0x10, 12, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00,
]);
const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * Resolves true when an MQTT broker on 127.0.0.1:`port` accepts a connection, false when it
 * refuses, does not listen, or does not answer within `timeoutMs`.
 */
export function mqttAccepts(
  port: number,
  timeoutMs = 1_000,
  /** Count a refusing CONNACK (a broker that wants credentials) as an answer too. */
  anyConnack = false,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const finish = (accepted: boolean): void => {
      clearTimeout(timer);
      if (accepted) socket.end(DISCONNECT);
      else socket.destroy();
      resolve(accepted);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => socket.write(CONNECT));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= CONNACK_ACCEPTED.length) {
        const accepted = received.subarray(0, CONNACK_ACCEPTED.length).equals(CONNACK_ACCEPTED);
        finish(accepted || (anyConnack && received[0] === 0x20));
      }
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}
