// The slab benchmarks: kmalloc/kfree through the public API of a booted machine (k.kmalloc / k.kfree),
// with slub_debug off and on, and the same two workloads run against the peers of bench/peers.ts
// (AssemblyScript's TLSF in wasm, @thi.ng/malloc). Every allocator gets its own monomorphic batch
// functions (no shared adapter call sites, per the harness traps noted in peers.md), and the mixed
// workload replays one seeded op stream for all of them. kmalloc and its peers are timed interleaved
// (measureInterleaved: their batches alternate within each sample), so "kmem is N x faster" is a
// median of per-sample ratios taken under the same host conditions: on the shared 2-core VM, two
// back-to-back measurements of the same case moved by up to 2x.
import type { MemPool } from "@thi.ng/malloc";
import { boot, GFP_KERNEL, type Kernel } from "../src/index.ts";
import { floor } from "./cases.ts";
import {
  consume,
  crossRatio,
  DEFAULTS,
  type MeasureOptions,
  measureInterleaved,
  measurePaired,
  type Paired,
  rng,
} from "./harness.ts";
import { compileTlsf, newThing, newTlsf, type TlsfExports } from "./peers.ts";

/** The size of the pair case: kmalloc-64, served by the per-CPU slab once warm. */
export const PAIR_SIZE = 64;
/** Live objects in the mixed case. */
export const MIXED_LIVE = 50_000;
export const MIXED_MIN = 8;
export const MIXED_MAX = 8191;
const STREAM = 1 << 18;
const SEED = 0x51ab;

// ---- the mixed workload: one seeded op stream for every allocator --------------------------------

/**
 * Sizes are log-uniform over 8..8191 bytes (as in peers.md scenario c: many small objects, as kmalloc
 * sees them; every kmalloc-8 .. kmalloc-8192 cache is used). The fill allocates initSize[i] into slot i;
 * op j then frees slot victim[j] and allocates size[j] into it, so exactly MIXED_LIVE objects stay live.
 * The stream (2^18 ops) wraps around; every allocator starts at op 0, so all replay the same sequence.
 */
export class MixedOps {
  readonly initSize = new Int32Array(MIXED_LIVE);
  readonly victim = new Int32Array(STREAM);
  readonly size = new Int32Array(STREAM);
  constructor(seed: number) {
    const r = rng(seed);
    const draw = () => Math.min(MIXED_MAX, Math.floor(MIXED_MIN * ((MIXED_MAX + 1) / MIXED_MIN) ** r()));
    for (let i = 0; i < MIXED_LIVE; i++) this.initSize[i] = draw();
    for (let j = 0; j < STREAM; j++) {
      this.victim[j] = Math.floor(r() * MIXED_LIVE);
      this.size[j] = draw();
    }
  }
}

/** One allocator's live objects (addresses as doubles: kmem's are 48-bit) and its place in the stream. */
class Live {
  readonly addr = new Float64Array(MIXED_LIVE);
  pos = 0;
  constructor(readonly ops: MixedOps) {}
}

let sharedOps: MixedOps | null = null;
function mixedOps(): MixedOps {
  sharedOps ??= new MixedOps(SEED);
  return sharedOps;
}

export interface AllocResult {
  pair: Paired;
  mixed: Paired;
}

export interface KmallocResult extends AllocResult {
  /** The zones' free pages did not move during the timed pair: no slab page came from the buddy. */
  pairSteady: boolean;
}

// ---- kmem: kmalloc / kfree ------------------------------------------------------------------------

function kmallocPairBatch(k: Kernel, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const p = k.kmalloc(PAIR_SIZE, GFP_KERNEL);
    if (p === 0) throw new Error("kmalloc pair bench: allocation failed");
    acc += p;
    k.kfree(p);
  }
  return acc % 1e9;
}

function kmallocFill(k: Kernel, lv: Live): number {
  let acc = 0;
  for (let i = 0; i < MIXED_LIVE; i++) {
    const p = k.kmalloc(lv.ops.initSize[i]!, GFP_KERNEL);
    if (p === 0) throw new Error("kmalloc mixed bench: fill failed");
    lv.addr[i] = p;
    acc += p;
  }
  return acc % 1e9;
}

