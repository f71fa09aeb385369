// /proc text: the layout of each file against a real kernel's (the oracle's 6.1 capture, minus what 6.1
// added) and kernel-facts' 5.4 formats; values against the allocator state and 5.4's formulas.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { __GFP_NOWARN, boot, GFP_KERNEL } from "../src/index.ts";
import { MIGRATE_TYPES } from "../src/mm/mmzone.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`fixtures/oracle-6.1-512M-${name}.txt`, import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l !== "");
const lines = (s: string) => s.split("\n").filter((l) => l !== "");
/** A line's shape: every number (and the padding before it) becomes " #". */
const shape = (l: string) => l.replace(/ *-?\d+/g, " #");

// The oracle machine: 512M, one CPU, so the same zones as kmem's QEMU-like 512M machine.
const k = boot({ mem: "512M", cpus: 1 });
k.alloc_pages(GFP_KERNEL, 3);

describe("/proc/buddyinfo", () => {
  it("has the oracle's layout: `Node %d, zone %8s ` then `%6lu ` per order", () => {
    const ours = lines(k.cat("/proc/buddyinfo"));
    const real = fixture("buddyinfo");
    expect(ours.map(shape)).toEqual(real.map(shape));
    for (const [i, l] of ours.entries()) expect(l.length).toBe(real[i]!.length);
    expect(ours[0]!.startsWith("Node 0, zone      DMA ")).toBe(true);
    expect(ours[1]!.endsWith(" ")).toBe(true);
  });
  it("counts blocks per order (nr_free)", () => {
    const z = k.populatedZones();
    expect(k.cat("/proc/buddyinfo")).toBe(
      z
        .map(
          (z) =>
            `Node 0, zone ${z.name.padStart(8)} ${Array.from(z.nrFree, (n) => `${String(n).padStart(6)} `).join("")}\n`,
        )
        .join(""),
    );
  });
});

describe("/proc/pagetypeinfo", () => {
  const ours = lines(k.cat("/proc/pagetypeinfo"));
  it("headers are 5.4's, character for character", () => {
    expect(ours[0]).toBe("Page block order: 9");
    expect(ours[1]).toBe("Pages per block:  512");
    expect(ours[2]).toBe(
      "Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 ",
    );
    // kernel-facts §4.2 (a 5.4 kernel with CONFIG_CMA).
    expect(ours).toContain(
      "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate ",
    );
  });
  it("rows have the oracle's layout; 5.4 with CONFIG_CMA adds the CMA rows and column", () => {
    const real = fixture("pagetypeinfo");
    const realRows = real.filter((l) => l.startsWith("Node    0"));
    const ourRows = ours.filter((l) => l.startsWith("Node    0") && !l.includes("type          CMA"));
    expect(ourRows.map(shape)).toEqual(realRows.map(shape));
    for (const [i, l] of ourRows.entries()) expect(l.length).toBe(realRows[i]!.length);
    const blocks = ours.filter((l) => /^Node 0, zone +\w+ +\d/.test(l));
    const realBlocks = real.filter((l) => /^Node 0, zone +\w+ +\d/.test(l));
    // One more `%12lu ` column (CMA) than the oracle's kernel, otherwise the same layout.
    for (const [i, l] of blocks.entries()) expect(l.length).toBe(realBlocks[i]!.length + 13);
  });
  it("counts: per-list blocks and pageblocks by type (zone start, every 512 pages)", () => {
    const dma32 = k.populatedZones()[1]!;
    const row = ours.find((l) => l.startsWith("Node    0, zone    DMA32, type    Unmovable"))!;
    expect(row.trim().split(/ +/).slice(6).map(Number)).toEqual(
      Array.from({ length: 11 }, (_, o) => dma32.listLen[o * MIGRATE_TYPES]),
    );
    const dmaBlocks = ours.find((l) => l.startsWith("Node 0, zone      DMA "))!;
    expect(
      dmaBlocks
        .trim()
        .split(/ +/)
        .slice(4)
        .map(Number)
        .reduce((a, b) => a + b),
    ).toBe(8); // as on the oracle
  });
});

