// ch8/slab4_actualsz_wstg_plot (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: the
// slab4_actualsize loop cut down to what a graph needs. Starting at 100 bytes and growing by `stepsz`
// (20000: 210 data points up to 4180100), it kmallocs, asks ksize() for the usable size and prints only
// the requested size and the wastage in percent, until an allocation fails past 4 MB and init returns
// -ENOMEM (insmod fails, by design).
//
//   kmem run examples/slab4_actualsz_wstg_plot.ts                 (1st edition step, 210 rows)
//   kmem run examples/slab4_actualsz_wstg_plot.ts stepsz=20480    (2nd edition step, 205 rows)
//   npx tsx examples/plot_wastage.ts [out-dir] [stepsz]           (the data file and an SVG graph)
//
// The book's plotter_prep.sh strips the dmesg timestamps and text lines into 2plotdata.txt for gnuplot;
// examples/plot_wastage.ts does that, and draws the graph (requested size vs wastage %, a sawtooth that
// drops to 0% at each power of two and jumps back up to nearly 100% just past it).
//
// The printk format strings are the book's (size_t arithmetic as a 64-bit unsigned bigint). With
// stepsz=0 the book's loop never ends, so the module refuses that value with -EINVAL (kmem only).
import { EINVAL, ENOMEM, GFP_KERNEL, type Kernel, type KernelModule } from "../src/index.ts";

const OURMODNAME = "slab4_actualsz_wstg_plot";

/** size_t arithmetic: 64-bit unsigned wrap-around. */
const size_t = (v: bigint): bigint => BigInt.asUintN(64, v);

function test_maxallocsz(k: Kernel, stepsz: number): number {
  // This time, initialize size2alloc to 100 (not 0), as otherwise we'll likely get a divide error!
  let size2alloc = 100n;

  for (;;) {
    const p = k.kmalloc(Number(size2alloc), GFP_KERNEL);
    if (!p) {
      k.pr_alert("kmalloc fail, size2alloc=%zu\n", size2alloc);
      return -ENOMEM;
    }
    const actual_alloced = BigInt(k.ksize(p));
    // Only print the size2alloc (required) and the percentage of waste
    k.pr_info("%zu  %3zu\n", size2alloc, size_t((actual_alloced - size2alloc) * 100n) / size2alloc);
    k.kfree(p);
    size2alloc = size_t(size2alloc + BigInt(stepsz));
  }
}

function slab4_actualsz_wstg_plot_init(k: Kernel, params: Record<string, unknown>): number {
  const stepsz = params.stepsz as number;
  k.pr_info("%s: inserted\n", OURMODNAME);
  if (stepsz === 0) {
    // kmem only: the book's loop would run forever.
    k.pr_warn("%s: stepsz=0 would loop forever, refusing\n", OURMODNAME);
    return -EINVAL;
  }
  return test_maxallocsz(k, stepsz);
}

function slab4_actualsz_wstg_plot_exit(k: Kernel): void {
  k.pr_info("%s: removed\n", OURMODNAME);
}

export default {
  name: "slab4_actualsz_wstg_plot",
  description: "LLKD book:ch8/slab4_actualsz_wstg_plot: test slab alloc with the ksize(), minimal ver",
  license: "Dual MIT/GPL",
  params: {
    stepsz: {
      type: "int",
      default: 20000,
      // sic: the book's description still says 200000
      desc: "Amount to increase allocation by on each loop iteration (default=200000",
    },
  },
  init: slab4_actualsz_wstg_plot_init,
  exit: slab4_actualsz_wstg_plot_exit,
} satisfies KernelModule;
