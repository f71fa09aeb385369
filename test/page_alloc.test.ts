// The page allocator through the kernel API on a booted machine: zone selection, per-CPU lists,
// watermarks and reserves, compound pages, alloc_pages_exact, the 5.4 non-compound free leak.
import { describe, expect, it } from "vitest";
import {
  __GFP_COMP,
  __GFP_NOFAIL,
  __GFP_NOWARN,
  __GFP_THISNODE,
  __GFP_ZERO,
  boot,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_NOWAIT,
} from "../src/index.ts";
import { MIGRATE_HIGHATOMIC, MIGRATE_MOVABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE } from "../src/mm/mmzone.ts";
import { freeWithPcp, log } from "./helpers/machine.ts";

const pfnOf = (k: ReturnType<typeof boot>, page: number | null) => k.page_to_pfn(page!);

describe("zones and GFP zone modifiers", () => {
  const k = boot({ mem: "8G" });
  it("GFP_KERNEL comes from Normal, GFP_DMA32 from below 4 GiB, GFP_DMA from below 16 MiB", () => {
    expect(pfnOf(k, k.alloc_pages(GFP_KERNEL, 0))).toBeGreaterThanOrEqual(0x100000);
    const d32 = pfnOf(k, k.alloc_pages(GFP_DMA32, 0));
    expect(d32).toBeGreaterThanOrEqual(0x1000);
    expect(d32).toBeLessThan(0x100000);
    expect(pfnOf(k, k.alloc_pages(GFP_DMA, 0))).toBeLessThan(0x1000);
    expect(k.__get_dma_pages(GFP_KERNEL, 2) - 0x888000000000).toBeLessThan(16 * 2 ** 20);
  });
  it("zone ranges are those of x86_64 (DMA from pfn 1, DMA32 from 16 MiB, Normal from 4 GiB)", () => {
    const z = k.populatedZones().map((z) => [z.name, z.startPfn]);
    expect(z).toEqual([
      ["DMA", 1],
      ["DMA32", 0x1000],
      ["Normal", 0x100000],
    ]);
    for (const zone of k.populatedZones()) expect(zone.managed).toBeLessThan(zone.present);
  });
  it("boot log has the kernel's lines", () => {
    const l = log(k);
    expect(l).toContain("Zone ranges:");
    expect(l).toContain("  DMA      [mem 0x0000000000001000-0x0000000000ffffff]");
    expect(l).toContain("  DMA32    [mem 0x0000000001000000-0x00000000ffffffff]");
    expect(l).toContain("  Normal   [mem 0x0000000100000000-0x000000023fffffff]");
    expect(l).toContain("  Device   empty");
    expect(l.some((x) => /^Built 1 zonelists, mobility grouping on\. {2}Total pages: \d+$/.test(x))).toBe(
      true,
    );
    const mem = l.find((x) => x.startsWith("Memory: "))!;
    expect(mem).toMatch(
      /^Memory: \d+K\/\d+K available \(14339K kernel code, 2401K rwdata, 4792K rodata, 2720K init, 5060K bss, \d+K reserved, 0K cma-reserved\)$/,
    );
  });
});

describe("kernelcore= carves ZONE_MOVABLE from the top zone", () => {
  it("movable allocations use it, kernel ones cannot", () => {
    const k = boot({ mem: "6G", cmdline: "kernelcore=4G" });
    const mv = k.populatedZones().find((z) => z.name === "Movable")!;
    expect(mv).toBeDefined();
    expect(log(k)).toContain("Movable zone start for each node");
    const p = pfnOf(k, k.alloc_pages(GFP_HIGHUSER_MOVABLE, 0));
    expect(p).toBeGreaterThanOrEqual(mv.startPfn);
    expect(pfnOf(k, k.alloc_pages(GFP_KERNEL, 0))).toBeLessThan(mv.startPfn);
  });
});

