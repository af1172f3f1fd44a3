import { TestDevice } from './test-device.ts';

/**
 * A device that streams one reading per frame at a steady rate with a bounded window of unacked
 * frames, recording which readings the gateway acked. Each reading has a unique timestamp, so
 * the test can check InfluxDB holds exactly the acked ones.
 */
export class LoadDevice {
  readonly sent = new Map<number, number>(); // seq -> ts
  readonly acked = new Set<number>(); // ts of acked readings
  readonly errors: string[] = [];
  device: TestDevice | undefined;
  #seq = 0;
  #acked = 0;
  #timer: NodeJS.Timeout | undefined;
  #ts: number;
  stalls = 0;

  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly options: { ratePerSec: number; window: number; startTs: number },
  ) {
    this.#ts = options.startTs;
  }

  async start(): Promise<void> {
    this.device = await TestDevice.connect(this.baseUrl, this.token);
    this.device.ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'ack') {
        for (let s = this.#acked + 1; s <= frame.seq; s++) {
          const ts = this.sent.get(s);
          if (ts !== undefined) this.acked.add(ts);
        }
        this.#acked = Math.max(this.#acked, frame.seq);
      } else if (frame.type === 'error') {
        this.errors.push(frame.code);
      }
    });
    // The test device keeps every frame it gets; this one only counts, so drop them.
    this.device.frames.length = 0;
    const period = 1000 / this.options.ratePerSec;
    this.#timer = setInterval(() => this.#tick(), period);
  }

  #tick(): void {
    const ws = this.device?.ws;
    if (!ws || ws.readyState !== ws.OPEN) return;
    this.device!.frames.length = 0;
    if (this.#seq - this.#acked >= this.options.window) {
      this.stalls++;
      return;
    }
    this.#seq++;
    this.#ts += 1;
    this.sent.set(this.#seq, this.#ts);
    ws.send(
      JSON.stringify({
        type: 'telemetry',
        seq: this.#seq,
        ts: this.#ts,
        metrics: { temperature: 20 + (this.#seq % 100) / 10, humidity: 50 },
      }),
    );
  }

  get sentCount(): number {
    return this.#seq;
  }

  get ackedSeq(): number {
    return this.#acked;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.device?.close();
  }
}
