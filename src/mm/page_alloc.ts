// The zoned page frame allocator of 5.4: zone selection from GFP bits, zonelist walk with watermark checks
// (get_page_from_freelist), per-CPU lists for order 0 (rmqueue_pcplist / free_unref_page /
// free_pcppages_bulk), the slow path as far as it applies without reclaim, the high-atomic reserve, and the
// free path (__free_pages_ok). Validation of caller input lives in the API layer; this layer assumes it.
import {
  ALLOC_CMA,
  ALLOC_CPUSET,
  ALLOC_HARDER,
  ALLOC_HIGH,
  ALLOC_KSWAPD,
  ALLOC_NO_WATERMARKS,
  ALLOC_NOFRAGMENT,
  ALLOC_OOM,
  ALLOC_WMARK_LOW,
  ALLOC_WMARK_MASK,
  ALLOC_WMARK_MIN,
  Buddy,
} from "./buddy.ts";
import {
  __GFP_ATOMIC,
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_HIGH,
  __GFP_HIGHMEM,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MEMALLOC,
  __GFP_MOVABLE,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_THISNODE,
  __GFP_ZERO,
  GFP_MOVABLE_MASK,
  GFP_MOVABLE_SHIFT,
  GFP_ZONEMASK,
} from "./gfp.ts";
import {
  listAddHead,
  listAddTail,
  listDel,
  MAX_NR_ZONES,
  MIGRATE_CMA,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_TYPES,
  type PgData,
  WMARK_LOW,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  type Zone,
} from "./mmzone.ts";
import { NIL, type PageArrays, S_ALLOC, S_HEAD, S_PCP, S_TAIL } from "./page.ts";

export const PAGE_ALLOC_COSTLY_ORDER = 3;

/** What the allocator asks of the kernel around it: reports and memory zeroing. */
export interface AllocHooks {
  /** WARN_ON_ONCE at a kernel site named in the profile's line table; logs once per site. */
  warnOnce(
    site: "slowpathAtomicReclaim" | "nofailNoReclaim" | "nofailCostly" | "rmqueueNofail",
    fn: string,
  ): void;
  /** warn_alloc(): "page allocation failure: order:%u" + stack + show_mem, rate limited; `fn` called in. */
  /** warn_alloc() for a failed allocation; `callers` are the kernel frames above __alloc_pages_nodemask. */
  warnAlloc(gfp: number, order: number, callers: readonly string[]): void;
  /** clear_highpage() on each page of the block. */
  zeroPages(pfn: number, nr: number): void;
}

/** gfp_zone(): -1 for an invalid combination (GFP_ZONE_BAD). */
const GFP_ZONE_TABLE: Int8Array = (() => {
  const t = new Int8Array(16).fill(-1);
  const DMA = __GFP_DMA;
  const HI = __GFP_HIGHMEM;
  const D32 = __GFP_DMA32;
  const MOV = __GFP_MOVABLE;
  t[0] = ZONE_NORMAL;
  t[DMA] = ZONE_DMA;
  t[HI] = ZONE_NORMAL; // no highmem on x86_64
  t[D32] = ZONE_DMA32;
  t[MOV] = ZONE_NORMAL;
  t[MOV | DMA] = ZONE_DMA;
  t[MOV | HI] = ZONE_MOVABLE;
  t[MOV | D32] = ZONE_DMA32;
  return t;
})();

export function gfpZone(gfp: number): number {
  return GFP_ZONE_TABLE[gfp & GFP_ZONEMASK]!;
}

/** gfpflags_to_migratetype(). */
export function gfpMigratetype(gfp: number): number {
  return (gfp & GFP_MOVABLE_MASK) >>> GFP_MOVABLE_SHIFT;
}

export class PageAllocator {
  readonly buddy: Buddy;
  /** Current CPU (smp_processor_id) and each CPU's node. */
  cpu = 0;
  readonly cpuNode: number[];
  /** vm events. */
  pgfree = 0;
  readonly maxOrder: number;

  constructor(
    readonly p: PageArrays,
    readonly nodes: PgData[],
    readonly zones: Zone[],
    readonly cpus: number,
    maxOrder: number,
    pageblockOrder: number,
    readonly hooks: AllocHooks,
  ) {
    this.maxOrder = maxOrder;
    this.buddy = new Buddy(p, maxOrder, pageblockOrder);
    this.cpuNode = Array.from({ length: cpus }, (_, c) => Math.floor((c * nodes.length) / cpus));
  }

  zoneOf(pfn: number): Zone {
    return this.zones[this.p.zone[pfn]!]!;
  }

  // ---- per-CPU lists ---------------------------------------------------------------------------