describe("per-CPU lists", () => {
  it("order-0 pages come LIFO from this CPU's list, refilled in batches", () => {
    const k = boot({ mem: "1G" });
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    expect([z.pcpBatch, z.pcpHigh]).toEqual([63, 378]);
    // The slab allocator's boot caches took their pages on CPU 0: CPU 1's lists are as boot left them.
    k.setCpu(1);
    // After boot only the Movable list holds pages (the freed init sections); the first GFP_KERNEL
    // (Unmovable) page makes rmqueue_bulk pull one batch of 63, and one of them is handed out.
    const before = z.pcpCount[1]!;
    const free = z.freePages;
    const a = k.alloc_pages(GFP_KERNEL, 0)!;
    expect(z.pcpCount[1]).toBe(before + 63 - 1);
    expect(z.freePages).toBe(free - 63);
    // rmqueue_bulk appends in the order it takes pages from the buddy lists, so the list hands out
    // ascending pfns.
    const b = k.alloc_pages(GFP_KERNEL, 0)!;
    expect(k.page_to_pfn(b)).toBeGreaterThan(k.page_to_pfn(a));
    k.__free_pages(b, 0);
    k.__free_pages(a, 0);
    expect(k.alloc_pages(GFP_KERNEL, 0)).toBe(a); // the last freed comes back first
    expect(k.alloc_pages(GFP_KERNEL, 0)).toBe(b);
  });
  it("each CPU has its own list", () => {
    const k = boot({ mem: "1G", cpus: 2 });
    const a = k.alloc_pages(GFP_KERNEL, 0)!;
    k.__free_pages(a, 0);
    k.setCpu(1);
    expect(k.alloc_pages(GFP_KERNEL, 0)).not.toBe(a);
    k.setCpu(0);
    expect(k.alloc_pages(GFP_KERNEL, 0)).toBe(a);
    expect(() => k.setCpu(2)).toThrow(RangeError);
  });
  it("freeing past `high` drains one batch to the buddy lists", () => {
    const k = boot({ mem: "1G", cpus: 1 });
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    const pages: number[] = [];
    for (let i = 0; i < 1000; i++) pages.push(k.alloc_pages(GFP_KERNEL, 0)!);
    const start = z.pcpCount[0]!;
    let drained = 0;
    for (const p of pages) {
      const c = z.pcpCount[0]!;
      k.__free_pages(p, 0);
      if (z.pcpCount[0]! < c) drained++;
      expect(z.pcpCount[0]).toBeLessThan(z.pcpHigh);
    }
    expect(drained).toBeGreaterThan(0);
    expect(start).toBeLessThan(z.pcpHigh);
    expect(k.check()).toEqual([]);
  });
});

describe("NUMA", () => {
  it("each CPU allocates from its own node first; __GFP_THISNODE never falls back", () => {
    const k = boot({ mem: "2G", nodes: 2, cpus: 2 });
    expect(k.alloc.cpuNode).toEqual([0, 1]);
    k.setCpu(1);
    const p = pfnOf(k, k.alloc_pages(GFP_KERNEL, 0));
    expect(k.zones[k.pages.zone[p]!]!.nid).toBe(1);
    const n1 = k.nodes[1]!;
    expect(n1.fallback.map((z) => `${z.nid}:${z.name}`)).toEqual(["1:DMA32", "0:DMA32", "0:DMA"]);
    let got = 0;
    while (k.alloc_pages(GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN, 10)) got++;
    expect(got).toBeGreaterThan(0);
    expect(k.alloc_pages_node(1, GFP_KERNEL | __GFP_NOWARN, 10)).not.toBeNull(); // falls back to node 0
    expect(k.zones[k.pages.zone[pfnOf(k, k.alloc_pages(GFP_KERNEL, 10))]!]!.nid).toBe(0);
    expect(k.cat("/proc/zoneinfo")).toMatch(/numa_miss\s+[1-9]/);
    expect(k.check()).toEqual([]);
  });
});

