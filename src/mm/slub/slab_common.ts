// mm/slab_common.c and the API half of mm/slub.c: kmem_cache_create() with its checks and cache merging,
// the kmalloc size classes created at boot, kmalloc/kfree/ksize/krealloc, kmalloc_large, and the
// validation every entry point does before it touches the allocator (misuse is reported and refused).
import {
  hex16,
  PAGE_OFFSET,
  PAGE_SHIFT,
  PAGE_SIZE,
  VMEMMAP_START,
  ZERO_SIZE_PTR,
} from "../../arch/x86/layout.ts";
import type { Cmdline } from "../../kernel/cmdline.ts";
import type { Core } from "../../kernel/core.ts";
import { EEXIST, EINVAL, ENOMEM } from "../../kernel/errors.ts";
import { KERN_ERR, KERN_INFO, KERN_WARNING } from "../../kernel/printk.ts";
import { __GFP_COMP, __GFP_DMA, __GFP_RECLAIMABLE, __GFP_ZERO } from "../gfp.ts";
import { CHUNK_BYTES, INV_CHUNK } from "../memory.ts";

import { KMALLOC_LARGE, NIL, S_ALLOC, S_HEAD, S_TAIL } from "../page.ts";
import { PageApi } from "../page_api.ts";
import { type Ctor, KmemCache } from "./cache.ts";
import { SlubDebug } from "./debug.ts";
import {
  CACHE_CREATE_MASK,
  SLAB_CACHE_DMA,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_DEBUG_FLAGS,
  SLAB_FAILSLAB,
  SLAB_FLAGS_PERMITTED,
  SLAB_HWCACHE_ALIGN,
  SLAB_MERGE_SAME,
  SLAB_NEVER_MERGE,
  SLAB_PANIC,
  SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TRACE,
} from "./flags.ts";
import {
  calculateAlignment,
  calculateGeometry,
  getOrder,
  type SlubBootParams,
  type SlubParams,
} from "./geometry.ts";
import { Slub } from "./slub.ts";

export const KMALLOC_SHIFT_LOW = 3;
export const KMALLOC_SHIFT_HIGH = 13;
export const KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH;
/** KMALLOC_MAX_SIZE: 2^(MAX_ORDER-1) pages. */
export const KMALLOC_MAX_SIZE = 1 << 22;
const KMALLOC_NORMAL = 0;
const KMALLOC_RECLAIM = 1;
const KMALLOC_DMA = 2;
const NUMA_NO_NODE = -1;

/** A pointer argument must be a 48-bit address number (JavaScript type errors are TypeErrors). */
export function kernelAddress(x: unknown, fn: string): void {
  if (!Number.isSafeInteger(x) || (x as number) < 0 || (x as number) >= 2 ** 48)
    throw new TypeError(`${fn}: not a kernel address: ${String(x)}`);
}

/** slub_debug=… letters (setup_slub_debug). */
const DEBUG_LETTERS: Readonly<Record<string, number>> = {
  f: SLAB_CONSISTENCY_CHECKS,
  z: SLAB_RED_ZONE,
  p: SLAB_POISON,
  u: SLAB_STORE_USER,
  t: SLAB_TRACE,
  a: SLAB_FAILSLAB,
};
const DEBUG_DEFAULT_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;
/** DEBUG_METADATA_FLAGS: what slub_debug=O drops from caches whose order debugging would raise. */
const DEBUG_METADATA_FLAGS = SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;

/** Size of a kmalloc cache by index (kmalloc_info[]): 1 = 96, 2 = 192, else 2^index. */
export function kmallocIndexSize(i: number): number {
  return i === 1 ? 96 : i === 2 ? 192 : 1 << i;
}

/** kmalloc_info[].name: sizes divisible by 1024 get a "k" suffix. */
function sizeName(size: number): string {
  return size % 1024 === 0 ? `${size / 1024}k` : `${size}`;
}

/** size_index[] (sizes 1..192 in 8-byte steps) and fls(size-1) above: the kmalloc cache index of a size. */
export function kmallocIndex(size: number): number {
  if (size <= 192) {
    if (size <= 8) return 3;
    if (size <= 16) return 4;
    if (size <= 32) return 5;
    if (size <= 64) return 6;
    if (size <= 96) return 1;
    if (size <= 128) return 7;
    return 2;
  }
  return 32 - Math.clz32(size - 1);
}

