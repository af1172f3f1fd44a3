/**
 * Frames a test peer received, each handed out once: `next(match)` takes the first one already
 * here that matches, or waits for one. The one waiter every test client shares (the device of
 * the gateway's tests, the fake gateway of the SDK's), so none of them waits with a sleep.
 */
export class FrameInbox<F> {
  /** Received and not yet taken, oldest first. */
  readonly frames: F[] = [];
  readonly #waiters: Array<{ match: (f: F) => boolean; resolve: (f: F) => void }> = [];

  /** Hands `frame` to the oldest waiter it matches, or keeps it. */
  push(frame: F): void {
    const waiter = this.#waiters.find((w) => w.match(frame));
    if (waiter) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(frame);
    } else {
      this.frames.push(frame);
    }
  }

  /** The first frame, kept or coming, that matches; rejects after `timeoutMs`. */
  next(match: (f: F) => boolean = () => true, timeoutMs = 5000): Promise<F> {
    const kept = this.frames.findIndex(match);
    if (kept !== -1) return Promise.resolve(this.frames.splice(kept, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: F) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; have ${JSON.stringify(this.frames).slice(0, 2000)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}