describe("compound pages, refcounts and the 5.4 leak", () => {
  it("__GFP_COMP: head and tails, compound_order, freed whole by the last put_page", () => {
    const k = boot({ mem: "256M" });
    const free0 = freeWithPcp(k);
    const page = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 3)!;
    expect(k.compound_order(page)).toBe(3);
    const tail = k.pfn_to_page(k.page_to_pfn(page) + 5);
    expect(k.compound_head(tail)).toBe(page);
    expect(k.compound_order(tail)).toBe(0);
    k.get_page(tail); // references go to the head
    expect(k.page_ref_count(page)).toBe(2);
    expect(k.page_ref_count(tail)).toBe(0);
    k.__free_pages(page, 3);
    expect(freeWithPcp(k)).toBe(free0 - 8);
    k.put_page(tail);
    expect(freeWithPcp(k)).toBe(free0);
    expect(k.check()).toEqual([]);
  });

  it("non-compound order 3 freed while another reference is held: the last put_page frees only page 0", () => {
    const k = boot({ mem: "256M" });
    const free0 = freeWithPcp(k);
    const addr = k.__get_free_pages(GFP_KERNEL, 3);
    const page = k.virt_to_page(addr);
    k.get_page(page);
    k.free_pages(addr, 3);
    k.put_page(page);
    expect(freeWithPcp(k)).toBe(free0 - 7);
    const leaked = k.leakedPages();
    expect(leaked).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => k.page_to_pfn(page) + i));
    const c = k.check();
    expect(c).toHaveLength(1);
    expect(c[0]).toMatch(/^leaked: pfn 0x[0-9a-f]+-0x[0-9a-f]+ \(7 pages\) allocated but unreachable/);
    // meminfo shows it too: the 7 pages stay counted as used.
    expect(k.cat("/proc/meminfo")).toContain("MemTotal:");
  });

  it("with __GFP_COMP the same sequence frees all 8 pages (test_free_pages' second pass)", () => {
    const k = boot({ mem: "256M" });
    const free0 = freeWithPcp(k);
    for (let i = 0; i < 1000; i++) {
      const addr = k.__get_free_pages(GFP_KERNEL | __GFP_COMP, 3);
      const page = k.virt_to_page(addr);
      k.get_page(page);
      k.free_pages(addr, 3);
      k.put_page(page);
    }
    expect(freeWithPcp(k)).toBe(free0);
    expect(k.check()).toEqual([]);
  });

  it("split_page makes 2^order independent pages", () => {
    const k = boot({ mem: "256M" });
    const free0 = freeWithPcp(k);
    const page = k.alloc_pages(GFP_KERNEL, 2)!;
    k.split_page(page, 2);
    for (let i = 0; i < 4; i++) expect(k.page_ref_count(k.pfn_to_page(k.page_to_pfn(page) + i))).toBe(1);
    for (let i = 3; i >= 0; i--) k.__free_pages(k.pfn_to_page(k.page_to_pfn(page) + i), 0);
    expect(freeWithPcp(k)).toBe(free0);
    expect(k.check()).toEqual([]);
  });
});

describe("alloc_pages_exact", () => {
  it("33,792 bytes keeps 9 pages and gives 7 back", () => {
    const k = boot({ mem: "512M" });
    const free0 = freeWithPcp(k);
    const p = k.alloc_pages_exact(33792, GFP_KERNEL);
    expect(p).not.toBe(0);
    expect(freeWithPcp(k)).toBe(free0 - 9);
    for (let i = 0; i < 9; i++) expect(k.page_ref_count(k.virt_to_page(p + i * 4096))).toBe(1);
    expect(k.page_ref_count(k.virt_to_page(p + 9 * 4096))).toBe(0);
    k.free_pages_exact(p, 33792);
    expect(freeWithPcp(k)).toBe(free0);
    expect(k.check()).toEqual([]);
  });
  it("__GFP_COMP is refused with a one-time WARNING and dropped", () => {
    const k = boot({ mem: "256M" });
    const mark = k.logMark();
    const p = k.alloc_pages_exact(5000, GFP_KERNEL | __GFP_COMP);
    expect(
      log(k, mark).some((l) =>
        /^WARNING: CPU: 0 PID: 1 at mm\/page_alloc\.c:\d+ alloc_pages_exact\+/.test(l),
      ),
    ).toBe(true);
    k.free_pages_exact(p, 5000);
    expect(k.check()).toEqual([]);
  });
});

describe("memory contents", () => {
  it("__GFP_ZERO and get_zeroed_page zero the pages; plain allocations keep old bytes", () => {
    const k = boot({ mem: "256M" });
    const a = k.__get_free_page(GFP_KERNEL);
    k.memset(a, 0x5a, 4096);
    k.free_page(a);
    const b = k.__get_free_page(GFP_KERNEL);
    expect(b).toBe(a); // LIFO pcp
    expect(k.read8(b + 100)).toBe(0x5a);
    k.free_page(b);
    const z = k.get_zeroed_page(GFP_KERNEL);
    expect(z).toBe(a);
    expect(Array.from(k.readBytes(z, 4096)).every((x) => x === 0)).toBe(true);
    const big = k.alloc_pages(GFP_KERNEL | __GFP_ZERO, 4)!;
    expect(k.readBytes(k.page_address(big), 65536).every((x) => x === 0)).toBe(true);
  });
  it("read/write of every width, across a page boundary, and memcpy", () => {
    const k = boot({ mem: "256M" });
    const a = k.__get_free_pages(GFP_KERNEL, 1);
    k.write64(a + 4092, 0x1122334455667788n);
    expect(k.read64(a + 4092)).toBe(0x1122334455667788n);
    expect(k.read32(a + 4092)).toBe(0x55667788);
    expect(k.read16(a + 4096)).toBe(0x3344);
    expect(k.read8(a + 4099)).toBe(0x11);
    k.write16(a, 0xbeef);
    k.write32(a + 8, 0xdeadbeef);
    k.memcpy(a + 100, a, 12);
    expect(k.read16(a + 100)).toBe(0xbeef);
    expect(k.read32(a + 108)).toBe(0xdeadbeef);
    k.writeBytes(a + 200, new Uint8Array([1, 2, 3]));
    expect(Array.from(k.readBytes(a + 200, 3))).toEqual([1, 2, 3]);
  });
});