export interface SlabProfile extends SlubParams {
  /** CONFIG_SLAB_FREELIST_HARDENED: free pointers are stored obfuscated (5.4.0: ptr ^ random ^ &ptr). */
  readonly freelistHardened: boolean;
  /** CONFIG_SLAB_FREELIST_RANDOM: new slabs chain their objects in a random order. */
  readonly freelistRandom: boolean;
  /** sizeof(struct kmem_cache) on a 1-node machine; each node adds a pointer. */
  readonly kmemCacheSize: number;
  readonly kmemCacheNodeSize: number;
  /** mm/slub.c lines of the BUG sites we reproduce. */
  readonly lines: {
    readonly setFreepointer: number;
    readonly kfreeNotCompound: number;
    readonly ksizeNotCompound: number;
    readonly ksizeNull: number;
    readonly cacheFromObj: number;
    readonly virtToCache: number;
    readonly sanityCheckSpace: number;
  };
}

export class SlabCommon {
  readonly slub: Slub;
  readonly debug: SlubDebug;
  readonly boot: SlubBootParams;
  /** kmalloc_caches[type][index]. */
  readonly kmallocCaches: (KmemCache | null)[][] = [[], [], []];
  /** The size class index of sizes 0..192 (size_index[] flattened): lookup without branches. */
  private readonly smallIndex = new Uint8Array(193);
  private readonly normal: KmemCache[] = [];
  private slubDebug = 0;
  private slubDebugSlabs: string | null = null;
  private disableHigherOrderDebug = false;
  private readonly noMerge: boolean;

  constructor(
    readonly core: Core,
    readonly pageApi: PageApi,
    readonly params: SlabProfile,
    cmdline: Cmdline,
    slub: Slub,
    maxOrder: number,
  ) {
    this.slub = slub;
    this.debug = new SlubDebug(slub, params.trackSize);
    slub.debug = this.debug;
    const num = (k: string, d: number) => {
      const v = cmdline.get(k);
      const n = v === undefined ? Number.NaN : Number.parseInt(v, 10);
      return Number.isFinite(n) && n >= 0 ? n : d;
    };
    const maxSlabOrder = Math.min(num("slub_max_order", 3), maxOrder - 1);
    this.boot = {
      nrCpuIds: slub.cpus,
      minOrder: Math.min(num("slub_min_order", 0), maxSlabOrder),
      maxOrder: Math.max(maxSlabOrder, Math.min(num("slub_min_order", 0), maxOrder - 1)),
      minObjects: num("slub_min_objects", 0),
      pageMaxOrder: maxOrder,
    };
    this.noMerge = cmdline.has("slab_nomerge") || cmdline.has("slub_nomerge");
    if (cmdline.has("slub_debug")) this.parseSlubDebug(cmdline.get("slub_debug")!);
    for (let i = 0; i <= 192; i++) this.smallIndex[i] = i === 0 ? 0 : kmallocIndex(i);
  }

  /** setup_slub_debug(): "slub_debug" alone = FZPU for all; "=<letters>[,<cache name prefix>]". */
  private parseSlubDebug(v: string): void {
    this.slubDebug = DEBUG_DEFAULT_FLAGS;
    if (v === "") return;
    let i = 0;
    if (v[0] !== ",") {
      this.slubDebug = 0;
      if (v[0] === "-") i = 1;
      else
        for (; i < v.length && v[i] !== ","; i++) {
          const c = v[i]!.toLowerCase();
          if (c === "o") this.disableHigherOrderDebug = true;
          else if (DEBUG_LETTERS[c] !== undefined) this.slubDebug |= DEBUG_LETTERS[c];
          else this.core.lines(KERN_ERR, `slub_debug option '${v[i]}' unknown. skipped`);
        }
    }
    if (v[i] === ",") this.slubDebugSlabs = v.slice(i + 1);
  }

  /**
   * kmem_cache_flags(): the slub_debug flags a cache of this name gets. The names after the comma are a
   * comma-separated list; each matches exactly, or as a prefix when it ends in '*'.
   */
  private cacheFlags(flags: number, name: string): number {
    if (this.slub.phys.backing === "none") return this.noBytes(flags);
    if (!this.slubDebug) return flags;
    if (this.slubDebugSlabs === null) return flags | this.slubDebug;
    for (const item of this.slubDebugSlabs.split(",")) {
      const glob = item.indexOf("*");
      if (glob >= 0 ? name.startsWith(item.slice(0, glob)) : name === item) return flags | this.slubDebug;
    }
    return flags;
  }

