// Everything that differs between kernel versions lives in one profile object, chosen at boot.
// Only 5.4 (the book's kernel) exists so far; a "6.1" entry can be added beside it.

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
  };
  readonly hardwareName: string;
  /** page->flags layout above the flag bits: node, zone and last_cpupid fields (SPARSEMEM_VMEMMAP). */
  readonly pageFlagsLayout: { nodeShift: number; zoneShift: number; cpupidShift: number; cpupidBits: number };
}

export const PROFILE_5_4: Profile = {
  name: "5.4",
  release: "5.4.0-kmem",
  version: "#1",
  maxOrder: 11,
  pageblockOrder: 9,
  zoneNames: ["DMA", "DMA32", "Normal", "Movable", "Device"],
  migrateTypes: ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"],
  migrateLetters: "UMEHCI",
  minFreeKbytesMax: 65536,
  watermarkScaleFactorMax: 1000,
  lowmemReserveRatio: [256, 256, 32, 0, 0],
  image: { code: 14339, rwdata: 2401, rodata: 4792, init: 2720, bss: 5060 },
  percpuPagesPerCpu: 52,
  // mm/page_alloc.c lines counted in upstream 5.4 (v5.4-rc4 tree, last change before the release);
  // include/linux/mm.h and gfp.h lines from the nearest tree read (5.5), whose blocks 5.4 shares.
  lines: {
    allocOrderWarn: 4743,
    putPageTestzero: 592,
    getPageOverflow: 1001,
    freePagesVirtValid: 4836,
    splitPageCompound: 3129,
    splitPageCount: 3130,
    freePagesPrepareCompound: 1145,
    gfpZoneBad: 448,
    allocPagesNode: 492,
    allocPagesExactComp: 4914,
    slowpathAtomicReclaim: 4409,
    nofailNoReclaim: 4588,
    nofailCostly: 4594,
  },
  pageFlagsLayout: { nodeShift: 54, zoneShift: 51, cpupidShift: 30, cpupidBits: 21 },
  hardwareName: "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.13.0-1ubuntu1 04/01/2014",
};

export const PROFILES = { "5.4": PROFILE_5_4 } as const;
export type ProfileName = keyof typeof PROFILES;