  /** rmqueue_bulk(): pull `count` order-0 pages from the buddy lists onto the tail of a pcp list. */
  private rmqueueBulk(z: Zone, cpu: number, count: number, mt: number, allocFlags: number): number {
    const p = this.p;
    const li = cpu * MIGRATE_PCPTYPES + mt;
    let i = 0;
    for (; i < count; i++) {
      const pfn = this.buddy.rmqueue(z, 0, mt, allocFlags);
      if (pfn === NIL) break;
      p.state[pfn]! |= S_PCP;
      listAddTail(p, z.pcpHead, z.pcpTail, li, pfn);
    }
    z.freePages -= i;
    return i;
  }

  /** free_pcppages_bulk(): return `count` pages from the list tails, round-robin over the pcp lists. */
  freePcppagesBulk(z: Zone, cpu: number, count: number): void {
    const p = this.p;
    count = Math.min(count, z.pcpCount[cpu]!);
    let mt = 0;
    while (count > 0) {
      let batchFree = 0;
      let li: number;
      do {
        batchFree++;
        if (++mt === MIGRATE_PCPTYPES) mt = 0;
        li = cpu * MIGRATE_PCPTYPES + mt;
      } while (z.pcpHead[li] === NIL);
      // Only one list has pages: take everything from it.
      if (batchFree === MIGRATE_PCPTYPES) batchFree = count;
      do {
        const pfn = z.pcpTail[li]!;
        listDel(p, z.pcpHead, z.pcpTail, li, pfn);
        z.pcpCount[cpu]!--;
        // The kernel gathers the batch first and frees it after; picking touches only pcp lists and
        // freeing only buddy lists, so freeing each page as it is picked gives the same result.
        p.state[pfn]! &= ~S_PCP;
        this.buddy.freeOne(z, pfn, 0, p.mt[pfn]!);
      } while (--count > 0 && --batchFree > 0 && z.pcpHead[li] !== NIL);
    }
  }

  /** __rmqueue_pcplist(): the head of this CPU's list, refilled by one batch when empty. */
  private rmqueuePcplist(z: Zone, mt: number, allocFlags: number): number {
    const cpu = this.cpu;
    const li = cpu * MIGRATE_PCPTYPES + mt;
    if (z.pcpHead[li] === NIL) {
      z.pcpCount[cpu]! += this.rmqueueBulk(z, cpu, z.pcpBatch, mt, allocFlags);
      if (z.pcpHead[li] === NIL) return NIL;
    }
    const p = this.p;
    const pfn = z.pcpHead[li]!;
    listDel(p, z.pcpHead, z.pcpTail, li, pfn);
    p.state[pfn]! &= ~S_PCP;
    z.pcpCount[cpu]!--;
    return pfn;
  }

  /** free_unref_page(): an order-0 page goes to the head of this CPU's list; drain a batch past `high`. */
  freeUnrefPage(pfn: number): void {
    const p = this.p;
    const z = this.zones[p.zone[pfn]!]!;
    let mt = this.buddy.pageblockType(pfn);
    p.mt[pfn] = mt;
    this.pgfree++;
    if (mt >= MIGRATE_PCPTYPES) {
      if (mt === MIGRATE_ISOLATE) {
        this.buddy.freeOne(z, pfn, 0, mt);
        return;
      }
      mt = MIGRATE_MOVABLE;
    }
    const cpu = this.cpu;
    p.state[pfn]! |= S_PCP;
    listAddHead(p, z.pcpHead, z.pcpTail, cpu * MIGRATE_PCPTYPES + mt, pfn);
    if (++z.pcpCount[cpu]! >= z.pcpHigh) this.freePcppagesBulk(z, cpu, z.pcpBatch);
  }

  /** __free_pages_ok(): a block of order > 0 goes straight back to the buddy lists. */
  freePagesOk(pfn: number, order: number): void {
    this.pgfree += 1 << order;
    this.buddy.freeOne(this.zoneOf(pfn), pfn, order, this.buddy.pageblockType(pfn));
  }

  /** drain_all_pages(NULL): every CPU's lists back to the buddy allocator. */
  drainAllPages(): void {
    for (const z of this.zones) {
      if (!z?.populated) continue;
      for (let cpu = 0; cpu < this.cpus; cpu++) this.freePcppagesBulk(z, cpu, z.pcpCount[cpu]!);
    }
  }

  // ---- watermarks ------------------------------------------------------------------------------

