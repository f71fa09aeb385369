// ch8/slab4_actualsize (Linux Kernel Programming, 1st edition, 5.4; "Testing slab allocation with the
// ksize() - case 2") as a kmem module: how much memory does a kmalloc() really take? Starting at 100
// bytes and growing by `stepsz`, it kmallocs, asks ksize() for the usable size, and prints the request,
// the actual size, the wastage and the wastage in percent, until an allocation fails (past 4 MB) and
// init returns -ENOMEM (insmod fails, by design; ignore the page allocator's WARN, as the book says).
//
//   kmem run examples/slab4_actualsize.ts                 (100, 200100, ... 4000100; fails at 4200100)
//   kmem run examples/slab4_actualsize.ts stepsz=204800   (the 2nd edition's step; fails at 4300900)
//
// The printk format strings are the book's. Up to 8 KB a request is served by the smallest kmalloc-*
// cache that fits; above that by a 2^order block of pages, so a request just past a power of two wastes
// almost half, and one just below wastes almost nothing. The arithmetic is the book's size_t arithmetic
// (64-bit unsigned bigint here; the percentage is an integer division). With stepsz=0 the book's loop
// never ends, so the module refuses that value with -EINVAL (kmem only).
import { EINVAL, ENOMEM, GFP_KERNEL, type Kernel, type KernelModule } from "../src/index.ts";

const OURMODNAME = "slab4_actualsize";

/** size_t arithmetic: 64-bit unsigned wrap-around. */
const size_t = (v: bigint): bigint => BigInt.asUintN(64, v);

function test_maxallocsz(k: Kernel, stepsz: number): number {
  // This time, initialize size2alloc to 100, as otherwise we'll get a divide error!
  let size2alloc = 100n;

  k.pr_info("kmalloc(      n) :  Actual : Wastage : Waste %%\n");
  for (;;) {
    const p = k.kmalloc(Number(size2alloc), GFP_KERNEL);
    if (!p) {
      k.pr_alert("kmalloc fail, size2alloc=%zu\n", size2alloc);
      return -ENOMEM;
    }
    const actual_alloced = BigInt(k.ksize(p));
    // Print the size2alloc, the amount actually allocated, the delta between the two, and the
    // percentage of waste (integer arithmetic, of course :-)
    k.pr_info(
      "kmalloc(%7zu) : %7zu : %7zu : %3zu%%\n",
      size2alloc,
      actual_alloced,
      size_t(actual_alloced - size2alloc),
      size_t((actual_alloced - size2alloc) * 100n) / size2alloc,
    );
    k.kfree(p);
    size2alloc = size_t(size2alloc + BigInt(stepsz));
  }
}

function slab4_actualsize_init(k: Kernel, params: Record<string, unknown>): number {
  const stepsz = params.stepsz as number;
  k.pr_debug("%s: inserted\n", OURMODNAME);
  if (stepsz === 0) {
    // kmem only: the book's loop would run forever.
    k.pr_warn("%s: stepsz=0 would loop forever, refusing\n", OURMODNAME);
    return -EINVAL;
  }
  return test_maxallocsz(k, stepsz);
}

function slab4_actualsize_exit(k: Kernel): void {
  k.pr_debug("%s: removed\n", OURMODNAME);
}

export default {
  name: "slab4_actualsize",
  description: "LLKD book:ch8/slab4_actualsize: test slab alloc with the ksize()",
  license: "Dual MIT/GPL",
  params: {
    stepsz: {
      type: "int",
      default: 200000,
      desc: "Amount to increase allocation by on each loop iteration (default=200000",
    },
  },
  init: slab4_actualsize_init,
  exit: slab4_actualsize_exit,
} satisfies KernelModule;
