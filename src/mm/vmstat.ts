// Values of the vmstat counters (the names, per kernel version, are in the profile). Counters nothing
// feeds yet read 0.
import type { Kernel } from "../kernel/kernel.ts";
import type { Zone } from "./mmzone.ts";

/** The value of a zone stat item for one zone. */
export function zoneStat(z: Zone, item: string): number {
  return item === "nr_free_pages" ? z.freePages : 0;
}

export function numaStat(z: Zone, item: string): number {
  switch (item) {
    case "numa_hit":
      return z.numaHit;
    case "numa_miss":
      return z.numaMiss;
    case "numa_foreign":
      return z.numaForeign;
    case "numa_interleave":
      return z.numaInterleave;
    case "numa_local":
      return z.numaLocal;
    case "numa_other":
      return z.numaOther;
    default:
      return 0;
  }
}

/** vm events: the allocator's counters, zero for what nothing does yet. */
export function vmEvent(k: Kernel, item: string): number {
  const m = /^pgalloc_(dma|dma32|normal|movable)$/.exec(item);
  if (m) {
    const idx = ["dma", "dma32", "normal", "movable"].indexOf(m[1]!);
    return k.zones.filter((z) => z?.idx === idx).reduce((a, z) => a + z.pgalloc, 0);
  }
  if (item === "pgfree") return k.alloc.pgfree;
  return 0;
}

/** dirty thresholds (global_dirty_limits) for a machine with no page cache: based on free + file pages. */
export function dirtyThresholds(k: Kernel): [number, number] {
  let avail = 0;
  for (const z of k.populatedZones()) avail += Math.max(0, z.freePages - z.watermark[2]!);
  // vm_dirty_ratio 20, dirty_background_ratio 10 of the dirtyable memory (highmem excluded; none here).
  return [Math.floor((avail * 20) / 100), Math.floor((avail * 10) / 100)];
}