  /**
   * A metadata-only machine has no bytes for red zones, poison or tracks to live in: its caches drop the
   * debug flags (said once in the log) and run as plain SLUB.
   */
  private noBytes(flags: number): number {
    if ((this.slubDebug || flags & SLAB_DEBUG_FLAGS) && !this.warnedNoBytes) {
      this.warnedNoBytes = true;
      this.core.lines(KERN_WARNING, "kmem: slub_debug needs memory backing; debugging off (backing: none)");
    }
    return flags & ~SLAB_DEBUG_FLAGS;
  }

  private warnedNoBytes = false;

  // ---- boot ------------------------------------------------------------------------------------

  /** kmem_cache_init(): the two bootstrap caches, then create_kmalloc_caches(), then the SLUB line. */
  init(nodes: number): void {
    const kcs = this.params.kmemCacheSize + 8 * (nodes - 1);
    const kmemCacheNode = this.createCache(
      "kmem_cache_node",
      this.params.kmemCacheNodeSize,
      0,
      SLAB_HWCACHE_ALIGN,
      null,
      0,
      0,
      false,
    );
    const kmemCache = this.createCache("kmem_cache", kcs, 0, SLAB_HWCACHE_ALIGN, null, 0, 0, false);
    if (!kmemCache || !kmemCacheNode) throw new Error("kmem_cache_init: bootstrap caches failed");
    this.slub.kmemCacheNode = kmemCacheNode;
    this.slub.kmemCache = kmemCache;
    // create_boot_cache(): refcount -1, never a merge target; bootstrap() lists kmem_cache first.
    kmemCache.refcount = kmemCacheNode.refcount = -1;
    this.slub.list.splice(0, 2, kmemCache, kmemCacheNode);
    // bootstrap(): the static boot caches move into objects of kmem_cache itself.
    this.attach(kmemCache);
    this.attach(kmemCacheNode);
    for (let type = KMALLOC_NORMAL; type <= KMALLOC_RECLAIM; type++) {
      for (let i = KMALLOC_SHIFT_LOW; i <= KMALLOC_SHIFT_HIGH; i++) {
        this.newKmallocCache(i, type);
        if (i === 6) this.newKmallocCache(1, type);
        if (i === 7) this.newKmallocCache(2, type);
      }
    }
    for (let i = 0; i <= KMALLOC_SHIFT_HIGH; i++)
      if (this.kmallocCaches[KMALLOC_NORMAL]![i]) this.newKmallocCache(i, KMALLOC_DMA);
    for (let i = 0; i <= KMALLOC_SHIFT_HIGH; i++) this.normal[i] = this.kmallocCaches[KMALLOC_NORMAL]![i]!;
    this.core.lines(
      KERN_INFO,
      `SLUB: HWalign=64, Order=${this.boot.minOrder}-${this.boot.maxOrder}, MinObjects=${this.boot.minObjects}, CPUs=${this.slub.cpus}, Nodes=${nodes}`,
    );
  }

  private newKmallocCache(i: number, type: number): void {
    const size = kmallocIndexSize(i);
    const prefix =
      type === KMALLOC_DMA ? "dma-kmalloc-" : type === KMALLOC_RECLAIM ? "kmalloc-rcl-" : "kmalloc-";
    const flags = type === KMALLOC_DMA ? SLAB_CACHE_DMA : type === KMALLOC_RECLAIM ? SLAB_RECLAIM_ACCOUNT : 0;
    // create_kmalloc_cache(): ARCH_KMALLOC_MINALIGN, raised to the size for powers of two.
    const align = (size & (size - 1)) === 0 ? size : 8;
    // Only the normal and reclaimable kmalloc caches whitelist their whole size for usercopy (so only
    // dma-kmalloc caches can be merge targets).
    const usersize = type === KMALLOC_DMA ? 0 : size;
    const s = this.createCache(`${prefix}${sizeName(size)}`, size, align, flags, null, 0, usersize, true);
    if (!s || !this.attach(s)) throw new Error(`kmalloc cache ${size} failed`);
    this.kmallocCaches[type]![i] = s;
  }

