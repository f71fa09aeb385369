// solutions_to_assgn/ch9/slab_custom_mult (Linux Kernel Programming, 1st edition, 5.4: the solution to
// a chapter 9 assignment) as a kmem module: many custom slab caches. It creates 100 caches named
// our_slab-0 .. our_slab-99 whose object sizes grow by `xfactor` bytes (300, 600, ... 30000 by default;
// alignment 0, SLAB_POISON | SLAB_RED_ZONE | SLAB_HWCACHE_ALIGN, no constructor), allocates and frees
// one object from each, and destroys them all on rmmod. The debug flags keep the caches from being
// merged, so each one really is a cache of its own.
//
//   kmem run examples/slab_custom_mult.ts
//   kmem run examples/slab_custom_mult.ts xfactor=10000   (100 * xfactor >= 1 MB: refused, -EINVAL)
//
// The assignment then looks at `sudo vmstat -m | grep "^our_slab"`, whose 4th column is the slot size
// each object really takes: the object plus the red zones and the free pointer, rounded up to the
// cache line (300 bytes take 384).
//
// The printk format strings are the book's (pr_fmt "slab_custom_mult:<function>(): "). Quirks kept:
// kmem_cache_create() returns NULL on failure, never an ERR_PTR, so a failed creation is reported but
// counted as success and the module goes on; ASSERT_HELPER only warns. __FILE__ and __LINE__ in the
// assertion message are this file's path and line.
import { fileURLToPath } from "node:url";
import {
  EINVAL,
  ENOMEM,
  GFP_KERNEL,
  type Kernel,
  type KernelModule,
  SLAB_HWCACHE_ALIGN,
  SLAB_POISON,
  SLAB_RED_ZONE,
} from "../src/index.ts";

const KBUILD_MODNAME = "slab_custom_mult";
const OURCACHENAME = "our_slab";
const OURMAX_CACHES = 100;
const MAX_ALLOW = 1 * 1024 * 1024;

/** pr_fmt(fmt): "%s:%s(): " fmt, KBUILD_MODNAME, __func__ */
const pr_fmt = (func: string, fmt: string) => [`%s:%s(): ${fmt}`, KBUILD_MODNAME, func] as const;

/** ASSERT_HELPER(expr): warn (only) when `ok` is false, naming the expression, file, function and line. */
function ASSERT_HELPER(k: Kernel, ok: boolean, expr: string, func: string): void {
  if (ok) return;
  // __FILE__ and __LINE__: the caller's position in this file.
  const at = /\((.*):(\d+):\d+\)$/.exec(new Error().stack?.split("\n")[2]?.trim() ?? "");
  const file = at ? (at[1]!.startsWith("file:") ? fileURLToPath(at[1]!) : at[1]!) : "slab_custom_mult.ts";
  k.pr_warn(
    ...pr_fmt(func, "********** Assertion [%s] failed! : %s:%s:%d **********\n"),
    expr,
    file,
    func,
    at ? Number(at[2]) : 0,
  );
}

/** An array of pointers to our custom 'llkd' slab caches */
const our_llkd_cachep: number[] = new Array(OURMAX_CACHES).fill(0);
let xfactor = 300;

function use_our_cache(k: Kernel, idx: number): void {
  const func = "use_our_cache";
  k.pr_info(
    ...pr_fmt(func, "idx %d: our cache object size is %u bytes\n"),
    idx,
    k.kmem_cache_size(our_llkd_cachep[idx]!),
  );

  const obj = k.kmem_cache_alloc(our_llkd_cachep[idx]!, GFP_KERNEL);
  if (!obj) {
    k.pr_warn(...pr_fmt(func, "kmem_cache_alloc() failed, index %d\n"), idx);
    return;
  }

  k.kmem_cache_free(our_llkd_cachep[idx]!, obj);
}

function create_cust_llkd_cache(k: Kernel, idx: number, sz: number): number {
  const func = "create_cust_llkd_cache";
  const err = 0;

  if (!(idx % 30)) k.pr_info(...pr_fmt(func, "idx %d: required size is %zu bytes\n"), idx, sz);

  const nm = `${OURCACHENAME}-${idx}`; // snprintf(nm, 127, "%s-%d", OURCACHENAME, idx)
  our_llkd_cachep[idx] = k.kmem_cache_create(
    nm,
    sz,
    0,
    SLAB_POISON | SLAB_RED_ZONE | SLAB_HWCACHE_ALIGN,
    null,
  );
  if (!our_llkd_cachep[idx]) {
    k.pr_warn(...pr_fmt(func, "kmem_cache_create() on index %d failed\n"), idx);
    // IS_ERR(NULL) is false: err stays 0 (the book's quirk).
    return err;
  }

  return 0;
}

function create_our_llkd_caches(k: Kernel): number {
  for (let i = 0; i < OURMAX_CACHES; i++) {
    const sz = (i + 1) * xfactor;
    ASSERT_HELPER(k, sz > 0 && sz < MAX_ALLOW, "sz > 0 && sz < MAX_ALLOW", "create_our_llkd_caches");
    if (create_cust_llkd_cache(k, i, sz) < 0) return -i;
  }
  return 0;
}

function slab_custom_mult_init(k: Kernel, params: Record<string, unknown>): number {
  const func = "slab_custom_mult_init";
  xfactor = params.xfactor as number;

  k.pr_info(
    ...pr_fmt(func, "# custom caches to create = %d, xfactor=%d, MAX_ALLOW=%d\n"),
    OURMAX_CACHES,
    xfactor,
    MAX_ALLOW,
  );
  if (OURMAX_CACHES * xfactor >= MAX_ALLOW) {
    k.pr_info(...pr_fmt(func, "overflow (xfactor is probably too big)\n"));
    return -EINVAL;
  }

  const ret = create_our_llkd_caches(k);
  if (ret < 0) {
    k.pr_warn(...pr_fmt(func, "custom slab cache creation failed at idx %d! Freeing up...\n"), -1 * ret);
    for (let i = -1 * ret - 1; i >= 0; i--) k.kmem_cache_destroy(our_llkd_cachep[i]!);
    return -ENOMEM;
  }

  for (let i = 0; i < OURMAX_CACHES; i++) use_our_cache(k, i);

  return 0; // success
}

function slab_custom_mult_exit(k: Kernel): void {
  const func = "slab_custom_mult_exit";
  k.pr_info(...pr_fmt(func, "freeing custom caches from 0 to %d ...\n"), OURMAX_CACHES - 1);
  for (let i = 0; i < OURMAX_CACHES; i++) k.kmem_cache_destroy(our_llkd_cachep[i]!);
  k.pr_info(...pr_fmt(func, "removed\n"));
}

export default {
  name: KBUILD_MODNAME,
  description: "LKDC book:solutions_to_assgn/ch9/slab_custom_mult: assigment solution",
  license: "Dual MIT/GPL",
  params: {
    xfactor: {
      type: "int",
      default: 300,
      desc: "multiplier factor by which custom cache size increases [def=300]",
    },
  },
  init: slab_custom_mult_init,
  exit: slab_custom_mult_exit,
} satisfies KernelModule;
