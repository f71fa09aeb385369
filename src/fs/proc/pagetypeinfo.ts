// /proc/pagetypeinfo (pagetypeinfo_show): free blocks per order per migratetype (lists capped at
// 100000 and shown as >100000), then pageblocks per migratetype.
import type { Kernel } from "../../kernel/kernel.ts";
import { MIGRATE_TYPES } from "../../mm/mmzone.ts";

/** Migratetypes the profile's kernel shows (CMA only with CONFIG_CMA). */
function shownTypes(k: Kernel): number[] {
  return k.profile.migrateTypes.map((_, i) => i);
}

export function pagetypeinfo(k: Kernel): string {
  const P = k.profile;
  const types = shownTypes(k);
  let s = `Page block order: ${P.pageblockOrder}\nPages per block:  ${1 << P.pageblockOrder}\n\n`;
  s += `${"Free pages count per migrate type at order".padEnd(43, " ")} `;
  for (let o = 0; o < P.maxOrder; o++) s += `${String(o).padStart(6, " ")} `;
  s += "\n";
  const zones = k.populatedZones();
  for (const z of zones) {
    for (const mt of types) {
      s += `Node ${String(z.nid).padStart(4, " ")}, zone ${z.name.padStart(8, " ")}, type ${P.migrateTypes[mt]!.padStart(12, " ")} `;
      for (let o = 0; o < P.maxOrder; o++) {
        const n = z.listLen[o * MIGRATE_TYPES + mt]!;
        s += n > 100000 ? `>${100000} ` : `${String(n).padStart(6, " ")} `;
      }
      s += "\n";
    }
  }
  s += `\n${"Number of blocks type ".padEnd(23, " ")}`;
  for (const mt of types) s += `${P.migrateTypes[mt]!.padStart(12, " ")} `;
  s += "\n";
  const buddy = k.alloc.buddy;
  for (const z of zones) {
    const counts = new Array(MIGRATE_TYPES).fill(0);
    // pagetypeinfo_showblockcount_print() steps from the zone's first pfn, pageblock_nr_pages at a time.
    for (let pfn = z.startPfn; pfn < z.endPfn; pfn += buddy.pageblockNr) counts[buddy.pageblockType(pfn)]++;
    s += `Node ${z.nid}, zone ${z.name.padStart(8, " ")} `;
    for (const mt of types) s += `${String(counts[mt]).padStart(12, " ")} `;
    s += "\n";
  }
  return s;
}
