import type { InfluxDBServer } from '@iot-gateway/testing';
import type { TestDevice } from '../../../gateway/test/support/test-device.ts';
import type { TestGateway } from '../../../gateway/test/support/test-gateway.ts';

/** How a test device answers a command it receives. */
type Answer =
  | { readonly status: 'succeeded' }
  | {
      readonly status: 'failed';
      readonly error: string | { readonly code: string; readonly message: string };
    }
  /** No answer at all, so the command times out. */
  | { readonly status: 'silent' };

interface CommandRequest {
  readonly name: string;
  readonly params: Record<string, unknown>;
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
}

/**
 * What each device that stays online is asked, one command per turn, and how it answers: both
 * answers for the same command name, a failure with an error code and one without, and a command
 * left unanswered. Timeouts are short because the gateway ends overdue commands once a second.
 */
const ROUTINE: readonly { readonly request: CommandRequest; readonly answer: Answer }[] = [
  { request: { name: 'reboot', params: {} }, answer: { status: 'succeeded' } },
  {
    request: { name: 'set_interval', params: { intervalMs: 500 }, timeoutMs: 300 },
    answer: { status: 'silent' },
  },
  {
    request: { name: 'firmware_update', params: { version: '2.4.1' } },
    answer: {
      status: 'failed',
      error: { code: 'checksum_mismatch', message: 'image checksum does not match' },
    },
  },
  {
    request: { name: 'set_interval', params: { intervalMs: 1000 } },
    answer: { status: 'succeeded' },
  },
  {
    request: { name: 'firmware_update', params: { version: '2.4.2' } },
    answer: { status: 'succeeded' },
  },
  {
    request: { name: 'reboot', params: { delayMs: 50 } },
    answer: { status: 'failed', error: 'busy' },
  },
];

/** Answer delays, in turn, so the latency panels have a spread to show. */
const ANSWER_DELAYS_MS = [10, 35, 70] as const;

const FINAL_STATES = new Set(['succeeded', 'failed', 'timed_out', 'expired', 'cancelled']);

/**
 * Commands through the operator API to the fleet's test devices, which answer them as planned, so
 * that the `commands` measurement holds every state: queued (for offline devices; a command for a
 * connected device with nothing queued is stored sent at once), sent, and each final state. Commands
 * carry their own ids, so a device knows how to answer even before the API has replied.
 */
export class FleetCommands {
  readonly #gateway: TestGateway;
  readonly #answers = new Map<string, Answer>();
  /** Commands expected to reach a final state. */
  readonly #ending: string[] = [];
  #submitted = 0;
  /** The state each command was accepted in (`queued`, or `sent` straight to a live session). */
  readonly #accepted = new Map<string, number>();
  #answered = 0;
  /** Points the `commands` measurement should hold per state, once {@link settle} resolved. */
  #expected = new Map<string, number>();

  constructor(gateway: TestGateway) {
    this.#gateway = gateway;
  }

  /** Makes a device answer the commands it receives as they were planned. */
  attach(device: TestDevice): void {
    device.ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type?: string; id?: string };
      if (frame.type !== 'command' || frame.id === undefined) return;
      const answer = this.#answers.get(frame.id);
      if (!answer || answer.status === 'silent') return;
      const delay = ANSWER_DELAYS_MS[this.#answered++ % ANSWER_DELAYS_MS.length];
      setTimeout(() => {
        if (device.ws.readyState === device.ws.OPEN) {
          device.send({ type: 'command_result', id: frame.id, ...answer });
        }
      }, delay);
    });
  }

  /**
   * Sends the routine command of this turn to a connected device. One command per device and
   * turn: two state changes of the same device, command name and state in the same millisecond
   * would be one InfluxDB point.
   */
  async routine(deviceId: string, turn: number): Promise<void> {
    const { request, answer } = ROUTINE[turn % ROUTINE.length]!;
    this.#ending.push(await this.#submit(deviceId, request, answer));
  }

  /**
   * Commands for devices that are offline for good: one stays queued, one expires and one is
   * cancelled while it waits.
   */
  async offline(deviceIds: readonly string[]): Promise<void> {
    const [parked, other = parked] = deviceIds;
    if (parked === undefined || other === undefined) {
      throw new Error('the fleet has no device that stays offline to queue commands for');
    }
    await this.#submit(parked, { name: 'reboot', params: {} });
    this.#ending.push(
      await this.#submit(other, { name: 'set_interval', params: { intervalMs: 1000 }, ttlMs: 300 }),
    );
    const cancelled = await this.#submit(other, {
      name: 'firmware_update',
      params: { version: '2.4.2' },
    });
    const res = await this.#gateway.api('POST', `/v1/commands/${cancelled}/cancel`);
    if (res.status !== 200) throw new Error(`cancelling ${cancelled}: ${JSON.stringify(res.body)}`);
    this.#ending.push(cancelled);
  }

  /** Waits until every command that is to end has ended, and notes the states they ended in. */
  async settle(): Promise<void> {
    const states = await Promise.all(
      this.#ending.map(async (id) => {
        const res = await this.#gateway.api('GET', `/v1/commands/${id}?wait=5000`);
        const state = String(res.body?.state);
        if (!FINAL_STATES.has(state)) throw new Error(`command ${id} is still ${state}`);
        return state;
      }),
    );
    // Every command has a point for the state it was accepted in and one for its final state.
    this.#expected = new Map(this.#accepted);
    for (const state of states) this.#expected.set(state, (this.#expected.get(state) ?? 0) + 1);
  }

  /** Whether InfluxDB holds the points of every state change {@link settle} saw. */
  async recorded(influx: InfluxDBServer): Promise<boolean> {
    const rows = await influx.query('SELECT count("id") FROM "commands" GROUP BY "state"');
    const counts = new Map(rows.map((row) => [String(row.state), Number(row.count ?? 0)]));
    return [...this.#expected].every(([state, n]) => (counts.get(state) ?? 0) >= n);
  }

  async #submit(deviceId: string, request: CommandRequest, answer?: Answer): Promise<string> {
    const id = `${deviceId}.cmd-${++this.#submitted}`;
    if (answer) this.#answers.set(id, answer);
    const res = await this.#gateway.api('POST', `/v1/devices/${deviceId}/commands`, {
      id,
      ...request,
    });
    if (res.status !== 202 && res.status !== 200) {
      throw new Error(
        `command ${request.name} to ${deviceId} refused: ${JSON.stringify(res.body)}`,
      );
    }
    const state = String(res.body.state);
    this.#accepted.set(state, (this.#accepted.get(state) ?? 0) + 1);
    return id;
  }
}
