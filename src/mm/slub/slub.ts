// mm/slub.c: the SLUB allocator's engine. Objects are carved from slabs (blocks from the page allocator);
// a free object holds the address of the next free object inside its own bytes, at s->offset, in real
// memory. Each CPU allocates from its current slab through a private freelist (the lockless fast path);
// partially used slabs wait on per-CPU and per-node partial lists; a slab that empties goes back to the
// page allocator once its node already keeps min_partial partial slabs. Debug caches take the checked
// slow path for every operation (see debug.ts).
//
// One deliberate addition to the kernel: a bit per 8 bytes of slab memory records which objects are
// allocated, so a double free or a foreign pointer is refused before it can corrupt a freelist (the
// kernel without slub_debug only catches freeing the current freelist head twice).
import { PAGE_OFFSET, PAGE_SIZE } from "../../arch/x86/layout.ts";
import type { Core } from "../../kernel/core.ts";
import { KERN } from "../../kernel/printk.ts";
import {
  __GFP_BITS_MASK,
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_DMA32,
  __GFP_FS,
  __GFP_HARDWALL,
  __GFP_HIGH,
  __GFP_HIGHMEM,
  __GFP_IO,
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIM,
  __GFP_RECLAIMABLE,
  __GFP_RETRY_MAYFAIL,
  __GFP_THISNODE,
  __GFP_ZERO,
  GFP_DMA,
} from "../gfp.ts";
import { CHUNK_BYTES, INV_CHUNK, type PhysMem } from "../memory.ts";
import { NIL, type PageArrays, S_SLAB } from "../page.ts";
import type { PageAllocator } from "../page_alloc.ts";
import type { PageApi } from "../page_api.ts";
import type { KmemCache } from "./cache.ts";
import type { SlubDebug } from "./debug.ts";
import { POISON_INUSE, SLAB_CACHE_DMA, SLAB_POISON, SLAB_RECLAIM_ACCOUNT } from "./flags.ts";
import { ON_CPU, ON_CPU_PARTIAL, ON_FULL, ON_NONE, ON_PARTIAL, SlabTable } from "./slab.ts";

const CHUNK_MASK = CHUNK_BYTES - 1;

/** GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK: what new_slab() passes on to the page allocator. */
const SLAB_GFP_KEEP =
  __GFP_RECLAIM |
  __GFP_HIGH |
  __GFP_IO |
  __GFP_FS |
  __GFP_NOWARN |
  __GFP_RETRY_MAYFAIL |
  __GFP_NOFAIL |
  __GFP_NORETRY |
  __GFP_MEMALLOC |
  __GFP_NOMEMALLOC |
  __GFP_HARDWALL |
  __GFP_THISNODE;
/** GFP_SLAB_BUG_MASK: zone modifiers a slab can never honour, and bits beyond __GFP_BITS_MASK. */
const GFP_SLAB_BUG_MASK = __GFP_DMA32 | __GFP_HIGHMEM | ~__GFP_BITS_MASK;
/** SHRINK_PROMOTE_MAX: kmem_cache_shrink() sorts partial slabs with up to this many free objects. */
const SHRINK_PROMOTE_MAX = 32;

export class Slub {
  readonly slabs = new SlabTable();
  /** Caches by id; a destroyed cache's slot stays (ids are never reused). */
  readonly caches: KmemCache[] = [];
  /** slab_caches: live caches, oldest first (/proc/slabinfo prints them newest first). */
  readonly list: KmemCache[] = [];
  /** struct kmem_cache address -> cache (what a handle names). */
  readonly byAddr = new Map<number, KmemCache>();
  /** One bit per 8 bytes of slab memory: the allocated objects' start addresses, per 4 MiB chunk. */
  readonly objBits: (Uint32Array | null)[];
  /**
   * The slab id of every page of a chunk that holds slabs (-1 elsewhere): kfree() finds an object's slab
   * here, next to the allocation bits, without touching struct page.
   */
  readonly chunkSlabs: (Int32Array | null)[];
  /** NR_SLAB_RECLAIMABLE / NR_SLAB_UNRECLAIMABLE, in pages, by node. */
  readonly nrSlabReclaimable: Int32Array;
  readonly nrSlabUnreclaimable: Int32Array;
  debug!: SlubDebug;
  /** kmem_cache: the cache of struct kmem_cache objects (cache handles), and kmem_cache_node. */
  kmemCache: KmemCache | null = null;
  kmemCacheNode: KmemCache | null = null;

  constructor(
    readonly core: Core,
    readonly pages: PageArrays,
    readonly phys: PhysMem,
    readonly pa: PageAllocator,
    readonly api: PageApi,
    readonly cpus: number,
    readonly nodes: number,
  ) {
    this.objBits = new Array(Math.ceil(phys.endPhys / CHUNK_BYTES)).fill(null);
    this.chunkSlabs = new Array(this.objBits.length).fill(null);
    this.nrSlabReclaimable = new Int32Array(nodes);
    this.nrSlabUnreclaimable = new Int32Array(nodes);
    this.rng = (core.seed ^ 0x2545f491) >>> 0 || 1;
  }

