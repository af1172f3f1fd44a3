// Buckets grow by 2 %: percentiles are within 2 % of the true value, from 0 to about 10 minutes,
// in a fixed 900-slot array that merges across processes by adding counts.
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 900;

/** Bucket upper bound in ms. */
function upperBound(bucket: number): number {
  return GROWTH ** (bucket + 1) - 1;
}

/** A mergeable latency histogram with bounded memory. */
export class LatencyHistogram {
  readonly counts: number[];
  #total = 0;
  #max = 0;

  constructor(counts?: readonly number[]) {
    this.counts = counts ? [...counts] : new Array<number>(BUCKETS).fill(0);
    for (const c of this.counts) this.#total += c;
  }

  get total(): number {
    return this.#total;
  }

  /** The largest value recorded here (not carried through {@link LatencyHistogram.merge}). */
  get max(): number {
    return this.#max;
  }

  record(ms: number): void {
    const v = Number.isFinite(ms) ? Math.max(ms, 0) : 0;
    const bucket = Math.min(BUCKETS - 1, Math.floor(Math.log1p(v) / LOG_GROWTH));
    this.counts[bucket]!++;
    this.#total++;
    if (v > this.#max) this.#max = v;
  }

  merge(other: { readonly counts: readonly number[] }): void {
    for (let i = 0; i < BUCKETS; i++) {
      const c = other.counts[i] ?? 0;
      this.counts[i]! += c;
      this.#total += c;
    }
  }

  /** Removes an earlier snapshot's counts: what remains is what was recorded since. */
  subtract(earlier: { readonly counts: readonly number[] }): void {
    for (let i = 0; i < BUCKETS; i++) {
      const c = Math.min(this.counts[i]!, earlier.counts[i] ?? 0);
      this.counts[i]! -= c;
      this.#total -= c;
    }
  }

  /** The value below which `p` (0..1) of the samples fall; undefined without samples. */
  percentile(p: number): number | undefined {
    if (this.#total === 0) return undefined;
    const rank = Math.max(1, Math.ceil(p * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return upperBound(i);
    }
    return upperBound(BUCKETS - 1);
  }

  /** Counts as `[bucket, count]` pairs of non-empty buckets, compact for IPC. */
  toSparse(): Array<[number, number]> {
    const pairs: Array<[number, number]> = [];
    this.counts.forEach((c, i) => {
      if (c > 0) pairs.push([i, c]);
    });
    return pairs;
  }

  static fromSparse(pairs: ReadonlyArray<readonly [number, number]>): LatencyHistogram {
    const h = new LatencyHistogram();
    h.merge({ counts: toDense(pairs) });
    return h;
  }
}

function toDense(pairs: ReadonlyArray<readonly [number, number]>): number[] {
  const counts = new Array<number>(BUCKETS).fill(0);
  for (const [i, c] of pairs) if (i >= 0 && i < BUCKETS) counts[i] = c;
  return counts;
}
