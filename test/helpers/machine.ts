// Test helpers: a synthetic zone for unit tests of the buddy lists, and snapshots of allocator state.

import type { Kernel } from "../../src/kernel/kernel.ts";
import { Buddy } from "../../src/mm/buddy.ts";
import { MIGRATE_MOVABLE, MIGRATE_TYPES, Zone } from "../../src/mm/mmzone.ts";
import { NIL, PageArrays } from "../../src/mm/page.ts";

/** One zone of `pages` page frames starting at pfn 0, nothing free yet; pageblocks Movable. */
export function synthZone(pages = 4096) {
  const p = new PageArrays(pages);
  const buddy = new Buddy(p, 11, 9);
  buddy.pageblockMt.fill(MIGRATE_MOVABLE);
  const z = new Zone(0, 1, "DMA32", 11, 1);
  z.startPfn = 0;
  z.spanned = pages;
  z.present = pages;
  z.managed = pages;
  p.zone.fill(z.id);
  return { p, buddy, z };
}

/** free_area[order].free_list[mt] as an array of pfns, head first. */
export function freeList(p: PageArrays, z: Zone, order: number, mt: number): number[] {
  const out: number[] = [];
  for (let pfn = z.freeHead[order * MIGRATE_TYPES + mt]!; pfn !== NIL; pfn = p.next[pfn]!) out.push(pfn);
  return out;
}

/** Everything a refused operation must leave untouched. */
export function snapshot(k: Kernel): string {
  const parts: string[] = [k.cat("/proc/buddyinfo"), k.cat("/proc/pagetypeinfo")];
  for (const z of k.populatedZones())
    parts.push(`${z.name} free=${z.freePages} pcp=${Array.from(z.pcpCount).join(",")}`);
  let h = 0;
  const p = k.pages;
  for (let i = 0; i < p.nrPfns; i++)
    h = (Math.imul(h, 31) + p.refcount[i]! * 7 + p.state[i]! * 3 + p.order[i]!) | 0;
  parts.push(`pages=${h}`);
  return parts.join("\n");
}

/** Free pages including the per-CPU lists (what "allocated" is measured against). */
export function freeWithPcp(k: Kernel): number {
  return k.populatedZones().reduce((a, z) => a + z.freePages + z.pcpPages, 0);
}

/** dmesg without timestamps. */
export function log(k: Kernel, from = 0): string[] {
  return k
    .dmesg(from)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.replace(/^\[\s*\d+\.\d{6}\] /, ""));
}

/** Everything of the slab allocator a refused operation must leave untouched (with the page snapshot). */
export function slabSnapshot(k: Kernel): string {
  const parts = [snapshot(k), k.cat("/proc/slabinfo")];
  const sl = k.slub.slabs;
  let h = 0;
  for (let id = 0; id < sl.highWater; id++)
    h =
      (Math.imul(h, 31) + sl.freelist[id]! * 3 + sl.inuse[id]! * 5 + sl.where[id]! * 7 + sl.frozen[id]!) | 0;
  for (const s of k.slub.list)
    for (let c = 0; c < k.cpus; c++)
      h = (Math.imul(h, 31) + s.cpuFreelist[c]! + s.cpuSlab[c]! * 11 + s.cpuPartial[c]! * 13) | 0;
  parts.push(`slabs=${h}`);
  return parts.join("\n");
}

/** Everything of vmalloc a refused operation must leave untouched (with the slab and page snapshots). */
export function vmallocSnapshot(k: Kernel): string {
  const a = k.vm.areas;
  const blocks: string[] = [];
  a.each(a.freeRoot, (n) => blocks.push(`f${a.start[n]}-${a.end[n]}`));
  a.each(a.busyRoot, (n) => blocks.push(`b${a.start[n]}-${a.end[n]}:${a.nrPages[n]}:${a.flags[n]}`));
  return [
    slabSnapshot(k),
    blocks.join(","),
    `lazy=${a.purge.join(",")}/${a.lazyPages}`,
    `used=${k.vm.nrVmallocPages} ptes=${k.vm.pt.mapped}`,
  ].join("\n");
}
