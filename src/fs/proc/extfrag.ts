// /sys/kernel/debug/extfrag/{unusable_index,extfrag_index} (mm/vmstat.c, CONFIG_COMPACTION): how unusable
// the free memory is for each order, and whether a failure at that order would be due to fragmentation
// (near 1) or to lack of memory (near 0). Integer arithmetic as in the kernel; printed as %d.%03d.
import type { Kernel } from "../../kernel/kernel.ts";
import type { Zone } from "../../mm/mmzone.ts";

/** fill_contig_page_info(). */
function contigInfo(z: Zone, order: number) {
  let freePages = 0;
  let freeBlocksTotal = 0;
  let suitable = 0;
  for (let o = 0; o < z.nrFree.length; o++) {
    const n = z.nrFree[o]!;
    freeBlocksTotal += n;
    freePages += n * 2 ** o;
    if (o >= order) suitable += n * 2 ** (o - order);
  }
  return { freePages, freeBlocksTotal, suitable };
}

/** unusable_free_index(): the share of free pages in blocks too small for `order`, in thousandths. */
export function unusableIndex(z: Zone, order: number): number {
  const { freePages, suitable } = contigInfo(z, order);
  if (freePages === 0) return 1000;
  return Math.trunc(((freePages - suitable * 2 ** order) * 1000) / freePages);
}

/** __fragmentation_index(): -1000 when the allocation would succeed, else 0..1000. */
export function fragmentationIndex(z: Zone, order: number): number {
  const { freePages, freeBlocksTotal, suitable } = contigInfo(z, order);
  if (freeBlocksTotal === 0) return 0;
  if (suitable > 0) return -1000;
  return 1000 - Math.trunc((1000 + Math.trunc((freePages * 1000) / 2 ** order)) / freeBlocksTotal);
}

function show(k: Kernel, index: (z: Zone, order: number) => number): string {
  let s = "";
  for (const z of k.populatedZones()) {
    s += `Node ${z.nid}, zone ${z.name.padStart(8, " ")} `;
    for (let o = 0; o < z.nrFree.length; o++) {
      const i = index(z, o);
      s += `${Math.trunc(i / 1000)}.${String(Math.abs(i % 1000)).padStart(3, "0")} `;
    }
    s += "\n";
  }
  return s;
}

export const unusableIndexFile = (k: Kernel) => show(k, unusableIndex);
export const extfragIndexFile = (k: Kernel) => show(k, fragmentationIndex);
