// struct page as a structure of typed arrays indexed by pfn: 16 bytes of metadata per page frame.
//   next/prev  list links (the kernel's page->lru); on a compound tail, next holds the head pfn
//              (the kernel keeps compound_head in the same word); on a slab head, prev holds the slab id
//   refcount   page->_refcount
//   state      our compact page flags (below), mapped to kernel PG_ bits when printed
//   order      page_private: buddy order of a free block head, or the order a block was allocated with
//   mt         page->index of a pcp page: the migratetype cached when it was allocated or freed
//   zone       global zone id (node * MAX_NR_ZONES + zone index), the kernel's page_zonenum/page_to_nid bits

export const NIL = -1;

/** Head of a free block in the buddy lists (PageBuddy, page type in _mapcount). */
export const S_BUDDY = 1 << 0;
/** On a per-CPU page list (free, refcount 0, not PageBuddy). */
export const S_PCP = 1 << 1;
/** PG_head: first page of a compound page. */
export const S_HEAD = 1 << 2;
/** Tail page of a compound page (compound_head bit 0). */
export const S_TAIL = 1 << 3;
/** PG_reserved: memblock-reserved at boot, never in the allocator. */
export const S_RESERVED = 1 << 4;
/** Head of a block handed out by the allocator (with `order` = the allocation order). */
export const S_ALLOC = 1 << 5;
/** Not backed by RAM (an e820 hole inside a zone's span). */
export const S_HOLE = 1 << 6;
/** PG_slab: head of a block the slab allocator owns; its `prev` link holds the slab's id (mm/slub). */
export const S_SLAB = 1 << 7;
/**
 * `prev` of an allocated compound head that kmalloc_large() handed out (not a slab): kfree() may free it
 * whole. Allocated heads are on no list, so the link is free for this.
 */
export const KMALLOC_LARGE = -2;

export class PageArrays {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly refcount: Int32Array;
  readonly state: Uint8Array;
  readonly order: Uint8Array;
  readonly mt: Uint8Array;
  readonly zone: Uint8Array;

  constructor(readonly nrPfns: number) {
    this.next = new Int32Array(nrPfns).fill(NIL);
    this.prev = new Int32Array(nrPfns).fill(NIL);
    this.refcount = new Int32Array(nrPfns);
    this.state = new Uint8Array(nrPfns);
    this.order = new Uint8Array(nrPfns);
    this.mt = new Uint8Array(nrPfns);
    this.zone = new Uint8Array(nrPfns);
  }

  /** Heap bytes of metadata per page frame. */
  static readonly BYTES_PER_PAGE = 4 + 4 + 4 + 1 + 1 + 1 + 1;
}
