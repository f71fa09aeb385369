// kvmalloc_sizes: which allocator serves kvmalloc()? kmem's own module; the book has no counterpart (its
// ch9/vmalloc_demo makes a single kvmalloc() call, of `kvnum` bytes). It kvmallocs a range of sizes with
// GFP_KERNEL, then a few with flags that are not GFP_KERNEL-compatible, and prints for each the address
// it got and who served it: a kmalloc slab object (with its ksize() and kmalloc cache), kmalloc_large (a
// block of 2^order pages straight from the page allocator) or vmalloc. rmmod kvfree()s everything.
//
//   kmem run examples/kvmalloc_sizes.ts
//
// The rule in 5.4 (kvmalloc_node() in mm/util.c):
// 1. Flags that are not a superset of GFP_KERNEL (GFP_ATOMIC, GFP_NOFS, GFP_NOIO...) go to
//    kmalloc_node() as they are, and that is all: vmalloc needs GFP_KERNEL for its own page tables, so
//    there is no fallback. Above KMALLOC_MAX_SIZE (4 MB) such a kvmalloc() returns NULL, and the page
//    allocator's WARN_ON_ONCE(order >= MAX_ORDER) fires (once per boot), since the caller did not say
//    __GFP_NOWARN.
// 2. GFP_KERNEL: kmalloc first. Up to PAGE_SIZE that is a plain kmalloc() and its result is final (no
//    vmalloc for sub-page sizes). Above PAGE_SIZE kmalloc is tried quietly: __GFP_NOWARN, plus
//    __GFP_NORETRY unless the caller asked for __GFP_RETRY_MAYFAIL. If it fails, vmalloc() takes over.
// 3. kmalloc itself: up to KMALLOC_MAX_CACHE_SIZE (8 KB, two pages) a slab object from a kmalloc-<n> cache;
//    above it kmalloc_large(), 2^order whole pages from the page allocator, up to order 10 (4 MB).
//    Order 11 and up (MAX_ORDER) always fails.
// So on this freshly booted machine kmalloc serves every GFP_KERNEL size up to 4 MB and vmalloc the rest.
// On a long-running machine free memory is fragmented, the quiet no-retry attempt for a large order often
// fails, and vmalloc serves those sizes too: the same call can land in either place. That is why only
// kvfree() is the right way to free it.
import {
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  type Kernel,
  type KernelModule,
  KMALLOC_MAX_CACHE_SIZE,
  PAGE_SHIFT,
  PAGE_SIZE,
} from "../src/index.ts";

const KBUILD_MODNAME = "kvmalloc_sizes";

/** pr_fmt(fmt): KBUILD_MODNAME ": " fmt */
const pr_fmt = (fmt: string) => `${KBUILD_MODNAME}: ${fmt}`;

const KB = 1024;
const MB = 1024 * KB;

/** The requests, in order: GFP_KERNEL over a range of sizes, then flags vmalloc cannot honour. */
const REQUESTS: readonly { size: number; flags: number }[] = [
  ...[8, 100, 4096, 4097, 8192, 8193, 64 * KB, 1 * MB, 4 * MB, 4 * MB + 1, 5 * MB, 16 * MB].map((size) => ({
    size,
    flags: GFP_KERNEL,
  })),
  { size: 64 * KB, flags: GFP_ATOMIC },
  { size: 5 * MB, flags: GFP_ATOMIC },
  { size: 5 * MB, flags: GFP_NOFS },
];

/** The returned pointers (0 is NULL), one per request. */
let ptrs: number[] = [];

/** get_order(): the smallest order whose 2^order pages hold `size` bytes. */
function get_order(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** The kmalloc cache a ksize() belongs to, named as 5.4 names them: kmalloc-96, kmalloc-1k... */
function kmalloc_cache_name(ksize: number): string {
  return `kmalloc-${ksize >= KB ? `${ksize / KB}k` : ksize}`;
}

function kvmalloc_try(k: Kernel, size: number, flags: number): number {
  const p = k.kvmalloc(size, flags);

  if (!p) {
    k.pr_info(pr_fmt("kvmalloc(%8zu, %pGg) = %px: NULL, failed\n"), size, flags, p);
  } else if (k.is_vmalloc_addr(p)) {
    k.pr_info(
      pr_fmt("kvmalloc(%8zu, %pGg) = %px: vmalloc, %lu pages\n"),
      size,
      flags,
      p,
      (size + PAGE_SIZE - 1) >> PAGE_SHIFT,
    );
  } else if (size > KMALLOC_MAX_CACHE_SIZE) {
    k.pr_info(
      pr_fmt("kvmalloc(%8zu, %pGg) = %px: kmalloc_large (order %d), ksize %zu\n"),
      size,
      flags,
      p,
      get_order(size),
      k.ksize(p),
    );
  } else {
    const ksize = k.ksize(p);
    k.pr_info(
      pr_fmt("kvmalloc(%8zu, %pGg) = %px: kmalloc, ksize %zu (%s)\n"),
      size,
      flags,
      p,
      ksize,
      kmalloc_cache_name(ksize),
    );
  }
  return p;
}

function kvmalloc_sizes_init(k: Kernel): number {
  k.pr_info(
    pr_fmt("inserted; PAGE_SIZE = %lu, KMALLOC_MAX_CACHE_SIZE = %u\n"),
    PAGE_SIZE,
    KMALLOC_MAX_CACHE_SIZE,
  );
  ptrs = [];
  for (const { size, flags } of REQUESTS) ptrs.push(kvmalloc_try(k, size, flags));
  return 0; // the NULLs are part of the demo, not a failure
}

function kvmalloc_sizes_exit(k: Kernel): void {
  // kvfree() looks at the address: vfree() for a vmalloc address, kfree() for anything else (NULL too).
  for (let i = ptrs.length - 1; i >= 0; i--) k.kvfree(ptrs[i]!);
  ptrs = [];
  k.pr_info(pr_fmt("kvfree()d all; removed\n"));
}

export default {
  name: KBUILD_MODNAME,
  description: "kmem: which allocator serves kvmalloc() for a range of sizes and GFP flags (5.4 rules)",
  license: "Dual MIT/GPL",
  init: kvmalloc_sizes_init,
  exit: kvmalloc_sizes_exit,
} satisfies KernelModule;
