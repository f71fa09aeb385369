// Booting memory, in the order 5.4 does it: e820 -> memblock -> NUMA nodes -> zone ranges (with
// kernelcore=/movablecore= carving ZONE_MOVABLE) -> boot reservations (kernel image, NODE_DATA, memmap,
// percpu, swiotlb) -> memmap_init (struct pages, pageblocks Movable) -> memblock_free_all in max-order
// chunks -> "Memory:" line. Watermarks and pcp batches are set by the caller afterwards.
import { PAGES_PER_SECTION } from "../arch/x86/layout.ts";
import { memparse } from "../kernel/cmdline.ts";
import type { Core } from "../kernel/core.ts";
import { KERN_DEBUG, KERN_INFO } from "../kernel/printk.ts";
import { type E820Entry, MB, Memblock, memoryRanges, nodeRanges, qemuE820, type Range } from "./memblock.ts";
import {
  MAX_NR_ZONES,
  MIGRATE_MOVABLE,
  PgData,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  Zone,
} from "./mmzone.ts";
import { PageArrays, S_HOLE, S_RESERVED } from "./page.ts";
import type { PageAllocator } from "./page_alloc.ts";
import { zoneBatchsize } from "./watermark.ts";

const MAX_DMA_PFN = 0x1000;
const MAX_DMA32_PFN = 0x100000;

export interface MemLayout {
  readonly e820: E820Entry[];
  readonly memblock: Memblock;
  readonly nodeMem: Range[][];
  readonly pages: PageArrays;
  readonly nodes: PgData[];
  readonly zones: Zone[];
  readonly maxPfn: number;
  /** Pages of the kernel image's init sections, freed at the end of boot. */
  readonly initRange: Range;
  /** Present pages per zone id and memmap pages per zone id (for the boot log). */
  readonly totalPresent: number;
}

function hexMem(x: number, width = 16): string {
  return `0x${x.toString(16).padStart(width, "0")}`;
}

/** Pages in [startPfn, endPfn) that are in memblock.memory. */
function presentIn(ranges: readonly Range[], startPfn: number, endPfn: number): number {
  let n = 0;
  for (const r of ranges) {
    const s = Math.max(r.start / 4096, startPfn);
    const e = Math.min(r.end / 4096, endPfn);
    if (e > s) n += e - s;
  }
  return n;
}

