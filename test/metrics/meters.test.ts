/**
 * Meters and histograms with an injected clock: the Yammer semantics that Kafka's (and so MSK's)
 * Count, MeanRate, One/Five/FifteenMinuteRate and percentile values have.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecayingHistogram, Ewma, ExponentiallyDecayingReservoir, Meter, quantileOf, TICK_MS } from '../../src/metrics/meters.js';

class ManualClock {
  now = 1_000_000;
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/** A deterministic uniform generator in [0, 1) (mulberry32). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);
}

describe('Ewma', () => {
  test('the first tick sets the rate; later ticks move a fraction alpha toward the instant rate', () => {
    const ewma = new Ewma(1);
    ewma.update(50); // 50 events in 5 s: 10/s
    ewma.tick();
    close(ewma.rate, 10, 1e-12, 'first tick');
    ewma.tick(); // an empty interval
    const alpha = 1 - Math.exp(-5 / 60);
    close(ewma.rate, 10 * (1 - alpha), 1e-12, 'decayed once');
  });

  test('catching up k empty ticks at once equals k single ticks', () => {
    const once = new Ewma(5);
    const stepped = new Ewma(5);
    for (const e of [once, stepped]) {
      e.update(100);
      e.tick();
      e.update(30);
    }
    once.tick(7);
    for (let i = 0; i < 7; i++) stepped.tick();
    close(once.rate, stepped.rate, 1e-12, 'catch-up');
  });

  test('a steady stream converges to its rate for each time constant', () => {
    for (const minutes of [1, 5, 15]) {
      const ewma = new Ewma(minutes);
      for (let i = 0; i < 2000; i++) {
        ewma.update(35); // 7/s
        ewma.tick();
      }
      close(ewma.rate, 7, 1e-6, `${minutes} min`);
    }
  });
});

describe('Meter', () => {
  test('Count, MeanRate and the moving averages follow the injected clock', () => {
    const clock = new ManualClock();
    const meter = new Meter(clock.read);
    assert.deepEqual(meter.values(), { count: 0, meanRate: 0, oneMinuteRate: 0, fiveMinuteRate: 0, fifteenMinuteRate: 0 });

    // 100 events per second for two minutes, marked every 100 ms.
    for (let i = 0; i < 1200; i++) {
      clock.advance(100);
      meter.mark(10);
    }
    const values = meter.values();
    assert.equal(values.count, 12_000);
    close(values.meanRate, 100, 1e-9, 'mean rate');
    // The one-minute average has had 24 ticks of 100/s: 1 - (1-a)^23 of the way from the first.
    close(values.oneMinuteRate, 100, 1, 'one-minute rate');
    assert.ok(values.fiveMinuteRate > 99 && values.fiveMinuteRate <= 100.000001, `five-minute ${values.fiveMinuteRate}`);
    assert.ok(values.fifteenMinuteRate > 99 && values.fifteenMinuteRate <= 100.000001, `fifteen-minute ${values.fifteenMinuteRate}`);
  });

  test('nothing is rated before the first 5 s tick (as in Yammer); idle time decays the rates, not the count', () => {
    const clock = new ManualClock();
    const meter = new Meter(clock.read);
    meter.mark(60);
    clock.advance(TICK_MS); // exactly one interval: not yet ticked
    assert.equal(meter.values().oneMinuteRate, 0);
    clock.advance(1);
    close(meter.values().oneMinuteRate, 60 / 5, 1e-9, 'after the first tick');

    clock.advance(60_000); // a minute idle: 12 empty ticks
    const alpha1 = 1 - Math.exp(-5 / 60);
    const values = meter.values();
    close(values.oneMinuteRate, 12 * Math.pow(1 - alpha1, 12), 1e-9, 'one-minute after a minute idle');
    assert.ok(values.fifteenMinuteRate > values.fiveMinuteRate && values.fiveMinuteRate > values.oneMinuteRate);
    assert.equal(values.count, 60);
    close(values.meanRate, 60 / ((TICK_MS + 1 + 60_000) / 1000), 1e-9, 'mean rate over the whole life');
  });

  test('a day idle is caught up in one step', () => {
    const clock = new ManualClock();
    const meter = new Meter(clock.read);
    meter.mark(1000);
    clock.advance(24 * 3600 * 1000);
    const values = meter.values();
    assert.ok(values.fifteenMinuteRate < 1e-30, `fifteen-minute ${values.fifteenMinuteRate}`);
    assert.equal(values.count, 1000);
  });
});

describe('quantileOf', () => {
  test('interpolates at quantile * (n + 1), clamped to the ends', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.equal(quantileOf(values, 0.5), 5.5);
    assert.equal(quantileOf(values, 0.75), 8.25);
    assert.equal(quantileOf(values, 0.99), 10);
    assert.equal(quantileOf(values, 0), 1);
    assert.equal(quantileOf([], 0.5), 0);
    assert.equal(quantileOf([42], 0.999), 42);
    assert.throws(() => quantileOf(values, 1.5), RangeError);
  });
});

describe('ExponentiallyDecayingReservoir', () => {
  test('keeps at most its capacity', () => {
    const clock = new ManualClock();
    const reservoir = new ExponentiallyDecayingReservoir(100, 0.015, clock.read, seededRandom(1));
    for (let i = 0; i < 10_000; i++) reservoir.update(i);
    assert.equal(reservoir.length, 100);
    assert.equal(reservoir.sortedValues().length, 100);
  });

  test('holds every value while under capacity', () => {
    const clock = new ManualClock();
    const reservoir = new ExponentiallyDecayingReservoir(1028, 0.015, clock.read, seededRandom(2));
    for (let i = 1; i <= 500; i++) reservoir.update(i);
    const sorted = reservoir.sortedValues();
    assert.equal(sorted.length, 500);
    assert.equal(sorted[0], 1);
    assert.equal(sorted[499], 500);
  });

  test('favours recent values: after a minute of new values the old ones are nearly gone', () => {
    const clock = new ManualClock();
    const reservoir = new ExponentiallyDecayingReservoir(1028, 0.015, clock.read, seededRandom(3));
    for (let i = 0; i < 5000; i++) {
      clock.advance(10);
      reservoir.update(1); // old regime: 50 s of value 1
    }
    for (let i = 0; i < 30_000; i++) {
      clock.advance(10);
      reservoir.update(1000); // new regime: 300 s of value 1000
    }
    const sorted = reservoir.sortedValues();
    const old = sorted.filter((v) => v === 1).length;
    assert.ok(old < 30, `${old} of ${sorted.length} samples are from the old regime`);
    assert.equal(quantileOf(sorted, 0.5), 1000);
  });

  test('survives rescaling (the landmark moves every hour) with its order intact', () => {
    const clock = new ManualClock();
    const reservoir = new ExponentiallyDecayingReservoir(50, 0.015, clock.read, seededRandom(4));
    for (let hour = 0; hour < 5; hour++) {
      for (let i = 0; i < 200; i++) {
        clock.advance(90_000 / 5);
        reservoir.update(hour * 1000 + i);
      }
    }
    const sorted = reservoir.sortedValues();
    assert.equal(sorted.length, 50);
    // Only the last hour's values have a chance against exp(0.015 * 3600) times heavier weights.
    assert.ok(sorted.every((v) => v >= 4000), `stale values survived: ${[...sorted].filter((v) => v < 4000).join(',')}`);
  });
});

describe('DecayingHistogram', () => {
  test('count, min, max, mean and sample standard deviation over every value; percentiles over the sample', () => {
    const clock = new ManualClock();
    const histogram = new DecayingHistogram(clock.read, seededRandom(5));
    assert.deepEqual(histogram.values(), {
      count: 0,
      min: 0,
      max: 0,
      mean: 0,
      stdDev: 0,
      p50: 0,
      p75: 0,
      p95: 0,
      p98: 0,
      p99: 0,
      p999: 0,
    });
    for (let v = 1; v <= 1000; v++) histogram.update(v);
    const values = histogram.values();
    assert.equal(values.count, 1000);
    assert.equal(values.min, 1);
    assert.equal(values.max, 1000);
    close(values.mean, 500.5, 1e-9, 'mean');
    close(values.stdDev, Math.sqrt((1000 * 1001) / 12), 1e-6, 'stdDev'); // variance of 1..n is n(n+1)/12
    // Under the sample size every value is held: exact order statistics.
    close(values.p50, 500.5, 1e-9, 'p50');
    close(values.p75, 750.75, 1e-9, 'p75');
    close(values.p95, 950.95, 1e-9, 'p95');
    close(values.p99, 990.99, 1e-9, 'p99');
    close(values.p999, 999.999, 1e-9, 'p999');
  });

  test('memory stays bounded under a million updates, and percentiles stay close', () => {
    const clock = new ManualClock();
    const random = seededRandom(6);
    const histogram = new DecayingHistogram(clock.read, random);
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 1000 === 0) clock.advance(1);
      histogram.update(Math.floor(random() * 1000));
    }
    const values = histogram.values();
    assert.equal(values.count, 1_000_000);
    close(values.p50, 500, 60, 'p50 of uniform 0..999');
    close(values.p95, 950, 30, 'p95 of uniform 0..999');
  });
});
