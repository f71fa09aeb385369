// The benchmark bodies. Every engine operation goes through the public API of a booted machine
// (k.alloc_pages / k.__free_pages); page handles (struct page pointers, beyond 2^31) are kept in
// Float64Arrays so the bench itself boxes nothing.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { __GFP_NOWARN, boot, GFP_KERNEL, type Kernel } from "../src/index.ts";
import { PageArrays } from "../src/mm/page.ts";
import {
  type Batch,
  calibrate,
  consume,
  floorSamples,
  gc,
  measurePaired,
  memBytes,
  nowNs,
  type Paired,
  permutation,
  rng,
  type Stats,
  stats,
  timeBatch,
} from "./harness.ts";

// ---- floor: an Int32Array used as a LIFO free list of indices -------------------------------------

export class FreeList {
  readonly stack: Int32Array;
  top: number;
  constructor(n: number, seed: number) {
    this.stack = permutation(n, seed);
    this.top = n;
  }
}

/**
 * n pop/push pairs: pop the top index, fold it into a checksum, push it back. The load of each
 * iteration depends on the store of the one before (through memory, as in a real free list), the
 * stack and its top live in an object V8 cannot see through, and the checksum is returned, so
 * neither the loads nor the stores can be dropped or hoisted. (A variant that pops two and pushes
 * them back swapped ran 0.85 or 2.25 ns depending on the process, from store-to-load forwarding
 * luck; this form is steady within ~15%.)
 */
export function floorBatch(fl: FreeList, n: number): number {
  const s = fl.stack;
  let top = fl.top;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const x = s[--top]!;
    acc = (acc + x) | 0;
    s[top++] = x;
  }
  fl.top = top;
  return acc;
}

const floorList = new FreeList(1024, 1);
/** The floor as a batch; measurePaired runs it interleaved with every case. */
export const floor: Batch = (n) => floorBatch(floorList, n);

// ---- 1. order-0 alloc+free through the per-CPU list ------------------------------------------------

function pcpPairBatch(k: Kernel, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const p = k.alloc_pages(GFP_KERNEL, 0);
    if (p === null) throw new Error("pcp bench: allocation failed");
    acc += p;
    k.__free_pages(p, 0);
  }
  return acc % 1e9;
}

export interface PcpResult {
  pair: Paired;
  /** pgfree and pcp-count before/after the timed part: the pair must stay on the pcp list. */
  pcpSteady: boolean;
}

export function benchPcpPair(): PcpResult {
  const k = boot({ mem: "1G", cpus: 2 });
  consume(pcpPairBatch(k, 1000));
  const zoneCounts = () => k.zones.map((z) => (z ? z.freePages : 0)).join(",");
  const before = zoneCounts();
  const pair = measurePaired((n) => pcpPairBatch(k, n), floor);
  return { pair, pcpSteady: before === zoneCounts() };
}

// ---- 2. 100,000 live order-0 pages, freed in a seeded random order --------------------------------

const LIVE = 100_000;

function allocAll(k: Kernel, h: Float64Array): number {
  let acc = 0;
  for (let i = 0; i < h.length; i++) {
    const p = k.alloc_pages(GFP_KERNEL, 0);
    if (p === null) throw new Error("random-free bench: allocation failed");
    h[i] = p;
    acc += p;
  }
  return acc % 1e9;
}

function freeInOrder(k: Kernel, h: Float64Array, order: Int32Array): void {
  for (let i = 0; i < order.length; i++) k.__free_pages(h[order[i]!]!, 0);
}

export interface RandomFreeResult {
  alloc: Paired;
  free: Paired;
  /** Same 100k pages freed in allocation order (a reference for the random case). */
  freeSeq: Paired;
}

/**
 * Rounds of: floor batch, allocate 100k (timed), free them in the seeded random order (timed), allocate
 * 100k again, free them in allocation order (timed). Each timing is paired with that round's floor batch.
 */
export function benchRandomFree(samples = 31, warmup = 4): RandomFreeResult {
  const k = boot({ mem: "1G", cpus: 2 });
  const h = new Float64Array(LIVE);
  const perm = permutation(LIVE, 0x5eed);
  const seq = new Int32Array(LIVE);
  for (let i = 0; i < LIVE; i++) seq[i] = i;
  const nf = calibrate(floor, 10);
  const cols = { a: [] as number[], f: [] as number[], s: [] as number[], fl: [] as number[] };
  const rat = { a: [] as number[], f: [] as number[], s: [] as number[] };
  for (let r = 0; r < warmup + samples; r++) {
    const fl = timeBatch(floor, nf);
    let t0 = nowNs();
    consume(allocAll(k, h));
    const ta = (nowNs() - t0) / LIVE;
    t0 = nowNs();
    freeInOrder(k, h, perm);
    const tf = (nowNs() - t0) / LIVE;
    consume(allocAll(k, h));
    t0 = nowNs();
    freeInOrder(k, h, seq);
    const ts = (nowNs() - t0) / LIVE;
    if (r < warmup) continue;
    cols.fl.push(fl);
    cols.a.push(ta);
    cols.f.push(tf);
    cols.s.push(ts);
    rat.a.push(ta / fl);
    rat.f.push(tf / fl);
    rat.s.push(ts / fl);
  }
  floorSamples.push(...cols.fl);
  const fls = stats(cols.fl);
  const pair = (x: number[], r: number[]): Paired => ({ op: stats(x), floor: fls, ratio: stats(r) });
  return { alloc: pair(cols.a, rat.a), free: pair(cols.f, rat.f), freeSeq: pair(cols.s, rat.s) };
}

// ---- 3. random orders 0-10 under fragmentation -----------------------------------------------------