  /** Give a new cache its struct kmem_cache (the handle) and its kmem_cache_node objects. */
  private attach(s: KmemCache): boolean {
    const kc = this.slub.kmemCache;
    const kn = this.slub.kmemCacheNode;
    if (!kc || !kn) return true;
    const addr = this.slub.alloc(kc, __GFP_ZERO, NUMA_NO_NODE);
    if (!addr) return false;
    for (let n = 0; n < this.slub.nodes; n++) {
      const a = this.slub.alloc(kn, __GFP_ZERO, n);
      if (!a) {
        for (const b of s.nodeAddrs) this.freeObject(kn, b, "kmem_cache_create");
        this.freeObject(kc, addr, "kmem_cache_create");
        return false;
      }
      s.nodeAddrs.push(a);
    }
    s.addr = addr;
    this.slub.phys.write32(addr - PAGE_OFFSET, s.id + 1);
    this.slub.byAddr.set(addr, s);
    return true;
  }

  /** create_cache()/kmem_cache_open(): geometry, per-CPU and per-node state; null when no order fits. */
  private createCache(
    name: string,
    size: number,
    align: number,
    flags: number,
    ctor: Ctor | null,
    useroffset: number,
    usersize: number,
    isKmalloc: boolean,
  ): KmemCache | null {
    flags = this.cacheFlags(flags, name);
    align = calculateAlignment(flags, align, size);
    let g = calculateGeometry(size, align, flags, ctor !== null, isKmalloc, this.params, this.boot);
    if (g && this.disableHigherOrderDebug && getOrder(g.size) > getOrder(size)) {
      g = calculateGeometry(
        size,
        align,
        flags & ~DEBUG_METADATA_FLAGS,
        ctor !== null,
        isKmalloc,
        this.params,
        this.boot,
      );
    }
    if (!g) return null;
    const s = new KmemCache(
      this.slub.caches.length,
      name,
      g,
      ctor,
      isKmalloc,
      this.slub.cpus,
      this.slub.nodes,
      this.slub.phys.backing === "memory",
    );
    s.allocflags = Slub.allocflagsOf(g.flags, g.order);
    if (this.params.freelistRandom && s.objects > 1) s.randomSeq = this.slub.randomSeq(s);
    // kmem_cache_open(): s->random = get_random_long(). Without bytes there is nothing to obfuscate.
    if (this.params.freelistHardened && this.slub.phys.backing === "memory") {
      s.hardened = true;
      s.xorMask = 0xffffffff | 0;
      s.rndLo = this.slub.random();
      s.rndHi = this.slub.random();
    }
    s.useroffset = useroffset;
    s.usersize = usersize;
    this.slub.register(s);
    return s;
  }

  // ---- kmem_cache_create / destroy ---------------------------------------------------------------

  /** kmem_cache_create_usercopy(): NULL (0) with the kernel's message on failure. */
  create(name: unknown, size: number, align: number, flags: number, ctor: Ctor | null, fn: string): number {
    if (name !== null && typeof name !== "string") throw new TypeError(`${fn}: name must be a string`);
    for (const [v, what] of [
      [size, "size"],
      [align, "align"],
      [flags, "flags"],
    ] as const)
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new TypeError(`${fn}: bad ${what} ${v}`);
    if (ctor !== null && ctor !== undefined && typeof ctor !== "function")
      throw new TypeError(`${fn}: ctor must be a function or null`);
    ctor = ctor ?? null;
    const label = name ?? "(null)";
    // kmem_cache_sanity_check() (CONFIG_DEBUG_VM).
    if (name === null || name === "" || size < 8 || size > KMALLOC_MAX_SIZE) {
      this.core.lines(KERN_ERR, `kmem_cache_create(${label}) integrity check failed`);
      return this.createFailed(label, -EINVAL, flags);
    }
    if (name.includes(" "))
      this.core.warn("mm/slab_common.c", this.params.lines.sanityCheckSpace, "kmem_cache_sanity_check", [fn]);
    if ((flags & ~SLAB_FLAGS_PERMITTED) >>> 0 !== 0) return this.createFailed(label, -EINVAL, flags);
    flags &= CACHE_CREATE_MASK;
    // ALIGN() assumes a power of two; anything else (or an alignment no slab order can honour) fails.
    if (align !== 0 && (align & (align - 1)) !== 0) return this.createFailed(label, -EINVAL, flags);
    if (align > PAGE_SIZE << (this.boot.pageMaxOrder - 1)) return this.createFailed(label, -EINVAL, flags);
    const alias = this.findMergeable(size, align, flags, name, ctor);
    if (alias) {
      alias.refcount++;
      alias.objectSize = Math.max(alias.objectSize, size);
      alias.inuse = Math.max(alias.inuse, Math.ceil(size / 8) * 8);
      alias.aliases.push(name);
      return alias.addr;
    }
    if (this.slub.list.some((c) => c.name === name)) {
      // sysfs_slab_add(): the unmergeable cache's directory already exists.
      this.core.lines(KERN_ERR, `sysfs: cannot create duplicate filename '/kernel/slab/${name}'`);
      return this.createFailed(label, -EEXIST, flags);
    }
    const s = this.createCache(name, size, align, flags, ctor, 0, 0, false);
    if (!s) return this.createFailed(label, -EINVAL, flags);
    if (!this.attach(s)) {
      // kmem_cache_zalloc(kmem_cache) failed: create_cache() returns -ENOMEM.
      s.dead = true;
      this.slub.list.splice(this.slub.list.indexOf(s), 1);
      return this.createFailed(label, -ENOMEM, flags);
    }
    return s.addr;
  }

