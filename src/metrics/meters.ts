/**
 * Meters and histograms with the semantics of the Yammer metrics library (2.2) that Apache Kafka
 * registers its broker metrics with, so that the values MSK dashboards read (Count, MeanRate,
 * One/Five/FifteenMinuteRate; Min, Max, Mean, StdDev and percentiles) mean the same here.
 *
 * - A meter counts events and keeps three exponentially weighted moving averages of the rate,
 *   ticked every 5 s, with 1, 5 and 15 minute time constants, plus the mean rate since creation.
 *   Ticks are caught up lazily (on mark and on read), so an idle meter costs nothing.
 * - A histogram keeps count, min, max, mean and standard deviation over every value ever seen,
 *   and percentiles over a forward-decaying priority sample (1028 values, alpha 0.015): recent
 *   values are far more likely to be in the sample, so percentiles follow roughly the last five
 *   minutes. Memory is bounded by the sample size.
 *
 * Time comes from an injected monotonic clock in milliseconds, so tests control it.
 */

/** Monotonic milliseconds. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

/** The tick interval of the moving averages. */
export const TICK_MS = 5000;

/** An exponentially weighted moving average of a rate, updated once per tick. */
export class Ewma {
  private readonly alpha: number;
  private readonly intervalSeconds: number;
  private uncounted = 0;
  private ratePerSecond = 0;
  private initialized = false;

  constructor(minutes: number, tickMs = TICK_MS) {
    this.intervalSeconds = tickMs / 1000;
    this.alpha = 1 - Math.exp(-this.intervalSeconds / 60 / minutes);
  }

  update(n: number): void {
    this.uncounted += n;
  }

  /** Closes `ticks` intervals: the first holds the events counted since the last tick, the rest none. */
  tick(ticks = 1): void {
    if (ticks <= 0) return;
    const instant = this.uncounted / this.intervalSeconds;
    this.uncounted = 0;
    if (this.initialized) {
      this.ratePerSecond += this.alpha * (instant - this.ratePerSecond);
    } else {
      this.ratePerSecond = instant;
      this.initialized = true;
    }
    // Each empty interval moves the average a fraction alpha of the way to zero.
    if (ticks > 1) this.ratePerSecond *= Math.pow(1 - this.alpha, ticks - 1);
  }

  get rate(): number {
    return this.ratePerSecond;
  }
}

export interface MeterValues {
  readonly count: number;
  readonly meanRate: number;
  readonly oneMinuteRate: number;
  readonly fiveMinuteRate: number;
  readonly fifteenMinuteRate: number;
}

/** Events per second, as a Yammer Meter reports them. */
export class Meter {
  private total = 0;
  private readonly startMs: number;
  private lastTickMs: number;
  private readonly m1 = new Ewma(1);
  private readonly m5 = new Ewma(5);
  private readonly m15 = new Ewma(15);

  constructor(private readonly clock: Clock = monotonicClock) {
    this.startMs = clock();
    this.lastTickMs = this.startMs;
  }

  mark(n = 1): void {
    this.tickIfNecessary();
    this.total += n;
    this.m1.update(n);
    this.m5.update(n);
    this.m15.update(n);
  }

  get count(): number {
    return this.total;
  }

  values(): MeterValues {
    this.tickIfNecessary();
    const elapsedSeconds = (this.clock() - this.startMs) / 1000;
    return {
      count: this.total,
      meanRate: this.total === 0 || elapsedSeconds <= 0 ? 0 : this.total / elapsedSeconds,
      oneMinuteRate: this.m1.rate,
      fiveMinuteRate: this.m5.rate,
      fifteenMinuteRate: this.m15.rate,
    };
  }

  private tickIfNecessary(): void {
    const age = this.clock() - this.lastTickMs;
    if (age <= TICK_MS) return;
    const ticks = Math.floor(age / TICK_MS);
    this.lastTickMs += ticks * TICK_MS;
    this.m1.tick(ticks);
    this.m5.tick(ticks);
    this.m15.tick(ticks);
  }
}

/** The landmark of the forward-decaying sample moves forward this often. */
const RESCALE_MS = 60 * 60 * 1000;

/**
 * A forward-decaying priority sample (Cormode et al., "Forward Decay", 2009): each value gets
 * priority w / u, with weight w = exp(alpha * (t - landmark)) and u uniform in (0, 1]; the
 * `size` values of highest priority are kept, in a min-heap on priority.
 */
export class ExponentiallyDecayingReservoir {
  private readonly priorities: Float64Array;
  private readonly samples: Float64Array;
  private size = 0;
  private landmarkMs: number;
  private nextRescaleMs: number;

  constructor(
    readonly capacity = 1028,
    private readonly alpha = 0.015,
    private readonly clock: Clock = monotonicClock,
    private readonly random: () => number = Math.random,
  ) {
    this.priorities = new Float64Array(capacity);
    this.samples = new Float64Array(capacity);
    this.landmarkMs = clock();
    this.nextRescaleMs = this.landmarkMs + RESCALE_MS;
  }