  /** __zone_watermark_ok(). */
  zoneWatermarkOk(z: Zone, order: number, mark: number, classzone: number, allocFlags: number): boolean {
    let free = z.freePages - ((1 << order) - 1);
    let min = mark;
    const harder = (allocFlags & (ALLOC_HARDER | ALLOC_OOM)) !== 0;
    if (allocFlags & ALLOC_HIGH) min -= Math.floor(min / 2);
    if (!harder) free -= z.nrReservedHighatomic;
    else if (allocFlags & ALLOC_OOM) min -= Math.floor(min / 2);
    else min -= Math.floor(min / 4);
    if (free <= min + z.lowmemReserve[classzone]!) return false;
    if (order === 0) return true;
    for (let o = order; o < this.maxOrder; o++) {
      if (z.nrFree[o] === 0) continue;
      for (let mt = 0; mt < MIGRATE_PCPTYPES; mt++)
        if (z.freeHead[o * MIGRATE_TYPES + mt] !== NIL) return true;
      if (harder && z.freeHead[o * MIGRATE_TYPES + MIGRATE_HIGHATOMIC] !== NIL) return true;
    }
    return false;
  }

  /** zone_watermark_fast(): the order-0 shortcut, else the full check. */
  private zoneWatermarkFast(z: Zone, order: number, mark: number, classzone: number, allocFlags: number) {
    if (order === 0 && z.freePages > mark + z.lowmemReserve[classzone]!) return true;
    return this.zoneWatermarkOk(z, order, mark, classzone, allocFlags);
  }

  // ---- allocation ------------------------------------------------------------------------------

  /** rmqueue(): pcp for order 0, otherwise the buddy lists (high-atomic reserve first for HARDER). */
  private rmqueue(z: Zone, order: number, mt: number, allocFlags: number): number {
    let pfn: number;
    if (order === 0) {
      pfn = this.rmqueuePcplist(z, mt, allocFlags);
      if (pfn === NIL) return NIL;
    } else {
      pfn = NIL;
      if (allocFlags & ALLOC_HARDER) pfn = this.buddy.rmqueueSmallest(z, order, MIGRATE_HIGHATOMIC);
      if (pfn === NIL) pfn = this.buddy.rmqueue(z, order, mt, allocFlags);
      if (pfn === NIL) return NIL;
      z.freePages -= 1 << order;
    }
    z.pgalloc += 1 << order;
    return pfn;
  }

  /** get_page_from_freelist(): walk the zonelist, checking each zone's watermark. */
  private getPageFromFreelist(
    zonelist: Zone[],
    highIdx: number,
    order: number,
    mt: number,
    allocFlags: number,
  ): number {
    for (;;) {
      const noFallback = allocFlags & ALLOC_NOFRAGMENT;
      let preferred: Zone | null = null;
      let retry = false;
      for (let i = 0; i < zonelist.length; i++) {
        const z = zonelist[i]!;
        if (z.idx > highIdx) continue;
        if (preferred === null) preferred = z;
        // On NUMA, never fragment the local node's pageblocks just to avoid a remote node.
        if (noFallback && this.nodes.length > 1 && z.nid !== preferred.nid) {
          allocFlags &= ~ALLOC_NOFRAGMENT;
          retry = true;
          break;
        }
        if (!(allocFlags & ALLOC_NO_WATERMARKS)) {
          const mark = z.watermark[allocFlags & ALLOC_WMARK_MASK]! + z.watermarkBoost;
          if (!this.zoneWatermarkFast(z, order, mark, preferred.idx, allocFlags)) continue;
        }
        const pfn = this.rmqueue(z, order, mt, allocFlags);
        if (pfn === NIL) continue;
        this.zoneStatistics(preferred, z);
        if (order > 0 && allocFlags & ALLOC_HARDER) this.reserveHighatomicPageblock(z, pfn);
        return pfn;
      }
      if (retry) continue;
      // Every zone would have needed a fallback that fragments: try again allowing it.
      if (noFallback) {
        allocFlags &= ~ALLOC_NOFRAGMENT;
        continue;
      }
      return NIL;
    }
  }

  /** zone_statistics(): numa_hit/miss/foreign and local/other, once per allocation. */
  private zoneStatistics(preferred: Zone, z: Zone): void {
    if (z.nid === preferred.nid) z.numaHit++;
    else {
      z.numaMiss++;
      preferred.numaForeign++;
    }
    if (z.nid === this.cpuNode[this.cpu]) z.numaLocal++;
    else z.numaOther++;
  }