describe("watermarks and reserves in action", () => {
  it("GFP_ATOMIC may dig below the min watermark where GFP_KERNEL stops", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    while (k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0)) {}
    const afterKernel = z.freePages;
    expect(afterKernel).toBeLessThanOrEqual(z.watermark[0]! + 1 + z.pcpBatch);
    let atomic = 0;
    while (k.alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 0)) atomic++;
    expect(atomic).toBeGreaterThan(0);
    // ALLOC_HIGH halves the mark, ALLOC_HARDER takes a quarter off that: 3/8 of min remains reserved.
    const min = z.watermark[0]!;
    const floor = min - Math.floor(min / 2);
    expect(z.freePages).toBeLessThanOrEqual(floor - Math.floor(floor / 4) + 1);
    expect(k.check()).toEqual([]);
  });

  it("an order > 0 GFP_ATOMIC allocation in the slow path reserves a HighAtomic pageblock", () => {
    const k = boot({ mem: "256M" });
    k.alloc_pages(GFP_ATOMIC, 1); // the fast path (low watermark met) has no ALLOC_HARDER: no reserve
    expect(k.cat("/proc/pagetypeinfo")).toMatch(/Node 0, zone {4}DMA32 +\d+ +\d+ +\d+ +0 /);
    while (k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0)) {}
    expect(k.alloc_pages(GFP_ATOMIC, 1)).not.toBeNull();
    expect(k.cat("/proc/pagetypeinfo")).toMatch(/Node 0, zone {4}DMA32 +\d+ +\d+ +\d+ +1 /);
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    expect(z.nrReservedHighatomic).toBe(512);
    expect(MIGRATE_HIGHATOMIC).toBe(3);
  });

  it("unmovable order-10 allocations until failure turn Movable pageblocks Unmovable (oracle alloc_fail)", () => {
    const k = boot({ mem: "512M", cpus: 1 });
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    const movable10 = z.listLen[10 * MIGRATE_TYPES + MIGRATE_MOVABLE]!;
    const unmovable10 = z.listLen[10 * MIGRATE_TYPES + MIGRATE_UNMOVABLE]!;
    const mark = k.logMark();
    const got: number[] = [];
    for (let p = k.alloc_pages(GFP_NOWAIT, 10); p !== null; p = k.alloc_pages(GFP_NOWAIT, 10)) got.push(p);
    expect(got.length).toBeGreaterThan(0);
    const l = log(k, mark);
    expect(l[0]).toBe(
      "init: page allocation failure: order:10, mode:0x800(GFP_NOWAIT), nodemask=(null),cpuset=/,mems_allowed=0",
    );
    expect(l).toContain("Mem-Info:");
    // As on the oracle (89 + 3 = 92): every order-10 block of DMA32, then the DMA zone's three.
    const dma = k.populatedZones().find((z) => z.name === "DMA")!;
    expect(got.length).toBe(movable10 + 3);
    expect(dma.nrFree[10]).toBe(0);
    for (const p of got) k.__free_pages(p, 10);
    expect(z.listLen[10 * MIGRATE_TYPES + MIGRATE_MOVABLE]).toBe(0);
    expect(z.listLen[10 * MIGRATE_TYPES + MIGRATE_UNMOVABLE]).toBe(unmovable10 + movable10);
    expect(k.check()).toEqual([]);
  });

  it("warn_alloc is rate limited: 10 reports per 5 seconds, then a suppressed count", () => {
    const k = boot({ mem: "256M" });
    while (k.alloc_pages(GFP_NOWAIT | __GFP_NOWARN, 10)) {}
    const mark = k.logMark();
    for (let i = 0; i < 15; i++) expect(k.alloc_pages(GFP_NOWAIT, 10)).toBeNull();
    expect(log(k, mark).filter((l) => l.includes("page allocation failure")).length).toBe(10);
    k.msleep(5000);
    expect(k.alloc_pages(GFP_NOWAIT, 10)).toBeNull();
    const l = log(k, mark);
    expect(l).toContain("warn_alloc: 5 callbacks suppressed");
  });
});

