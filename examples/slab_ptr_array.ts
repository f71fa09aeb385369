// solutions_to_assgn/ch8/slab_ptr_array (Linux Kernel Programming, 1st edition, 5.4: the solution to a
// chapter 8 assignment) as a kmem module: an array of five pointers, each given 1 KB of slab memory with
// kmalloc() and filled with 'a', 'b', 'c', 'd' and 'e'; rmmod frees them.
//
//   kmem run examples/slab_ptr_array.ts
//
// The printk format strings are the book's. The book's error path has a bug, kept here: when
// allocation i fails it frees gkptr[i] (the NULL that just failed, harmless) down to gkptr[1], and never
// gkptr[0], which leaks.
import { DUMP_PREFIX_NONE, ENOMEM, GFP_KERNEL, type Kernel, type KernelModule } from "../src/index.ts";

const OURMODNAME = "slab_ptr_array";
const SLAB_MAXLOOP = 5;

const gkptr: number[] = new Array(SLAB_MAXLOOP).fill(0);

function slab_ptr_array_init(k: Kernel): number {
  let i = 0;

  k.pr_info("%s: inserted\n", OURMODNAME);

  while (i < SLAB_MAXLOOP) {
    gkptr[i] = k.kmalloc(1024, GFP_KERNEL);
    if (!gkptr[i]) {
      k.pr_warn("%s: kmalloc iter %d failed!\n", OURMODNAME, i);
      // Careful! take care to free the prev allocated mem, if any, thus avoiding possible memory
      // leakage! (The loop below stops before index 0: the book's bug.)
      for (let j = i; j > 0; j--) {
        k.pr_debug(" freeing gkptr[%d]\n", j);
        k.kfree(gkptr[j]!);
      }
      return -ENOMEM;
    }
    k.memset(gkptr[i]!, i + 0x61, 1024); // 0x61 = 'a'
    k.print_hex_dump_bytes("gkptr: ", DUMP_PREFIX_NONE, gkptr[i]!, 16);
    i++;
  }

  return 0; // success
}

function slab_ptr_array_cleanup(k: Kernel): void {
  for (let i = 0; i < SLAB_MAXLOOP; i++) {
    k.pr_debug("%s:%s(): freeing gkptr[%d]\n", OURMODNAME, "slab_ptr_array_cleanup", i);
    k.kfree(gkptr[i]!);
  }
  k.pr_info("%s: freed memory, removed\n", OURMODNAME);
}

export default {
  name: OURMODNAME,
  description: "LKDC book:solutions_to_assgn/ch8/slab_ptr_array/: assignment solution",
  license: "Dual MIT/GPL",
  init: slab_ptr_array_init,
  exit: slab_ptr_array_cleanup,
} satisfies KernelModule;
