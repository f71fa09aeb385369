// The shape of a SLUB cache: calculate_alignment() (mm/slab_common.c), calculate_sizes(),
// calculate_order()/slab_order(), set_min_partial() and set_cpu_partial() (mm/slub.c). Pure functions of
// the request, the kernel version's parameters and the boot options, so they can be checked against a
// real kernel's numbers for any table of sizes and flags.
import { PAGE_SIZE } from "../../arch/x86/layout.ts";
import {
  __OBJECT_POISON,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_HWCACHE_ALIGN,
  SLAB_POISON,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TRACE,
  SLAB_TYPESAFE_BY_RCU,
} from "./flags.ts";

/** What differs between kernel versions in the object layout and the per-CPU partial sizing. */
export interface SlubParams {
  /** sizeof(struct track): 152 in 5.4 (16 saved stack addresses), 32 once stack depot handles replace them. */
  readonly trackSize: number;
  /** Free pointer in the middle of the object (5.7+) rather than at offset 0. */
  readonly freeptrMiddle: boolean;
  /** kmalloc caches with SLAB_STORE_USER keep the requested size (unsigned int) after the tracks (6.1). */
  readonly kmallocOrigSize: boolean;
  /** set_cpu_partial(): [minimum slot size, objects] thresholds, checked in order; the last is the default. */
  readonly cpuPartial: readonly (readonly [number, number])[];
}

export interface SlubBootParams {
  readonly nrCpuIds: number;
  readonly minOrder: number;
  readonly maxOrder: number;
  /** slub_min_objects=, 0 for the CPU-count default. */
  readonly minObjects: number;
  /** MAX_ORDER of the page allocator. */
  readonly pageMaxOrder: number;
}

export interface Geometry {
  objectSize: number;
  size: number;
  /** Free pointer offset from the object start. */
  offset: number;
  inuse: number;
  align: number;
  redLeftPad: number;
  /** Cache flags after calculate_sizes() (with __OBJECT_POISON decided). */
  flags: number;
  order: number;
  objects: number;
  minOrder: number;
  minObjects: number;
  minPartial: number;
  cpuPartial: number;
}

const CACHE_LINE = 64;
const ARCH_SLAB_MINALIGN = 8;
const PTR = 8;
/** MAX_OBJS_PER_PAGE: page->objects is 15 bits. */
export const MAX_OBJS_PER_PAGE = 32767;

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/** get_order(): smallest order whose block holds `size` bytes. */
export function getOrder(size: number): number {
  const pages = Math.ceil(size / PAGE_SIZE);
  return pages <= 1 ? 0 : Math.ceil(Math.log2(pages));
}

/** calculate_alignment(): cache-line alignment for SLAB_HWCACHE_ALIGN (halved while the object fits twice). */
export function calculateAlignment(flags: number, align: number, size: number): number {
  if (flags & SLAB_HWCACHE_ALIGN) {
    let ralign = CACHE_LINE;
    while (size <= ralign / 2) ralign /= 2;
    align = Math.max(align, ralign);
  }
  if (align < ARCH_SLAB_MINALIGN) align = ARCH_SLAB_MINALIGN;
  return alignUp(align, PTR);
}

function orderObjects(order: number, size: number): number {
  return Math.floor((PAGE_SIZE << order) / size);
}

/** slab_order(): the smallest order from which `minObjects` fit and the leftover is at most 1/fract. */
function slabOrder(
  size: number,
  minObjects: number,
  maxOrder: number,
  fract: number,
  minOrder: number,
): number {
  if (orderObjects(minOrder, size) > MAX_OBJS_PER_PAGE) return getOrder(size * MAX_OBJS_PER_PAGE) - 1;
  let order = Math.max(minOrder, getOrder(minObjects * size));
  for (; order <= maxOrder; order++) {
    const slabSize = PAGE_SIZE << order;
    if (slabSize % size <= slabSize / fract) break;
  }
  return order;
}

/** calculate_order(): the preferred slab order, or -1 when even MAX_ORDER-1 cannot hold one object. */
export function calculateOrder(size: number, b: SlubBootParams): number {
  let minObjects = b.minObjects || 4 * (fls(b.nrCpuIds) + 1);
  const maxObjects = orderObjects(b.maxOrder, size);
  minObjects = Math.min(minObjects, maxObjects);
  while (minObjects > 1) {
    for (let fraction = 16; fraction >= 4; fraction /= 2) {
      const order = slabOrder(size, minObjects, b.maxOrder, fraction, b.minOrder);
      if (order <= b.maxOrder) return order;
    }
    minObjects--;
  }
  let order = slabOrder(size, 1, b.maxOrder, 1, b.minOrder);
  if (order <= b.maxOrder) return order;
  order = slabOrder(size, 1, b.pageMaxOrder, 1, b.minOrder);
  return order < b.pageMaxOrder ? order : -1;
}

/** Any flag that makes SLUB take the checked slow path (kmem_cache_debug()). */
export const DEBUG_LAYOUT_FLAGS =
  SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE | SLAB_CONSISTENCY_CHECKS;

/**
 * calculate_sizes() plus the order and tunables kmem_cache_open() derives: `flags` are the cache's final
 * flags (after slub_debug), `align` the result of calculateAlignment(). Returns null when no order fits.
 */
export function calculateGeometry(
  objectSize: number,
  align: number,
  flags: number,
  hasCtor: boolean,
  isKmalloc: boolean,
  p: SlubParams,
  b: SlubBootParams,
): Geometry | null {
  let size = alignUp(objectSize, PTR);
  if (flags & SLAB_POISON && !(flags & SLAB_TYPESAFE_BY_RCU) && !hasCtor) flags |= __OBJECT_POISON;
  else flags &= ~__OBJECT_POISON;
  // Room for the right red zone when the object fills its word-aligned slot.
  if (flags & SLAB_RED_ZONE && size === objectSize) size += PTR;
  const inuse = size;
  let offset: number;
  if (flags & (SLAB_TYPESAFE_BY_RCU | SLAB_POISON) || hasCtor) {
    // The object's bytes must survive while it is free: the free pointer goes after it.
    offset = size;
    size += PTR;
  } else {
    offset = p.freeptrMiddle ? Math.floor(objectSize / 2 / PTR) * PTR : 0;
  }
  if (flags & SLAB_STORE_USER) {
    size += 2 * p.trackSize;
    if (isKmalloc && p.kmallocOrigSize) size += 4;
  }
  let redLeftPad = 0;
  if (flags & SLAB_RED_ZONE) {
    // Empty padding so an overwrite from the previous object is caught before the metadata.
    size += PTR;
    redLeftPad = alignUp(PTR, align);
    size += redLeftPad;
  }
  size = alignUp(size, align);
  const order = calculateOrder(size, b);
  if (order < 0) return null;
  const minOrder = getOrder(size);
  const slot = size;
  const ilog2 = 31 - Math.clz32(slot);
  const minPartial = Math.min(10, Math.max(5, Math.floor(ilog2 / 2)));
  let cpuPartial = 0;
  if (!(flags & DEBUG_LAYOUT_FLAGS)) {
    for (const [min, n] of p.cpuPartial) {
      if (slot >= min) {
        cpuPartial = n;
        break;
      }
    }
  }
  return {
    objectSize,
    size,
    offset,
    inuse,
    align,
    redLeftPad,
    flags,
    order,
    objects: orderObjects(order, size),
    minOrder,
    minObjects: orderObjects(minOrder, size),
    minPartial,
    cpuPartial,
  };
}