describe("/proc/zoneinfo", () => {
  const ours = lines(k.cat("/proc/zoneinfo"));
  const skeleton = (ls: string[]) => ls.filter((l) => !/^ {6}\w/.test(l)).map(shape);
  it("has the oracle's skeleton, minus the boost and cma lines 6.1 added", () => {
    const real = fixture("zoneinfo").filter((l) => !/^ {8}(boost|cma) /.test(l));
    expect(skeleton(ours)).toEqual(skeleton(real));
  });
  it("stat lines are `%-12s %lu` with 5.4's names in 5.4's order", () => {
    const dma = ours.slice(0, ours.indexOf("Node 0, zone    DMA32"));
    const stats = dma.filter((l) => /^ {6}\w/.test(l)).map((l) => l.trim().split(/ +/)[0]);
    expect(stats.slice(32, 45)).toEqual([
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
    ]);
    expect(stats.slice(45)).toEqual([
      "numa_hit",
      "numa_miss",
      "numa_foreign",
      "numa_interleave",
      "numa_local",
      "numa_other",
    ]);
    expect(ours).toContain("      nr_mlock     0");
  });
  it("zone geometry is the oracle machine's: DMA spanned 4095 present 3998 from pfn 1; DMA32 spanned = present = 126944", () => {
    const text = k.cat("/proc/zoneinfo");
    expect(text).toMatch(
      /zone {6}DMA\n(?:.*\n)*? {2}pages free {5}\d+\n {8}min {6}\d+\n {8}low {6}\d+\n {8}high {5}\d+\n {8}spanned {2}4095\n {8}present {2}3998\n/,
    );
    expect(text).toMatch(/ {8}spanned {2}126944\n {8}present {2}126944\n/);
    expect(text).toContain("  start_pfn:           1\n");
    expect(text).toContain("  start_pfn:           4096\n");
  });
  it("watermarks and protection follow 5.4's formulas from the managed pages shown", () => {
    const [dma, dma32] = k.populatedZones();
    const minKb = Math.floor(Math.sqrt((dma!.managed + dma32!.managed - 680) * 4 * 16)); // before free_initmem
    expect(k.cat("/proc/sys/vm/min_free_kbytes")).toBe(`${minKb}\n`);
    expect(dma!.lowmemReserve[1]).toBe(Math.floor((dma32!.managed - 680) / 256));
    expect(k.cat("/proc/zoneinfo")).toContain(
      `        protection: (0, ${dma!.lowmemReserve[1]}, ${dma!.lowmemReserve[1]}, ${dma!.lowmemReserve[1]}, ${dma!.lowmemReserve[1]})`,
    );
    expect(k.cat("/proc/zoneinfo")).toContain(
      "              high:  0\n              batch: 1\n  vm stats threshold: 2\n",
    );
  });
});

describe("/proc/meminfo", () => {
  const ours = lines(k.cat("/proc/meminfo"));
  const KEYS_5_4 =
    "MemTotal MemFree MemAvailable Buffers Cached SwapCached Active Inactive Active(anon) Inactive(anon) Active(file) Inactive(file) Unevictable Mlocked SwapTotal SwapFree Dirty Writeback AnonPages Mapped Shmem KReclaimable Slab SReclaimable SUnreclaim KernelStack PageTables NFS_Unstable Bounce WritebackTmp CommitLimit Committed_AS VmallocTotal VmallocUsed VmallocChunk Percpu HardwareCorrupted AnonHugePages ShmemHugePages ShmemPmdMapped FileHugePages FilePmdMapped CmaTotal CmaFree HugePages_Total HugePages_Free HugePages_Rsvd HugePages_Surp Hugepagesize Hugetlb DirectMap4k DirectMap2M".split(
      " ",
    );
  it("has 5.4's keys in 5.4's order", () => {
    expect(ours.map((l) => l.split(":")[0])).toEqual(KEYS_5_4);
  });
  it("each line has the oracle's width and layout (labels to 16 columns, `%8lu kB`)", () => {
    const real = new Map(fixture("meminfo").map((l) => [l.split(":")[0], l]));
    for (const l of ours) {
      const r = real.get(l.split(":")[0]!);
      if (!r) continue; // CmaTotal/CmaFree: this 6.1 build has no CONFIG_CMA
      expect(shape(l)).toBe(shape(r));
      expect(l.length).toBe(r.length);
    }
  });
  it("values come from the zones", () => {
    const zs = k.populatedZones();
    const kb = (key: string) => Number(/: +(\d+)/.exec(ours.find((l) => l.startsWith(`${key}:`))!)![1]);
    expect(kb("MemTotal")).toBe(zs.reduce((a, z) => a + z.managed, 0) * 4);
    expect(kb("MemFree")).toBe(zs.reduce((a, z) => a + z.freePages, 0) * 4);
    expect(kb("MemAvailable")).toBe((zs.reduce((a, z) => a + z.freePages, 0) - k.wm.totalreservePages) * 4);
    expect(kb("VmallocTotal")).toBe(34359738367);
    expect(kb("DirectMap4k") + kb("DirectMap2M")).toBe(512 * 1024 - 128); // all RAM below the BIOS's 128 KiB
  });
});