  get length(): number {
    return this.size;
  }

  update(value: number): void {
    const now = this.clock();
    if (now >= this.nextRescaleMs) this.rescale(now);
    const weight = Math.exp((this.alpha * (now - this.landmarkMs)) / 1000);
    const priority = weight / (1 - this.random());
    if (this.size < this.capacity) {
      this.siftUp(this.size++, priority, value);
    } else if (priority > (this.priorities[0] as number)) {
      this.siftDown(0, priority, value);
    }
  }

  /** The sampled values, ascending. */
  sortedValues(): Float64Array {
    return this.samples.slice(0, this.size).sort();
  }

  /** Moves the landmark to now; priorities shrink by the same factor, so their order holds. */
  private rescale(now: number): void {
    const factor = Math.exp((-this.alpha * (now - this.landmarkMs)) / 1000);
    this.landmarkMs = now;
    this.nextRescaleMs = now + RESCALE_MS;
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      const priority = (this.priorities[i] as number) * factor;
      // Values that decayed to nothing give up their place.
      if (priority === 0) continue;
      this.priorities[kept] = priority;
      this.samples[kept] = this.samples[i] as number;
      kept++;
    }
    this.size = kept;
    // Scaling keeps the heap order, but removals may not have: rebuild.
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.siftDown(i, this.priorities[i] as number, this.samples[i] as number);
  }

  private siftUp(index: number, priority: number, value: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.priorities[parent] as number) <= priority) break;
      this.priorities[i] = this.priorities[parent] as number;
      this.samples[i] = this.samples[parent] as number;
      i = parent;
    }
    this.priorities[i] = priority;
    this.samples[i] = value;
  }

  private siftDown(index: number, priority: number, value: number): void {
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && (this.priorities[right] as number) < (this.priorities[left] as number) ? right : left;
      if ((this.priorities[child] as number) >= priority) break;
      this.priorities[i] = this.priorities[child] as number;
      this.samples[i] = this.samples[child] as number;
      i = child;
    }
    this.priorities[i] = priority;
    this.samples[i] = value;
  }
}

/**
 * The value at `quantile` of ascending `sorted` values, interpolated between neighbours at
 * position quantile * (n + 1) (the estimator Yammer's Snapshot uses); 0 when empty.
 */
export function quantileOf(sorted: ArrayLike<number>, quantile: number): number {
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`quantile ${quantile} is not in [0, 1]`);
  const n = sorted.length;
  if (n === 0) return 0;
  const position = quantile * (n + 1);
  if (position < 1) return sorted[0] as number;
  if (position >= n) return sorted[n - 1] as number;
  const index = Math.floor(position);
  const lower = sorted[index - 1] as number;
  const upper = sorted[index] as number;
  return lower + (position - index) * (upper - lower);
}

export interface HistogramValues {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stdDev: number;
  readonly p50: number;
  readonly p75: number;
  readonly p95: number;
  readonly p98: number;
  readonly p99: number;
  readonly p999: number;
}

/** A Yammer (biased) histogram: totals over every value, percentiles over a decaying sample. */
export class DecayingHistogram {
  private total = 0;
  private minimum = Number.POSITIVE_INFINITY;
  private maximum = Number.NEGATIVE_INFINITY;
  private mean = 0;
  /** Sum of squared differences from the mean (Welford). */
  private m2 = 0;
  private readonly reservoir: ExponentiallyDecayingReservoir;

  constructor(clock: Clock = monotonicClock, random: () => number = Math.random, sampleSize = 1028) {
    this.reservoir = new ExponentiallyDecayingReservoir(sampleSize, 0.015, clock, random);
  }

  update(value: number): void {
    this.total++;
    if (value < this.minimum) this.minimum = value;
    if (value > this.maximum) this.maximum = value;
    const delta = value - this.mean;
    this.mean += delta / this.total;
    this.m2 += delta * (value - this.mean);
    this.reservoir.update(value);
  }

  get count(): number {
    return this.total;
  }

  values(): HistogramValues {
    const sorted = this.reservoir.sortedValues();
    const empty = this.total === 0;
    return {
      count: this.total,
      min: empty ? 0 : this.minimum,
      max: empty ? 0 : this.maximum,
      mean: empty ? 0 : this.mean,
      stdDev: this.total > 1 ? Math.sqrt(this.m2 / (this.total - 1)) : 0,
      p50: quantileOf(sorted, 0.5),
      p75: quantileOf(sorted, 0.75),
      p95: quantileOf(sorted, 0.95),
      p98: quantileOf(sorted, 0.98),
      p99: quantileOf(sorted, 0.99),
      p999: quantileOf(sorted, 0.999),
    };
  }
}
