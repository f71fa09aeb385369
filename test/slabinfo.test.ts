// /proc/slabinfo (5.4, SLUB): the header and row format of kernel-facts §4.6 character for character; the
// kmalloc rows' geometry against the oracle's 6.1 capture where 5.4 computes the same (no debugging), and
// against 5.4's own layout with slub_debug=FZPU (§7.2); the counting rules (objects of per-CPU slabs are
// active, free objects on node partial lists are not); and the slab counters in meminfo, vmstat, zoneinfo.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { __GFP_RECLAIMABLE, boot, GFP_KERNEL } from "../src/index.ts";
import { WMARK_LOW } from "../src/mm/mmzone.ts";

const HEADER = [
  "slabinfo - version: 2.1",
  "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>",
];
const fixture = (name: string) =>
  readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l !== "");
const lines = (s: string) => s.split("\n").filter((l) => l !== "");
/** A line's shape: every number (and the padding before it) becomes " #". */
const shape = (l: string) => l.replace(/ *\d+/g, " #");
const ROW = /^(\S+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) : tunables +0 +0 +0 : slabdata +(\d+) +(\d+) +0$/;

interface Row {
  name: string;
  active: number;
  num: number;
  objsize: number;
  perSlab: number;
  pages: number;
  activeSlabs: number;
  numSlabs: number;
}
function rows(text: string): Map<string, Row> {
  const m = new Map<string, Row>();
  for (const l of lines(text).slice(2)) {
    const f = ROW.exec(l);
    if (!f) throw new Error(`bad slabinfo line: ${l}`);
    const [active, num, objsize, perSlab, pages, activeSlabs, numSlabs] = f.slice(2).map(Number) as number[];
    m.set(f[1]!, {
      name: f[1]!,
      active: active!,
      num: num!,
      objsize: objsize!,
      perSlab: perSlab!,
      pages: pages!,
      activeSlabs: activeSlabs!,
      numSlabs: numSlabs!,
    });
  }
  return m;
}

// The oracle machine: 512M, one CPU.
const k = boot({ mem: "512M", cpus: 1 });

describe("/proc/slabinfo format", () => {
  const ours = lines(k.cat("/proc/slabinfo"));
  it("starts with the version 2.1 header, as 5.4 and the oracle's 6.1 print it", () => {
    expect(ours.slice(0, 2)).toEqual(HEADER);
    expect(fixture("oracle-6.1-512M-nodebug-slabinfo.txt").slice(0, 2)).toEqual(HEADER);
  });
  it("rows are `%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu`", () => {
    for (const l of ours.slice(2)) expect(l).toMatch(ROW);
    const kc = k.slub.kmemCache!;
    expect(ours).toContain(
      `kmem_cache       ${String(kc.totalObjects[0]).padStart(7)} ${String(kc.totalObjects[0]).padStart(6)}    384   10    1 : tunables    0    0    0 : slabdata ${String(kc.nrSlabs[0]).padStart(6)} ${String(kc.nrSlabs[0]).padStart(6)}      0`,
    );
  });
  it("each kmalloc row has the oracle's layout and width", () => {
    const real = new Map(fixture("oracle-6.1-512M-nodebug-slabinfo.txt").map((l) => [l.split(" ")[0], l]));
    let n = 0;
    for (const l of ours.slice(2)) {
      const r = real.get(l.split(" ")[0]!);
      if (!r) continue;
      expect(shape(l)).toBe(shape(r));
      expect(l.length).toBe(r.length);
      n++;
    }
    expect(n).toBe(39);
  });
  it("lists the newest cache first: vmap_area (vmalloc_init), then the DMA caches by index 1..13, then rcl and normal by size (kernel-facts §4.6)", () => {
    const all = ours.slice(2).map((l) => l.split(" ")[0]);
    // vmap_area is 64 bytes without a ctor; the kmalloc caches whitelist their objects for usercopy
    // (usersize), which keeps them out of merging, so it gets a line of its own as on the oracle.
    expect(all[0]).toBe("vmap_area");
    const names = all.slice(1);
    const sizes = ["8k", "4k", "2k", "1k", "512", "256", "192", "128", "96", "64", "32", "16", "8"];
    expect(names.slice(0, 39)).toEqual([
      ..."8k 4k 2k 1k 512 256 128 64 32 16 8 192 96".split(" ").map((s) => `dma-kmalloc-${s}`),
      ...sizes.map((s) => `kmalloc-rcl-${s}`),
      ...sizes.map((s) => `kmalloc-${s}`),
    ]);
    expect(new Set(names.slice(39))).toEqual(new Set(["kmem_cache_node", "kmem_cache"]));
  });
  // 5.4's bootstrap() adds kmem_cache to slab_caches before kmem_cache_node, so kmem_cache is the last
  // line (the oracle's 6.1 capture agrees).
  it("ends with kmem_cache_node, then kmem_cache (bootstrap order)", () => {
    expect(ours.slice(-2).map((l) => l.split(" ")[0])).toEqual(["kmem_cache_node", "kmem_cache"]);
  });
  it("merged caches (aliases) get no line of their own", () => {
    const m = boot({ mem: "256M", cpus: 1 });
    m.kmem_cache_create("test_obj40", 40, 0, 0);
    m.kmem_cache_create("test_obj40b", 40, 0, 0);
    const names = lines(m.cat("/proc/slabinfo")).map((l) => l.split(" ")[0]);
    expect(names[2]).toBe("test_obj40");
    expect(names).not.toContain("test_obj40b");
  });
});

