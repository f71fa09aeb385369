// vmstat_text of 5.4 (x86_64, NUMA, COMPACTION, THP, SWAP, ZSMALLOC, MEMORY_BALLOON): zone items, NUMA
// items, node items, the two dirty thresholds, then vm events. Counters nothing feeds yet read 0.
import type { Kernel } from "../kernel/kernel.ts";
import type { Zone } from "./mmzone.ts";

export const ZONE_STAT_ITEMS = [
  "nr_free_pages",
  "nr_zone_inactive_anon",
  "nr_zone_active_anon",
  "nr_zone_inactive_file",
  "nr_zone_active_file",
  "nr_zone_unevictable",
  "nr_zone_write_pending",
  "nr_mlock",
  "nr_page_table_pages",
  "nr_kernel_stack",
  "nr_bounce",
  "nr_zspages",
  "nr_free_cma",
] as const;

export const NUMA_STAT_ITEMS = [
  "numa_hit",
  "numa_miss",
  "numa_foreign",
  "numa_interleave",
  "numa_local",
  "numa_other",
] as const;

export const NODE_STAT_ITEMS = [
  "nr_inactive_anon",
  "nr_active_anon",
  "nr_inactive_file",
  "nr_active_file",
  "nr_unevictable",
  "nr_slab_reclaimable",
  "nr_slab_unreclaimable",
  "nr_isolated_anon",
  "nr_isolated_file",
  "workingset_nodes",
  "workingset_refault",
  "workingset_activate",
  "workingset_restore",
  "workingset_nodereclaim",
  "nr_anon_pages",
  "nr_mapped",
  "nr_file_pages",
  "nr_dirty",
  "nr_writeback",
  "nr_writeback_temp",
  "nr_shmem",
  "nr_shmem_hugepages",
  "nr_shmem_pmdmapped",
  "nr_file_hugepages",
  "nr_file_pmdmapped",
  "nr_anon_transparent_hugepages",
  "nr_unstable",
  "nr_vmscan_write",
  "nr_vmscan_immediate_reclaim",
  "nr_dirtied",
  "nr_written",
  "nr_kernel_misc_reclaimable",
] as const;

export const VM_EVENT_ITEMS = [
  "pgpgin",
  "pgpgout",
  "pswpin",
  "pswpout",
  "pgalloc_dma",
  "pgalloc_dma32",
  "pgalloc_normal",
  "pgalloc_movable",
  "allocstall_dma",
  "allocstall_dma32",
  "allocstall_normal",
  "allocstall_movable",
  "pgskip_dma",
  "pgskip_dma32",
  "pgskip_normal",
  "pgskip_movable",
  "pgfree",
  "pgactivate",
  "pgdeactivate",
  "pglazyfree",
  "pgfault",
  "pgmajfault",
  "pglazyfreed",
  "pgrefill",
  "pgsteal_kswapd",
  "pgsteal_direct",
  "pgscan_kswapd",
  "pgscan_direct",
  "pgscan_direct_throttle",
  "zone_reclaim_failed",
  "pginodesteal",
  "slabs_scanned",
  "kswapd_inodesteal",
  "kswapd_low_wmark_hit_quickly",
  "kswapd_high_wmark_hit_quickly",
  "pageoutrun",
  "pgrotated",
  "drop_pagecache",
  "drop_slab",
  "oom_kill",
  "numa_pte_updates",
  "numa_huge_pte_updates",
  "numa_hint_faults",
  "numa_hint_faults_local",
  "numa_pages_migrated",
  "pgmigrate_success",
  "pgmigrate_fail",
  "compact_migrate_scanned",
  "compact_free_scanned",
  "compact_isolated",
  "compact_stall",
  "compact_fail",
  "compact_success",
  "compact_daemon_wake",
  "compact_daemon_migrate_scanned",
  "compact_daemon_free_scanned",
  "htlb_buddy_alloc_success",
  "htlb_buddy_alloc_fail",
  "unevictable_pgs_culled",
  "unevictable_pgs_scanned",
  "unevictable_pgs_rescued",
  "unevictable_pgs_mlocked",
  "unevictable_pgs_munlocked",
  "unevictable_pgs_cleared",
  "unevictable_pgs_stranded",
  "thp_fault_alloc",
  "thp_fault_fallback",
  "thp_collapse_alloc",
  "thp_collapse_alloc_failed",
  "thp_file_alloc",
  "thp_file_mapped",
  "thp_split_page",
  "thp_split_page_failed",
  "thp_deferred_split_page",
  "thp_split_pmd",
  "thp_split_pud",
  "thp_zero_page_alloc",
  "thp_zero_page_alloc_failed",
  "thp_swpout",
  "thp_swpout_fallback",
  "balloon_inflate",
  "balloon_deflate",
  "balloon_migrate",
  "swap_ra",
  "swap_ra_hit",
] as const;

/** The value of a zone stat item for one zone. */
export function zoneStat(z: Zone, item: string): number {
  return item === "nr_free_pages" ? z.freePages : 0;
}

export function numaStat(z: Zone, item: (typeof NUMA_STAT_ITEMS)[number]): number {
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