  private rng: number;

  /** get_random_int() (xorshift32 from the boot seed: runs are reproducible). */
  random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return x >>> 0;
  }

  /**
   * init_cache_random_seq(): a Fisher-Yates permutation of the preferred slab's object indices, kept
   * as byte offsets (cache_random_seq_create + the "*= s->size" transform).
   */
  randomSeq(s: KmemCache): Int32Array {
    const n = s.objects;
    const seq = new Int32Array(n);
    for (let i = 0; i < n; i++) seq[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.random() % (i + 1);
      const t = seq[i]!;
      seq[i] = seq[j]!;
      seq[j] = t;
    }
    for (let i = 0; i < n; i++) seq[i]! *= s.size;
    return seq;
  }

  // ---- object addresses and allocation bits ----------------------------------------------------

  /** Address of the slab's first byte (page_address of its head page). */
  slabBase(id: number): number {
    return PAGE_OFFSET + this.slabs.pfn[id]! * PAGE_SIZE;
  }

  /** The next free object after `obj` (get_freepointer). */
  getFreePointer(s: KmemCache, obj: number): number {
    const a = obj - PAGE_OFFSET + s.offset;
    if (!s.hardened) return this.phys.readPtr(a);
    const ci = (a * INV_CHUNK) | 0;
    const w = this.phys.words[ci];
    let lo = 0;
    let hi = 0;
    if (w) {
      const i = (a - ci * CHUNK_BYTES) >>> 2;
      lo = w[i]!;
      hi = w[i + 1]!;
    }
    const addr = obj + s.offset;
    lo = (lo ^ s.rndLo ^ (addr >>> 0)) >>> 0;
    hi = (hi ^ s.rndHi ^ (((addr / 4294967296) | 0xffff0000) >>> 0)) >>> 0;
    return (hi & 0xffff) * 4294967296 + lo;
  }

  /** set_freepointer(): the next free object's address, obfuscated with CONFIG_SLAB_FREELIST_HARDENED. */
  setFreePointer(s: KmemCache, obj: number, next: number): void {
    const a = obj - PAGE_OFFSET + s.offset;
    if (!s.hardened) {
      this.phys.writePtr(a, next);
      return;
    }
    const addr = obj + s.offset;
    const lo = ((next >>> 0) ^ s.rndLo ^ (addr >>> 0)) >>> 0;
    const hi =
      ((next === 0 ? 0 : (next / 4294967296) | 0xffff0000) ^ s.rndHi ^ ((addr / 4294967296) | 0xffff0000)) >>>
      0;
    const ci = (a * INV_CHUNK) | 0;
    const w = this.phys.words[ci];
    if (w) {
      const i = (a - ci * CHUNK_BYTES) >>> 2;
      w[i] = lo;
      w[i + 1] = hi;
    } else {
      this.phys.write32(a, lo);
      this.phys.write32(a + 4, hi);
    }
  }

  private bitsFor(phys: number): Uint32Array {
    const i = Math.floor(phys / CHUNK_BYTES);
    let b = this.objBits[i];
    if (!b) {
      b = new Uint32Array(CHUNK_BYTES / 8 / 32);
      this.objBits[i] = b;
      this.chunkSlabs[i] = new Int32Array(CHUNK_BYTES / PAGE_SIZE).fill(-1);
    }
    return b;
  }

  /** Mark the pages of slab `id` (pfn, order) as belonging to it, or to nothing (-1), in the chunk map. */
  private mapSlab(pfn: number, order: number, id: number): void {
    const phys = pfn * PAGE_SIZE;
    this.bitsFor(phys);
    const m = this.chunkSlabs[Math.floor(phys / CHUNK_BYTES)]!;
    const first = pfn % (CHUNK_BYTES / PAGE_SIZE);
    m.fill(id, first, first + (1 << order));
  }

  /** Is the object at `obj` allocated? */
  isAllocated(obj: number): boolean {
    const phys = obj - PAGE_OFFSET;
    const b = this.objBits[Math.floor(phys / CHUNK_BYTES)];
    if (!b) return false;
    const off = phys & CHUNK_MASK;
    return (b[off >>> 8]! & (1 << ((off >>> 3) & 31))) !== 0;
  }

  private markAllocated(obj: number): void {
    const phys = obj - PAGE_OFFSET;
    const off = phys & CHUNK_MASK;
    this.bitsFor(phys)[off >>> 8]! |= 1 << ((off >>> 3) & 31);
  }

  private markFree(obj: number): void {
    const phys = obj - PAGE_OFFSET;
    const off = phys & CHUNK_MASK;
    this.bitsFor(phys)[off >>> 8]! &= ~(1 << ((off >>> 3) & 31));
  }

  /** Index of the object at `obj` in slab `id`, or -1 when `obj` is not an object's start (check_valid_pointer). */
  objectIndex(s: KmemCache, id: number, obj: number): number {
    const rel = obj - this.slabBase(id) - s.redLeftPad;
    if (rel < 0 || rel % s.size !== 0) return -1;
    const i = rel / s.size;
    return i < this.slabs.objects[id]! ? i : -1;
  }

  /** The slab id that holds address `addr`, or -1 if its head page is not a slab. */
  slabOfAddr(addr: number): number {
    const phys = addr - PAGE_OFFSET;
    if (!(phys >= 0 && phys < this.phys.endPhys)) return -1;
    const pfn = Math.floor(phys / PAGE_SIZE);
    const head = this.pa.compoundHead(pfn);
    return this.pages.state[head]! & S_SLAB ? this.pages.prev[head]! : -1;
  }

  // ---- allocation ------------------------------------------------------------------------------

  /** slab_alloc_node(): the per-CPU fast path, else ___slab_alloc(). Returns an address or 0. */
  alloc(s: KmemCache, gfp: number, node: number): number {
    // Kept small so V8 inlines it into the caller (a 48-bit address returned from a call that is not
    // inlined costs a heap number). Anything unusual takes allocSlow().
    const cpu = this.pa.cpu;
    const obj = s.cpuFreelist[cpu]!;
    if (obj === 0 || node >= 0 || (gfp & __GFP_ZERO) !== 0 || s.slowOnly)
      return this.allocSlow(s, gfp, node, cpu);
    // A slab never crosses a backing chunk (blocks of order <= 10 are 4 MiB-aligned), so the free pointer
    // and the allocation bit live in the object's own chunk: plain integer offsets from here.
    const phys = obj - PAGE_OFFSET;
    const ci = (phys * INV_CHUNK) | 0;
    const off = (phys - ci * CHUNK_BYTES) | 0;
    const w = this.phys.words[ci]!;
    const i = (off + s.offset) >>> 2;
    // freelist_ptr(): a hardened cache stores ptr ^ s->random ^ (address of the word); the masks are 0
    // for a plain cache, so one branch-free expression serves both (and keeps alloc() small enough to
    // be inlined).
    const a = obj + s.offset;
    const m = s.xorMask;
    const lo = (w[i]! ^ s.rndLo ^ ((a >>> 0) & m)) >>> 0;
    const hi = (w[i + 1]! ^ s.rndHi ^ (((a / 4294967296) | 0xffff0000) & m)) >>> 0;
    const next = (hi & 0xffff) * 4294967296 + lo;
    // The next free object must be an object of this CPU's slab: a use-after-free write over a free
    // pointer is caught here instead of handing out a wild address.
    if (next !== 0) {
      const d = next - s.cpuBase[cpu]!;
      const rel = d | 0;
      if (
        hi >>> 16 !== 0xffff ||
        !(d >= 0 && d < s.cpuSpan[cpu]!) ||
        ((rel * s.invSize) | 0) * s.size !== rel
      ) {
        this.freelistCorrupt(s, cpu, hi, lo);
        return 0;
      }
    }
    s.cpuFreelist[cpu] = next;
    this.objBits[ci]![off >>> 8]! |= 1 << ((off >>> 3) & 31);
    return obj;
  }

  /** The CPU slab's first object, and the chunk-relative offset of its slot. */
  private setCpuSlab(s: KmemCache, cpu: number, id: number): void {
    s.cpuSlab[cpu] = id;
    s.cpuBase[cpu] = this.slabBase(id) + s.redLeftPad;
    s.cpuSpan[cpu] = this.slabs.objects[id]! * s.size;
  }

  /**
   * A free pointer in the CPU freelist was overwritten (a write after free). The kernel dereferences it
   * and dies (a general protection fault for a non-canonical value, a page fault otherwise); here the
   * fault is reported the same way, and the slab's free objects are found again from the allocation
   * bits, so the allocator stays sound. The allocation itself fails.
   */
  private freelistCorrupt(s: KmemCache, cpu: number, hi: number, lo: number): void {
    const id = s.cpuSlab[cpu]!;
    const sl = this.slabs;
    // Rebuild: every object not allocated goes on the slab's own freelist; the CPU keeps nothing.
    s.cpuFreelist[cpu] = 0;
    let head = 0;
    let free = 0;
    const base = this.slabBase(id) + s.redLeftPad;
    for (let i = sl.objects[id]! - 1; i >= 0; i--) {
      const o = base + i * s.size;
      if (this.isAllocated(o)) continue;
      this.setFreePointer(s, o, head);
      head = o;
      free++;
    }
    sl.freelist[id] = head;
    sl.inuse[id] = sl.objects[id]! - free;
    this.deactivateSlab(s, cpu);
    const raw = BigInt(hi) * 4294967296n + BigInt(lo);
    if (hi >>> 16 !== 0xffff && hi >>> 16 !== 0)
      this.core.gpf(s.isKmalloc ? "__kmalloc" : "kmem_cache_alloc");
    else
      this.core.oops(
        raw.toString(16).padStart(16, "0"),
        false,
        s.isKmalloc ? "__kmalloc" : "kmem_cache_alloc",
        false,
      );
  }

  /** The rest of slab_alloc_node(): node constraints, zeroing, debug caches, refills, no backing bytes. */
  private allocSlow(s: KmemCache, gfp: number, node: number, cpu: number): number {
    let obj = s.cpuFreelist[cpu]!;
    if (obj !== 0 && !s.debug && (node < 0 || this.slabs.node[s.cpuSlab[cpu]!] === node)) {
      s.cpuFreelist[cpu] = this.getFreePointer(s, obj);
    } else {
      obj = this.slowAlloc(s, gfp, node, cpu);
      if (obj === 0) return 0;
    }
    this.markAllocated(obj);
    if (gfp & __GFP_ZERO) this.phys.fill(obj - PAGE_OFFSET, 0, s.objectSize);
    return obj;
  }

  /** Take a slab's whole freelist for a CPU (get_freelist / acquire_slab in "take all" mode). */
  private takeFreelist(id: number): number {
    const sl = this.slabs;
    const fl = sl.freelist[id]!;
    sl.freelist[id] = 0;
    sl.inuse[id] = sl.objects[id]!;
    sl.frozen[id] = fl !== 0 ? 1 : 0;
    return fl;
  }

  private slowAlloc(s: KmemCache, gfp: number, node: number, cpu: number): number {
    const sl = this.slabs;
    // A fresh slab that fails the debug checks is given up (marked full); the kernel would then try the
    // next one forever if every new slab fails (a ctor overflowing its object): we stop after one.
    for (;;) {
      let id = s.cpuSlab[cpu]!;
      if (id !== -1 && node >= 0 && sl.node[id] !== node) {
        this.deactivateSlab(s, cpu);
        id = -1;
      }
      if (id !== -1) {
        // redo: the cpu freelist is empty; refill it from the cpu slab's own freelist (remote frees).
        const fl = this.takeFreelist(id);
        if (fl !== 0) {
          s.cpuFreelist[cpu] = this.getFreePointer(s, fl);
          return fl;
        }
        sl.where[id] = ON_NONE;
        s.cpuSlab[cpu] = -1;
      }
      // new_slab: the per-CPU partial list first.
      const part = s.cpuPartial[cpu]!;
      if (part !== -1) {
        // slub_set_percpu_partial(): the next slab becomes the head, and its counts are the list's.
        const head = sl.next[part]!;
        s.cpuPartial[cpu] = head;
        s.cpuPartialPobjects[cpu] = head === -1 ? 0 : sl.pobjects[head]!;
        s.cpuPartialPages[cpu] = head === -1 ? 0 : sl.ppages[head]!;
        sl.next[part] = -1;
        sl.where[part] = ON_CPU;
        this.setCpuSlab(s, cpu, part);
        continue;
      }
      let fresh = false;
      let fl = this.getPartial(s, node, cpu);
      if (fl === 0) {
        const nid = this.newSlab(s, gfp, node);
        if (nid < 0) return 0;
        if (s.cpuSlab[cpu] !== -1) this.deactivateSlab(s, cpu);
        fl = this.takeFreelist(nid);
        sl.frozen[nid] = 1;
        sl.where[nid] = ON_CPU;
        this.setCpuSlab(s, cpu, nid);
        fresh = true;
      }
      id = s.cpuSlab[cpu]!;
      if (!s.debug) {
        s.cpuFreelist[cpu] = this.getFreePointer(s, fl);
        return fl;
      }
      if (!this.debug.allocProcessing(s, id, fl)) {
        // "Marking all objects used": the slab keeps no freelist and leaves the CPU as full.
        this.deactivateSlab(s, cpu);
        if (fresh) return 0;
        continue;
      }
      // Debug caches never keep a CPU slab: the rest of the freelist goes straight back.
      s.cpuFreelist[cpu] = this.getFreePointer(s, fl);
      this.deactivateSlab(s, cpu);
      return fl;
    }
  }

  /** get_partial(): take slabs from the node's partial list (then other nodes') for this CPU. */
  private getPartial(s: KmemCache, node: number, cpu: number): number {
    const local = this.pa.cpuNode[cpu]!;
    const first = node < 0 ? local : node;
    let fl = this.getPartialNode(s, first, cpu);
    if (fl !== 0 || node >= 0) return fl;
    // get_any_partial(): the other nodes, nearest first (remote_node_defrag_ratio's default lets it try).
    for (let d = 1; d < this.nodes && fl === 0; d++)
      fl = this.getPartialNode(s, (first + d) % this.nodes, cpu);
    return fl;
  }

  private getPartialNode(s: KmemCache, n: number, cpu: number): number {
    const sl = this.slabs;
    let object = 0;
    let available = 0;
    for (let id = s.partialHead[n]!; id !== -1; ) {
      const next = sl.next[id]!;
      const free = sl.objects[id]! - sl.inuse[id]!;
      this.removePartial(s, n, id);
      available += free;
      if (object === 0) {
        object = this.takeFreelist(id);
        sl.frozen[id] = 1;
        sl.where[id] = ON_CPU;
        if (s.cpuSlab[cpu] !== -1) this.deactivateSlab(s, cpu);
        this.setCpuSlab(s, cpu, id);
      } else {
        sl.frozen[id] = 1;
        this.putCpuPartial(s, id, false, cpu);
      }
      if (!s.hasCpuPartial || available > s.cpuPartialObjects / 2) break;
      id = next;
    }
    return object;
  }

  /** new_slab()/allocate_slab(): a block from the page allocator, its objects set up and chained. */
  private newSlab(s: KmemCache, gfp: number, node: number): number {
    if (gfp & GFP_SLAB_BUG_MASK) {
      const bad = gfp & GFP_SLAB_BUG_MASK;
      gfp &= ~GFP_SLAB_BUG_MASK;
      this.core.printk(
        `${KERN.WARNING}Unexpected gfp: %#x (%pGg). Fixing up to gfp: %#x (%pGg). Fix your code!\n`,
        bad >>> 0,
        bad >>> 0,
        gfp,
        gfp,
      );
      this.core.dumpStack(["new_slab", "___slab_alloc", "__slab_alloc"]);
    }
    const flags = (gfp & SLAB_GFP_KEEP) | s.allocflags;
    const nid = node < 0 ? this.pa.cpuNode[this.pa.cpu]! : node;
    let allocGfp = (flags | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_NOFAIL;
    if (allocGfp & __GFP_DIRECT_RECLAIM && s.order > s.minOrder)
      allocGfp = (allocGfp | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
    let order = s.order;
    const callers = [
      "alloc_pages_current",
      "new_slab",
      "___slab_alloc",
      "__slab_alloc",
      s.isKmalloc ? "__kmalloc" : "kmem_cache_alloc",
    ];
    let pfn = this.pa.allocPages(allocGfp, order, nid, callers);
    if (pfn === NIL) {
      // Fall back to the smallest order that holds one object, with the caller's own flags.
      order = s.minOrder;
      pfn = this.pa.allocPages(flags, order, nid, callers);
      if (pfn === NIL) {
        this.debug.outOfMemory(s, gfp, node);
        return -1;
      }
    }
    const sl = this.slabs;
    const id = sl.alloc();
    const objects = Math.floor((PAGE_SIZE << order) / s.size);
    this.pages.state[pfn]! |= S_SLAB;
    this.pages.prev[pfn] = id;
    sl.pfn[id] = pfn;
    sl.cache[id] = s.id;
    sl.objects[id] = objects;
    sl.order[id] = order;
    sl.inuse[id] = 0;
    sl.frozen[id] = 0;
    sl.where[id] = ON_NONE;
    sl.next[id] = -1;
    sl.prev[id] = -1;
    const n = this.pa.zoneOf(pfn).nid;
    sl.node[id] = n;
    s.nrSlabs[n]!++;
    s.totalObjects[n]! += objects;
    if (s.flags & SLAB_RECLAIM_ACCOUNT) this.nrSlabReclaimable[n]! += 1 << order;
    else this.nrSlabUnreclaimable[n]! += 1 << order;
    const base = PAGE_OFFSET + pfn * PAGE_SIZE;
    this.mapSlab(pfn, order, id);
    if (s.flags & SLAB_POISON) this.phys.fill(pfn * PAGE_SIZE, POISON_INUSE, PAGE_SIZE << order);
    // Each object is set up (debug patterns, ctor) before it is chained. With CONFIG_SLAB_FREELIST_RANDOM
    // (shuffle_freelist) the chain follows the cache's random sequence from a random starting point,
    // skipping entries beyond this slab's objects; otherwise it is address order.
    const seq = s.randomSeq;
    const shuffle = seq !== null && objects >= 2;
    let pos = shuffle ? this.random() % seq.length : 0;
    const limit = objects * s.size;
    let first = 0;
    let prev = 0;
    for (let i = 0; i < objects; i++) {
      let idx = i * s.size;
      if (shuffle) {
        do {
          idx = seq[pos]!;
          if (++pos >= seq.length) pos = 0;
        } while (idx >= limit);
      }
      const obj = base + idx + s.redLeftPad;
      if (s.debug) this.debug.setupObject(s, obj);
      if (s.ctor) s.ctor(obj);
      if (prev === 0) first = obj;
      else this.setFreePointer(s, prev, obj);
      prev = obj;
    }
    this.setFreePointer(s, prev, 0);
    sl.freelist[id] = first;
    return id;
  }

  /** discard_slab(): the slab's pages go back to the page allocator. */
  private discardSlab(s: KmemCache, id: number): void {
    const sl = this.slabs;
    const pfn = sl.pfn[id]!;
    const order = sl.order[id]!;
    const n = sl.node[id]!;
    if (s.checks) this.debug.freeSlabChecks(s, id);
    if (s.storeUser) this.debug.releaseTracks(s, id);
    s.nrSlabs[n]!--;
    s.totalObjects[n]! -= sl.objects[id]!;
    if (s.flags & SLAB_RECLAIM_ACCOUNT) this.nrSlabReclaimable[n]! -= 1 << order;
    else this.nrSlabUnreclaimable[n]! -= 1 << order;
    this.pages.state[pfn]! &= ~S_SLAB;
    this.pages.prev[pfn] = NIL;
    this.mapSlab(pfn, order, -1);
    this.pages.refcount[pfn] = 0;
    sl.release(id);
    this.api.freeBlock(pfn, order);
  }

  // ---- lists -----------------------------------------------------------------------------------

  addPartial(s: KmemCache, n: number, id: number, tail: boolean): void {
    this.listAdd(s.partialHead, s.partialTail, n, id, tail);
    s.nrPartial[n]!++;
    this.slabs.where[id] = ON_PARTIAL;
  }

  removePartial(s: KmemCache, n: number, id: number): void {
    this.listDel(s.partialHead, s.partialTail, n, id);
    s.nrPartial[n]!--;
    this.slabs.where[id] = ON_NONE;
  }

  /** add_full()/remove_full(): only SLAB_STORE_USER caches keep full slabs on a list. */
  private addFull(s: KmemCache, n: number, id: number): void {
    if (!s.storeUser) return;
    this.listAdd(s.fullHead, s.fullTail, n, id, false);
    this.slabs.where[id] = ON_FULL;
  }

  private removeFull(s: KmemCache, n: number, id: number): void {
    if (this.slabs.where[id] !== ON_FULL) return;
    this.listDel(s.fullHead, s.fullTail, n, id);
    this.slabs.where[id] = ON_NONE;
  }

  private listAdd(head: Int32Array, tail: Int32Array, n: number, id: number, atTail: boolean): void {
    const sl = this.slabs;
    if (atTail) {
      const t = tail[n]!;
      sl.prev[id] = t;
      sl.next[id] = -1;
      if (t === -1) head[n] = id;
      else sl.next[t] = id;
      tail[n] = id;
    } else {
      const h = head[n]!;
      sl.next[id] = h;
      sl.prev[id] = -1;
      if (h === -1) tail[n] = id;
      else sl.prev[h] = id;
      head[n] = id;
    }
  }

  private listDel(head: Int32Array, tail: Int32Array, n: number, id: number): void {
    const sl = this.slabs;
    const p = sl.prev[id]!;
    const q = sl.next[id]!;
    if (p === -1) head[n] = q;
    else sl.next[p] = q;
    if (q === -1) tail[n] = p;
    else sl.prev[q] = p;
    sl.next[id] = -1;
    sl.prev[id] = -1;
  }

  /** put_cpu_partial(): a frozen slab joins this CPU's partial list (unfreezing the list when it is over). */
  private putCpuPartial(s: KmemCache, id: number, drain: boolean, cpu: number): void {
    const sl = this.slabs;
    let old = s.cpuPartial[cpu]!;
    let pobjects = 0;
    let pages = 0;
    if (old !== -1) {
      pobjects = s.cpuPartialPobjects[cpu]!;
      pages = s.cpuPartialPages[cpu]!;
      if (drain && pobjects > s.cpuPartialObjects) {
        this.unfreezePartials(s, cpu);
        old = -1;
        pobjects = 0;
        pages = 0;
      }
    }
    pages++;
    pobjects += sl.objects[id]! - sl.inuse[id]!;
    sl.next[id] = old;
    sl.where[id] = ON_CPU_PARTIAL;
    s.cpuPartial[cpu] = id;
    s.cpuPartialPobjects[cpu] = pobjects;
    s.cpuPartialPages[cpu] = pages;
    sl.pobjects[id] = pobjects;
    sl.ppages[id] = pages;
    if (s.cpuPartialObjects === 0) this.unfreezePartials(s, cpu);
  }

  /** unfreeze_partials(): the CPU's partial slabs go to their nodes (empty ones beyond min_partial are freed). */
  private unfreezePartials(s: KmemCache, cpu: number): void {
    const sl = this.slabs;
    let discard = -1;
    for (let id = s.cpuPartial[cpu]!; id !== -1; ) {
      const next = sl.next[id]!;
      const n = sl.node[id]!;
      sl.frozen[id] = 0;
      if (sl.inuse[id] === 0 && s.nrPartial[n]! >= s.minPartial) {
        sl.next[id] = discard;
        sl.where[id] = ON_NONE;
        discard = id;
      } else {
        this.addPartial(s, n, id, true);
      }
      id = next;
    }
    s.cpuPartial[cpu] = -1;
    s.cpuPartialPobjects[cpu] = 0;
    s.cpuPartialPages[cpu] = 0;
    while (discard !== -1) {
      const next = sl.next[discard]!;
      this.discardSlab(s, discard);
      discard = next;
    }
  }

  /**
   * deactivate_slab(): the CPU gives up its slab; its private freelist goes back onto the slab's own
   * (each object pushed in turn), then the slab is freed, parked as partial, or left full.
   */
  private deactivateSlab(s: KmemCache, cpu: number): void {
    const sl = this.slabs;
    const id = s.cpuSlab[cpu]!;
    let fl = s.cpuFreelist[cpu]!;
    s.cpuSlab[cpu] = -1;
    s.cpuFreelist[cpu] = 0;
    if (id === -1) return;
    const tail = sl.freelist[id] !== 0;
    while (fl !== 0) {
      const next = this.getFreePointer(s, fl);
      this.setFreePointer(s, fl, sl.freelist[id]!);
      sl.freelist[id] = fl;
      sl.inuse[id]!--;
      fl = next;
    }
    sl.frozen[id] = 0;
    sl.where[id] = ON_NONE;
    const n = sl.node[id]!;
    if (sl.inuse[id] === 0 && s.nrPartial[n]! >= s.minPartial) this.discardSlab(s, id);
    else if (sl.freelist[id] !== 0) this.addPartial(s, n, id, tail);
    else this.addFull(s, n, id);
  }

  /** flush_all(): every CPU's slab and partial list back to the nodes. */
  flushAll(s: KmemCache): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (s.cpuSlab[cpu] !== -1) this.deactivateSlab(s, cpu);
      this.unfreezePartials(s, cpu);
    }
  }

  // ---- free ------------------------------------------------------------------------------------

  /**
   * slab_free() of a validated object start `obj` in slab `id` of `s` (the caller checked that it is an
   * allocated object). Fast path onto the CPU freelist when the slab is this CPU's; else __slab_free().
   */
  free(s: KmemCache, id: number, obj: number): void {
    const phys = obj - PAGE_OFFSET;
    const ci = (phys * INV_CHUNK) | 0;
    this.freeAt(s, id, ci, phys - ci * CHUNK_BYTES);
  }

  /**
   * free() of the object at offset `off` of backing chunk `ci`: small integers only, so a call that V8
   * does not inline passes no heap numbers.
   */
  freeAt(s: KmemCache, id: number, ci: number, off: number): void {
    const cpu = this.pa.cpu;
    if (s.cpuSlab[cpu] !== id || s.slowOnly) {
      this.freeSlow(s, id, PAGE_OFFSET + ci * CHUNK_BYTES + off, cpu);
      return;
    }
    this.objBits[ci]![off >>> 8]! &= ~(1 << ((off >>> 3) & 31));
    const w = this.phys.words[ci]!;
    const next = s.cpuFreelist[cpu]!;
    const i = (off + s.offset) >>> 2;
    const obj = PAGE_OFFSET + ci * CHUNK_BYTES + off;
    const a = obj + s.offset;
    const m = s.xorMask;
    w[i] = ((next >>> 0) ^ s.rndLo ^ ((a >>> 0) & m)) >>> 0;
    w[i + 1] =
      ((next === 0 ? 0 : (next / 4294967296) | 0xffff0000) ^
        s.rndHi ^
        (((a / 4294967296) | 0xffff0000) & m)) >>>
      0;
    s.cpuFreelist[cpu] = obj;
  }

  private freeSlow(s: KmemCache, id: number, obj: number, cpu: number): void {
    if (s.debug && !this.debug.freeProcessing(s, id, obj)) return;
    this.markFree(obj);
    if (s.cpuSlab[cpu] === id && !s.debug) {
      this.setFreePointer(s, obj, s.cpuFreelist[cpu]!);
      s.cpuFreelist[cpu] = obj;
      return;
    }
    this.slabFree(s, id, obj, cpu);
  }

  /** __slab_free(): onto the slab's own freelist, moving the slab between lists as it fills or empties. */
  private slabFree(s: KmemCache, id: number, obj: number, cpu: number): void {
    const sl = this.slabs;
    const prior = sl.freelist[id]!;
    const wasFrozen = sl.frozen[id] === 1;
    this.setFreePointer(s, obj, prior);
    sl.freelist[id] = obj;
    const inuse = --sl.inuse[id]!;
    if (wasFrozen) return;
    if (prior === 0 && s.hasCpuPartial) {
      // A full slab got its first free object: it becomes this CPU's partial slab.
      if (sl.where[id] === ON_FULL) this.removeFull(s, sl.node[id]!, id);
      sl.frozen[id] = 1;
      this.putCpuPartial(s, id, true, cpu);
      return;
    }
    if (inuse !== 0 && prior !== 0) return;
    const n = sl.node[id]!;
    if (inuse === 0 && s.nrPartial[n]! >= s.minPartial) {
      if (prior !== 0) this.removePartial(s, n, id);
      else this.removeFull(s, n, id);
      this.discardSlab(s, id);
      return;
    }
    if (prior === 0) {
      this.removeFull(s, n, id);
      this.addPartial(s, n, id, true);
    }
  }

  /** Mark an object allocated/free without the allocator paths (for debug's "not freed" repairs). */
  setAllocated(obj: number, allocated: boolean): void {
    if (allocated) this.markAllocated(obj);
    else this.markFree(obj);
  }

  // ---- cache-wide operations -------------------------------------------------------------------

  /** __kmem_cache_shrink(): flush the CPUs, free empty slabs, sort partial lists fullest first. */
  shrink(s: KmemCache): number {
    this.flushAll(s);
    const sl = this.slabs;
    let ret = 0;
    for (let n = 0; n < this.nodes; n++) {
      const promote: number[][] = Array.from({ length: SHRINK_PROMOTE_MAX }, () => []);
      const rest: number[] = [];
      for (let id = s.partialHead[n]!; id !== -1; ) {
        const next = sl.next[id]!;
        const free = sl.objects[id]! - sl.inuse[id]!;
        this.removePartial(s, n, id);
        if (free === sl.objects[id]) this.discardSlab(s, id);
        else if (free <= SHRINK_PROMOTE_MAX) promote[free - 1]!.push(id);
        else rest.push(id);
        id = next;
      }
      for (const bucket of promote) for (const id of bucket) this.addPartial(s, n, id, true);
      for (const id of rest) this.addPartial(s, n, id, true);
      if (s.nrSlabs[n]! > 0) ret = 1;
    }
    return ret;
  }

  /** __kmem_cache_shutdown(): true when the cache is empty and can go. */
  shutdown(s: KmemCache): boolean {
    this.flushAll(s);
    const sl = this.slabs;
    let busy = false;
    for (let n = 0; n < this.nodes; n++) {
      for (let id = s.partialHead[n]!; id !== -1; ) {
        const next = sl.next[id]!;
        if (sl.inuse[id] === 0) {
          this.removePartial(s, n, id);
          this.discardSlab(s, id);
        } else {
          this.debug.listSlabObjects(s, id, `Objects remaining in ${s.name} on __kmem_cache_shutdown()`);
        }
        id = next;
      }
      if (s.nrPartial[n]! > 0 || s.nrSlabs[n]! > 0) busy = true;
    }
    return !busy;
  }

  /** Allocated objects in a slab, by the allocation bits. */
  liveObjects(s: KmemCache, id: number): number {
    let n = 0;
    const base = this.slabBase(id) + s.redLeftPad;
    for (let i = 0; i < this.slabs.objects[id]!; i++) if (this.isAllocated(base + i * s.size)) n++;
    return n;
  }

  /** The slab's objects' start addresses in order, with their allocation state. */
  forEachObject(s: KmemCache, id: number, fn: (obj: number, allocated: boolean) => void): void {
    const base = this.slabBase(id) + s.redLeftPad;
    for (let i = 0; i < this.slabs.objects[id]!; i++) {
      const obj = base + i * s.size;
      fn(obj, this.isAllocated(obj));
    }
  }

  /** Every slab id of a cache (scan of the slab table; for reports, /sys and check()). */
  slabsOf(s: KmemCache): number[] {
    const out: number[] = [];
    const sl = this.slabs;
    for (let id = 0; id < sl.highWater; id++) if (sl.cache[id] === s.id && sl.pfn[id]! >= 0) out.push(id);
    return out;
  }

  /** A new cache object registered under a fresh id (geometry already computed). */
  register(c: KmemCache): void {
    this.caches.push(c);
    this.list.push(c);
  }

  /** GFP bits of a cache's slab pages (kmem_cache_open: __GFP_COMP for order > 0, DMA, reclaimable). */
  static allocflagsOf(flags: number, order: number): number {
    let f = order > 0 ? __GFP_COMP : 0;
    if (flags & SLAB_CACHE_DMA) f |= GFP_DMA;
    if (flags & SLAB_RECLAIM_ACCOUNT) f |= __GFP_RECLAIMABLE;
    return f;
  }
}
