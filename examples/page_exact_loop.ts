// ch8/page_exact_loop (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: alloc_pages_exact()
// and free_pages_exact(). It asks three times for 33 KB. The ordinary page allocator APIs would hand back
// an order-4 block (64 KB, 16 pages) each time; alloc_pages_exact() splits that block and gives the
// pages past PAGE_ALIGN(33 KB) back, so each allocation keeps exactly 9 pages.
//
//   kmem run examples/page_exact_loop.ts
//
// The printk format strings are the book's. One quirk is not kept: when an allocation fails, the book
// also calls free_pages_exact() on the failed (NULL) entry. free_pages_exact(NULL, size) frees the
// addresses 0, 4096, 8192... page by page: free_page(0) does nothing, but free_page(4096) trips
// free_pages()' VM_BUG_ON(!virt_addr_valid()) on a debug kernel. Here the unwinding starts at the last
// successful allocation.
import { ENOMEM, GFP_KERNEL, type KernelModule, PAGE_SIZE } from "../src/index.ts";
import { show_phy_pages } from "./klib.ts";

const OURMODNAME = "page_exact_loop";

/** The higher this is, the more likely the allocation fails, as memory is only freed on rmmod. */
const MAXTIMES = 3;

const gptr: number[] = new Array(MAXTIMES).fill(0);
/** Ask for 33 KB: __get_free_pages() would give 64 KB; alloc_pages_exact() trims it to 36 KB (9 pages). */
const gsz = 33 * 1024;

export default {
  // KBUILD_MODNAME: linked with klib_llkd.o, the module object is page_exact_loop_lkm.ko.
  name: "page_exact_loop_lkm",
  description: "LKP ch8/page_exact_loop: demo using the superior [alloc|free]_pages_exact() APIs",
  license: "Dual MIT/GPL",
  init(k) {
    k.pr_info("%s: inserted\n", OURMODNAME);

    for (let i = 0; i < MAXTIMES; i++) {
      gptr[i] = k.alloc_pages_exact(gsz, GFP_KERNEL);
      if (!gptr[i]) {
        k.pr_warn("%s: alloc_pages_exact() failed! (loop index %d)\n", OURMODNAME, i);
        // It failed; don't leak: free the memory taken so far (not the NULL entry, see above).
        for (let j = i - 1; j >= 0; j--) k.free_pages_exact(gptr[j]!, gsz);
        return -ENOMEM;
      }
      k.pr_info(
        "%s:%d: alloc_pages_exact() alloc'ed %zu bytes memory (%zu pages + rem %u bytes) from the BSA @ %pK (actual=%px)\n",
        OURMODNAME,
        i,
        gsz,
        Math.trunc(gsz / PAGE_SIZE),
        gsz % PAGE_SIZE,
        gptr[i],
        gptr[i],
      );
      // lets 'poison' it..
      k.memset(gptr[i]!, "x".charCodeAt(0), gsz);

      show_phy_pages(k, gptr[i]!, gsz, 1);
      k.msleep(100);
    }

    return 0; // success
  },
  exit(k) {
    for (let i = 0; i < MAXTIMES; i++) k.free_pages_exact(gptr[i]!, gsz);
    k.pr_info("%s: mem freed, removed\n", OURMODNAME);
  },
} satisfies KernelModule;