  private createFailed(name: string, err: number, flags: number): number {
    if (flags & SLAB_PANIC)
      this.core.panic(`kmem_cache_create: Failed to create slab '${name}'. Error ${err}`);
    this.core.lines(KERN_WARNING, `kmem_cache_create(${name}) failed with error ${err}`);
    this.core.dumpStack(["kmem_cache_create_usercopy", "kmem_cache_create"]);
    return 0;
  }

  /** find_mergeable(): the oldest compatible cache, unless merging is off or the new cache is special. */
  private findMergeable(
    size: number,
    align: number,
    flags: number,
    name: string,
    ctor: Ctor | null,
  ): KmemCache | null {
    if (this.noMerge || ctor) return null;
    size = Math.ceil(size / 8) * 8;
    align = calculateAlignment(flags, align, size);
    size = Math.ceil(size / align) * align;
    flags = this.cacheFlags(flags, name);
    if (flags & SLAB_NEVER_MERGE) return null;
    for (const s of this.slub.list) {
      if (s.flags & SLAB_NEVER_MERGE || s.ctor || s.usersize || s.refcount < 0 || s.leaked) continue;
      if (size > s.size) continue;
      if ((flags & SLAB_MERGE_SAME) !== (s.flags & SLAB_MERGE_SAME)) continue;
      if ((s.size & ~(align - 1)) !== s.size) continue;
      if (s.size - size >= 8) continue;
      return s;
    }
    return null;
  }

  /**
   * The cache a handle names, or null after reporting the use of a bad or destroyed handle. The cache id
   * is kept in the first word of its struct kmem_cache, so the lookup is one memory read.
   */
  cacheOf(handle: number, fn: string): KmemCache | null {
    const phys = handle - PAGE_OFFSET;
    if (phys >= 0 && phys < this.slub.phys.endPhys) {
      const s = this.slub.caches[this.slub.phys.read32(phys) - 1];
      if (s !== undefined && s.addr === handle && !s.dead) return s;
    }
    const s = this.slub.byAddr.get(handle);
    if (s && !s.dead) return s;
    kernelAddress(handle, fn);
    // The kernel would read a freed or bogus struct kmem_cache: a page fault on its first field.
    this.core.oops(hex16(handle), false, fn, false);
    return null;
  }

  /** kmem_cache_destroy(): aliases just drop a reference; a cache with objects left stays (and leaks). */
  destroy(handle: number): void {
    if (handle === 0) return;
    const s = this.cacheOf(handle, "kmem_cache_destroy");
    if (!s) return;
    if (--s.refcount > 0) {
      s.aliases.pop();
      return;
    }
    if (!this.slub.shutdown(s)) {
      s.leaked = true;
      this.core.lines(KERN_ERR, `kmem_cache_destroy ${s.name}: Slab cache still has objects`);
      this.core.dumpStack(["kmem_cache_destroy"]);
      return;
    }
    s.dead = true;
    this.slub.list.splice(this.slub.list.indexOf(s), 1);
    this.slub.byAddr.delete(s.addr);
    const kc = this.slub.kmemCache!;
    const kn = this.slub.kmemCacheNode!;
    for (const a of s.nodeAddrs) this.freeObject(kn, a, "kmem_cache_destroy");
    this.freeObject(kc, s.addr, "kmem_cache_destroy");
  }