export function setupMemory(core: Core, ram: number, nrNodes: number, cpus: number): MemLayout {
  const P = core.profile;
  const { e820 } = qemuE820(ram);
  core.lines(KERN_INFO, "BIOS-provided physical RAM map:");
  for (const e of e820)
    core.lines(KERN_INFO, `BIOS-e820: [mem ${hexMem(e.start)}-${hexMem(e.end - 1)}] ${e.type}`);
  core.lines(KERN_INFO, "NX (Execute Disable) protection: active\nSMBIOS 2.8 present.");
  core.lines(KERN_INFO, `DMI: ${P.hardwareName}`);
  core.lines(KERN_DEBUG, "e820: update [mem 0x00000000-0x00000fff] usable ==> reserved");
  core.lines(KERN_DEBUG, "e820: remove [mem 0x000a0000-0x000fffff] usable");

  const memory = memoryRanges(e820);
  const maxPfn = memory[memory.length - 1]!.end / 4096;
  core.lines(KERN_INFO, `last_pfn = 0x${maxPfn.toString(16)} max_arch_pfn = 0x400000000`);
  const mb = new Memblock(memory);
  // X86_RESERVE_LOW (64 KiB), and the real-mode trampoline just under the EBDA.
  mb.reserve(0x1000, 0x10000);
  mb.reserve(0x99000, 0x9f000);
  // The kernel image at CONFIG_PHYSICAL_START (16 MiB).
  const img = P.image;
  const imgKb = img.code + img.rwdata + img.rodata + img.init + img.bss;
  const imgStart = 16 * MB;
  mb.reserve(imgStart, imgStart + imgKb * 1024);
  const initStart = imgStart + (img.code + img.rwdata + img.rodata) * 1024;
  const initRange = { start: initStart, end: initStart + img.init * 1024 };

  const nodeMem = nodeRanges(memory, ram, ram >= 0xe0000000 ? 0xc0000000 : ram, nrNodes);
  if (nrNodes === 1) {
    core.lines(KERN_INFO, "No NUMA configuration found");
    core.lines(
      KERN_INFO,
      `Faking a node at [mem ${hexMem(0)}-${hexMem(memory[memory.length - 1]!.end - 1)}]`,
    );
  } else {
    for (let n = 0; n < nrNodes; n++)
      for (const r of nodeMem[n]!)
        core.lines(KERN_INFO, `SRAT: Node ${n} PXM ${n} [mem ${hexMem(r.start, 8)}-${hexMem(r.end - 1, 8)}]`);
  }
  const nodeEnd = (n: number) => nodeMem[n]![nodeMem[n]!.length - 1]!.end;
  const nodeStart = (n: number) => nodeMem[n]![0]!.start;
  for (let n = 0; n < nrNodes; n++) {
    const nd = mb.allocTopDown(43 * 4096, 4096, nodeStart(n), nodeEnd(n));
    core.lines(
      KERN_INFO,
      `NODE_DATA(${n}) allocated [mem ${hexMem(nd, 8)}-${hexMem(nd + 43 * 4096 - 1, 8)}]`,
    );
  }

  // Zone boundaries, and ZONE_MOVABLE from kernelcore= / movablecore= (find_zone_movable_pfns_for_nodes).
  const highestPfn = maxPfn;
  const movableZoneIdx = highestPfn > MAX_DMA32_PFN ? ZONE_NORMAL : ZONE_DMA32;
  const zoneMovablePfn = findZoneMovable(core, nodeMem, movableZoneIdx, maxPfn);
  const arch = [
    [1, MAX_DMA_PFN],
    [MAX_DMA_PFN, MAX_DMA32_PFN],
    [MAX_DMA32_PFN, Math.max(maxPfn, MAX_DMA32_PFN)],
  ];
  core.lines(KERN_INFO, "Zone ranges:");
  for (let i = 0; i < 3; i++) {
    const s = arch[i]![0]!;
    const e = Math.min(arch[i]![1]!, maxPfn);
    const name = P.zoneNames[i]!.padEnd(8, " ");
    core.lines(
      KERN_INFO,
      e > s ? `  ${name} [mem ${hexMem(s * 4096)}-${hexMem(e * 4096 - 1)}]` : `  ${name} empty`,
    );
  }
  core.lines(KERN_INFO, `  ${P.zoneNames[4]!.padEnd(8, " ")} empty`);
  core.lines(KERN_INFO, "Movable zone start for each node");
  zoneMovablePfn.forEach((pfn, n) => {
    if (pfn) core.lines(KERN_INFO, `  Node ${n}: ${hexMem(pfn * 4096)}`);
  });
  core.lines(KERN_INFO, "Early memory node ranges");
  for (let n = 0; n < nrNodes; n++)
    for (const r of nodeMem[n]!)
      core.lines(
        KERN_INFO,
        `  node ${String(n).padStart(3, " ")}: [mem ${hexMem(r.start)}-${hexMem(r.end - 1)}]`,
      );

  // Boot-time allocations: memmap (2 MiB of struct pages per present section, PMD-aligned), percpu, swiotlb.
  for (let n = 0; n < nrNodes; n++) {
    const sections = new Set<number>();
    for (const r of nodeMem[n]!)
      for (let s = Math.floor(r.start / 4096 / PAGES_PER_SECTION); s * PAGES_PER_SECTION * 4096 < r.end; s++)
        sections.add(s);
    for (let i = 0; i < sections.size; i++) mb.allocTopDown(2 * MB, 2 * MB, nodeStart(n), nodeEnd(n));
  }
  for (let c = 0; c < cpus; c++) {
    const n = Math.floor((c * nrNodes) / cpus);
    mb.allocTopDown(P.percpuPagesPerCpu * 4096, 4096, nodeStart(n), nodeEnd(n));
  }
  if (maxPfn > MAX_DMA32_PFN) {
    const tlb = mb.allocTopDown(64 * MB, 4096, 0, MAX_DMA32_PFN * 4096);
    core.lines(
      KERN_INFO,
      `software IO TLB: mapped [mem ${hexMem(tlb, 8)}-${hexMem(tlb + 64 * MB, 8)}] (64MB)`,
    );
  }

  // pg_data_t and zones, struct pages.
  const pages = new PageArrays(maxPfn);
  const zones: Zone[] = [];
  const nodes: PgData[] = [];
  let holes = 0;
  let totalPresent = 0;
  for (let n = 0; n < nrNodes; n++) {
    const ranges = nodeMem[n]!;
    const startPfn = ranges[0]!.start / 4096;
    const endPfn = nodeEnd(n) / 4096;
    const zs: Zone[] = [];
    for (let i = 0; i < MAX_NR_ZONES; i++) {
      const z = new Zone(n, i, P.zoneNames[i]!, P.maxOrder, cpus);
      zs.push(z);
      zones[z.id] = z;
    }
    const spans: [number, number][] = [
      [Math.max(startPfn, 1), Math.min(endPfn, MAX_DMA_PFN)],
      [Math.max(startPfn, MAX_DMA_PFN), Math.min(endPfn, MAX_DMA32_PFN)],
      [Math.max(startPfn, MAX_DMA32_PFN), endPfn],
      [0, 0],
    ];
    const mv = zoneMovablePfn[n]!;
    if (mv) {
      const hi = spans[movableZoneIdx]!;
      spans[ZONE_MOVABLE] = [Math.max(mv, hi[0]), endPfn];
      hi[1] = Math.min(hi[1], mv);
    }
    const pg = new PgData(n, zs);
    pg.startPfn = startPfn;
    pg.spanned = endPfn - startPfn;
    core.lines(
      KERN_INFO,
      `Initmem setup node ${n} [mem ${hexMem(startPfn * 4096)}-${hexMem(endPfn * 4096 - 1)}]`,
    );
    let nodePresent = 0;
    const zoneLog: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [s, e] = spans[i]!;
      if (e <= s) continue;
      const z = zs[i]!;
      z.startPfn = s;
      z.spanned = e - s;
      z.present = presentIn(ranges, s, e);
      nodePresent += z.present;
      pages.zone.fill(z.id, s, e);
      // calc_memmap_size(): sparse zones are charged for present pages only.
      const memmap = Math.ceil(
        ((z.spanned > z.present + (z.present >> 4) ? z.present : z.spanned) * 64) / 4096,
      );
      z.managed = Math.max(0, z.present - memmap); // free_area_init_core's estimate until memblock_free_all
      zoneLog.push(`  ${z.name} zone: ${memmap} pages used for memmap`);
      zoneLog.push(`  ${z.name} zone: ${z.present} pages, LIFO batch:${zoneBatchsize(z.managed)}`);
    }
    pg.present = nodePresent;
    totalPresent += nodePresent;
    core.lines(KERN_DEBUG, `On node ${n} totalpages: ${nodePresent}`);
    core.lines(KERN_DEBUG, zoneLog.join("\n"));
    nodes.push(pg);
  }
  // memmap_init_zone + zero_resv_unavail: every pfn starts reserved with refcount 1; holes stay so.
  pages.state.fill(S_RESERVED);
  pages.refcount.fill(1);
  let prevEnd = 0;
  for (const r of [...memory, { start: maxPfn * 4096, end: maxPfn * 4096 }]) {
    pages.state.fill(S_RESERVED | S_HOLE, prevEnd, r.start / 4096);
    holes += r.start / 4096 - prevEnd;
    prevEnd = r.end / 4096;
  }
  core.lines(KERN_INFO, `Zeroed struct page in unavailable ranges: ${holes} pages`);
  return { e820, memblock: mb, nodeMem, pages, nodes, zones, maxPfn, initRange, totalPresent };
}

