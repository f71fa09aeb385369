// The buddy system proper, as 5.4's mm/page_alloc.c does it: __free_one_page (merging, with the
// buddy-of-buddy tail placement), __rmqueue_smallest + expand (split, lower half kept, upper halves at
// list heads), pageblock migratetypes, and the fallback/stealing rules (__rmqueue_fallback,
// steal_suitable_fallback, move_freepages_block). Everything is pfns and typed arrays.
import {
  listAddHead,
  listAddTail,
  listDel,
  MIGRATE_CMA,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
  MIGRATE_UNMOVABLE,
  type Zone,
} from "./mmzone.ts";
import { NIL, type PageArrays, S_BUDDY } from "./page.ts";

/** fallbacks[][]: the order in which other migratetypes are raided (MIGRATE_TYPES ends a row). */
const FALLBACKS: readonly (readonly number[])[] = [
  [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE],
  [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE],
  [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE],
];

/** ALLOC_* flags of mm/internal.h (5.4). */
export const ALLOC_WMARK_MIN = 0;
export const ALLOC_WMARK_LOW = 1;
export const ALLOC_NO_WATERMARKS = 0x04;
export const ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1;
export const ALLOC_OOM = 0x08;
export const ALLOC_HARDER = 0x10;
export const ALLOC_HIGH = 0x20;
export const ALLOC_CPUSET = 0x40;
export const ALLOC_CMA = 0x80;
export const ALLOC_NOFRAGMENT = 0x100;
export const ALLOC_KSWAPD = 0x200;

export class Buddy {
  readonly pageblockNr: number;
  /** Pageblock migratetype bits (get_pageblock_migratetype), one byte per pageblock. */
  readonly pageblockMt: Uint8Array;
  /** page_group_by_mobility_disabled. */
  groupingDisabled = false;

  constructor(
    readonly p: PageArrays,
    readonly maxOrder: number,
    readonly pageblockOrder: number,
  ) {
    this.pageblockNr = 1 << pageblockOrder;
    this.pageblockMt = new Uint8Array(Math.ceil(p.nrPfns / this.pageblockNr));
  }

  pageblockType(pfn: number): number {
    return this.pageblockMt[pfn >>> this.pageblockOrder]!;
  }

  setPageblockType(pfn: number, mt: number): void {
    this.pageblockMt[pfn >>> this.pageblockOrder] = this.groupingDisabled ? MIGRATE_UNMOVABLE : mt;
  }

  /** page_is_buddy(): `b` heads a free block of exactly `order` in the same zone. */
  isBuddy(zoneId: number, b: number, order: number): boolean {
    const p = this.p;
    return b < p.nrPfns && (p.state[b]! & S_BUDDY) !== 0 && p.order[b] === order && p.zone[b] === zoneId;
  }

  addFree(z: Zone, pfn: number, order: number, mt: number, tail: boolean): void {
    const p = this.p;
    const i = order * MIGRATE_TYPES + mt;
    p.state[pfn]! |= S_BUDDY;
    p.order[pfn] = order;
    p.mt[pfn] = mt;
    if (tail) listAddTail(p, z.freeHead, z.freeTail, i, pfn);
    else listAddHead(p, z.freeHead, z.freeTail, i, pfn);
    z.listLen[i]!++;
    z.nrFree[order]!++;
  }

  delFree(z: Zone, pfn: number): void {
    const p = this.p;
    const order = p.order[pfn]!;
    const i = order * MIGRATE_TYPES + p.mt[pfn]!;
    listDel(p, z.freeHead, z.freeTail, i, pfn);
    p.state[pfn]! &= ~S_BUDDY;
    p.order[pfn] = 0;
    z.listLen[i]!--;
    z.nrFree[order]!--;
  }

  /** __free_one_page(): merge with free buddies, then place the block at the list head or tail. */
  freeOne(z: Zone, pfn: number, order: number, mt: number): void {
    const maxOrder = this.maxOrder;
    if (mt !== MIGRATE_ISOLATE) z.freePages += 1 << order;
    // Merging stops below pageblock_order + 1 first, then continues to MAX_ORDER-1 unless isolation
    // forbids it; with no isolated pageblocks the two loops are one.
    let buddyPfn = NIL;
    while (order < maxOrder - 1) {
      buddyPfn = pfn ^ (1 << order);
      if (!this.isBuddy(z.id, buddyPfn, order)) break;
      this.delFree(z, buddyPfn);
      pfn &= buddyPfn;
      order++;
    }
    if (order === maxOrder - 1) buddyPfn = NIL;
    // Buddy-of-buddy: if the merged parent's buddy is free, this block will likely merge soon: keep it cold.
    let tail = false;
    if (order < maxOrder - 2 && buddyPfn !== NIL) {
      const combined = buddyPfn & pfn;
      const higherBuddy = combined ^ (1 << (order + 1));
      tail = this.isBuddy(z.id, higherBuddy, order + 1);
    }
    this.addFree(z, pfn, order, mt, tail);
  }

  /** __rmqueue_smallest() + expand(): the lowest-order block of this migratetype, split down to `order`. */
  rmqueueSmallest(z: Zone, order: number, mt: number): number {
    for (let cur = order; cur < this.maxOrder; cur++) {
      const pfn = z.freeHead[cur * MIGRATE_TYPES + mt]!;
      if (pfn === NIL) continue;
      this.delFree(z, pfn);
      this.expand(z, pfn, order, cur, mt);
      this.p.mt[pfn] = mt;
      return pfn;
    }
    return NIL;
  }

