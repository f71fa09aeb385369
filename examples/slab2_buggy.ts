// ch8/slab2_buggy (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: the danger of assuming
// that kfree() sets the pointer to NULL. Three times it kmallocs 1 KB, fills it with 'a', 'b', 'c',
// hex-dumps 16 bytes and kfrees it. With the bug switched on, the allocation is skipped while the pointer
// is non-NULL, so the second round writes into the freed object (use-after-free) and kfrees it again:
// a double free. The book's author says his machine froze; here the kernel catches it:
//
//   kmem run examples/slab2_buggy.ts                              (SLUB hardened freelist: "kernel BUG
//                                                                   at mm/slub.c:NNN!", insmod dies)
//   kmem run examples/slab2_buggy.ts --cmdline slub_debug=FZPU    (SLUB debug: "BUG kmalloc-1k ...:
//                                                                   Object already free", not freed)
//   kmem run examples/slab2_buggy.ts buggy=0                      (the book's default: no bug)
//
// The printk format strings are the book's. One change: the book's compile-time switch
// `#define BUGGY 0` is the module parameter `buggy`, and it defaults to 1 (the 2nd edition's version of
// this module is always buggy), since the double free is what the demo is for.
import { DUMP_PREFIX_OFFSET, ENOMEM, GFP_KERNEL, type Kernel, type KernelModule } from "../src/index.ts";

const OURMODNAME = "slab2_buggy";

function slab2_buggy_init(k: Kernel, params: Record<string, unknown>): number {
  const BUGGY = params.buggy as boolean;
  let i = 0;
  let kptr = 0; // char *kptr = NULL;

  k.pr_info("%s: inserted\n", OURMODNAME);

  while (++i < 4) {
    if (!BUGGY || kptr === 0) kptr = k.kmalloc(1024, GFP_KERNEL);
    if (!kptr) {
      k.pr_warn("%s: kmalloc failed!\n", OURMODNAME);
      // Bug: we don't free the prev allocated mem, if any, resulting in possible memory leakage!
      return -ENOMEM;
    }
    k.memset(kptr, i - 1 + 0x61, 1024); // 0x61 = 'a'
    k.print_hex_dump_bytes("kptr: ", DUMP_PREFIX_OFFSET, kptr, 16);
    k.kfree(kptr);
    if (BUGGY) k.pr_info(" %d: kfree on %pK\n", i, kptr);
  }

  return 0; // success
}

function slab2_buggy_exit(k: Kernel): void {
  k.pr_info("%s: removed\n", OURMODNAME);
}

export default {
  name: "slab2_buggy",
  description: "LLKD book:ch8/slab2_buggy: kmalloc/kfree bug demo",
  license: "Dual MIT/GPL",
  params: {
    buggy: {
      type: "bool",
      default: true,
      desc: "the book's BUGGY switch: skip the kmalloc while kptr != NULL",
    },
  },
  init: slab2_buggy_init,
  exit: slab2_buggy_exit,
} satisfies KernelModule;
