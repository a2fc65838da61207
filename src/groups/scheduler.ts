/**
 * Time for the group coordinator: a clock and one-shot timers. The coordinator never reads the
 * clock or sets a timer any other way, so tests drive it with a manual scheduler.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Scheduler {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`; the handle cancels it. */
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

/** Node timers, unref'd so that pending group timers never keep a process alive. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(delayMs, fn) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
