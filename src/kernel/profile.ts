// Everything that differs between kernel versions lives in one profile object, chosen at boot.
// Only 5.4 (the book's kernel) exists so far (profiles/v5_4.ts); a "6.1" file can be added beside it.

import type { SlabProfile } from "../mm/slub/slab_common.ts";
import { PROFILE_5_4 } from "./profiles/v5_4.ts";

export interface Profile {
  readonly name: "5.4";
  readonly release: string;
  readonly version: string;
  /** MAX_ORDER: free_area[0..MAX_ORDER-1]. */
  readonly maxOrder: number;
  readonly pageblockOrder: number;
  /** Zone names by index; MAX_NR_ZONES = length (ZONE_DEVICE configured, never populated). */
  readonly zoneNames: readonly string[];
  /** Migrate types by index, as /proc/pagetypeinfo names them; MIGRATE_PCPTYPES = 3. */
  readonly migrateTypes: readonly string[];
  /** show_mem's one-letter codes, same order as migrateTypes. */
  readonly migrateLetters: string;
  /** min_free_kbytes clamp in init_per_zone_wmark_min. */
  readonly minFreeKbytesMax: number;
  readonly watermarkScaleFactorMax: number;
  readonly lowmemReserveRatio: readonly number[];
  /** Kernel image sizes printed on the "Memory:" boot line, in KiB. */
  readonly image: { code: number; rwdata: number; rodata: number; init: number; bss: number };
  /** Percpu first chunk kept per CPU, in pages ("percpu: Embedded N pages/cpu"). */
  readonly percpuPagesPerCpu: number;
  /** Line numbers the 5.4 sources give to the BUG/WARN sites we reproduce. */
  readonly lines: {
    readonly allocOrderWarn: number;
    readonly putPageTestzero: number;
    readonly getPageOverflow: number;
    readonly freePagesVirtValid: number;
    readonly splitPageCompound: number;
    readonly splitPageCount: number;
    readonly freePagesPrepareCompound: number;
    readonly gfpZoneBad: number;
    readonly allocPagesNode: number;
    readonly allocPagesExactComp: number;
    readonly slowpathAtomicReclaim: number;
    readonly nofailNoReclaim: number;
    readonly nofailCostly: number;
    readonly rmqueueNofail: number;
    readonly vfreeBadAddress: number;
    readonly vfreeNonexistent: number;
  };
  readonly hardwareName: string;
  /** page->flags layout above the flag bits: node, zone and last_cpupid fields (SPARSEMEM_VMEMMAP). */
  readonly pageFlagsLayout: { nodeShift: number; zoneShift: number; cpupidShift: number; cpupidBits: number };
  /** vmstat_text: zone, NUMA and node counters and vm events, in the kernel's order. */
  readonly vmstat: {
    readonly zoneItems: readonly string[];
    readonly numaItems: readonly string[];
    readonly nodeItems: readonly string[];
    readonly events: readonly string[];
  };
  /** SLUB: object layout parameters, bootstrap cache sizes, BUG sites. */
  readonly slab: SlabProfile;
  /** /proc/meminfo keys in order (HugePages_* and HardwareCorrupted have their own formats). */
  readonly meminfoKeys: readonly string[];
}

export const PROFILES = { "5.4": PROFILE_5_4 } as const;
export type ProfileName = keyof typeof PROFILES;