  /** reserve_highatomic_pageblock(): keep a pageblock for high-order atomic allocations. */
  private reserveHighatomicPageblock(z: Zone, pfn: number): void {
    const max = Math.floor(z.managed / 100) + this.buddy.pageblockNr;
    if (z.nrReservedHighatomic >= max) return;
    const mt = this.buddy.pageblockType(pfn);
    if (mt === MIGRATE_HIGHATOMIC || mt === MIGRATE_CMA || mt === MIGRATE_ISOLATE) return;
    z.nrReservedHighatomic += this.buddy.pageblockNr;
    this.buddy.setPageblockType(pfn, MIGRATE_HIGHATOMIC);
    this.buddy.moveFreepagesBlock(z, pfn, MIGRATE_HIGHATOMIC);
  }

  /** unreserve_highatomic_pageblock(ac, false): give reserved pageblocks back to the requester's type. */
  private unreserveHighatomic(zonelist: Zone[], highIdx: number, mt: number): boolean {
    let done = false;
    for (const z of zonelist) {
      if (z.idx > highIdx || z.nrReservedHighatomic <= this.buddy.pageblockNr) continue;
      for (let o = 0; o < this.maxOrder; o++) {
        const pfn = z.freeHead[o * MIGRATE_TYPES + MIGRATE_HIGHATOMIC]!;
        if (pfn === NIL) continue;
        if (this.buddy.pageblockType(pfn) === MIGRATE_HIGHATOMIC) {
          z.nrReservedHighatomic -= Math.min(this.buddy.pageblockNr, z.nrReservedHighatomic);
        }
        this.buddy.setPageblockType(pfn, mt);
        this.buddy.moveFreepagesBlock(z, pfn, mt);
        done = true;
        break;
      }
      if (done) break;
    }
    return done;
  }

  /** prep_new_page(): refcount 1, zeroing for __GFP_ZERO, compound metadata for __GFP_COMP. */
  private prepNewPage(pfn: number, order: number, gfp: number): void {
    const p = this.p;
    p.refcount[pfn] = 1;
    p.state[pfn] = (p.state[pfn]! & ~S_PCP) | S_ALLOC;
    p.order[pfn] = order;
    if (gfp & __GFP_ZERO) this.hooks.zeroPages(pfn, 1 << order);
    if (order > 0 && gfp & __GFP_COMP) {
      p.state[pfn]! |= S_HEAD;
      for (let i = 1; i < 1 << order; i++) {
        p.state[pfn + i] = S_TAIL;
        p.next[pfn + i] = pfn;
        p.refcount[pfn + i] = 0;
      }
    }
  }

  /**
   * The first usable zone of each zonelist (ac->preferred_zoneref), by node, __GFP_THISNODE and the
   * highest zone index the GFP mask allows; filled by refreshZonelists() once zonelists exist.
   */
  private preferredZone: (Zone | null)[] = [];

  refreshZonelists(): void {
    this.preferredZone = [];
    for (const node of this.nodes)
      for (const list of [node.fallback, node.nofallback])
        for (let hi = 0; hi < MAX_NR_ZONES; hi++)
          this.preferredZone.push(list.find((z) => z.idx <= hi) ?? null);
  }

  /** __alloc_pages_nodemask() for a validated request: fast path, then the slow path. */
  allocPages(gfp: number, order: number, nid: number, fn: string | readonly string[]): number {
    const highIdx = gfpZone(gfp);
    const mt = gfpMigratetype(gfp);
    const preferred =
      this.preferredZone[((nid << 1) | (gfp & __GFP_THISNODE ? 1 : 0)) * MAX_NR_ZONES + highIdx]!;
    if (preferred === null) return this.failed(gfp, order, fn);
    if (order === 0) {
      // The common case of get_page_from_freelist(), unrolled: the preferred zone is above its low
      // watermark (zone_watermark_fast's order-0 test) and this CPU's list has a page. Anything else
      // takes the general walk below, which repeats these checks and gets the same answer.
      const z = preferred;
      if (z.freePages > z.watermark[WMARK_LOW]! + z.watermarkBoost + z.lowmemReserve[z.idx]!) {
        const li = this.cpu * MIGRATE_PCPTYPES + mt;
        const pfn = z.pcpHead[li]!;
        if (pfn !== NIL) {
          const p = this.p;
          listDel(p, z.pcpHead, z.pcpTail, li, pfn);
          z.pcpCount[this.cpu]!--;
          z.pgalloc++;
          this.zoneStatistics(z, z);
          this.prepNewPage(pfn, 0, gfp);
          return pfn;
        }
      }
    }
    const node = this.nodes[nid]!;
    const zonelist = gfp & __GFP_THISNODE ? node.nofallback : node.fallback;
    // alloc_flags_nofragment(): avoid fragmenting Normal when DMA32 could serve.
    let allocFlags = ALLOC_WMARK_LOW;
    if (gfp & __GFP_KSWAPD_RECLAIM) allocFlags |= ALLOC_KSWAPD;
    if (preferred.idx === ZONE_NORMAL) {
      const dma32 = this.nodes[preferred.nid]!.zones[ZONE_DMA32]!;
      if (this.nodes.length === 1 || dma32.populated) allocFlags |= ALLOC_NOFRAGMENT;
    }
    // rmqueue(): __GFP_NOFAIL is meant for small orders only.
    if (order > 1 && gfp & __GFP_NOFAIL) this.hooks.warnOnce("rmqueueNofail", "rmqueue");
    const pfn = this.getPageFromFreelist(zonelist, highIdx, order, mt, allocFlags);
    if (pfn !== NIL) {
      this.prepNewPage(pfn, order, gfp);
      return pfn;
    }
    return this.slowpath(gfp, order, mt, zonelist, highIdx, fn);
  }

