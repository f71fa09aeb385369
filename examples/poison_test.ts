// ch9/poison_test (Linux Kernel Programming, 1st edition, 5.4; not in the 2nd edition) as a kmem module:
// catching a use-after-free with SLUB poisoning. Like slab_custom, it creates a cache ("poison_test",
// 152-byte objects, SLAB_POISON | SLAB_RED_ZONE | SLAB_HWCACHE_ALIGN, no constructor by default, so the
// objects are poisoned), allocates one object, writes 16 'z's into it and dumps it. On rmmod it frees
// the object and then, deliberately, writes ten '!' bytes into it: a use-after-free over the 0x6b free
// poison. SLUB's object checks report it ("Poison overwritten") when they look at the object again:
//
//   kmem run examples/poison_test.ts --cmdline slub_debug=FZPU
//                                   (F = consistency checks: kmem_cache_destroy() checks every object
//                                    of the slab it frees, finds the '!' bytes and reports them)
//   kmem run examples/poison_test.ts  (the cache's own flags poison, but nothing checks: on 5.4 the
//                                    destroy only checks objects with SLAB_CONSISTENCY_CHECKS, so the
//                                    bug goes unnoticed, as the book warns it needs SLUB debug enabled)
//   kmem run examples/poison_test.ts use_ctor=1   (a constructor: SLUB does not poison such a cache)
//
// The printk format strings are the book's (pr_fmt "poison_test:<function>(): "; the init and exit
// functions kept slab_custom's names, so __func__ says slab_custom_init/slab_custom_exit). As in
// slab_custom, the constructor's task counters that kmem does not keep read as 0.
import {
  DUMP_PREFIX_ADDRESS,
  DUMP_PREFIX_OFFSET,
  GFP_KERNEL,
  type Kernel,
  type KernelModule,
  SLAB_HWCACHE_ALIGN,
  SLAB_POISON,
  SLAB_RED_ZONE,
} from "../src/index.ts";
import { snprintf } from "./klib.ts";

const KBUILD_MODNAME = "poison_test";
const OURCACHENAME = "poison_test";

/**
 * Our 'demo' structure: struct myctx { u32 iarr[10]; u64 uarr[6]; char config[64]; }.
 * Size: 40 + 48 + 64 = 152 bytes.
 */
const SIZEOF_MYCTX = 10 * 4 + 6 * 8 + 64;
/** offsetof(struct myctx, config) */
const OFFSETOF_CONFIG = 10 * 4 + 6 * 8;
const SIZEOF_LONG = 8;
const SIZEOF_U64 = 8;

/** pr_fmt(fmt): "%s:%s(): " fmt, KBUILD_MODNAME, __func__ */
const pr_fmt = (func: string, fmt: string) => [`%s:%s(): ${fmt}`, KBUILD_MODNAME, func] as const;

let gctx_cachep = 0;
let obj = 0; // struct myctx *obj;
let use_ctor = 0;

/** The task counters the constructor prints; those kmem's task does not keep read as 0. */
function taskCounters(k: Kernel) {
  const p = k.current as { pid: number } & Partial<
    Record<"tgid" | "nvcsw" | "nivcsw" | "min_flt" | "maj_flt", number>
  >;
  return [p.tgid ?? p.pid, p.pid, p.nvcsw ?? 0, p.nivcsw ?? 0, p.min_flt ?? 0, p.maj_flt ?? 0] as const;
}

function use_the_object(k: Kernel, s: number, c: string, n: number): void {
  k.memset(s, c.charCodeAt(0), n);
  k.pr_info(...pr_fmt("use_the_object", " -------------- after memset s, '%c', %zu : ------------\n"), c, n);
  k.print_hex_dump_bytes("obj: ", DUMP_PREFIX_ADDRESS, s, SIZEOF_MYCTX);
}

function use_our_cache(k: Kernel): void {
  const func = "use_our_cache";
  k.pr_debug(...pr_fmt(func, "[ker ver > 2.6.38 cache name deprecated...]\n"));

  obj = k.kmem_cache_alloc(gctx_cachep, GFP_KERNEL);
  if (!obj) {
    // pedantic warning printk below... (and the book carries on regardless)
    k.pr_warn(...pr_fmt(func, "kmem_cache_alloc() failed\n"));
  }

  k.pr_info(
    ...pr_fmt(func, "Our cache object (@ 0x%pK, actual=0x%px) size is %u bytes; ksize=%zu\n"),
    obj,
    obj,
    k.kmem_cache_size(gctx_cachep),
    k.ksize(obj),
  );
  k.print_hex_dump_bytes("obj: ", DUMP_PREFIX_OFFSET, obj, SIZEOF_MYCTX);

  use_the_object(k, obj, "z", 16);
}

/** The constructor (only with use_ctor=1): zeros and an 'accounting' config string, as in slab_custom. */
function our_ctor(k: Kernel, ctx: number): void {
  k.pr_info(...pr_fmt("our_ctor", "in ctor: just alloced mem object is @ 0x%px\n"), ctx); // %pK in production
  k.memset(ctx, 0, SIZEOF_MYCTX);
  snprintf(k, ctx + OFFSETOF_CONFIG, 6 * SIZEOF_U64 + 5, "%d.%d,%ld.%ld,%ld,%ld", ...taskCounters(k));
}

function create_our_cache(k: Kernel): number {
  const func = "create_our_cache";
  const ret = 0;
  const ctor_fn = use_ctor === 1 ? (o: number) => our_ctor(k, o) : null;

  k.pr_info(
    ...pr_fmt(func, "sizeof our ctx structure is %zu bytes\n using custom constructor routine? %s\n"),
    SIZEOF_MYCTX,
    use_ctor === 1 ? "yes" : "no",
  );

  gctx_cachep = k.kmem_cache_create(
    OURCACHENAME,
    SIZEOF_MYCTX,
    SIZEOF_LONG,
    SLAB_POISON | // the whole point here
      SLAB_RED_ZONE | // good for catching buffer under|over-flow bugs
      SLAB_HWCACHE_ALIGN, // good for performance
    ctor_fn,
  );
  if (!gctx_cachep) {
    // Pedantic; kmem_cache_create() returns NULL, never an ERR_PTR, so ret stays 0.
    k.pr_warn(...pr_fmt(func, "kmem_cache_create() failed\n"));
  }
  return ret;
}

// The book's poison_test.c kept slab_custom's function names for init and exit.
function slab_custom_init(k: Kernel, params: Record<string, unknown>): number {
  use_ctor = params.use_ctor as number;
  k.pr_info(...pr_fmt("slab_custom_init", "inserted\n"));
  create_our_cache(k);
  use_our_cache(k);
  return 0; // success
}

function slab_custom_exit(k: Kernel): void {
  k.kmem_cache_free(gctx_cachep, obj);
  use_the_object(k, obj, "!", 10); // the (here pretty obvious) UAF BUG !

  k.kmem_cache_destroy(gctx_cachep);
  k.pr_info(...pr_fmt("slab_custom_exit", "custom cache destroyed; removed\n"));
}

export default {
  name: KBUILD_MODNAME,
  description: "LLKD book:ch9/poison_test: simple demo of creating a custom slab cache",
  license: "Dual MIT/GPL",
  params: {
    use_ctor: {
      type: "uint",
      default: 0,
      desc: "if set to 1, our custom ctor routine will initialize slabmem; when 0, no custom constructor will run",
    },
  },
  init: slab_custom_init,
  exit: slab_custom_exit,
} satisfies KernelModule;
