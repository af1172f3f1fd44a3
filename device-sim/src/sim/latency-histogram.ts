// The one latency histogram of the simulator and the benchmarks. Latencies are recorded in
// microseconds into log-linear buckets, as HdrHistogram does: exact below 128 µs, then 64 buckets
// per power of two, so every value is kept to within 1/64 (1.6 %), up to 71 minutes. Recording is
// one array increment; histograms of several processes merge by adding counts, and an earlier
// snapshot subtracts out to show what was recorded since.
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
const HALF = SUB >> 1;
/** Values are clamped below 2^32 µs (71 minutes). */
const MAX_VALUE = 2 ** 32 - 1;
const BUCKETS = SUB + (32 - SUB_BITS + 1) * HALF;

function indexOf(value: number): number {
  if (value < SUB) return value;
  const exponent = 31 - Math.clz32(value) - (SUB_BITS - 1);
  return SUB + (exponent - 1) * HALF + ((value >>> exponent) - HALF);
}

/** The midpoint of a bucket's range. */
function valueAt(index: number): number {
  if (index < SUB) return index;
  const k = index - SUB;
  const exponent = Math.floor(k / HALF) + 1;
  const mantissa = (k % HALF) + HALF;
  const low = mantissa * 2 ** exponent;
  return low + (2 ** exponent - 1) / 2;
}

/** What crosses process boundaries: only the non-empty buckets. */
export interface HistogramSnapshot {
  readonly buckets: ReadonlyArray<readonly [index: number, count: number]>;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
}

/** Latency percentiles in milliseconds, as reported. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  /** Records one latency given in milliseconds (what the SDK reports). */
  recordMs(ms: number): void {
    this.record(Number.isFinite(ms) ? ms * 1000 : 0);
  }

  /** Records one latency given in microseconds. */
  record(micros: number): void {
    const value = Math.min(MAX_VALUE, Math.max(0, Math.round(micros)));
    this.#counts[indexOf(value)]! += 1;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  reset(): void {
    this.#counts.fill(0);
    this.count = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
    this.sum = 0;
  }

  add(snapshot: HistogramSnapshot): void {
    for (const [index, count] of snapshot.buckets) this.#counts[index]! += count;
    this.count += snapshot.count;
    this.sum += snapshot.sum;
    if (snapshot.count > 0) {
      this.min = Math.min(this.min, snapshot.min);
      this.max = Math.max(this.max, snapshot.max);
    }
  }

  /**
   * Removes an earlier snapshot of this histogram: what remains is what was recorded since.
   * (min and max stay those of the whole history: a snapshot does not say which values left.)
   */
  subtract(earlier: HistogramSnapshot): void {
    for (const [index, count] of earlier.buckets) {
      const c = Math.min(this.#counts[index] ?? 0, count);
      this.#counts[index]! -= c;
      this.count -= c;
    }
    this.sum = Math.max(0, this.sum - earlier.sum);
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) {
      const count = this.#counts[i]!;
      if (count > 0) buckets.push([i, count]);
    }
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum };
  }

  /** The value (µs) below or at which `percent` % of the recorded values lie. */
  percentile(percent: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, valueAt(i)));
    }
    return this.max;
  }

  /** {@link LatencyHistogram.percentile} in milliseconds; undefined when nothing was recorded. */
  percentileMs(percent: number): number | undefined {
    return this.count === 0 ? undefined : this.percentile(percent) / 1000;
  }

  summary(): LatencySummary {
    const ms = (micros: number) => Math.round(micros) / 1000;
    return {
      count: this.count,
      p50Ms: ms(this.percentile(50)),
      p90Ms: ms(this.percentile(90)),
      p99Ms: ms(this.percentile(99)),
      maxMs: ms(this.max),
      meanMs: this.count === 0 ? 0 : ms(this.sum / this.count),
    };
  }

  static from(snapshots: Iterable<HistogramSnapshot>): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (const snapshot of snapshots) histogram.add(snapshot);
    return histogram;
  }
}
