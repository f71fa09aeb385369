// ch8/slab1 (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: the basics of the slab
// allocator's kmalloc(), kzalloc() and kfree(). It kmallocs 1 KB, hex-dumps it before and after a memset
// with 'm', then kzallocs a 1360-byte context structure (served from kmalloc-2k) and shows that it
// starts zeroed. rmmod frees both.
//
//   kmem run examples/slab1.ts
//
// The printk format strings are the book's. The "before memset" dump shows whatever the object held:
// on 5.4's SLUB a free object keeps the address of the next free object in its first word, so the first
// row usually starts with a kernel pointer, bytes in little-endian order (a kernel built with
// CONFIG_SLAB_FREELIST_HARDENED stores it scrambled; kmem stores it plain). The book builds with
// -DDEBUG, so print_hex_dump_bytes() (KERN_DEBUG since 5.4) shows up in dmesg.
import { DUMP_PREFIX_OFFSET, ENOMEM, GFP_KERNEL, type Kernel, type KernelModule } from "../src/index.ts";

const OURMODNAME = "slab1";

/**
 * struct myctx { u32 iarr[100]; u64 uarr[100]; char uname[128], passwd[16], config[16]; }:
 * 400 + 800 + 160 = 1360 bytes, no padding (every member is naturally aligned).
 */
const SIZEOF_MYCTX = 100 * 4 + 100 * 8 + 128 + 16 + 16;

// The module's static globals (kernel addresses; 0 is NULL).
let gkptr = 0;
let ctx = 0;

function slab1_init(k: Kernel): number {
  // 1. Allocate slab memory for 1 KB using the kmalloc()
  gkptr = k.kmalloc(1024, GFP_KERNEL);
  if (!gkptr) {
    // "Pedantic": the kernel has already complained about the failed allocation.
    k.WARN_ONCE(1, "%s: kmalloc() failed!\n", OURMODNAME);
    return -ENOMEM; // out_fail1
  }
  // %px shows the actual KVA; in production, don't!
  k.pr_info("kmalloc() succeeds, (actual KVA) ret value = %px\n", gkptr);
  k.print_hex_dump_bytes("gkptr before memset: ", DUMP_PREFIX_OFFSET, gkptr, 32);
  k.memset(gkptr, "m".charCodeAt(0), 1024);
  k.print_hex_dump_bytes(" gkptr after memset: ", DUMP_PREFIX_OFFSET, gkptr, 32);

  // 2. Allocate memory for and initialize our 'context' structure
  ctx = k.kzalloc(SIZEOF_MYCTX, GFP_KERNEL);
  if (!ctx) {
    k.kfree(gkptr); // out_fail2
    return -ENOMEM;
  }
  k.pr_info("%s: context struct alloc'ed and initialized (actual KVA ret = %px)\n", OURMODNAME, ctx);
  k.print_hex_dump_bytes("ctx: ", DUMP_PREFIX_OFFSET, ctx, 32);

  return 0; // success
}

function slab1_exit(k: Kernel): void {
  k.kfree(ctx);
  k.kfree(gkptr);
  k.pr_info("%s: freed slab memory, removed\n", OURMODNAME);
}

export default {
  name: "slab1",
  description: "LLKD book:ch8/slab1: k[m|z]alloc, kfree, basic demo",
  license: "Dual MIT/GPL",
  init: slab1_init,
  exit: slab1_exit,
} satisfies KernelModule;
