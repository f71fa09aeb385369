// /proc/slabinfo (mm/slab_common.c slab_show/cache_show with SLUB's get_slabinfo), version 2.1: newest
// cache first, tunables and sharedavail 0, objsize = the whole slot (s->size), and every object counted
// active except the free ones on the node partial lists (free objects of per-CPU slabs count as active).
import type { Kernel } from "../../kernel/kernel.ts";
import type { KmemCache } from "../../mm/slub/cache.ts";
import type { Slub } from "../../mm/slub/slub.ts";

export const SLABINFO_HEADER =
  "slabinfo - version: 2.1\n" +
  "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n";

/** struct slabinfo as SLUB's get_slabinfo() fills it. */
export interface SlabinfoRow {
  readonly name: string;
  readonly activeObjs: number;
  readonly numObjs: number;
  readonly objsize: number;
  readonly objPerSlab: number;
  readonly pagesPerSlab: number;
  readonly activeSlabs: number;
  readonly numSlabs: number;
}

/** count_partial(n, count_free) for every node: free objects of the slabs on the node partial lists. */
export function partialFree(slub: Slub, s: KmemCache, node?: number): number {
  const sl = slub.slabs;
  let free = 0;
  for (let n = 0; n < s.partialHead.length; n++) {
    if (node !== undefined && n !== node) continue;
    for (let id = s.partialHead[n]!; id !== -1; id = sl.next[id]!) free += sl.objects[id]! - sl.inuse[id]!;
  }
  return free;
}

/** get_slabinfo(): totals over the nodes (nr_slabs, total_objects), minus partial-list free objects. */
export function getSlabinfo(slub: Slub, s: KmemCache): SlabinfoRow {
  let slabs = 0;
  let objs = 0;
  for (let n = 0; n < s.nrSlabs.length; n++) {
    slabs += s.nrSlabs[n]!;
    objs += s.totalObjects[n]!;
  }
  return {
    name: s.name,
    activeObjs: objs - partialFree(slub, s),
    numObjs: objs,
    objsize: s.size,
    objPerSlab: s.objects,
    pagesPerSlab: 1 << s.order,
    activeSlabs: slabs,
    numSlabs: slabs,
  };
}

/** The rows in /proc/slabinfo's order: slab_caches is added to at its head, so the newest cache first. */
export function slabinfoRows(k: Kernel): SlabinfoRow[] {
  const list = k.slub.list;
  const rows: SlabinfoRow[] = [];
  for (let i = list.length - 1; i >= 0; i--) rows.push(getSlabinfo(k.slub, list[i]!));
  return rows;
}

const r = (v: number, w: number) => String(v).padStart(w, " ");

/** cache_show(): `%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu`. */
export function formatSlabinfoRow(row: SlabinfoRow): string {
  return (
    `${row.name.padEnd(17, " ")} ${r(row.activeObjs, 6)} ${r(row.numObjs, 6)} ${r(row.objsize, 6)} ${r(row.objPerSlab, 4)} ${r(row.pagesPerSlab, 4)}` +
    ` : tunables ${r(0, 4)} ${r(0, 4)} ${r(0, 4)}` +
    ` : slabdata ${r(row.activeSlabs, 6)} ${r(row.numSlabs, 6)} ${r(0, 6)}\n`
  );
}

export function slabinfo(k: Kernel): string {
  let s = SLABINFO_HEADER;
  for (const row of slabinfoRows(k)) s += formatSlabinfoRow(row);
  return s;
}