function kmallocMixedBatch(k: Kernel, lv: Live, n: number): number {
  const { victim, size } = lv.ops;
  const addr = lv.addr;
  let pos = lv.pos;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const v = victim[pos]!;
    const s = size[pos]!;
    pos = (pos + 1) & (STREAM - 1);
    k.kfree(addr[v]!);
    const p = k.kmalloc(s, GFP_KERNEL);
    if (p === 0) throw new Error("kmalloc mixed bench: allocation failed");
    addr[v] = p;
    acc += p;
  }
  lv.pos = pos;
  return acc % 1e9;
}

/**
 * kmalloc alone: the pair and the mixed case, each on a fresh 1 GiB machine booted with `cmdline` (run.ts
 * uses it for "slub_debug=FZPU"; benchSlab times the debug-off cases interleaved with the peers).
 */
export function benchKmalloc(cmdline = "", o: MeasureOptions = DEFAULTS): KmallocResult {
  const kp = boot({ mem: "1G", cpus: 2, cmdline });
  consume(kmallocPairBatch(kp, 1000));
  const zoneCounts = () => kp.zones.map((z) => (z ? z.freePages : 0)).join(",");
  const before = zoneCounts();
  const pair = measurePaired((n) => kmallocPairBatch(kp, n), floor, o);
  const pairSteady = before === zoneCounts();
  const km = boot({ mem: "1G", cpus: 2, cmdline });
  const lv = new Live(mixedOps());
  consume(kmallocFill(km, lv));
  const mixed = measurePaired((n) => kmallocMixedBatch(km, lv, n), floor, o);
  return { pair, mixed, pairSteady };
}

// ---- AssemblyScript TLSF (wasm) -------------------------------------------------------------------

function tlsfPairBatch(t: TlsfExports, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const p = t.alloc(PAIR_SIZE);
    if (p === 0) throw new Error("TLSF pair bench: allocation failed");
    acc += p;
    t.free(p);
  }
  return acc % 1e9;
}

function tlsfFill(t: TlsfExports, lv: Live): number {
  let acc = 0;
  for (let i = 0; i < MIXED_LIVE; i++) {
    const p = t.alloc(lv.ops.initSize[i]!);
    if (p === 0) throw new Error("TLSF mixed bench: fill failed");
    lv.addr[i] = p;
    acc += p;
  }
  return acc % 1e9;
}

function tlsfMixedBatch(t: TlsfExports, lv: Live, n: number): number {
  const { victim, size } = lv.ops;
  const addr = lv.addr;
  let pos = lv.pos;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const v = victim[pos]!;
    const s = size[pos]!;
    pos = (pos + 1) & (STREAM - 1);
    t.free(addr[v]!);
    const p = t.alloc(s);
    if (p === 0) throw new Error("TLSF mixed bench: allocation failed");
    addr[v] = p;
    acc += p;
  }
  lv.pos = pos;
  return acc % 1e9;
}

// ---- @thi.ng/malloc MemPool -----------------------------------------------------------------------

function thingPairBatch(m: MemPool, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const p = m.malloc(PAIR_SIZE);
    if (p === 0) throw new Error("thi.ng pair bench: allocation failed");
    acc += p;
    m.free(p);
  }
  return acc % 1e9;
}

function thingFill(m: MemPool, lv: Live): number {
  let acc = 0;
  for (let i = 0; i < MIXED_LIVE; i++) {
    const p = m.malloc(lv.ops.initSize[i]!);
    if (p === 0) throw new Error("thi.ng mixed bench: fill failed");
    lv.addr[i] = p;
    acc += p;
  }
  return acc % 1e9;
}