describe("/proc/vmstat", () => {
  it("is `name value` per line: zone items, NUMA items, node items, dirty thresholds, then events", () => {
    const ours = lines(k.cat("/proc/vmstat"));
    for (const l of ours) expect(l).toMatch(/^[a-z0-9_]+ \d+$/);
    const names = ours.map((l) => l.split(" ")[0]);
    expect(names.slice(0, 3)).toEqual(["nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon"]);
    expect(names.indexOf("numa_hit")).toBe(13);
    expect(names.indexOf("nr_inactive_anon")).toBe(19);
    expect(names.indexOf("nr_dirty_threshold")).toBe(51);
    expect(names[53]).toBe("pgpgin");
    // The same order as the oracle's kernel for the names both share, except counters that moved after
    // 5.4: nr_kernel_stack (5.9) and nr_page_table_pages (5.11) to node stats, nr_unstable (5.8) to the end.
    const moved = ["nr_kernel_stack", "nr_page_table_pages", "nr_unstable"];
    const real = fixture("vmstat")
      .map((l) => l.split(" ")[0]!)
      .filter((n) => !moved.includes(n));
    const shared = names.filter((n) => real.includes(n!));
    expect(shared).toEqual(real.filter((n) => names.includes(n)));
  });
  it("counts allocations per zone and frees", () => {
    const k2 = boot({ mem: "256M", cpus: 1 });
    const before = k2.cat("/proc/vmstat");
    const get = (s: string, n: string) => Number(new RegExp(`^${n} (\\d+)$`, "m").exec(s)![1]);
    const p = k2.alloc_pages(GFP_KERNEL, 2)!;
    k2.__free_pages(p, 2);
    const after = k2.cat("/proc/vmstat");
    expect(get(after, "pgalloc_dma32") - get(before, "pgalloc_dma32")).toBe(4);
    expect(get(after, "pgfree") - get(before, "pgfree")).toBe(4);
  });
});

describe("/sys/kernel/debug/extfrag", () => {
  it("unusable_index and extfrag_index follow the kernel's integer formulas, `%d.%03d ` per order", () => {
    const m = boot({ mem: "256M", cpus: 1 });
    // Fragment DMA32: take every order-10 block, then give back one page in two of each order-1 pair.
    const held: number[] = [];
    for (
      let p = m.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0);
      p !== null;
      p = m.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0)
    )
      held.push(p);
    held.sort((a, b) => a - b);
    for (let i = 0; i < held.length; i += 2) m.__free_pages(held[i]!, 0);
    const z = m.populatedZones().find((z) => z.name === "DMA32")!;
    const nr = Array.from(z.nrFree);
    const pages = nr.reduce((a, n, o) => a + n * 2 ** o, 0);
    const blocks = nr.reduce((a, n) => a + n, 0);
    const suitable = (k: number) => nr.reduce((a, n, o) => a + (o >= k ? n * 2 ** (o - k) : 0), 0);
    const fmt = (i: number) => `${Math.trunc(i / 1000)}.${String(Math.abs(i % 1000)).padStart(3, "0")} `;
    const unusable = nr.map((_, k) =>
      pages === 0 ? 1000 : Math.trunc(((pages - suitable(k) * 2 ** k) * 1000) / pages),
    );
    const extfrag = nr.map((_, k) =>
      blocks === 0
        ? 0
        : suitable(k) > 0
          ? -1000
          : 1000 - Math.trunc((1000 + Math.trunc((pages * 1000) / 2 ** k)) / blocks),
    );
    expect(m.cat("/sys/kernel/debug/extfrag/unusable_index")).toContain(
      `Node 0, zone    DMA32 ${unusable.map(fmt).join("")}\n`,
    );
    expect(m.cat("/sys/kernel/debug/extfrag/extfrag_index")).toContain(
      `Node 0, zone    DMA32 ${extfrag.map(fmt).join("")}\n`,
    );
    expect(extfrag[0]).toBe(-1000); // order 0 would succeed
    expect(fmt(-1000)).toBe("-1.000 ");
    expect(unusable[10]).toBeGreaterThan(900); // nearly everything free is in single pages
  });
});