  // ---- object free with checks -----------------------------------------------------------------

  /** kfree(): the common case (an allocated object's start in a slab) inline, everything else checked. */
  kfree(x: number): void {
    const slub = this.slub;
    const phys = x - PAGE_OFFSET;
    if (phys >= 0 && phys < slub.phys.endPhys) {
      // Allocation bits are set only at allocated objects' starts: a set bit at an 8-byte-aligned
      // address is the whole validity check.
      const ci = (phys * INV_CHUNK) | 0;
      const off = (phys - ci * CHUNK_BYTES) | 0;
      const bits = slub.objBits[ci];
      if (bits && (off & 7) === 0 && (bits[off >>> 8]! & (1 << ((off >>> 3) & 31))) !== 0) {
        const id = slub.chunkSlabs[ci]![off >>> PAGE_SHIFT]!;
        slub.freeAt(slub.caches[slub.slabs.cache[id]!]!, id, ci, off);
        return;
      }
    }
    if (typeof x !== "number") throw new TypeError("kfree: the pointer must be a number");
    if (x >= 0 && x <= ZERO_SIZE_PTR) return; // ZERO_OR_NULL_PTR()
    this.freeObject(null, x, "kfree");
  }

  /**
   * Free `obj` of cache `s` (kmem_cache_free, or kfree's slab case) after the checks: the address must be
   * an allocated object's start in a slab of this cache.
   */
  freeObject(s: KmemCache | null, obj: number, fn: string): void {
    kernelAddress(obj, fn);
    const slub = this.slub;
    const id = slub.slabOfAddr(obj);
    if (id < 0) {
      if (s) {
        // virt_to_cache(): not a slab page; kmem_cache_free() then does nothing.
        this.core.warnOnce(
          "virt_to_cache",
          "mm/slab.h",
          this.params.lines.virtToCache,
          fn, // virt_to_cache() and cache_from_obj() are inlined into their caller
          [fn],
          "virt_to_cache: Object is not a Slab page!",
        );
        return;
      }
      this.notSlab(obj, fn);
      return;
    }
    const owner = slub.caches[slub.slabs.cache[id]!]!;
    if (s && owner !== s) {
      // cache_from_obj(): warn once, then free into the cache the object really belongs to.
      this.core.warnOnce(
        "cache_from_obj",
        "mm/slab.h",
        this.params.lines.cacheFromObj,
        fn,
        [fn],
        `cache_from_obj: Wrong slab cache. ${s.name} but object is from ${owner.name}`,
      );
    }
    if (slub.objectIndex(owner, id, obj) < 0) {
      this.debug.invalidPointer(owner, id, obj, fn);
      return;
    }
    if (!slub.isAllocated(obj)) {
      if (owner.debug) this.debug.alreadyFree(owner, id, obj);
      // set_freepointer()'s BUG_ON(object == fp) (CONFIG_SLAB_FREELIST_HARDENED).
      else this.core.bug("mm/slub.c", this.params.lines.setFreepointer, fn, []);
      return;
    }
    slub.free(owner, id, obj);
  }