describe("sysctls", () => {
  it("min_free_kbytes and watermark_scale_factor recompute the watermarks", () => {
    const k = boot({ mem: "1G" });
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    const before = [...z.watermark];
    k.echo("16384", "/proc/sys/vm/min_free_kbytes");
    expect(k.cat("/proc/sys/vm/min_free_kbytes")).toBe("16384\n");
    expect(z.watermark[0]).toBeGreaterThan(before[0]!);
    k.echo(200, "/proc/sys/vm/watermark_scale_factor");
    expect(z.watermark[1]! - z.watermark[0]!).toBe(Math.floor((z.managed * 200) / 10000));
    expect(() => k.echo(0, "/proc/sys/vm/watermark_scale_factor")).toThrow(/Invalid argument/);
    expect(() => k.echo("abc", "/proc/sys/vm/min_free_kbytes")).toThrow(/Invalid argument/);
    expect(() => k.cat("/proc/nonexistent")).toThrow(/No such file or directory/);
  });
});

describe("__GFP_NOFAIL", () => {
  it("warns once for orders above 1, and for a costly order that cannot be met it still tries the reserves", () => {
    const k = boot({ mem: "256M" });
    const mark = k.logMark();
    const p = k.alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 2);
    expect(p).not.toBeNull();
    expect(
      log(k, mark).some((l) => /^WARNING: CPU: 0 PID: 1 at mm\/page_alloc\.c:3283 rmqueue\+/.test(l)),
    ).toBe(true);
    const m2 = k.logMark();
    while (k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0)) {}
    // Below the min watermark: __GFP_NOFAIL falls back to ALLOC_HARDER, then no watermarks at all.
    expect(k.alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0)).not.toBeNull();
    expect(log(k, m2).filter((l) => l.startsWith("WARNING"))).toEqual([]);
    expect(k.check()).toEqual([]);
  });
});

describe("more sysctls", () => {
  it("percpu_pagelist_fraction sets high = managed / fraction and batch = high / 4 (at most 96); 0 restores", () => {
    const k = boot({ mem: "1G" });
    const z = k.populatedZones().find((z) => z.name === "DMA32")!;
    k.echo(8, "/proc/sys/vm/percpu_pagelist_fraction");
    expect(z.pcpHigh).toBe(Math.floor(z.managed / 8));
    expect(z.pcpBatch).toBe(96);
    k.echo(1000, "/proc/sys/vm/percpu_pagelist_fraction");
    expect(z.pcpHigh).toBe(Math.floor(z.managed / 1000));
    expect(z.pcpBatch).toBe(Math.floor(z.managed / 4000));
    expect(k.cat("/proc/zoneinfo")).toContain(
      `              high:  ${z.pcpHigh}\n              batch: ${z.pcpBatch}\n`,
    );
    expect(() => k.echo(7, "/proc/sys/vm/percpu_pagelist_fraction")).toThrow(/Invalid argument/);
    k.echo(0, "/proc/sys/vm/percpu_pagelist_fraction");
    expect([z.pcpHigh, z.pcpBatch]).toEqual([378, 63]);
    expect(k.check()).toEqual([]);
  });
  it("kptr_restrict decides what %pK shows: hashed (0), the address for root (1), zeros (2)", () => {
    const k = boot({ mem: "256M" });
    const p = 0x888000001000;
    k.printk("%pK\n", p);
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    k.printk("%pK\n", p);
    k.echo(2, "/proc/sys/kernel/kptr_restrict");
    k.printk("%pK\n", p);
    const l = log(k).slice(-3);
    expect(l[0]).toMatch(/^00000000[0-9a-f]{8}$/);
    expect(l[1]).toBe("ffff888000001000");
    expect(l[2]).toBe("0000000000000000");
    expect(k.cat("/proc/sys/kernel/kptr_restrict")).toBe("2\n");
  });
});
