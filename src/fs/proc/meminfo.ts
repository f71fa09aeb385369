// /proc/meminfo (meminfo_proc_show + x86 arch_report_meminfo), 5.4 key order: labels padded to 16
// columns, values "%8lu kB". Values come from the allocator; what nothing feeds yet is 0.
import { VMALLOC_END, VMALLOC_START } from "../../arch/x86/layout.ts";
import type { Kernel } from "../../kernel/kernel.ts";
import { WMARK_LOW } from "../../mm/mmzone.ts";
import { globalNodeStat } from "./vmstat.ts";

/** (VMALLOC_END - VMALLOC_START) >> 10. */
const VMALLOC_TOTAL_KB = Math.floor((VMALLOC_END - VMALLOC_START) / 1024);

function line(label: string, kb: number): string {
  return `${`${label}:`.padEnd(16, " ")}${String(kb).padStart(8, " ")} kB\n`;
}

/** si_mem_available(): free minus reserves, plus the reclaimable part of page cache and slab. */
export function memAvailable(k: Kernel): number {
  let free = 0;
  let wmarkLow = 0;
  for (const z of k.populatedZones()) {
    free += z.freePages;
    wmarkLow += z.watermark[WMARK_LOW]!;
  }
  const pagecache = 0;
  // Reclaimable slab plus NR_KERNEL_MISC_RECLAIMABLE (nothing feeds the latter).
  const reclaimable = globalNodeStat(k, "nr_slab_reclaimable");
  const avail =
    free -
    k.wm.totalreservePages +
    (pagecache - Math.min(pagecache >> 1, wmarkLow)) +
    (reclaimable - Math.min(reclaimable >> 1, wmarkLow));
  return Math.max(0, avail);
}

/** x86 direct map: 4 KiB pages for the first 2 MiB and unaligned range ends, 2 MiB pages elsewhere. */
function directMap(k: Kernel): [number, number] {
  let small = 0;
  let large = 0;
  const M2 = 2 * 2 ** 20;
  for (const r of k.layout.memblock.memory) {
    const start = Math.max(r.start, 0);
    const a = Math.max(Math.ceil(start / M2) * M2, M2);
    const b = Math.floor(r.end / M2) * M2;
    if (b > a) {
      large += b - a;
      small += a - start + (r.end - b);
    } else small += r.end - start;
  }
  // init_memory_mapping maps the whole ISA range (first MiB) with 4 KiB pages.
  small +=
    0x100000 -
    k.layout.memblock.memory
      .filter((r) => r.start < 0x100000)
      .reduce((n, r) => n + Math.min(r.end, 0x100000) - r.start, 0);
  return [small / 1024, large / 1024];
}

/** The values this machine feeds, in kB; every other 5.4 key reads 0. */
function values(k: Kernel): Map<string, number> {
  let total = 0;
  let free = 0;
  for (const z of k.populatedZones()) {
    total += z.managed;
    free += z.freePages;
  }
  const [dm4k, dm2m] = directMap(k);
  // SUnreclaim includes kmalloc_large() pages (5.4 accounts them as unreclaimable slab).
  const sreclaimable = globalNodeStat(k, "nr_slab_reclaimable");
  const sunreclaim = globalNodeStat(k, "nr_slab_unreclaimable");
  return new Map([
    ["MemTotal", total * 4],
    ["MemFree", free * 4],
    ["MemAvailable", memAvailable(k) * 4],
    ["KReclaimable", sreclaimable * 4],
    ["Slab", (sreclaimable + sunreclaim) * 4],
    ["SReclaimable", sreclaimable * 4],
    ["SUnreclaim", sunreclaim * 4],
    // vm_commit_limit(): overcommit_ratio 50 % of RAM, no swap, no hugetlb.
    ["CommitLimit", Math.floor((total * 50) / 100) * 4],
    ["VmallocTotal", VMALLOC_TOTAL_KB],
    // vmalloc_nr_pages() (5.3+); VmallocChunk has been 0 since 4.4.
    ["VmallocUsed", k.vm.nrVmallocPages * 4],
    ["Percpu", k.cpus * k.profile.percpuPagesPerCpu * 4],
    ["Hugepagesize", 2048],
    ["DirectMap4k", dm4k],
    ["DirectMap2M", dm2m],
  ]);
}

export function meminfo(k: Kernel): string {
  const v = values(k);
  let s = "";
  for (const key of k.profile.meminfoKeys) {
    const kb = v.get(key) ?? 0;
    if (key === "HardwareCorrupted") s += `HardwareCorrupted: ${String(kb).padStart(5, " ")} kB\n`;
    else if (key.startsWith("HugePages_"))
      s += `${`${key}:`.padEnd(16, " ")}   ${String(kb).padStart(5, " ")}\n`;
    else s += line(key, kb);
  }
  return s;
}