  /** kfree() of an address whose head page is not a slab. */
  private notSlab(x: number, fn: string): void {
    const phys = x - PAGE_OFFSET;
    if (!(phys >= 0 && phys < this.slub.phys.endPhys)) {
      // virt_to_head_page() of a non-direct-map address: reading the bogus struct page's compound_head
      // (vmemmap + 64 * pfn + 8, in 64-bit wrap-around arithmetic) faults.
      const pfn = (BigInt(x) - BigInt(PAGE_OFFSET)) >> BigInt(PAGE_SHIFT);
      const page = BigInt.asUintN(64, (BigInt(VMEMMAP_START) | 0xffff000000000000n) + pfn * 64n + 8n);
      this.core.oops(page.toString(16).padStart(16, "0"), false, fn, false);
      return;
    }
    const pfn = Math.floor(phys / PAGE_SIZE);
    const p = this.slub.pages;
    const head = p.state[pfn]! & S_TAIL ? p.next[pfn]! : pfn;
    if (!(p.state[head]! & S_HEAD) || !(p.state[head]! & S_ALLOC)) {
      // BUG_ON(!PageCompound(page)) in kfree().
      this.core.bug("mm/slub.c", this.params.lines.kfreeNotCompound, fn, []);
      return;
    }
    if (p.prev[head] === KMALLOC_LARGE && x !== PAGE_OFFSET + head * PAGE_SIZE) {
      // Not the start of the kmalloc_large() buffer: 6.1's free_large_kmalloc() words, refused.
      this.core.lines(KERN_WARNING, `object pointer: 0x${this.core.printfCtx.hashPointer(x)}`);
      this.core.warnOnce("kfree_large_ptr", "mm/slub.c", this.params.lines.kfreeNotCompound, fn, []);
      return;
    }
    // A compound page: kfree() hands it back to the page allocator whole.
    const order = p.order[head]!;
    if (p.prev[head] === KMALLOC_LARGE) {
      p.prev[head] = NIL;
      this.slub.nrSlabUnreclaimable[this.slub.pa.zoneOf(head).nid]! -= 1 << order;
    }
    this.pageApi.freePages(head, order, fn);
  }

  // ---- kmalloc family --------------------------------------------------------------------------

  /** kmalloc_slab(): the cache for a size and GFP (kmalloc_type: DMA beats reclaimable). */
  kmallocSlab(size: number, gfp: number): KmemCache {
    const idx = size <= 192 ? this.smallIndex[size]! : 32 - Math.clz32(size - 1);
    if ((gfp & (__GFP_DMA | __GFP_RECLAIMABLE)) === 0) return this.normal[idx]!;
    return this.kmallocCaches[gfp & __GFP_DMA ? KMALLOC_DMA : KMALLOC_RECLAIM]![idx]!;
  }

  /** kmalloc_large()/kmalloc_order(): a compound block straight from the page allocator. */
  kmallocLarge(size: number, gfp: number, node: number, fn: string): number {
    const order = getOrder(size);
    const g = PageApi.gfp(gfp, fn) | __GFP_COMP;
    const nid = node < 0 ? this.pageApi.localNode() : node;
    const pfn =
      order >= this.boot.pageMaxOrder
        ? this.pageApi.allocPfn(
            g,
            order,
            nid,
            fn,
            // __kmalloc_node() goes through kmalloc_large_node(); __kmalloc() through kmalloc_order().
            fn === "__kmalloc_node"
              ? ["kmalloc_large_node", fn]
              : ["alloc_pages_current", "kmalloc_order", "kmalloc_order_trace", fn],
          )
        : this.pageApi.allocPfn(g, order, nid, fn);
    if (pfn === NIL) return 0;
    this.slub.pages.prev[pfn] = KMALLOC_LARGE;
    this.slub.nrSlabUnreclaimable[this.slub.pa.zoneOf(pfn).nid]! += 1 << order;
    return PAGE_OFFSET + pfn * PAGE_SIZE;
  }

  /** __ksize(): the usable size behind an object (its slot, or the object size with debugging). */
  ksize(x: number): number {
    kernelAddress(x, "ksize");
    if (x === ZERO_SIZE_PTR) return 0;
    if (x === 0) {
      this.core.warnOnce("ksize_null", "mm/slab_common.c", this.params.lines.ksizeNull, "ksize", []);
      return 0;
    }
    const id = this.slub.slabOfAddr(x);
    if (id >= 0) {
      const s = this.slub.caches[this.slub.slabs.cache[id]!]!;
      if (s.flags & (SLAB_RED_ZONE | SLAB_POISON)) return s.objectSize;
      if (s.flags & (0x80000 | SLAB_STORE_USER)) return s.inuse;
      return s.size;
    }
    const phys = x - PAGE_OFFSET;
    if (!(phys >= 0 && phys < this.slub.phys.endPhys)) return 0;
    const p = this.slub.pages;
    const pfn = Math.floor(phys / PAGE_SIZE);
    const head = p.state[pfn]! & S_TAIL ? p.next[pfn]! : pfn;
    if (!(p.state[head]! & S_HEAD))
      this.core.warnOnce("ksize_not_compound", "mm/slub.c", this.params.lines.ksizeNotCompound, "__ksize", [
        "ksize",
      ]);
    return PAGE_SIZE << (p.state[head]! & S_HEAD ? p.order[head]! : 0);
  }
}
