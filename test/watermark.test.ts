// Watermarks, lowmem_reserve and pcp batch/high from 5.4's formulas (kernel-facts §1.7–1.9 worked example).
import { describe, expect, it } from "vitest";
import { MAX_NR_ZONES, PgData, Zone } from "../src/mm/mmzone.ts";
import {
  calcMinFreeKbytes,
  calcTotalreserve,
  setPcpBatch,
  setupLowmemReserve,
  setupPerZoneWmarks,
  zoneBatchsize,
} from "../src/mm/watermark.ts";

function node(managed: number[]) {
  const zones: Zone[] = [];
  for (let i = 0; i < MAX_NR_ZONES; i++) {
    const z = new Zone(0, i, ["DMA", "DMA32", "Normal", "Movable", "Device"][i]!, 11, 1);
    z.managed = managed[i] ?? 0;
    z.present = z.managed;
    zones.push(z);
  }
  return { pg: new PgData(0, zones), zones };
}

describe("watermarks (worked example: managed DMA 3977, DMA32 765756, Normal 249856)", () => {
  const { pg, zones } = node([3977, 765756, 249856]);
  const populated = zones.filter((z) => z.managed > 0);
  const state = {
    minFreeKbytes: 0,
    userMinFreeKbytes: -1,
    watermarkScaleFactor: 10,
    lowmemReserveRatio: [256, 256, 32, 0, 0],
    totalreservePages: 0,
    percpuPagelistFraction: 0,
  };
  state.minFreeKbytes = calcMinFreeKbytes(3977 + 765756 + 249856, 65536);
  setupPerZoneWmarks(populated, state);
  setupLowmemReserve([pg], state.lowmemReserveRatio);

  it("min_free_kbytes = sqrt(lowmem_kbytes * 16)", () => {
    expect(state.minFreeKbytes).toBe(8077);
  });
  it("min/low/high per zone", () => {
    expect(zones[0]!.watermark).toEqual([7, 10, 13]);
    expect(zones[1]!.watermark).toEqual([1516, 2281, 3046]);
    expect(zones[2]!.watermark).toEqual([494, 743, 992]);
  });
  it("protection (lowmem_reserve) with ZONE_DEVICE configured: five entries", () => {
    expect(zones[0]!.lowmemReserve).toEqual([0, 2991, 3967, 3967, 3967]);
    expect(zones[1]!.lowmemReserve).toEqual([0, 0, 976, 976, 976]);
    expect(zones[2]!.lowmemReserve).toEqual([0, 0, 0, 0, 0]);
  });
  it("totalreserve_pages = sum of min(managed, high + max protection)", () => {
    // DMA: 13 + 3967 exceeds its 3977 managed pages, so it is capped.
    expect(calcTotalreserve([pg])).toBe(3977 + (3046 + 976) + 992);
  });
  it("clamps: at least 128, at most 65536 kB in 5.4", () => {
    expect(calcMinFreeKbytes(100, 65536)).toBe(128);
    expect(calcMinFreeKbytes(64 * 262144, 65536)).toBe(32768); // 64 GiB
    expect(calcMinFreeKbytes(512 * 262144, 65536)).toBe(65536);
    expect(calcMinFreeKbytes(262144, 65536)).toBe(4096); // 1 GiB
    expect(calcMinFreeKbytes(4 * 262144, 65536)).toBe(8192); // 4 GiB
    expect(calcMinFreeKbytes(16 * 262144, 65536)).toBe(16384); // 16 GiB
  });
});

describe("per-CPU list batch and high (zone_batchsize, pageset_set_batch)", () => {
  it("DMA zone: batch 0 -> high 0, batch 1 (every free drains at once)", () => {
    const z = new Zone(0, 0, "DMA", 11, 1);
    expect(zoneBatchsize(3977)).toBe(0);
    setPcpBatch(z, zoneBatchsize(3977));
    expect([z.pcpHigh, z.pcpBatch]).toEqual([0, 1]);
  });
  it("1 GiB or more managed: batch 63, high 378", () => {
    const z = new Zone(0, 1, "DMA32", 11, 1);
    expect(zoneBatchsize(765756)).toBe(63);
    expect(zoneBatchsize(249856)).toBe(63);
    setPcpBatch(z, 63);
    expect([z.pcpHigh, z.pcpBatch]).toEqual([378, 63]);
  });
  it("smaller zones round (b + b/2) down to a power of two, minus one", () => {
    expect(zoneBatchsize(103984)).toBe(31); // the oracle's 512M DMA32 zone
    expect(zoneBatchsize(50000)).toBe(15);
    expect(zoneBatchsize(8192)).toBe(1);
  });
});
