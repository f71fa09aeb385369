// ch9/slab_custom (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: a custom slab cache
// with a constructor. It creates the cache "our_ctx" for its 328-byte context structure (alignment
// sizeof(long), SLAB_POISON | SLAB_RED_ZONE | SLAB_HWCACHE_ALIGN), allocates one object, prints its
// size (kmem_cache_size() and ksize()), hex-dumps it and frees it; rmmod destroys the cache.
//
//   kmem run examples/slab_custom.ts               (use_ctor=1: the constructor runs)
//   kmem run examples/slab_custom.ts use_ctor=0    (no constructor: the object shows the poison)
//
// The constructor runs once for every object of each new slab, not once per allocation: count the
// "in ctor" lines to learn how many objects one slab holds (18 here: 448-byte slots in an order-1 slab).
// SLUB does not poison the objects of a cache that has a constructor, so with use_ctor=1 the dump shows
// zeros and the config string the constructor wrote; with use_ctor=0 it shows the free poison, 0x6b
// bytes ending in 0xa5 (POISON_FREE, POISON_END). The debug flags are the cache's own, so this needs no
// slub_debug on the command line; with them, ksize() and kmem_cache_size() are both the object size, 328.
//
// The printk format strings are the book's (pr_fmt "slab_custom:<function>(): "). One thing is not
// modelled: kmem's task has a pid but no scheduling or fault counters, so the constructor's config
// string "tgid.pid,nvcsw.nivcsw,min_flt,maj_flt" gets the pid (insmod is single-threaded: tgid == pid)
// and 0 for each counter the task does not have.
import {
  DUMP_PREFIX_OFFSET,
  ENOMEM,
  GFP_KERNEL,
  type Kernel,
  type KernelModule,
  SLAB_HWCACHE_ALIGN,
  SLAB_POISON,
  SLAB_RED_ZONE,
} from "../src/index.ts";
import { snprintf } from "./klib.ts";

const KBUILD_MODNAME = "slab_custom";
const OURCACHENAME = "our_ctx";

/**
 * Our 'demo' structure, one that (we imagine) is often allocated and freed:
 * struct myctx { u32 iarr[10]; u64 uarr[10]; char uname[128], passwd[16], config[64]; }.
 * Size of one instance: 40 + 80 + 208 = 328 bytes.
 */
const SIZEOF_MYCTX = 10 * 4 + 10 * 8 + 128 + 16 + 64;
/** offsetof(struct myctx, config) */
const OFFSETOF_CONFIG = 10 * 4 + 10 * 8 + 128 + 16;
const SIZEOF_LONG = 8;
const SIZEOF_U64 = 8;

/** pr_fmt(fmt): "%s:%s(): " fmt, KBUILD_MODNAME, __func__ */
const pr_fmt = (func: string, fmt: string) => [`%s:%s(): ${fmt}`, KBUILD_MODNAME, func] as const;

let gctx_cachep = 0;
let use_ctor = 1;

/** The task counters the constructor prints; those kmem's task does not keep read as 0. */
function taskCounters(k: Kernel) {
  const p = k.current as { pid: number } & Partial<
    Record<"tgid" | "nvcsw" | "nivcsw" | "min_flt" | "maj_flt", number>
  >;
  return [p.tgid ?? p.pid, p.pid, p.nvcsw ?? 0, p.nivcsw ?? 0, p.min_flt ?? 0, p.maj_flt ?? 0] as const;
}

function use_our_cache(k: Kernel): number {
  const func = "use_our_cache";
  k.pr_debug(...pr_fmt(func, "[ker ver > 2.6.38 cache name deprecated...]\n"));

  const obj = k.kmem_cache_alloc(gctx_cachep, GFP_KERNEL);
  if (!obj) {
    // pedantic warning printk below...
    k.pr_warn(...pr_fmt(func, "[Pedantic] kmem_cache_alloc() failed\n"));
    return -ENOMEM;
  }

  k.pr_info(
    ...pr_fmt(func, "Our cache object (@ %pK, actual=%px) size is %u bytes; actual ksize=%zu\n"),
    obj,
    obj,
    k.kmem_cache_size(gctx_cachep),
    k.ksize(obj),
  );
  k.print_hex_dump_bytes("obj: ", DUMP_PREFIX_OFFSET, obj, SIZEOF_MYCTX);

  // free it
  k.kmem_cache_free(gctx_cachep, obj);
  return 0;
}

/**
 * The constructor: `obj` is a just allocated object of our cache (SLUB calls it for every object of a
 * new slab). It initializes the object: zeros, and the 'config' field set to some (arbitrary)
 * 'accounting' values from our task_struct.
 */
function our_ctor(k: Kernel, obj: number): void {
  // TIP: to see how exactly we got here, insert a dump_stack() call here.
  k.pr_info(...pr_fmt("our_ctor", "in ctor: just alloced mem object is @ 0x%px\n"), obj); // %pK in production
  k.memset(obj, 0, SIZEOF_MYCTX);
  snprintf(k, obj + OFFSETOF_CONFIG, 6 * SIZEOF_U64 + 5, "%d.%d,%ld.%ld,%ld,%ld", ...taskCounters(k));
}

function create_our_cache(k: Kernel): number {
  const func = "create_our_cache";
  const ret = 0;
  const ctor_fn = use_ctor === 1 ? (obj: number) => our_ctor(k, obj) : null;

  k.pr_info(
    ...pr_fmt(func, "sizeof our ctx structure is %zu bytes\n using custom constructor routine? %s\n"),
    SIZEOF_MYCTX,
    use_ctor === 1 ? "yes" : "no",
  );

  // Create a new slab cache: kmem_cache_create(name, size, align, flags, ctor)
  gctx_cachep = k.kmem_cache_create(
    OURCACHENAME, // name of our cache
    SIZEOF_MYCTX, // (min) size of each object
    SIZEOF_LONG, // alignment
    SLAB_POISON | // use slab poison values (explained soon)
      SLAB_RED_ZONE | // good for catching buffer under|over-flow bugs
      SLAB_HWCACHE_ALIGN, // good for performance
    ctor_fn, // ctor: here, on by default
  );
  if (!gctx_cachep) {
    // When a mem alloc fails we'll usually not require a warning message as the kernel will
    // definitely emit warning printk's. We do so here pedantically... (kmem_cache_create() returns
    // NULL, never an ERR_PTR, so ret stays 0.)
    k.pr_warn(...pr_fmt(func, "kmem_cache_create() failed\n"));
  }
  return ret;
}

function slab_custom_init(k: Kernel, params: Record<string, unknown>): number {
  use_ctor = params.use_ctor as number;
  k.pr_info(...pr_fmt("slab_custom_init", "inserted\n"));
  create_our_cache(k);
  return use_our_cache(k);
}

function slab_custom_exit(k: Kernel): void {
  k.kmem_cache_destroy(gctx_cachep);
  k.pr_info(...pr_fmt("slab_custom_exit", "custom cache destroyed; removed\n"));
}

export default {
  name: KBUILD_MODNAME,
  description: "LKP book:ch9/slab_custom: simple demo of creating a custom slab cache",
  license: "Dual MIT/GPL",
  params: {
    use_ctor: {
      type: "uint",
      default: 1,
      desc: "if set to 1 (default), our custom ctor routine will initialize slabmem; when 0, no custom constructor will run",
    },
  },
  init: slab_custom_init,
  exit: slab_custom_exit,
} satisfies KernelModule;
