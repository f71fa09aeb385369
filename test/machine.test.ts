// Booting machines of different shapes: RAM sizes, NUMA nodes, metadata-only backing, kernel command line.
import { describe, expect, it } from "vitest";
import { __GFP_ZERO, boot, GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from "../src/index.ts";
import { PageArrays } from "../src/mm/page.ts";
import { log } from "./helpers/machine.ts";

describe("boot", () => {
  it("a 4 GiB QEMU machine: RAM above 3 GiB is mapped from 4 GiB, as the e820 map says", () => {
    const k = boot({ mem: "4G", backing: "none" });
    const l = log(k);
    expect(l).toContain("BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable");
    expect(l).toContain("BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable");
    expect(l).toContain("  node   0: [mem 0x0000000100000000-0x000000013fffffff]");
    expect(l).toContain("Policy zone: Normal");
    const [dma, dma32, normal] = k.populatedZones();
    // The oracle's 4G boot: DMA32 782304 present pages ("DMA32 zone: 782304 pages"), Normal 262144.
    expect([dma!.present, dma32!.present, normal!.present]).toEqual([3998, 782304, 262144]);
    expect(l).toContain("  DMA32 zone: 782304 pages, LIFO batch:63");
    expect(l.some((x) => x.startsWith("software IO TLB: mapped [mem "))).toBe(true);
    expect(k.check()).toEqual([]);
  });

  it("metadata-only backing: allocation works, memory reads as zero and writes are dropped", () => {
    const k = boot({ mem: "16G", backing: "none" });
    const a = k.__get_free_pages(GFP_KERNEL, 2);
    k.write32(a, 0x12345678);
    expect(k.read32(a)).toBe(0);
    expect(k.get_zeroed_page(GFP_KERNEL | __GFP_ZERO)).not.toBe(0);
    expect(k.phys.residentBytes).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it("real backing allocates 4 MiB chunks only when first written", () => {
    const k = boot({ mem: "1G" });
    // Boot writes only the slab allocator's first slabs (free pointers, cache ids).
    const booted = k.phys.residentBytes;
    expect(booted % (4 * 2 ** 20)).toBe(0);
    expect(booted).toBeLessThanOrEqual(2 * 4 * 2 ** 20);
    // A page in a chunk nobody wrote brings exactly that chunk in.
    k.write8(k.phys_to_virt(512 * 2 ** 20), 1);
    expect(k.phys.residentBytes).toBe(booted + 4 * 2 ** 20);
    k.write8(k.phys_to_virt(512 * 2 ** 20 + 4095), 1);
    expect(k.phys.residentBytes).toBe(booted + 4 * 2 ** 20);
  });

  it("16 bytes of struct page metadata per page frame", () => {
    expect(PageArrays.BYTES_PER_PAGE).toBe(16);
    const p = new PageArrays(1000);
    const bytes = [p.next, p.prev, p.refcount, p.state, p.order, p.mt, p.zone].reduce(
      (a, t) => a + t.byteLength,
      0,
    );
    expect(bytes).toBe(16 * 1000);
  });

  it("two NUMA nodes split the memory evenly, each with its own zones", () => {
    const k = boot({ mem: "2G", nodes: 2, cpus: 2 });
    expect(k.nodes.map((n) => n.present)).toEqual([
      k.nodes[0]!.zones.reduce((a, z) => a + z.present, 0),
      k.nodes[1]!.zones.reduce((a, z) => a + z.present, 0),
    ]);
    expect(k.nodes[1]!.startPfn).toBe(262144);
    expect(log(k)).toContain(
      "Built 2 zonelists, mobility grouping on.  Total pages: " +
        log(k)
          .find((l) => l.startsWith("Built 2"))!
          .split(": ")[1],
    );
    expect(
      k
        .cat("/proc/buddyinfo")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.slice(0, 21)),
    ).toEqual(["Node 0, zone      DMA", "Node 0, zone    DMA32", "Node 1, zone    DMA32"]);
    expect(k.cat("/proc/zoneinfo").match(/per-node stats/g)).toHaveLength(2);
  });

  it("movablecore= gives ZONE_MOVABLE that much memory at the top", () => {
    const k = boot({ mem: "6G", cmdline: "movablecore=1G" });
    const mv = k.populatedZones().find((z) => z.name === "Movable")!;
    expect(mv.present).toBeGreaterThanOrEqual(262144 - 1024);
    expect(mv.present).toBeLessThanOrEqual(262144);
    expect(k.page_to_pfn(k.alloc_pages(GFP_HIGHUSER_MOVABLE, 0)!)).toBeGreaterThanOrEqual(mv.startPfn);
  });

  it("rejects machines it cannot build", () => {
    expect(() => boot({ mem: "16M" })).toThrow(RangeError);
    expect(() => boot({ mem: "256M", nodes: 4 })).toThrow(RangeError);
    expect(() => boot({ cpus: 0 })).toThrow(RangeError);
    expect(() => boot({ mem: "lots" })).toThrow(RangeError);
  });

  it("the log is deterministic: the same boot gives the same text", () => {
    expect(boot({ mem: "512M" }).dmesg()).toBe(boot({ mem: "512M" }).dmesg());
  });
});