describe("kmalloc geometry against the oracle (512M, 1 CPU)", () => {
  it("without debugging: objsize, objperslab and pagesperslab are the 6.1 capture's", () => {
    const ours = rows(k.cat("/proc/slabinfo"));
    const real = rows(fixture("oracle-6.1-512M-nodebug-slabinfo.txt").join("\n"));
    expect(real.size).toBe(39);
    for (const [name, r] of real) {
      const o = ours.get(name)!;
      expect([name, o.objsize, o.perSlab, o.pages]).toEqual([name, r.objsize, r.perSlab, r.pages]);
    }
  });
  it("with slub_debug=FZPU: 5.4's layout (152-byte struct track), e.g. kmalloc-128 in a 640-byte slot", () => {
    const d = rows(boot({ mem: "512M", cpus: 1, cmdline: "slub_debug=FZPU" }).cat("/proc/slabinfo"));
    // kernel-facts §7.2: left red zone ALIGN(8, align), object, right red zone (8 when the object fills its
    // word), free pointer (8), two tracks (2 * 152), then ALIGN(size, align); order per §7.3 with 8 objects.
    const expected: [string, number, number, number][] = [
      ["kmalloc-8k", 24576, 1, 8],
      ["kmalloc-4k", 12288, 2, 8],
      ["kmalloc-2k", 6144, 5, 8],
      ["kmalloc-1k", 3072, 10, 8],
      ["kmalloc-512", 1536, 10, 4],
      ["kmalloc-256", 1024, 8, 2],
      ["kmalloc-192", 528, 15, 2],
      ["kmalloc-128", 640, 12, 2],
      ["kmalloc-96", 432, 9, 1],
      ["kmalloc-64", 512, 8, 1],
      ["kmalloc-32", 416, 19, 2],
      ["kmalloc-16", 368, 11, 1],
      ["kmalloc-8", 344, 23, 2],
    ];
    for (const [name, objsize, perSlab, pages] of expected) {
      const o = d.get(name)!;
      expect([name, o.objsize, o.perSlab, o.pages]).toEqual([name, objsize, perSlab, pages]);
      for (const prefix of ["kmalloc-rcl-", "dma-kmalloc-"]) {
        const v = d.get(name.replace("kmalloc-", prefix))!;
        expect([v.objsize, v.perSlab, v.pages]).toEqual([objsize, perSlab, pages]);
      }
    }
  });
});

describe("/proc/slabinfo counts", () => {
  it("num_objs counts every slab; active_objs excludes only free objects on node partial lists", () => {
    const m = boot({ mem: "256M", cpus: 1 });
    const c = m.kmem_cache_create("cnt200", 200, 0, 0);
    const get = () => rows(m.cat("/proc/slabinfo")).get("cnt200")!;
    expect(get()).toMatchObject({ active: 0, num: 0, objsize: 200, perSlab: 20, pages: 1, numSlabs: 0 });
    const objs: number[] = [];
    for (let i = 0; i < 45; i++) objs.push(m.kmem_cache_alloc(c, GFP_KERNEL));
    // Two full slabs and the CPU's slab with 5 of 20 in use: the CPU slab's free objects count as active.
    expect(get()).toMatchObject({ active: 60, num: 60, activeSlabs: 3, numSlabs: 3 });
    // Freeing into a full slab puts it on the CPU's partial list: still not on a node list.
    for (const i of [0, 1, 2]) m.kmem_cache_free(c, objs[i]!);
    expect(get()).toMatchObject({ active: 60, num: 60 });
    // kmem_cache_shrink() flushes the CPU: both slabs with free objects go to the node partial list.
    expect(m.kmem_cache_shrink(c)).toBe(1);
    expect(get()).toMatchObject({ active: 42, num: 60, activeSlabs: 3, numSlabs: 3 });
  });
});

