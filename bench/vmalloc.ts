// The vmalloc benchmarks: vmalloc/vfree and 4-byte accesses through a vmalloc mapping, each measured
// against the page-allocator or direct-map work it stands on, in the same run. Every case and its
// baseline are timed interleaved (measureInterleaved: their batches alternate within each sample, with a
// floor batch before each), so "Nx baseline" is a median of per-sample ratios taken under the same host
// conditions. Each case ends with k.check() (a correctness guard; nothing here asserts on time).
import { boot, GFP_KERNEL, type Kernel } from "../src/index.ts";
import { floor } from "./cases.ts";
import {
  consume,
  crossRatio,
  DEFAULTS,
  type MeasureOptions,
  measureInterleaved,
  type Paired,
  type Stats,
} from "./harness.ts";

/** The two vmalloc sizes of case 8, and the order-0 pages each is backed by. */
export const SMALL = 16 << 10;
export const LARGE = 1 << 20;
const SMALL_PAGES = SMALL / 4096;
const LARGE_PAGES = LARGE / 4096;
/** Cases 9 and 10: one MiB read or written 4 bytes at a time, wrapping around (order 8 for the direct map). */
export const SPAN = 1 << 20;
const SPAN_MASK = SPAN - 1;
const SPAN_ORDER = 8;
/** The read target: through a vmalloc mapping within this many times a direct-map read. */
export const READ_TARGET = 3;
/** StackDepot.save()'s Error.stackTraceLimit while it captures the caller's stack. */
const STACK_LIMIT = 20;

export interface VsBaseline {
  /** The vmalloc case and its baseline, each against the floor batch run just before it. */
  vmalloc: Paired;
  base: Paired;
  /** Per-sample vmalloc ns/op over baseline ns/op (same sample, adjacent batches). */
  ratio: Stats;
}

export interface VmallocResult {
  /** 8. vmalloc(16 KiB)+vfree vs 4 order-0 pages allocated then freed. */
  small: VsBaseline;
  /** 8. Error.captureStackTrace on a plain object at StackDepot's depth limit (the vmallocinfo caller). */
  stack: Paired;
  /** The capture's ns over the 16 KiB pair's, per sample. */
  stackShare: Stats;
  /** 8. vmalloc(1 MiB)+vfree vs 256 order-0 pages allocated then freed. */
  large: VsBaseline;
  /** 9. read32 through the vmalloc mapping vs through the direct map. */
  read: VsBaseline;
  /** 10. write32, the same way. */
  write: VsBaseline;
}

function guard(k: Kernel, what: string): void {
  const bad = k.check();
  if (bad.length !== 0) throw new Error(`vmalloc bench, ${what}: k.check() found ${bad.join("; ")}`);
}

// ---- 8. vmalloc+vfree pairs against the page allocator's share of the work -----------------------------

function vmallocSmallBatch(k: Kernel, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const a = k.vmalloc(SMALL);
    if (a === 0) throw new Error("vmalloc bench: vmalloc(16 KiB) failed");
    acc += a % 1e9;
    k.vfree(a);
  }
  return acc % 1e9;
}

function vmallocLargeBatch(k: Kernel, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const a = k.vmalloc(LARGE);
    if (a === 0) throw new Error("vmalloc bench: vmalloc(1 MiB) failed");
    acc += a % 1e9;
    k.vfree(a);
  }
  return acc % 1e9;
}

/**
 * n rounds of: `pages` order-0 allocations, then their frees in the same order, the page-allocator calls
 * vmalloc makes (__vmalloc_area_node allocates one page at a time; __vunmap frees them in order).
 */
function pagesBatch(k: Kernel, h: Float64Array, pages: number, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < pages; j++) {
      const p = k.alloc_pages(GFP_KERNEL, 0);
      if (p === null) throw new Error("vmalloc bench: alloc_pages failed");
      h[j] = p;
      acc += p % 1e9;
    }
    for (let j = 0; j < pages; j++) k.__free_pages(h[j]!, 0);
  }
  return acc % 1e9;
}

/** What StackDepot.save() does per vmalloc: raise the limit, capture onto a fresh object, restore. */
function stackBatch(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const o: { stack?: string; i: number } = { i };
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = STACK_LIMIT;
    Error.captureStackTrace(o);
    Error.stackTraceLimit = limit;
    acc += o.i;
  }
  return acc % 1e9;
}