const POOL = 640;
const STREAM = 1 << 16;

class Pool {
  readonly handle = new Float64Array(POOL);
  readonly order = new Uint8Array(POOL);
  readonly victim = new Int32Array(STREAM);
  readonly newOrder = new Uint8Array(STREAM);
  pos = 0;
  failures = 0;
  ops = 0;
  constructor(
    readonly k: Kernel,
    readonly maxOrder: number,
    seed: number,
  ) {
    const r = rng(seed);
    for (let i = 0; i < STREAM; i++) {
      this.victim[i] = Math.floor(r() * POOL);
      this.newOrder[i] = Math.floor(r() * (maxOrder + 1));
    }
    for (let i = 0; i < POOL; i++) {
      const o = Math.floor(r() * (maxOrder + 1));
      this.order[i] = o;
      this.handle[i] = k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, o) ?? 0;
    }
  }
}

/** n operations, each: free a random live block, allocate a random order into its slot. */
function churnBatch(pl: Pool, n: number): number {
  const k = pl.k;
  const h = pl.handle;
  const ord = pl.order;
  let pos = pl.pos;
  let acc = 0;
  let fails = 0;
  for (let i = 0; i < n; i++) {
    const v = pl.victim[pos]!;
    const o = pl.newOrder[pos]!;
    pos = (pos + 1) & (STREAM - 1);
    const old = h[v]!;
    if (old !== 0) k.__free_pages(old, ord[v]!);
    const p = k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, o);
    if (p === null) {
      h[v] = 0;
      fails++;
    } else {
      h[v] = p;
      acc += p;
    }
    ord[v] = o;
  }
  pl.pos = pos;
  pl.failures += fails;
  pl.ops += n;
  return acc % 1e9;
}

export interface FragResult {
  op: Paired;
  failureRate: number;
  /** Live pages in the pool at the end, as a share of the zone's managed pages. */
  occupancy: number;
}

export function benchFragmented(): FragResult {
  const k = boot({ mem: "1G", cpus: 2 });
  const pl = new Pool(k, 10, 0xf4a9);
  // Churn first so the free lists reach a fragmented steady state before anything is timed.
  consume(churnBatch(pl, 200_000));
  pl.failures = 0;
  pl.ops = 0;
  const op = measurePaired((n) => churnBatch(pl, n), floor);
  let live = 0;
  for (let i = 0; i < POOL; i++) if (pl.handle[i] !== 0) live += 1 << pl.order[i]!;
  let managed = 0;
  for (const z of k.zones) if (z?.populated) managed += z.managed;
  return { op, failureRate: pl.ops ? pl.failures / pl.ops : 0, occupancy: live / managed };
}

// ---- 4. boot time and metadata bytes per page --------------------------------------------------

export interface BootResult {
  label: string;
  backing: "memory" | "none";
  /** Boots in this process after the allocator cases (code already optimised). */
  warm: Stats;
  /** The first boot of a fresh node process (what a script that boots once pays), if measured. */
  cold: Stats | null;
  pfns: number;
  /** Retained heap + arrayBuffers delta of one booted machine (after GC), and per pfn. */
  heapDelta: number;
  heapPerPfn: number;
  /** byteLength of the PageArrays typed arrays per pfn, and the engine's own figure. */
  arraysPerPfn: number;
  bytesPerPage: number;
}

/** One boot in a fresh process (bench/boot-once.ts), ms. */
function coldBoot(mem: string, backing: "memory" | "none"): number {
  const script = fileURLToPath(new URL("./boot-once.ts", import.meta.url));
  const out = execFileSync(process.execPath, [...process.execArgv, script, mem, backing], {
    encoding: "utf8",
  });
  const ms = Number(out.trim().split("\n").pop());
  if (!Number.isFinite(ms)) throw new Error(`boot-once: unexpected output ${out}`);
  return ms;
}

/** In-process boots, ms. Its own function so no booted machine outlives it in a stale frame slot. */
function timeBoots(mem: string, backing: "memory" | "none", reps: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    gc();
    const t0 = nowNs();
    consume(boot({ mem, backing }).layout.maxPfn);
    times.push((nowNs() - t0) / 1e6);
  }
  return times;
}

interface Retained {
  pfns: number;
  heapDelta: number;
  arrays: number;
}

/** Heap + arrayBuffers retained by one booted machine, measured around its boot. */
async function retained(mem: string, backing: "memory" | "none"): Promise<Retained> {
  const m0 = await memBytes();
  const k = boot({ mem, backing });
  const m1 = await memBytes();
  const p = k.pages;
  const arrays =
    p.next.byteLength +
    p.prev.byteLength +
    p.refcount.byteLength +
    p.state.byteLength +
    p.order.byteLength +
    p.mt.byteLength +
    p.zone.byteLength;
  return { pfns: p.nrPfns, heapDelta: m1 - m0, arrays };
}

export async function benchBoot(
  mem: string,
  backing: "memory" | "none",
  reps: number,
  coldReps: number,
): Promise<BootResult> {
  const cold: number[] = [];
  for (let i = 0; i < coldReps; i++) cold.push(coldBoot(mem, backing));
  const warm = timeBoots(mem, backing, reps);
  const r = await retained(mem, backing);
  return {
    label: mem,
    backing,
    warm: stats(warm),
    cold: cold.length ? stats(cold) : null,
    pfns: r.pfns,
    heapDelta: r.heapDelta,
    heapPerPfn: r.heapDelta / r.pfns,
    arraysPerPfn: r.arrays / r.pfns,
    bytesPerPage: PageArrays.BYTES_PER_PAGE,
  };
}