function thingMixedBatch(m: MemPool, lv: Live, n: number): number {
  const { victim, size } = lv.ops;
  const addr = lv.addr;
  let pos = lv.pos;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const v = victim[pos]!;
    const s = size[pos]!;
    pos = (pos + 1) & (STREAM - 1);
    m.free(addr[v]!);
    const p = m.malloc(s);
    if (p === 0) throw new Error("thi.ng mixed bench: allocation failed");
    addr[v] = p;
    acc += p;
  }
  lv.pos = pos;
  return acc % 1e9;
}

/**
 * thi.ng's free walks its used list (O(#live)) and then its address-sorted free list, so with 50,000
 * live objects one op takes milliseconds (peers.md: ~2.2 ms): its mixed case runs few ops per batch
 * (the batch is calibrated to 50 ms instead of 20, over 15 samples), all from the start of the stream.
 */
export const THING_MIXED: MeasureOptions = { warmupMs: 200, batchMs: 50, samples: 15 };

export interface SlabResult {
  kmem: KmallocResult;
  tlsf: AllocResult;
  thing: AllocResult;
  /** How many times kmem is faster than each peer (peer ns/op over kmem ns/op). */
  faster: { tlsfPair: number; thingPair: number; tlsfMixed: number; thingMixed: number };
}

/**
 * The pair: kmalloc, TLSF and thi.ng interleaved. The mixed case: kmalloc and TLSF interleaved (their
 * ratio is the median of per-sample ratios); thi.ng on its own afterwards, as its ops take milliseconds
 * (its ratio is of the medians). Each allocator gets a fresh instance per case.
 */
export function benchSlab(o: MeasureOptions = DEFAULTS): SlabResult {
  compileTlsf();
  const pairs = benchPairs(o);
  const mixed = benchMixed(o);
  const thingMixed = benchThingMixed();
  return {
    kmem: { pair: pairs.kmem, mixed: mixed.kmem, pairSteady: pairs.steady },
    tlsf: { pair: pairs.tlsf, mixed: mixed.tlsf },
    thing: { pair: pairs.thing, mixed: thingMixed },
    faster: {
      tlsfPair: pairs.vsTlsf,
      thingPair: pairs.vsThing,
      tlsfMixed: mixed.vsTlsf,
      thingMixed: thingMixed.op.median / mixed.kmem.op.median,
    },
  };
}

function benchPairs(o: MeasureOptions) {
  const k = boot({ mem: "1G", cpus: 2 });
  const t = newTlsf();
  const m = newThing();
  consume(kmallocPairBatch(k, 1000) + tlsfPairBatch(t, 1000) + thingPairBatch(m, 1000));
  const zoneCounts = () => k.zones.map((z) => (z ? z.freePages : 0)).join(",");
  const before = zoneCounts();
  const g = measureInterleaved(
    [(n) => kmallocPairBatch(k, n), (n) => tlsfPairBatch(t, n), (n) => thingPairBatch(m, n)],
    floor,
    o,
  );
  return {
    kmem: g.cases[0]!,
    tlsf: g.cases[1]!,
    thing: g.cases[2]!,
    steady: before === zoneCounts(),
    vsTlsf: crossRatio(g, 1, 0).median,
    vsThing: crossRatio(g, 2, 0).median,
  };
}

function benchMixed(o: MeasureOptions) {
  const k = boot({ mem: "1G", cpus: 2 });
  const t = newTlsf();
  const lk = new Live(mixedOps());
  const lt = new Live(mixedOps());
  consume(kmallocFill(k, lk) + tlsfFill(t, lt));
  const g = measureInterleaved(
    [(n) => kmallocMixedBatch(k, lk, n), (n) => tlsfMixedBatch(t, lt, n)],
    floor,
    o,
  );
  return { kmem: g.cases[0]!, tlsf: g.cases[1]!, vsTlsf: crossRatio(g, 1, 0).median };
}

function benchThingMixed(o: MeasureOptions = THING_MIXED): Paired {
  const m = newThing();
  const lv = new Live(mixedOps());
  consume(thingFill(m, lv));
  return measurePaired((n) => thingMixedBatch(m, lv, n), floor, o);
}
