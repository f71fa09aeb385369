// struct kmem_cache (include/linux/slub_def.h) with its per-CPU kmem_cache_cpu and per-node
// kmem_cache_node parts as typed arrays: one JS object per cache, never per slab or per object.
import {
  __OBJECT_POISON,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TRACE,
} from "./flags.ts";
import { DEBUG_LAYOUT_FLAGS, type Geometry } from "./geometry.ts";

export type Ctor = (obj: number) => void;

export class KmemCache {
  name: string;
  /** Address of this cache's struct kmem_cache (an object of the kmem_cache cache): the handle users hold. */
  addr = 0;
  objectSize: number;
  size: number;
  /** Free pointer offset from the object start. */
  offset: number;
  inuse: number;
  align: number;
  redLeftPad: number;
  flags: number;
  order: number;
  objects: number;
  minOrder: number;
  minObjects: number;
  minPartial: number;
  cpuPartialObjects: number;
  /** GFP bits every slab page of this cache is allocated with (__GFP_COMP, GFP_DMA, __GFP_RECLAIMABLE). */
  allocflags = 0;
  refcount = 1;
  useroffset = 0;
  usersize = 0;
  /** Names merged into this cache (kmem_cache_create calls that returned it). */
  readonly aliases: string[] = [];
  /** Any SLAB_DEBUG_FLAGS: every allocation and free takes the checked slow path. */
  debug: boolean;
  /**
   * No fast paths: a debug cache, or a machine without bytes (the fast paths read and write free
   * pointers straight in the backing memory's words).
   */
  slowOnly: boolean;
  checks: boolean;
  redZone: boolean;
  poison: boolean;
  storeUser: boolean;
  trace: boolean;
  /** CONFIG_SLAB_FREELIST_HARDENED: free pointers are stored XORed with s->random and their own address. */
  hardened = false;
  rndLo = 0;
  rndHi = 0;
  /** All ones when hardened, 0 otherwise: the slot-address part of the XOR. */
  xorMask = 0;
  /** CONFIG_SLAB_FREELIST_RANDOM's per-cache permutation of object offsets (null: address order). */
  randomSeq: Int32Array | null = null;
  /** Shut down: the handle no longer names a cache. */
  dead = false;
  /** Shut down refused because objects remain: the cache is leaked, as 5.4 leaves it. */
  leaked = false;

  // kmem_cache_cpu, by CPU.
  readonly cpuFreelist: Float64Array;
  readonly cpuSlab: Int32Array;
  readonly cpuPartial: Int32Array;
  readonly cpuPartialPobjects: Int32Array;
  readonly cpuPartialPages: Int32Array;
  /** First object and objects * size of each CPU's slab: the fast path's check of a free pointer. */
  readonly cpuBase: Float64Array;
  readonly cpuSpan: Int32Array;
  /** 1/size, nudged up so that (rel * invSize) | 0 is exactly rel / size for any offset in a slab. */
  readonly invSize: number;

  // kmem_cache_node, by node.
  readonly partialHead: Int32Array;
  readonly partialTail: Int32Array;
  readonly nrPartial: Int32Array;
  readonly fullHead: Int32Array;
  readonly fullTail: Int32Array;
  readonly nrSlabs: Int32Array;
  readonly totalObjects: Int32Array;
  /** Addresses of the kmem_cache_node objects. */
  readonly nodeAddrs: number[] = [];

  constructor(
    readonly id: number,
    name: string,
    g: Geometry,
    readonly ctor: Ctor | null,
    readonly isKmalloc: boolean,
    cpus: number,
    nodes: number,
    hasBytes: boolean,
  ) {
    this.name = name;
    this.objectSize = g.objectSize;
    this.size = g.size;
    this.offset = g.offset;
    this.inuse = g.inuse;
    this.align = g.align;
    this.redLeftPad = g.redLeftPad;
    this.flags = g.flags;
    this.order = g.order;
    this.objects = g.objects;
    this.minOrder = g.minOrder;
    this.minObjects = g.minObjects;
    this.minPartial = g.minPartial;
    this.cpuPartialObjects = g.cpuPartial;
    this.debug = (g.flags & DEBUG_LAYOUT_FLAGS) !== 0;
    this.slowOnly = this.debug || !hasBytes;
    this.checks = (g.flags & SLAB_CONSISTENCY_CHECKS) !== 0;
    this.redZone = (g.flags & SLAB_RED_ZONE) !== 0;
    this.poison = (g.flags & __OBJECT_POISON) !== 0;
    this.storeUser = (g.flags & SLAB_STORE_USER) !== 0;
    this.trace = (g.flags & SLAB_TRACE) !== 0;
    this.cpuFreelist = new Float64Array(cpus);
    this.cpuSlab = new Int32Array(cpus).fill(-1);
    this.cpuPartial = new Int32Array(cpus).fill(-1);
    this.cpuPartialPobjects = new Int32Array(cpus);
    this.cpuPartialPages = new Int32Array(cpus);
    this.cpuBase = new Float64Array(cpus);
    this.cpuSpan = new Int32Array(cpus);
    this.invSize = (1 / g.size) * (1 + 2 ** -40);
    this.partialHead = new Int32Array(nodes).fill(-1);
    this.partialTail = new Int32Array(nodes).fill(-1);
    this.nrPartial = new Int32Array(nodes);
    this.fullHead = new Int32Array(nodes).fill(-1);
    this.fullTail = new Int32Array(nodes).fill(-1);
    this.nrSlabs = new Int32Array(nodes);
    this.totalObjects = new Int32Array(nodes);
  }

  /** kmem_cache_has_cpu_partial(): debug caches keep no per-CPU partial slabs. */
  get hasCpuPartial(): boolean {
    return !this.debug;
  }

  /** Offset of the first track (get_info_end() in later kernels). */
  get trackOffset(): number {
    return this.offset >= this.inuse ? this.offset + 8 : this.inuse;
  }

  /** size_from_object(): the slot as seen from the object pointer. */
  get sizeFromObject(): number {
    return this.redZone ? this.size - this.redLeftPad : this.size;
  }
}