describe("slab pages in /proc/meminfo, /proc/vmstat and /proc/zoneinfo", () => {
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}: +(\\d+) kB$`, "m").exec(text)![1]);
  const vm = (text: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(text)![1]);
  it("Slab = SReclaimable + SUnreclaim, from NR_SLAB_(UN)RECLAIMABLE, in kB; kmalloc_large counts too", () => {
    const m = boot({ mem: "512M", cpus: 1 });
    const before = m.cat("/proc/meminfo");
    expect(kb(before, "SReclaimable")).toBe(0);
    expect(kb(before, "SUnreclaim")).toBe(m.slub.nrSlabUnreclaimable[0]! * 4);
    expect(kb(before, "SUnreclaim")).toBeGreaterThan(0); // kmem_cache and kmem_cache_node
    m.kmalloc(100, GFP_KERNEL | __GFP_RECLAIMABLE); // kmalloc-rcl-128: one order-0 slab
    m.kmalloc(3000, GFP_KERNEL | __GFP_RECLAIMABLE); // kmalloc-rcl-4k: one order-3 slab
    m.kmalloc(20000, GFP_KERNEL); // kmalloc_large: an order-3 compound page, unreclaimable
    const after = m.cat("/proc/meminfo");
    expect(kb(after, "SReclaimable")).toBe((1 + 8) * 4);
    expect(kb(after, "KReclaimable")).toBe((1 + 8) * 4);
    expect(kb(after, "SUnreclaim") - kb(before, "SUnreclaim")).toBe(8 * 4);
    expect(kb(after, "Slab")).toBe(kb(after, "SReclaimable") + kb(after, "SUnreclaim"));
    const v = m.cat("/proc/vmstat");
    expect(vm(v, "nr_slab_reclaimable")).toBe(9);
    expect(vm(v, "nr_slab_unreclaimable")).toBe(kb(after, "SUnreclaim") / 4);
    const z = m.cat("/proc/zoneinfo");
    expect(Number(/^ {6}nr_slab_reclaimable (\d+)$/m.exec(z)![1])).toBe(9);
    expect(Number(/^ {6}nr_slab_unreclaimable (\d+)$/m.exec(z)![1])).toBe(kb(after, "SUnreclaim") / 4);
  });
  it("MemAvailable adds reclaimable slab minus min(half of it, the low watermarks) (si_mem_available)", () => {
    const m = boot({ mem: "512M", cpus: 1 });
    const held: number[] = [];
    // 40 order-3 kmalloc-rcl-8k slabs: 320 reclaimable pages.
    for (let i = 0; i < 160; i++) held.push(m.kmalloc(8192, GFP_KERNEL | __GFP_RECLAIMABLE));
    const zs = m.populatedZones();
    const free = zs.reduce((a, z) => a + z.freePages, 0);
    const low = m.zones.reduce((a, z) => a + (z ? z.watermark[WMARK_LOW]! : 0), 0);
    const rec = m.slub.nrSlabReclaimable[0]!;
    expect(rec).toBe(320);
    const avail = free - m.wm.totalreservePages + rec - Math.min(rec >> 1, low);
    expect(kb(m.cat("/proc/meminfo"), "MemAvailable")).toBe(avail * 4);
  });
  it("per node: two nodes, each zoneinfo node block and the vmstat sum", () => {
    const m = boot({ mem: "1G", nodes: 2, cpus: 2 });
    m.kmalloc_node(4096, GFP_KERNEL | __GFP_RECLAIMABLE, 1); // kmalloc-rcl-4k on node 1: order 3
    const z = m.cat("/proc/zoneinfo");
    const perNode = [...z.matchAll(/^ {6}nr_slab_reclaimable (\d+)$/gm)].map((x) => Number(x[1]));
    expect(perNode).toEqual([0, 8]);
    expect(vm(m.cat("/proc/vmstat"), "nr_slab_reclaimable")).toBe(8);
  });
});
