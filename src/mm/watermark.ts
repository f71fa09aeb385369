// Watermarks, lowmem_reserve and per-CPU batch sizes, as 5.4 computes them: init_per_zone_wmark_min,
// __setup_per_zone_wmarks, setup_per_zone_lowmem_reserve, calculate_totalreserve_pages, zone_batchsize.
import {
  MAX_NR_ZONES,
  type PgData,
  WMARK_HIGH,
  WMARK_LOW,
  WMARK_MIN,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  type Zone,
} from "./mmzone.ts";

/** mult_frac(x, n, d) with integer arithmetic. */
function multFrac(x: number, n: number, d: number): number {
  return Math.floor(x / d) * n + Math.floor(((x % d) * n) / d);
}

export interface WatermarkState {
  minFreeKbytes: number;
  userMinFreeKbytes: number;
  watermarkScaleFactor: number;
  lowmemReserveRatio: number[];
  totalreservePages: number;
  /** vm.percpu_pagelist_fraction: 0 = sizes from zone_batchsize(), else high = managed / fraction. */
  percpuPagelistFraction: number;
}

/** nr_free_zone_pages(): managed minus high watermark over the zones up to `highIdx`. */
export function nrFreeZonePages(zones: readonly Zone[], highIdx: number): number {
  let sum = 0;
  for (const z of zones) if (z.idx <= highIdx) sum += Math.max(0, z.managed - z.watermark[WMARK_HIGH]!);
  return sum;
}

/** nr_free_pagecache_pages(): for GFP_HIGHUSER_MOVABLE, i.e. up to ZONE_MOVABLE ("Total pages" at boot). */
export function nrFreePagecachePages(zones: readonly Zone[]): number {
  return nrFreeZonePages(zones, ZONE_MOVABLE);
}

/** nr_free_buffer_pages(): for GFP_USER, i.e. up to ZONE_NORMAL. */
export function nrFreeBufferPages(zones: readonly Zone[]): number {
  return nrFreeZonePages(zones, ZONE_NORMAL);
}

/** init_per_zone_wmark_min(): min_free_kbytes = sqrt(lowmem_kbytes * 16), clamped. Returns the new value. */
export function calcMinFreeKbytes(lowmemPages: number, maxKbytes: number): number {
  const v = Math.floor(Math.sqrt(lowmemPages * 4 * 16));
  return Math.min(Math.max(v, 128), maxKbytes);
}

/** __setup_per_zone_wmarks(). */
export function setupPerZoneWmarks(zones: readonly Zone[], s: WatermarkState): void {
  const pagesMin = s.minFreeKbytes >> 2;
  let lowmem = 0;
  for (const z of zones) lowmem += z.managed; // no highmem on x86_64 (Movable is not highmem there)
  for (const z of zones) {
    const min = lowmem === 0 ? 0 : Math.floor((pagesMin * z.managed) / lowmem);
    const tmp = Math.max(min >> 2, multFrac(z.managed, s.watermarkScaleFactor, 10000));
    z.watermark[WMARK_MIN] = min;
    z.watermark[WMARK_LOW] = min + tmp;
    z.watermark[WMARK_HIGH] = min + 2 * tmp;
    z.watermarkBoost = 0;
  }
}

/** setup_per_zone_lowmem_reserve(): lower.lowmem_reserve[j] = managed(lower+1..j) / ratio[lower]. */
export function setupLowmemReserve(nodes: readonly PgData[], ratio: number[]): void {
  for (const pg of nodes) {
    for (let j = 0; j < MAX_NR_ZONES; j++) {
      const zone = pg.zones[j]!;
      let managed = zone.managed;
      zone.lowmemReserve[j] = 0;
      for (let idx = j - 1; idx >= 0; idx--) {
        const lower = pg.zones[idx]!;
        if (ratio[idx]! < 1) {
          ratio[idx] = 0;
          lower.lowmemReserve[j] = 0;
        } else lower.lowmemReserve[j] = Math.floor(managed / ratio[idx]!);
        managed += lower.managed;
      }
    }
  }
}

/** calculate_totalreserve_pages(). */
export function calcTotalreserve(nodes: readonly PgData[]): number {
  let total = 0;
  for (const pg of nodes) {
    for (let i = 0; i < MAX_NR_ZONES; i++) {
      const z = pg.zones[i]!;
      let max = 0;
      for (let j = i; j < MAX_NR_ZONES; j++) max = Math.max(max, z.lowmemReserve[j]!);
      max += z.watermark[WMARK_HIGH]!;
      total += Math.min(max, z.managed);
    }
  }
  return total;
}

/** zone_batchsize(): about a quarter of 1/1024th of the zone, at most 1 MiB worth, rounded to 2^n - 1. */
export function zoneBatchsize(managed: number): number {
  let batch = Math.floor(managed / 1024);
  if (batch * 4096 > 1024 * 1024) batch = (1024 * 1024) / 4096;
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  const x = batch + (batch >> 1);
  return (1 << Math.floor(Math.log2(x))) - 1; // rounddown_pow_of_two, kept a small integer
}

/** pageset_set_batch(): high = 6 * batch, stored batch at least 1. */
export function setPcpBatch(z: Zone, batch: number): void {
  z.pcpHigh = 6 * batch;
  z.pcpBatch = Math.max(1, batch);
}

/** pageset_set_high(): a batch of a quarter of high, at most PAGE_SHIFT * 8. */
export function setPcpHigh(z: Zone, high: number): void {
  z.pcpHigh = high;
  z.pcpBatch = Math.min(Math.max(1, Math.floor(high / 4)), 12 * 8);
}