/** kernelcore= / movablecore=: where ZONE_MOVABLE starts on each node (0 = no movable zone). */
function findZoneMovable(core: Core, nodeMem: Range[][], movableIdx: number, maxPfn: number): number[] {
  const out = nodeMem.map(() => 0);
  const kc = core.cmdline.get("kernelcore");
  const mc = core.cmdline.get("movablecore");
  if (kc === undefined && mc === undefined) return out;
  const usableStart = movableIdx === ZONE_NORMAL ? MAX_DMA32_PFN : MAX_DMA_PFN;
  let total = 0;
  for (const rs of nodeMem) for (const r of rs) total += (r.end - r.start) / 4096;
  let kernelcore = kc !== undefined ? Math.floor(memparse(kc) / 4096) : 0;
  if (mc !== undefined) kernelcore = Math.max(kernelcore, total - Math.floor(memparse(mc) / 4096));
  if (kernelcore <= 0 || kernelcore >= total) return out;
  // Spread kernelcore evenly; pages below the movable zone's range always count as kernel memory.
  const perNode = Math.floor(kernelcore / nodeMem.length);
  nodeMem.forEach((rs, n) => {
    let left = perNode;
    let pfn = 0;
    for (const r of rs) {
      const s = r.start / 4096;
      const e = r.end / 4096;
      if (left <= 0) break;
      const take = Math.min(left, e - s);
      left -= take;
      pfn = s + take;
    }
    pfn = Math.max(pfn, usableStart);
    pfn = Math.ceil(pfn / 1024) * 1024;
    out[n] = pfn < Math.min(maxPfn, rs[rs.length - 1]!.end / 4096) ? pfn : 0;
  });
  return out;
}

/**
 * memblock_free_all(): hand every free memblock range to the buddy allocator in the largest aligned
 * chunks (__free_pages_memory), lowest address first. Boot runs with the boot pageset (high 0, batch 1),
 * so order-0 pages go straight to the buddy lists too. Sets managed pages.
 */
export function freeAllBootmem(L: MemLayout, alloc: PageAllocator, maxOrder: number): void {
  const p = L.pages;
  for (const z of L.zones) if (z) z.managed = 0; // reset_all_zones_managed_pages()
  for (const pg of L.nodes) {
    const [lo, hi] = [pg.startPfn * 4096, (pg.startPfn + pg.spanned) * 4096];
    for (const r of L.memblock.freeRanges(lo, hi)) {
      let s = r.start / 4096;
      const e = r.end / 4096;
      while (s < e) {
        let order = Math.min(maxOrder - 1, s === 0 ? maxOrder - 1 : ctz(s));
        while (s + (1 << order) > e) order--;
        p.state.fill(0, s, s + (1 << order));
        p.refcount.fill(0, s, s + (1 << order));
        const z = alloc.zoneOf(s);
        z.managed += 1 << order;
        alloc.buddy.freeOne(z, s, order, MIGRATE_MOVABLE);
        s += 1 << order;
      }
    }
  }
}

function ctz(x: number): number {
  let n = 0;
  while (x % 2 === 0) {
    x /= 2;
    n++;
  }
  return n;
}
