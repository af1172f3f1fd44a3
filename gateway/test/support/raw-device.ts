import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A device that speaks WebSocket by hand over a plain TCP socket, for what a well-behaved client
 * library would never do: stop reading its socket, pour frames in as fast as TCP takes them,
 * or open an upgrade and never finish it. Shared by the hostile-device tests and the abuse bench.
 */
export class RawDevice {
  readonly socket: Socket;
  /** Bytes the gateway sent after the upgrade answer (while the socket is read). */
  received = 0;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /**
   * Opens a session with `Authorization: Bearer <token>` and resolves once the gateway answered
   * 101. Rejects with the status line when it answered anything else.
   */
  static open(baseUrl: string, token: string | undefined): Promise<RawDevice> {
    const url = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', reject);
      socket.once('connect', () => socket.write(upgradeRequest(url.host, token)));
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!status.includes(' 101 ')) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${status}`));
          return;
        }
        socket.off('error', reject);
        socket.on('error', () => {});
        const device = new RawDevice(socket);
        device.received = head.length - end - 4;
        socket.on('data', (c: Buffer) => {
          device.received += c.length;
        });
        resolve(device);
      };
      socket.on('data', onData);
    });
  }

  /** Stops reading: what the gateway sends piles up in its buffers, as with a stuck device. */
  stopReading(): void {
    this.socket.pause();
  }

  /** Writes frames; resolves when the kernel took them, false if the socket closed first. */
  write(frames: Buffer): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.socket.off('close', onClose);
        resolve(ok);
      };
      const onClose = () => done(false);
      this.socket.once('close', onClose);
      if (this.socket.write(frames)) done(true);
      else this.socket.once('drain', () => done(true));
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function upgradeRequest(host: string, token: string | undefined): string {
  return [
    'GET /v1/connect HTTP/1.1',
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...(token === undefined ? [] : [`Authorization: Bearer ${token}`]),
    '',
    '',
  ].join('\r\n');
}

/**
 * One client-to-server text frame. Clients must mask; the mask here is zero, which leaves the
 * payload as it is, so a flood can be built once and written many times.
 */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x81, 0x80 | length])
      : length < 65536
        ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = 0x81;
            h[1] = 0x80 | 127;
            h.writeBigUInt64BE(BigInt(length), 2);
            return h;
          })();
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

/** `count` copies of one frame, back to back. */
export function repeated(frame: Buffer, count: number): Buffer {
  return Buffer.concat(new Array<Buffer>(count).fill(frame));
}

/**
 * A telemetry batch of 500 readings whose metrics all have the wrong JSON type: about 20 KB
 * that earn 1,500 issues, the costliest invalid frame a device can send. Hostile-device tests and
 * the abuse benchmark send it.
 */
export function wrongTypesBatch(seq: number): string {
  return JSON.stringify({
    type: 'telemetry',
    seq,
    readings: Array.from({ length: 500 }, () => ({ metrics: { a: null, b: null, c: null } })),
  });
}
