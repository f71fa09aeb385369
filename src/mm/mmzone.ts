// pg_data_t and struct zone: per-zone free_area[order].free_list[migratetype] as intrusive lists of pfns
// (heads/tails in typed arrays, links in PageArrays), nr_free per order, watermarks, lowmem_reserve and the
// per-CPU page lists (struct per_cpu_pages) of order-0 pages.
import { NIL, type PageArrays } from "./page.ts";

export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_RECLAIMABLE = 2;
export const MIGRATE_PCPTYPES = 3;
export const MIGRATE_HIGHATOMIC = 3;
export const MIGRATE_CMA = 4;
export const MIGRATE_ISOLATE = 5;
export const MIGRATE_TYPES = 6;

export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_MOVABLE = 3;
export const ZONE_DEVICE = 4;
export const MAX_NR_ZONES = 5;

export const WMARK_MIN = 0;
export const WMARK_LOW = 1;
export const WMARK_HIGH = 2;

/** Doubly linked list operations over pfn links, with head/tail kept in arrays at `i`. */
export function listAddHead(p: PageArrays, head: Int32Array, tail: Int32Array, i: number, pfn: number): void {
  const h = head[i]!;
  p.prev[pfn] = NIL;
  p.next[pfn] = h;
  if (h === NIL) tail[i] = pfn;
  else p.prev[h] = pfn;
  head[i] = pfn;
}

export function listAddTail(p: PageArrays, head: Int32Array, tail: Int32Array, i: number, pfn: number): void {
  const t = tail[i]!;
  p.next[pfn] = NIL;
  p.prev[pfn] = t;
  if (t === NIL) head[i] = pfn;
  else p.next[t] = pfn;
  tail[i] = pfn;
}

export function listDel(p: PageArrays, head: Int32Array, tail: Int32Array, i: number, pfn: number): void {
  const n = p.next[pfn]!;
  const v = p.prev[pfn]!;
  if (v === NIL) head[i] = n;
  else p.next[v] = n;
  if (n === NIL) tail[i] = v;
  else p.prev[n] = v;
  p.next[pfn] = NIL;
  p.prev[pfn] = NIL;
}

export class Zone {
  /** Global zone id: node * MAX_NR_ZONES + idx (what PageArrays.zone holds). */
  readonly id: number;
  startPfn = 0;
  spanned = 0;
  present = 0;
  managed = 0;
  /** NR_FREE_PAGES: pages in the buddy lists (per-CPU list pages count as allocated). */
  freePages = 0;
  /** _watermark[WMARK_MIN..HIGH] and watermark_boost. */
  readonly watermark = [0, 0, 0];
  watermarkBoost = 0;
  readonly lowmemReserve: number[];
  nrReservedHighatomic = 0;

  /** free_area: index order * MIGRATE_TYPES + mt. */
  readonly freeHead: Int32Array;
  readonly freeTail: Int32Array;
  /** Blocks on each free list (pagetypeinfo), and nr_free per order (buddyinfo). */
  readonly listLen: Int32Array;
  readonly nrFree: Int32Array;

  /** per_cpu_pages: count/high/batch per CPU, lists index cpu * MIGRATE_PCPTYPES + mt. */
  readonly pcpCount: Int32Array;
  pcpHigh = 0;
  pcpBatch = 1;
  readonly pcpHead: Int32Array;
  readonly pcpTail: Int32Array;

  /** vmstat counters kept per zone. */
  pgalloc = 0;
  numaHit = 0;
  numaMiss = 0;
  numaForeign = 0;
  numaLocal = 0;
  numaOther = 0;
  numaInterleave = 0;

  constructor(
    readonly nid: number,
    readonly idx: number,
    readonly name: string,
    maxOrder: number,
    cpus: number,
  ) {
    this.id = nid * MAX_NR_ZONES + idx;
    this.lowmemReserve = new Array(MAX_NR_ZONES).fill(0);
    this.freeHead = new Int32Array(maxOrder * MIGRATE_TYPES).fill(NIL);
    this.freeTail = new Int32Array(maxOrder * MIGRATE_TYPES).fill(NIL);
    this.listLen = new Int32Array(maxOrder * MIGRATE_TYPES);
    this.nrFree = new Int32Array(maxOrder);
    this.pcpCount = new Int32Array(cpus);
    this.pcpHead = new Int32Array(cpus * MIGRATE_PCPTYPES).fill(NIL);
    this.pcpTail = new Int32Array(cpus * MIGRATE_PCPTYPES).fill(NIL);
  }

  get populated(): boolean {
    return this.present > 0;
  }

  get endPfn(): number {
    return this.startPfn + this.spanned;
  }

  /** Pages sitting on all CPUs' pcp lists (free_pcp in show_mem). */
  get pcpPages(): number {
    let n = 0;
    for (const c of this.pcpCount) n += c;
    return n;
  }
}

export class PgData {
  startPfn = 0;
  spanned = 0;
  present = 0;
  /** Zonelists: [0] ZONELIST_FALLBACK (all nodes by distance), [1] ZONELIST_NOFALLBACK (this node). */
  fallback: Zone[] = [];
  nofallback: Zone[] = [];
  constructor(
    readonly nid: number,
    readonly zones: Zone[],
  ) {}
}