function benchPairs(o: MeasureOptions) {
  const k = boot({ mem: "1G", cpus: 2 });
  const h = new Float64Array(LARGE_PAGES);
  consume(vmallocSmallBatch(k, 200) + vmallocLargeBatch(k, 20));
  consume(pagesBatch(k, h, SMALL_PAGES, 200) + pagesBatch(k, h, LARGE_PAGES, 20) + stackBatch(200));
  const s = measureInterleaved(
    [(n) => vmallocSmallBatch(k, n), (n) => pagesBatch(k, h, SMALL_PAGES, n), stackBatch],
    floor,
    o,
  );
  const l = measureInterleaved(
    [(n) => vmallocLargeBatch(k, n), (n) => pagesBatch(k, h, LARGE_PAGES, n)],
    floor,
    o,
  );
  guard(k, "vmalloc+vfree pairs");
  return {
    small: { vmalloc: s.cases[0]!, base: s.cases[1]!, ratio: crossRatio(s, 0, 1) },
    stack: s.cases[2]!,
    stackShare: crossRatio(s, 2, 0),
    large: { vmalloc: l.cases[0]!, base: l.cases[1]!, ratio: crossRatio(l, 0, 1) },
  };
}

// ---- 9./10. 4-byte reads and writes through a vmalloc mapping vs through the direct map ----------------

/** Where a batch carries on in its MiB (each batch continues the sweep the last one stopped in). */
class Cursor {
  off = 0;
  constructor(readonly base: number) {}
}

// One function per side (identical bodies) so neither call site sees the other's addresses.

function readVmallocBatch(k: Kernel, c: Cursor, n: number): number {
  const base = c.base;
  let off = c.off;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc = (acc + k.read32(base + off)) | 0;
    off = (off + 4) & SPAN_MASK;
  }
  c.off = off;
  return acc >>> 0;
}

function readDirectBatch(k: Kernel, c: Cursor, n: number): number {
  const base = c.base;
  let off = c.off;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc = (acc + k.read32(base + off)) | 0;
    off = (off + 4) & SPAN_MASK;
  }
  c.off = off;
  return acc >>> 0;
}

function writeVmallocBatch(k: Kernel, c: Cursor, n: number): number {
  const base = c.base;
  let off = c.off;
  for (let i = 0; i < n; i++) {
    k.write32(base + off, (off ^ i) | 0);
    off = (off + 4) & SPAN_MASK;
  }
  c.off = off;
  return k.read32(base + ((off - 4) & SPAN_MASK));
}

function writeDirectBatch(k: Kernel, c: Cursor, n: number): number {
  const base = c.base;
  let off = c.off;
  for (let i = 0; i < n; i++) {
    k.write32(base + off, (off ^ i) | 0);
    off = (off + 4) & SPAN_MASK;
  }
  c.off = off;
  return k.read32(base + ((off - 4) & SPAN_MASK));
}

/** Fill the MiB at `base` with the same seeded pattern on both sides; returns its sum. */
function fill(k: Kernel, base: number): number {
  let acc = 0;
  for (let off = 0; off < SPAN; off += 4) {
    const v = Math.imul(off + 1, 0x9e3779b1) >>> 0;
    k.write32(base + off, v);
    acc = (acc + v) | 0;
  }
  return acc >>> 0;
}

function benchAccess(o: MeasureOptions) {
  const k = boot({ mem: "1G", cpus: 2 });
  const va = k.vmalloc(SPAN);
  const page = k.alloc_pages(GFP_KERNEL, SPAN_ORDER);
  if (va === 0 || page === null) throw new Error("vmalloc bench: could not allocate the two MiBs");
  const da = k.page_address(page);
  const sum = fill(k, va);
  if (fill(k, da) !== sum) throw new Error("vmalloc bench: fill sums differ");
  const vr = new Cursor(va);
  const dr = new Cursor(da);
  // A whole pass each: both sides must read back what was written.
  const pass = SPAN / 4;
  if (readVmallocBatch(k, vr, pass) !== sum || readDirectBatch(k, dr, pass) !== sum)
    throw new Error("vmalloc bench: a read pass does not match the fill");
  const read = measureInterleaved(
    [(n) => readVmallocBatch(k, vr, n), (n) => readDirectBatch(k, dr, n)],
    floor,
    o,
  );
  const vw = new Cursor(va);
  const dw = new Cursor(da);
  const write = measureInterleaved(
    [(n) => writeVmallocBatch(k, vw, n), (n) => writeDirectBatch(k, dw, n)],
    floor,
    o,
  );
  k.vfree(va);
  k.__free_pages(page, SPAN_ORDER);
  guard(k, "read32/write32 through vmalloc and the direct map");
  return {
    read: { vmalloc: read.cases[0]!, base: read.cases[1]!, ratio: crossRatio(read, 0, 1) },
    write: { vmalloc: write.cases[0]!, base: write.cases[1]!, ratio: crossRatio(write, 0, 1) },
  };
}

/** Cases 8-10, each on its own fresh 1 GiB machine. */
export function benchVmalloc(o: MeasureOptions = DEFAULTS): VmallocResult {
  const pairs = benchPairs(o);
  const access = benchAccess(o);
  return { ...pairs, ...access };
}
