import { EventEmitter } from 'node:events';
import type { CommandRecord } from './command-store.ts';
import { isTerminal } from './command-store.ts';

/** A wait for one command's final state. */
export interface CommandWait {
  /** The final record, or undefined when the time ran out or the gateway stopped. */
  readonly settled: Promise<CommandRecord | undefined>;
  /** Stops listening; call it whether or not `settled` resolved. */
  dispose(): void;
}

/**
 * Requests waiting for commands to reach a final state (`?wait`), told of every state change
 * the gateway makes. One emitter keyed by command id, so a change costs a map lookup whatever
 * the number of waiting requests.
 */
export class CommandWaiters {
  readonly #changes = new EventEmitter();
  /** Re-reads the command now and then, for a final state another instance reached. */
  readonly #poll: ((id: string) => Promise<CommandRecord | undefined>) | undefined;
  readonly #pollMs: number;

  constructor(options: {
    poll?: ((id: string) => Promise<CommandRecord | undefined>) | undefined;
    pollMs: number;
  }) {
    this.#changes.setMaxListeners(0);
    this.#poll = options.poll;
    this.#pollMs = options.pollMs;
  }

  /**
   * Listens for the command's final state for up to `ms`. Call it before reading the command,
   * so that a change between the read and the wait is not missed.
   */
  wait(id: string, ms: number): CommandWait {
    let listener: ((r: CommandRecord) => void) | undefined;
    let onStop: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const settled = new Promise<CommandRecord | undefined>((resolve) => {
      listener = (r) => {
        if (isTerminal(r.state)) resolve(r);
      };
      onStop = () => resolve(undefined);
      timer = setTimeout(() => resolve(undefined), ms);
      const read = this.#poll;
      if (read) {
        poll = setInterval(() => {
          read(id).then(
            (r) => r && isTerminal(r.state) && resolve(r),
            () => {},
          );
        }, this.#pollMs);
      }
      this.#changes.on(id, listener);
      this.#changes.once('stop', onStop);
    });
    return {
      settled,
      dispose: () => {
        clearTimeout(timer);
        clearInterval(poll);
        if (listener) this.#changes.off(id, listener);
        if (onStop) this.#changes.off('stop', onStop);
      },
    };
  }

  /** Whether any request waits for this command. */
  waiting(id: string): boolean {
    return this.#changes.listenerCount(id) > 0;
  }

  changed(record: CommandRecord): void {
    this.#changes.emit(record.id, record);
  }

  /** The gateway stops: every wait ends with the state as it is. */
  stop(): void {
    this.#changes.emit('stop');
  }
}
