// ch8/lowlevel_mem (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: a quick demo of the
// page allocator (buddy system allocator, "BSA") APIs. It allocates with __get_free_page(),
// __get_free_pages(), get_zeroed_page(), alloc_page() and alloc_pages(), prints where each chunk landed,
// shows the physical pages behind two of them with show_phy_pages(), and frees everything on rmmod.
//
//   kmem run examples/lowlevel_mem.ts            (order=3: 8 pages in step 2)
//   kmem run examples/lowlevel_mem.ts order=5    (32 pages in step 2)
//
// The printk format strings are the book's. Quirks of the original, kept because they are harmless:
// - the alloc_page() page is freed by address with free_page(), not with __free_page(page);
// - step 5's order is hard-coded to 3 (exit frees it with order 3), whatever the `order` parameter says;
// - with a negative `order`, powerof() returns -1UL; the allocation then fails and init returns -ENOMEM.
// One quirk is not kept: the book evaluates page_address(alloc_pages(...)) before its NULL check. In C
// page_address(NULL) is a bogus non-NULL address, so a failed allocation would go unnoticed and the exit
// would free that bogus address. Here the struct page pointer is checked first.

import type { Kernel } from "../src/index.ts";
import { __GFP_ZERO, ENOMEM, GFP_KERNEL, type KernelModule, PAGE_OFFSET, PAGE_SIZE } from "../src/index.ts";
import { powerof, show_phy_pages } from "./klib.ts";

const OURMODNAME = "lowlevel_mem";

// The module's static globals (kernel addresses; 0 is NULL).
let gptr1 = 0;
let gptr2 = 0;
let gptr3 = 0;
let gptr4 = 0;
let gptr5 = 0;

/** bsa_alloc: exercise the BSA (buddy system allocator, aka page allocator) APIs. */
function bsa_alloc(k: Kernel, bsa_alloc_order: number): number {
  const stat = -ENOMEM;

  // 0. Show the identity mapping: physical RAM page frames to kernel virtual addresses, from
  //    PAGE_OFFSET for 5 pages.
  k.pr_info("%s: 0. Show identity mapping: RAM page frames : kernel virtual pages :: 1:1\n", OURMODNAME);
  show_phy_pages(k, PAGE_OFFSET, 5 * PAGE_SIZE, 1);

  // 1. Allocate one page with the __get_free_page() API.
  gptr1 = k.__get_free_page(GFP_KERNEL);
  if (!gptr1) {
    // The only failure message: the kernel itself complains loudly when an allocation fails.
    k.pr_warn("%s: __get_free_page() failed!\n", OURMODNAME);
    return stat; // out1
  }
  k.pr_info("%s: 1. __get_free_page() alloc'ed 1 page from the BSA @ %pK (%px)\n", OURMODNAME, gptr1, gptr1);

  // 2. Allocate 2^bsa_alloc_order pages with the __get_free_pages() API.
  const numpg2alloc = powerof(2, bsa_alloc_order); // returns 2^bsa_alloc_order
  gptr2 = k.__get_free_pages(GFP_KERNEL | __GFP_ZERO, bsa_alloc_order);
  if (!gptr2) {
    // no error/warning printk now; see above comment
    k.free_page(gptr1); // out2
    return stat;
  }
  const bytes = BigInt.asUintN(64, numpg2alloc * BigInt(PAGE_SIZE));
  k.pr_info(
    "%s: 2. __get_free_pages() alloc'ed 2^%d = %lld page(s) = %lld bytes\n from the BSA @ %pK (%px)\n",
    OURMODNAME,
    bsa_alloc_order,
    powerof(2, bsa_alloc_order),
    bytes,
    gptr2,
    gptr2,
  );
  k.pr_info(" (PAGE_SIZE = %ld bytes)\n", PAGE_SIZE);
  // SEE THIS! The virtual and physical address and the PFN of each page: are they really contiguous?
  show_phy_pages(k, gptr2, Number(bytes), 1);

  // 3. Allocate and init one page with the get_zeroed_page() API.
  gptr3 = k.get_zeroed_page(GFP_KERNEL);
  if (!gptr3) return out3(k, bsa_alloc_order, stat);
  k.pr_info("%s: 3. get_zeroed_page() alloc'ed 1 page from the BSA @ %pK (%px)\n", OURMODNAME, gptr3, gptr3);

  // 4. Allocate one page with the alloc_page() API. Careful! It returns a pointer to the page's
  //    metadata (struct page), not the page itself; page_address() gives its kernel logical address.
  const pg_ptr1 = k.alloc_page(GFP_KERNEL);
  if (!pg_ptr1) return out4(k, bsa_alloc_order, stat);
  gptr4 = k.page_address(pg_ptr1);
  k.pr_info(
    "%s: 4. alloc_page() alloc'ed 1 page from the BSA @ %pK (%px)\n (struct page addr=%pK (%px))\n",
    OURMODNAME,
    gptr4,
    gptr4,
    pg_ptr1,
    pg_ptr1,
  );

  // 5. Allocate 2^3 = 8 pages with the alloc_pages() API. Same warning as above applies here too!
  const pg5 = k.alloc_pages(GFP_KERNEL, 3);
  gptr5 = pg5 === null ? 0 : k.page_address(pg5);
  if (!gptr5) return out5(k, bsa_alloc_order, stat);
  k.pr_info(
    "%s: 5. alloc_pages() alloc'ed %lld pages from the BSA @ %pK (%px)\n",
    OURMODNAME,
    powerof(2, 3),
    gptr5,
    gptr5,
  );

  return 0;
}

// The book's error labels out5..out2, falling through in reverse order of allocation.
function out5(k: Kernel, order: number, stat: number): number {
  k.free_page(gptr4);
  return out4(k, order, stat);
}
function out4(k: Kernel, order: number, stat: number): number {
  k.free_page(gptr3);
  return out3(k, order, stat);
}
function out3(k: Kernel, order: number, stat: number): number {
  k.free_pages(gptr2, order);
  k.free_page(gptr1); // out2
  return stat; // out1
}

export default {
  // KBUILD_MODNAME: the book links klib_llkd.o in, so the module object is lowlevel_mem_lkm.ko.
  name: "lowlevel_mem_lkm",
  description: "ch8: demo kernel module to exercise essential page allocator APIs",
  license: "Dual MIT/GPL",
  params: {
    order: { type: "int", default: 3, desc: "order of the allocation (power-to-raise-2-to)" },
  },
  init(k, params) {
    return bsa_alloc(k, params.order as number);
  },
  exit(k, params) {
    const bsa_alloc_order = params.order as number;
    k.pr_info("%s: free-ing up the BSA memory chunks...\n", OURMODNAME);
    // Free 'em! We follow the convention of freeing them in the reverse order of allocation.
    k.free_pages(gptr5, 3);
    k.free_page(gptr4);
    k.free_page(gptr3);
    k.free_pages(gptr2, bsa_alloc_order);
    k.free_page(gptr1);
    k.pr_info("%s: removed\n", OURMODNAME);
  },
} satisfies KernelModule;
