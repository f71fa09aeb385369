// Timing harness for the kmem benchmarks.
//
// Why hand-timed loops rather than tinybench or mitata: the floor we compare against (an Int32Array
// pop/push pair) costs about a nanosecond, and tinybench times every invocation of the benchmarked
// function on its own (a timer read plus an indirect call per sample: tens of ns of overhead), so ratios
// to the floor would measure the harness. mitata batches better, but our cases are stateful (100,000
// live pages allocated and then freed in a fixed order; a pool that persists between samples; whole
// machine boots) and the host is a shared 2-core VM whose speed drifts, which calls for the floor to be
// sampled right next to each case sample. So each sample runs a whole batch of operations inside one
// monomorphic function, timed once with process.hrtime.bigint(); batch sizes are calibrated to ~20 ms,
// run after a warm-up that lets V8 optimise both the batch loop and the engine code; a floor batch runs
// just before each case batch, and the reported figures are medians (of ns/op and of the per-pair
// ratios), with min/max for the spread.

/** A result every batch returns; folded into `sink` so V8 cannot drop the work that produced it. */
let sink = 0;
export function consume(x: number): void {
  sink = (sink + (x % 1_000_003)) % 1_000_003;
}
/** The folded checksum (printed at the end of a run, so the sink is observably used). */
export function checksum(): number {
  return sink;
}

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export interface Stats {
  /** Median, min and max of the per-sample ns/op. */
  median: number;
  min: number;
  max: number;
  samples: number;
  /** The per-sample values themselves (for pooling). */
  values: number[];
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0]!, max: s[n - 1]!, samples: n, values: s };
}

/** (max - min) / median, as a percentage: the spread of one benchmark's samples within a run. */
export function spreadPct(s: Stats): number {
  return s.median > 0 ? ((s.max - s.min) / s.median) * 100 : 0;
}

const gcFn = (globalThis as { gc?: () => void }).gc;
export const hasGc = typeof gcFn === "function";

/** A full GC when node runs with --expose-gc (a no-op otherwise). */
export function gc(): void {
  if (gcFn) {
    gcFn();
    gcFn();
  }
}

export interface MeasureOptions {
  /** Warm-up time before sampling, ms. */
  warmupMs: number;
  /** Target time of one sample, ms (the batch size is calibrated to it). */
  batchMs: number;
  samples: number;
}

export const DEFAULTS: MeasureOptions = { warmupMs: 400, batchMs: 20, samples: 41 };

/** A batch of n operations returning a checksum. */
export type Batch = (n: number) => number;

/** The n for which one batch takes about `ms` (the calibration runs count as warm-up). */
export function calibrate(batch: Batch, ms: number): number {
  let n = 64;
  for (;;) {
    const t0 = nowNs();
    consume(batch(n));
    const dt = nowNs() - t0;
    if (dt >= ms * 1e6 * 0.25 || n >= 1 << 28)
      return Math.max(1, Math.round((n * ms * 1e6) / Math.max(dt, 1)));
    n *= 4;
  }
}

/** ns per operation of one batch of n. */
export function timeBatch(batch: Batch, n: number): number {
  const t0 = nowNs();
  consume(batch(n));
  return (nowNs() - t0) / n;
}

/** Floor samples taken interleaved with every benchmark (pooled into the floor row). */
export const floorSamples: number[] = [];

export interface Paired {
  /** ns/op of the case. */
  op: Stats;
  /** ns/op of the floor batches run just before each case batch. */
  floor: Stats;
  /** Per-sample case/floor ratios: drift on the host moves both sides of each pair alike. */
  ratio: Stats;
}

/**
 * Time `batch` against `floor`, interleaved: each sample is one floor batch then one case batch, so the
 * ratio of each pair is taken under the same host conditions. Batch sizes are calibrated to ~batchMs
 * for the case and half that for the floor, after a warm-up of both.
 */
export function measurePaired(batch: Batch, floor: Batch, o: MeasureOptions = DEFAULTS): Paired {
  const n = calibrate(batch, o.batchMs);
  const nf = calibrate(floor, o.batchMs / 2);
  const warmEnd = nowNs() + o.warmupMs * 1e6;
  while (nowNs() < warmEnd) {
    consume(floor(nf));
    consume(batch(n));
  }
  const ops: number[] = [];
  const fl: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < o.samples; i++) {
    const f = timeBatch(floor, nf);
    const c = timeBatch(batch, n);
    fl.push(f);
    ops.push(c);
    ratios.push(c / f);
  }
  floorSamples.push(...fl);
  return { op: stats(ops), floor: stats(fl), ratio: stats(ratios) };
}

export interface Interleaved {
  /** Each case against the floor batch run just before it, as measurePaired reports it. */
  cases: Paired[];
  /** The per-sample ns/op of each case, in sample order (for cross ratios). */
  raw: number[][];
}

/**
 * Several cases timed in the same samples: each sample runs, for every case in turn, one floor batch
 * then one case batch (the start rotates by one case per sample, so no case always runs first). Cases
 * that are compared with each other (kmalloc and a peer) are then measured under the same host
 * conditions, and `crossRatio` gives the median of their per-sample ratios.
 */
export function measureInterleaved(
  batches: readonly Batch[],
  floor: Batch,
  o: MeasureOptions = DEFAULTS,
): Interleaved {
  const k = batches.length;
  const ns = batches.map((b) => calibrate(b, o.batchMs));
  const nf = calibrate(floor, o.batchMs / 2);
  const warmEnd = nowNs() + o.warmupMs * 1e6;
  while (nowNs() < warmEnd) {
    for (let j = 0; j < k; j++) {
      consume(floor(nf));
      consume(batches[j]!(ns[j]!));
    }
  }
  const ops = batches.map((): number[] => []);
  const fl = batches.map((): number[] => []);
  for (let i = 0; i < o.samples; i++) {
    for (let r = 0; r < k; r++) {
      const j = (i + r) % k;
      fl[j]!.push(timeBatch(floor, nf));
      ops[j]!.push(timeBatch(batches[j]!, ns[j]!));
    }
  }
  for (const f of fl) floorSamples.push(...f);
  const cases = ops.map((c, j) => {
    const f = fl[j]!;
    return { op: stats(c), floor: stats(f), ratio: stats(c.map((x, i) => x / f[i]!)) };
  });
  return { cases, raw: ops };
}

/** Per-sample ns/op of case a over case b (same sample, adjacent batches): how many times b is faster. */
export function crossRatio(m: Interleaved, a: number, b: number): Stats {
  const ra = m.raw[a]!;
  const rb = m.raw[b]!;
  return stats(ra.map((x, i) => x / rb[i]!));
}

/** mulberry32: a small seeded PRNG, so every run draws the same sequences. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const r = rng(seed);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/**
 * heapUsed + arrayBuffers after a full GC, once settled: V8 frees dead ArrayBuffers' backing stores on
 * a background thread after the GC, so `arrayBuffers` can lag by a whole machine's typed arrays. GC and
 * yield to the event loop until three readings in a row agree (within 16 KiB).
 */
export async function memBytes(): Promise<number> {
  const read = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  let last = Number.NaN;
  let agree = 0;
  for (let i = 0; i < 50 && agree < 2; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
    const now = read();
    agree = Math.abs(now - last) < 16384 ? agree + 1 : 0;
    last = now;
  }
  return last;
}
