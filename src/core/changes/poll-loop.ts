/**
 * The schedule of `ms365-poller` (STYLE.md §3: polls never overlap): a one-shot timer re-armed `everyMs` after each
 * poll ends, so a slow poll delays the next instead of piling up. A poll asked while one runs (a message, a resource
 * just taken over) makes one more poll right after it; its askers are answered when the running one ends (what they
 * asked for is read by the poll after it).
 */
export interface PollLoopOptions<A, T> {
  everyMs: number;
  /** One poll; `trigger` is what asked for it (undefined: the timer or a poll asked again). */
  poll(trigger?: A): Promise<T>;
  /** A poll that threw (the loop goes on: the timer is armed again). */
  onError(err: Error): void;
}

export class PollLoop<A, T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: PollLoopOptions<A, T>) {}

  /** Polls now, or once more after the running poll (then resolves undefined when the running one ends). */
  async run(trigger?: A): Promise<T | undefined> {
    if (this.running) {
      this.again = true;
      await this.running.catch(() => undefined);
      return undefined;
    }
    this.clearTimer();
    let result: T;
    try {
      this.running = this.o.poll(trigger);
      result = await this.running;
    } catch (err) {
      this.running = undefined;
      void this.next()?.catch((again: Error) => this.o.onError(again));
      throw err;
    }
    this.running = undefined;
    return this.next() ?? result;
  }

  /** Polls now (as `run` does) for nobody in particular: a failure goes to `onError`. */
  poke(): void {
    void this.run().catch((err: Error) => this.o.onError(err));
  }

  /** The next poll in `everyMs` (from now), unless stopped. */
  arm(): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timer = setTimeout(() => this.poke(), this.o.everyMs);
  }

  /** No more polls: the timer is cleared; resolves once the running poll (if any) ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running?.catch(() => undefined);
  }

  /** After a poll: the one asked meanwhile (its promise), else the timer. */
  private next(): Promise<T | undefined> | undefined {
    if (this.again && !this.stopped) {
      this.again = false;
      return this.run();
    }
    this.arm();
    return undefined;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