  /** expand(): keep the lower half, put each upper half at the head of the next lower order's list. */
  expand(z: Zone, pfn: number, low: number, high: number, mt: number): void {
    while (high > low) {
      high--;
      this.addFree(z, pfn + (1 << high), high, mt, false);
    }
  }

  /** can_steal_fallback(). */
  private canStealFallback(order: number, startMt: number): boolean {
    if (order >= this.pageblockOrder) return true;
    return (
      order >= this.pageblockOrder / 2 ||
      startMt === MIGRATE_RECLAIMABLE ||
      startMt === MIGRATE_UNMOVABLE ||
      this.groupingDisabled
    );
  }

  /** find_suitable_fallback() with only_stealable=false; sets `this.canSteal`. */
  private canSteal = false;
  private findSuitableFallback(z: Zone, order: number, mt: number): number {
    if (z.nrFree[order] === 0) return -1;
    this.canSteal = false;
    for (const f of FALLBACKS[mt]!) {
      if (z.freeHead[order * MIGRATE_TYPES + f] === NIL) continue;
      if (this.canStealFallback(order, mt)) this.canSteal = true;
      return f;
    }
    return -1;
  }

  /** __rmqueue_fallback(): raid another migratetype, largest block first; true if a block was moved. */
  rmqueueFallback(z: Zone, order: number, startMt: number, allocFlags: number): boolean {
    const minOrder = allocFlags & ALLOC_NOFRAGMENT ? this.pageblockOrder : order;
    let cur = this.maxOrder - 1;
    let fallbackMt = -1;
    for (; cur >= minOrder; cur--) {
      fallbackMt = this.findSuitableFallback(z, cur, startMt);
      if (fallbackMt === -1) continue;
      // A movable request that may not steal takes the smallest block instead of breaking a big one.
      if (!this.canSteal && startMt === MIGRATE_MOVABLE && cur > order) {
        for (cur = order; cur < this.maxOrder; cur++) {
          fallbackMt = this.findSuitableFallback(z, cur, startMt);
          if (fallbackMt !== -1) break;
        }
      }
      break;
    }
    if (fallbackMt === -1) return false;
    const pfn = z.freeHead[cur * MIGRATE_TYPES + fallbackMt]!;
    this.stealSuitableFallback(z, pfn, startMt, this.canSteal);
    return true;
  }

  /** steal_suitable_fallback(): claim the whole pageblock when enough of it is free or alike. */
  private stealSuitableFallback(z: Zone, pfn: number, startMt: number, wholeBlock: boolean): void {
    const order = this.p.order[pfn]!;
    const oldType = this.pageblockType(pfn);
    if (oldType !== MIGRATE_HIGHATOMIC) {
      if (order >= this.pageblockOrder) {
        // change_pageblock_range(): every pageblock the block covers becomes startMt.
        for (let i = 0; i < 1 << (order - this.pageblockOrder); i++)
          this.setPageblockType(pfn + i * this.pageblockNr, startMt);
      } else if (wholeBlock) {
        // Watermark boosting would wake kswapd, whose pass ends by clearing the boost; with nothing to
        // reclaim that pass is immediate, so the boost is never observable here.
        const free = this.moveFreepagesBlock(z, pfn, startMt);
        // No page here is on an LRU, so a movable request finds no "alike" pages, and for others every
        // allocated page of a movable block counts as alike.
        const alike =
          startMt === MIGRATE_MOVABLE ? 0 : oldType === MIGRATE_MOVABLE ? this.pageblockNr - free : 0;
        if (free > 0) {
          if (free + alike >= this.pageblockNr >> 1 || this.groupingDisabled)
            this.setPageblockType(pfn, startMt);
          return;
        }
      }
    }
    // single_page: move just this block to the requested list (list_move = head in 5.4).
    this.delFree(z, pfn);
    this.addFree(z, pfn, order, startMt, false);
  }

  /** move_freepages_block(): move every free block of the pageblock to `mt` lists; returns pages moved. */
  moveFreepagesBlock(z: Zone, pfn: number, mt: number): number {
    const start = Math.max(pfn & ~(this.pageblockNr - 1), z.startPfn);
    const end = Math.min((pfn | (this.pageblockNr - 1)) + 1, z.endPfn);
    const p = this.p;
    let moved = 0;
    for (let q = start; q < end; ) {
      if ((p.state[q]! & S_BUDDY) === 0 || p.zone[q] !== z.id) {
        q++;
        continue;
      }
      const order = p.order[q]!;
      this.delFree(z, q);
      this.addFree(z, q, order, mt, false);
      moved += 1 << order;
      q += 1 << order;
    }
    return moved;
  }

  /** __rmqueue(): the migratetype's own lists, then CMA for movable requests, then fallback. */
  rmqueue(z: Zone, order: number, mt: number, allocFlags: number): number {
    for (;;) {
      let pfn = this.rmqueueSmallest(z, order, mt);
      if (pfn !== NIL) return pfn;
      if (mt === MIGRATE_MOVABLE) {
        pfn = this.rmqueueSmallest(z, order, MIGRATE_CMA);
        if (pfn !== NIL) return pfn;
      }
      if (!this.rmqueueFallback(z, order, mt, allocFlags)) return NIL;
    }
  }
}
