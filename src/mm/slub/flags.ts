// include/linux/slab.h: the SLAB_* cache flags with their 5.4 values, and the groups mm/slab.h builds
// from them (which flags mean "debugging", which forbid merging, which must match for a merge).

export const SLAB_CONSISTENCY_CHECKS = 0x100;
export const SLAB_RED_ZONE = 0x400;
export const SLAB_POISON = 0x800;
export const SLAB_HWCACHE_ALIGN = 0x2000;
export const SLAB_CACHE_DMA = 0x4000;
export const SLAB_CACHE_DMA32 = 0x8000;
export const SLAB_STORE_USER = 0x10000;
export const SLAB_PANIC = 0x40000;
export const SLAB_TYPESAFE_BY_RCU = 0x80000;
export const SLAB_MEM_SPREAD = 0x100000;
export const SLAB_TRACE = 0x200000;
export const SLAB_DEBUG_OBJECTS = 0x400000;
export const SLAB_NOLEAKTRACE = 0x800000;
export const SLAB_FAILSLAB = 0x2000000;
export const SLAB_ACCOUNT = 0x4000000;
export const SLAB_KASAN = 0x8000000;
export const SLAB_RECLAIM_ACCOUNT = 0x20000;
export const SLAB_TEMPORARY = SLAB_RECLAIM_ACCOUNT;
/** Internal: objects are poisoned (SLAB_POISON without a ctor or RCU). */
export const __OBJECT_POISON = 0x80000000;

/** SLAB_DEBUG_FLAGS (CONFIG_SLUB_DEBUG): any of these sends every alloc/free through the checked path. */
export const SLAB_DEBUG_FLAGS =
  SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE | SLAB_CONSISTENCY_CHECKS;

/** SLAB_NEVER_MERGE: a cache with any of these is never merged with another. */
export const SLAB_NEVER_MERGE =
  SLAB_RED_ZONE |
  SLAB_POISON |
  SLAB_STORE_USER |
  SLAB_TRACE |
  SLAB_TYPESAFE_BY_RCU |
  SLAB_NOLEAKTRACE |
  SLAB_FAILSLAB |
  SLAB_KASAN;

/** SLAB_MERGE_SAME: flags two caches must agree on to be merged. */
export const SLAB_MERGE_SAME = SLAB_RECLAIM_ACCOUNT | SLAB_CACHE_DMA | SLAB_CACHE_DMA32 | SLAB_ACCOUNT;

/** SLAB_CORE_FLAGS: flags every allocator understands. */
const SLAB_CORE_FLAGS =
  SLAB_HWCACHE_ALIGN |
  SLAB_CACHE_DMA |
  SLAB_CACHE_DMA32 |
  SLAB_PANIC |
  SLAB_TYPESAFE_BY_RCU |
  SLAB_DEBUG_OBJECTS;

/** SLAB_CACHE_FLAGS for SLUB. */
const SLAB_CACHE_FLAGS = SLAB_NOLEAKTRACE | SLAB_RECLAIM_ACCOUNT | SLAB_TEMPORARY | SLAB_ACCOUNT;

/** SLAB_FLAGS_PERMITTED: kmem_cache_create() fails with -EINVAL on any other flag. */
export const SLAB_FLAGS_PERMITTED =
  SLAB_CORE_FLAGS |
  SLAB_RED_ZONE |
  SLAB_POISON |
  SLAB_STORE_USER |
  SLAB_TRACE |
  SLAB_CONSISTENCY_CHECKS |
  SLAB_MEM_SPREAD |
  SLAB_NOLEAKTRACE |
  SLAB_RECLAIM_ACCOUNT |
  SLAB_TEMPORARY |
  SLAB_ACCOUNT;

/** CACHE_CREATE_MASK: what of the permitted flags a SLUB cache keeps. */
export const CACHE_CREATE_MASK = SLAB_CORE_FLAGS | SLAB_DEBUG_FLAGS | SLAB_CACHE_FLAGS;

/** Slab poison and red-zone bytes (include/linux/poison.h). */
export const POISON_INUSE = 0x5a;
export const POISON_FREE = 0x6b;
export const POISON_END = 0xa5;
export const SLUB_RED_INACTIVE = 0xbb;
export const SLUB_RED_ACTIVE = 0xcc;