  /** __alloc_pages_slowpath() without reclaim, compaction or the OOM killer (nothing to reclaim yet). */
  private slowpath(
    gfp: number,
    order: number,
    mt: number,
    zonelist: Zone[],
    highIdx: number,
    fn: string | readonly string[],
  ): number {
    const canDirectReclaim = (gfp & __GFP_DIRECT_RECLAIM) !== 0;
    if (gfp & __GFP_ATOMIC && canDirectReclaim) {
      this.hooks.warnOnce("slowpathAtomicReclaim", "__alloc_pages_slowpath");
      gfp &= ~__GFP_ATOMIC;
    }
    // gfp_to_alloc_flags().
    let allocFlags = ALLOC_WMARK_MIN | ALLOC_CPUSET | (gfp & __GFP_HIGH ? ALLOC_HIGH : 0);
    if (gfp & __GFP_ATOMIC) {
      if (!(gfp & __GFP_NOMEMALLOC)) allocFlags |= ALLOC_HARDER;
      allocFlags &= ~ALLOC_CPUSET;
    }
    if (gfp & __GFP_KSWAPD_RECLAIM) allocFlags |= ALLOC_KSWAPD;
    if (mt === MIGRATE_MOVABLE) allocFlags |= ALLOC_CMA;

    let pfn = this.getPageFromFreelist(zonelist, highIdx, order, mt, allocFlags);
    if (pfn !== NIL) return this.got(pfn, order, gfp);
    // __gfp_pfmemalloc_flags(): __GFP_MEMALLOC may use the reserves below min.
    if (gfp & __GFP_MEMALLOC && !(gfp & __GFP_NOMEMALLOC)) {
      pfn = this.getPageFromFreelist(zonelist, highIdx, order, mt, ALLOC_NO_WATERMARKS);
      if (pfn !== NIL) return this.got(pfn, order, gfp);
    }
    if (canDirectReclaim) {
      // Direct reclaim finds nothing; its "drained" retry still gives back pcp pages and atomic reserves.
      this.unreserveHighatomic(zonelist, highIdx, mt);
      this.drainAllPages();
      pfn = this.getPageFromFreelist(zonelist, highIdx, order, mt, allocFlags);
      if (pfn !== NIL) return this.got(pfn, order, gfp);
    }
    if (gfp & __GFP_NOFAIL) {
      if (!canDirectReclaim) {
        this.hooks.warnOnce("nofailNoReclaim", "__alloc_pages_slowpath");
      } else {
        if (order > PAGE_ALLOC_COSTLY_ORDER) this.hooks.warnOnce("nofailCostly", "__alloc_pages_slowpath");
        // __alloc_pages_cpuset_fallback(ALLOC_HARDER), then (as after OOM) no watermarks at all.
        pfn = this.getPageFromFreelist(zonelist, highIdx, order, mt, ALLOC_HARDER | ALLOC_WMARK_MIN);
        if (pfn === NIL) pfn = this.getPageFromFreelist(zonelist, highIdx, order, mt, ALLOC_NO_WATERMARKS);
        if (pfn !== NIL) return this.got(pfn, order, gfp);
      }
    }
    return this.failed(gfp, order, fn);
  }

  private got(pfn: number, order: number, gfp: number): number {
    this.prepNewPage(pfn, order, gfp);
    return pfn;
  }

  private failed(gfp: number, order: number, fn: string | readonly string[]): number {
    this.hooks.warnAlloc(gfp, order, typeof fn === "string" ? [fn] : fn);
    return NIL;
  }

  /** Order-0 pages are never compound; a tail's head is kept in its `next` link. */
  compoundHead(pfn: number): number {
    return this.p.state[pfn]! & S_TAIL ? this.p.next[pfn]! : pfn;
  }
}
