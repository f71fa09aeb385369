// The page allocator's API as a module sees it (include/linux/gfp.h, mm/page_alloc.c, include/linux/mm.h),
// with CONFIG_DEBUG_VM's checks. Every argument is validated before any state changes: misuse gets the
// kernel's report and a refusal (NULL, or nothing freed), and the allocator stays consistent.
import { hex16, PAGE_OFFSET, PAGE_SIZE, STRUCT_PAGE_SIZE, VMEMMAP_START } from "../arch/x86/layout.ts";
import type { Core } from "../kernel/core.ts";
import { type BadPageReporter, dumpPage, pageHandle } from "./debug.ts";
import { __GFP_BITS_MASK, __GFP_NOWARN } from "./gfp.ts";
import { NIL, type PageArrays, S_ALLOC, S_HEAD, S_RESERVED, S_SLAB, S_TAIL } from "./page.ts";
import { gfpZone, type PageAllocator } from "./page_alloc.ts";
import { PG_reserved, PG_slab } from "./page_flags.ts";

/** _refcount's offset in struct page: where a bogus page pointer first faults. */
const REFCOUNT_OFFSET = 52;

export class PageApi {
  readonly maxOrder: number;

  constructor(
    readonly core: Core,
    readonly p: PageArrays,
    readonly alloc: PageAllocator,
    readonly bad: BadPageReporter,
    readonly maxPfn: number,
  ) {
    this.maxOrder = alloc.maxOrder;
  }

  // ---- argument checks ---------------------------------------------------------------------------

  /** The pfn of a struct page pointer, or NIL after an Oops report for a pointer outside the memmap. */
  pagePfn(page: number | null, fn: string): number {
    if (typeof page !== "number") {
      if (page === null) this.core.oops(hex16(REFCOUNT_OFFSET), false, fn, false);
      else throw new TypeError(`${fn}: page must be a struct page pointer (number), got ${typeof page}`);
      return NIL;
    }
    const off = page - VMEMMAP_START;
    if (off >= 0 && off < this.maxPfn * STRUCT_PAGE_SIZE && off % STRUCT_PAGE_SIZE === 0)
      return off / STRUCT_PAGE_SIZE;
    this.core.oops(hex16(page + REFCOUNT_OFFSET), false, fn, false);
    return NIL;
  }

  static order(order: number, fn: string): number {
    if (!Number.isInteger(order)) throw new TypeError(`${fn}: order must be an integer, got ${order}`);
    // The kernel's order is unsigned: a negative order is a huge one.
    return order < 0 ? Number.MAX_SAFE_INTEGER : order;
  }

  static gfp(gfp: number, fn: string): number {
    // A 32-bit unsigned integer is exactly a number that survives >>> 0 unchanged.
    if (gfp >>> 0 !== gfp)
      throw new TypeError(`${fn}: gfp_mask must be a 32-bit unsigned integer, got ${gfp}`);
    return gfp & __GFP_BITS_MASK; // gfp_allowed_mask
  }

  /** VM_BUG_ON_PAGE(cond, page): dump_page with the condition's text, then BUG(). */
  vmBugOnPage(
    pfn: number,
    cond: string,
    file: string,
    line: number,
    fn: string,
    callers: string[] = [],
  ): void {
    dumpPage(this.core, this.p, pfn, `VM_BUG_ON_PAGE(${cond})`);
    this.core.bug(file, line, fn, callers);
  }

  // ---- allocation ------------------------------------------------------------------------------

  /** __alloc_pages_nodemask(): order and zone checks, then the allocator. Returns a pfn or NIL. */
  allocPfn(gfp: number, order: number, nid: number, fn: string, callers: string[] = [fn]): number {
    gfp = PageApi.gfp(gfp, fn);
    order = PageApi.order(order, fn);
    if (order >= this.maxOrder) {
      if (!(gfp & __GFP_NOWARN))
        this.core.warnOnce(
          "max_order",
          "mm/page_alloc.c",
          this.core.profile.lines.allocOrderWarn,
          "__alloc_pages_nodemask",
          callers,
        );
      return NIL;
    }
    if (gfpZone(gfp) < 0) {
      // gfp_zone(): VM_BUG_ON((GFP_ZONE_BAD >> bit) & 1) for contradictory zone modifiers.
      this.core.bug("include/linux/gfp.h", this.core.profile.lines.gfpZoneBad, "__alloc_pages_nodemask", [
        fn,
      ]);
      return NIL;
    }
    return this.alloc.allocPages(gfp, order, nid, fn);
  }