describe("warn_alloc's Mem-Info dump (show_mem, 5.4 layout)", () => {
  it("has 5.4's lines, and its numbers add up", () => {
    const m = boot({ mem: "512M", cpus: 1 });
    while (m.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 10)) {}
    const mark = m.logMark();
    expect(m.alloc_pages(GFP_KERNEL, 10)).toBeNull();
    const l = lines(m.dmesg(mark)).map((x) => x.replace(/^\[\s*\d+\.\d{6}\] /, ""));
    const i = l.indexOf("Mem-Info:");
    const [dma, dma32] = m.populatedZones();
    const free = dma!.freePages + dma32!.freePages;
    expect(l.slice(i, i + 7)).toEqual([
      "Mem-Info:",
      "active_anon:0 inactive_anon:0 isolated_anon:0",
      " active_file:0 inactive_file:0 isolated_file:0",
      " unevictable:0 dirty:0 writeback:0 unstable:0",
      ` slab_reclaimable:${m.slub.nrSlabReclaimable[0]} slab_unreclaimable:${m.slub.nrSlabUnreclaimable[0]}`,
      " mapped:0 shmem:0 pagetables:0 bounce:0",
      ` free:${free} free_pcp:${dma!.pcpPages + dma32!.pcpPages} free_cma:0`,
    ]);
    expect(l[i + 7]).toBe(
      "Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB shmem_thp: 0kB shmem_pmdmapped: 0kB anon_thp: 0kB writeback_tmp:0kB unstable:0kB all_unreclaimable? no",
    );
    const k4 = (n: number) => `${n * 4}kB`;
    expect(l[i + 8]).toBe(
      `Node 0 DMA free:${k4(dma!.freePages)} min:${k4(dma!.watermark[0]!)} low:${k4(dma!.watermark[1]!)} high:${k4(dma!.watermark[2]!)} active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:${k4(3998)} managed:${k4(dma!.managed)} mlocked:0kB kernel_stack:0kB pagetables:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB`,
    );
    expect(l[i + 9]).toBe(`lowmem_reserve[]: ${dma!.lowmemReserve.join(" ")}`);
    const buddyLine = l.find((x) => x.startsWith("Node 0 DMA32: "))!;
    expect(buddyLine).toMatch(/^Node 0 DMA32: (\d+\*\d+kB (\([UMEHCI]+\) )?){11}= \d+kB$/);
    expect(buddyLine.endsWith(` 0*4096kB = ${dma32!.freePages * 4}kB`)).toBe(true);
    const tail = l.slice(l.indexOf("0 total pagecache pages"));
    expect(tail.slice(0, 10)).toEqual([
      "0 total pagecache pages",
      "0 pages in swap cache",
      "Swap cache stats: add 0, delete 0, find 0/0",
      "Free swap  = 0kB",
      "Total swap = 0kB",
      `${dma!.present + dma32!.present} pages RAM`,
      "0 pages HighMem/MovableOnly",
      `${dma!.present - dma!.managed + dma32!.present - dma32!.managed} pages reserved`,
      "0 pages cma reserved",
      "0 pages hwpoisoned",
    ]);
  });
});
