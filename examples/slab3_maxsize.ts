// ch8/slab3_maxsize (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: how much can one
// kmalloc() give? Starting at 0 bytes and growing by `stepsz` each time, it kmallocs, prints the pointer
// and kfrees, until an allocation fails. Above 8 KB kmalloc() goes straight to the page allocator, which
// cannot hand out an order-11 (8 MB) block: the request past KMALLOC_MAX_SIZE (4 MB) hits the page
// allocator's WARN (order >= MAX_ORDER) and returns NULL. init then returns -ENOMEM, so insmod fails:
// that is by design.
//
//   kmem run examples/slab3_maxsize.ts                 (0, 200000, ... 4000000; fails at 4200000)
//   kmem run examples/slab3_maxsize.ts stepsz=204800   (the 2nd edition's step; fails at 4300800)
//
// The printk format strings are the book's. kmalloc(0) returns ZERO_SIZE_PTR (0x10), which is not NULL,
// so the first line reports a "success". size2alloc is a size_t: it is kept as a 64-bit unsigned bigint,
// so a negative stepsz wraps around as in C (and that first huge request fails). One addition: with
// stepsz=0 the book's loop never ends (insmod would spin until the soft-lockup detector complains), so
// the module refuses that value with -EINVAL.
import { EINVAL, ENOMEM, GFP_KERNEL, type Kernel, type KernelModule } from "../src/index.ts";

const OURMODNAME = "slab3_maxsize";

/** size_t arithmetic: 64-bit unsigned wrap-around. */
const size_t = (v: bigint): bigint => BigInt.asUintN(64, v);

function test_maxallocsz(k: Kernel, stepsz: number): number {
  let size2alloc = 0n;

  for (;;) {
    const p = k.kmalloc(Number(size2alloc), GFP_KERNEL);
    if (!p) {
      k.pr_alert("kmalloc fail, size2alloc=%zu\n", size2alloc);
      return -ENOMEM;
    }
    k.pr_info("kmalloc(%7zu) = 0x%pK\n", size2alloc, p);
    k.kfree(p);
    size2alloc = size_t(size2alloc + BigInt(stepsz));
  }
}

function slab3_maxsize_init(k: Kernel, params: Record<string, unknown>): number {
  const stepsz = params.stepsz as number;
  k.pr_info("%s: inserted\n", OURMODNAME);
  if (stepsz === 0) {
    // kmem only: the book's loop would run forever.
    k.pr_warn("%s: stepsz=0 would loop forever, refusing\n", OURMODNAME);
    return -EINVAL;
  }
  return test_maxallocsz(k, stepsz);
}

function slab3_maxsize_exit(k: Kernel): void {
  k.pr_info("%s: removed\n", OURMODNAME);
}

export default {
  name: "slab3_maxsize",
  description: "LLKD book:ch8/slab3_maxsize: test max alloc limit from k[m|z]alloc()",
  license: "Dual MIT/GPL",
  params: {
    stepsz: {
      type: "int",
      default: 200000,
      desc: "Amount to increase allocation by on each loop iteration (default=200000",
    },
  },
  init: slab3_maxsize_init,
  exit: slab3_maxsize_exit,
} satisfies KernelModule;