  allocPagesNode(nid: number, gfp: number, order: number, fn: string): number {
    if (!Number.isInteger(nid)) throw new TypeError(`${fn}: nid must be an integer`);
    if (nid === -1) nid = this.alloc.cpuNode[this.alloc.cpu]!;
    if (nid < 0 || nid >= this.alloc.nodes.length) {
      // VM_BUG_ON(nid < 0 || nid >= MAX_NUMNODES) / NODE_DATA(nid) of an offline node.
      this.core.bug("include/linux/gfp.h", this.core.profile.lines.allocPagesNode, "__alloc_pages_node", [
        fn,
      ]);
      return NIL;
    }
    return this.allocPfn(gfp, order, nid, fn);
  }

  localNode(): number {
    return this.alloc.cpuNode[this.alloc.cpu]!;
  }

  // ---- freeing ---------------------------------------------------------------------------------

  /**
   * Checks shared by __free_pages and put_page: true when dropping a reference on `pfn` is legal.
   * A reference dropped to zero on a reserved page is the bad-page case (flags checked at free).
   */
  private canDrop(pfn: number, fn: string): boolean {
    const p = this.p;
    if (p.refcount[pfn]! === 0) {
      this.vmBugOnPage(
        pfn,
        "page_ref_count(page) == 0",
        "include/linux/mm.h",
        this.core.profile.lines.putPageTestzero,
        fn,
      );
      return false;
    }
    if (p.refcount[pfn] === 1 && p.state[pfn]! & (S_RESERVED | S_SLAB)) {
      const bad = p.state[pfn]! & S_RESERVED ? PG_reserved : PG_slab;
      this.bad.report(pfn, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set", 1n << BigInt(bad), [
        "free_pcp_prepare",
        fn,
      ]);
      return false;
    }
    return true;
  }

  /** __free_pages(page, order). */
  freePages(pfn: number, order: number, fn: string): void {
    const p = this.p;
    // The common case, checked in one go: the only reference to an order-0 page the allocator handed out
    // (not reserved, compound or already free). It passes every check below, so it can skip them.
    if (order === 0 && p.state[pfn] === S_ALLOC && p.refcount[pfn] === 1 && p.order[pfn] === 0) {
      p.refcount[pfn] = 0;
      p.state[pfn] = 0;
      this.alloc.freeUnrefPage(pfn);
      return;
    }
    order = PageApi.order(order, fn);
    if (!this.canDrop(pfn, fn)) return;
    const st = p.state[pfn]!;
    if (st & S_ALLOC && p.order[pfn] !== order) {
      if (st & S_HEAD) {
        this.vmBugOnPage(
          pfn,
          "compound && compound_order(page) != order",
          "mm/page_alloc.c",
          this.core.profile.lines.freePagesPrepareCompound,
          "free_pages_prepare",
          [fn],
        );
      } else {
        this.bad.report(
          pfn,
          `order mismatch: freed as order ${order}, allocated as order ${p.order[pfn]}`,
          0n,
          [fn],
        );
      }
      return;
    }
    // put_page_testzero(): only the last reference frees; in 5.4 nothing else happens otherwise.
    if (--p.refcount[pfn]! > 0) return;
    this.freeBlock(pfn, st & S_ALLOC ? p.order[pfn]! : 0);
  }

  /** Give a block whose last reference is gone back to the allocator (free_unref_page / __free_pages_ok). */
  freeBlock(pfn: number, order: number): void {
    const p = this.p;
    if (p.state[pfn]! & S_HEAD) for (let i = 1; i < 1 << order; i++) p.state[pfn + i] = 0;
    p.state[pfn]! &= ~(S_ALLOC | S_HEAD);
    p.order[pfn] = 0;
    if (order === 0) this.alloc.freeUnrefPage(pfn);
    else this.alloc.freePagesOk(pfn, order);
  }

  /** put_page(): drop a reference on the head; at zero a compound page is freed whole, any other page as order 0. */
  putPage(pfn: number, fn: string): void {
    const head = this.alloc.compoundHead(pfn);
    if (!this.canDrop(head, fn)) return;
    const p = this.p;
    if (--p.refcount[head]! > 0) return;
    if (p.state[head]! & S_HEAD) this.freeBlock(head, p.order[head]!);
    else this.freeBlock(head, 0); // __put_single_page: a non-compound block loses its other pages here
  }

  /** get_page(). */
  getPage(pfn: number, fn: string): void {
    const head = this.alloc.compoundHead(pfn);
    const rc = this.p.refcount[head]!;
    if ((rc + 127) >>> 0 <= 127) {
      this.vmBugOnPage(
        head,
        "((unsigned int) page_ref_count(page) + 127u <= 127u)",
        "include/linux/mm.h",
        1006,
        fn,
      );
      return;
    }
    this.p.refcount[head] = rc + 1;
  }

  /** split_page(): a non-compound block becomes 2^order independent order-0 pages. */
  splitPage(pfn: number, order: number, fn: string): void {
    order = PageApi.order(order, fn);
    const p = this.p;
    const lines = this.core.profile.lines;
    if (p.state[pfn]! & (S_HEAD | S_TAIL)) {
      this.vmBugOnPage(pfn, "PageCompound(page)", "mm/page_alloc.c", lines.splitPageCompound, fn);
      return;
    }
    if (p.refcount[pfn] === 0) {
      this.vmBugOnPage(pfn, "!page_count(page)", "mm/page_alloc.c", lines.splitPageCount, fn);
      return;
    }
    if (!(p.state[pfn]! & S_ALLOC) || p.order[pfn] !== order) {
      this.bad.report(
        pfn,
        `split_page: order ${order} does not match the allocation's order ${p.state[pfn]! & S_ALLOC ? p.order[pfn] : "(not an allocated block)"}`,
        0n,
        [fn],
      );
      return;
    }
    for (let i = 0; i < 1 << order; i++) {
      p.state[pfn + i] = (p.state[pfn + i]! & ~S_HEAD) | S_ALLOC;
      p.order[pfn + i] = 0;
      if (i > 0) p.refcount[pfn + i] = 1;
    }
  }

  // ---- addresses -------------------------------------------------------------------------------

  /** free_pages(addr, order): VM_BUG_ON(!virt_addr_valid(addr)), then __free_pages(virt_to_page(addr)). */
  addrPfn(addr: number, fn: string): number {
    if (typeof addr !== "number") throw new TypeError(`${fn}: addr must be a number`);
    if (!this.virtAddrValid(addr)) {
      this.core.bug("mm/page_alloc.c", this.core.profile.lines.freePagesVirtValid, fn);
      return NIL;
    }
    const pfn = Math.floor((addr - PAGE_OFFSET) / PAGE_SIZE);
    if ((addr - PAGE_OFFSET) % PAGE_SIZE !== 0) {
      this.bad.report(pfn, `${fn}: address ${hex16(addr)} is not page-aligned`, 0n, [fn]);
      return NIL;
    }
    return pfn;
  }

  virtAddrValid(addr: number): boolean {
    const phys = addr - PAGE_OFFSET;
    return Number.isInteger(addr) && phys >= 0 && phys < this.maxPfn * PAGE_SIZE;
  }

  pageAddress(pfn: number): number {
    return PAGE_OFFSET + pfn * PAGE_SIZE;
  }

  handle(pfn: number): number | null {
    return pfn === NIL ? null : pageHandle(pfn);
  }
}
