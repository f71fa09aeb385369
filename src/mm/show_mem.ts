// warn_alloc() and show_mem() (mm/page_alloc.c show_free_areas, lib/show_mem.c) in 5.4's format, with
// warn_alloc's rate limits: 10 reports per 5 s, and the Mem-Info dump at most once a second.
import { HZ } from "../kernel/clock.ts";
import type { Core } from "../kernel/core.ts";
import { KERN_WARNING } from "../kernel/printk.ts";
import { formatGfp } from "./gfp.ts";
import { MIGRATE_TYPES, type PgData, WMARK_HIGH, WMARK_LOW, WMARK_MIN, type Zone } from "./mmzone.ts";
import { NIL } from "./page.ts";

/** ___ratelimit(): `burst` events per `interval` jiffies, then a "callbacks suppressed" note. */
export class Ratelimit {
  private begin = -1;
  private printed = 0;
  missed = 0;
  constructor(
    private readonly interval: number,
    private readonly burst: number,
  ) {}

  /** True when allowed; on a new interval with misses, `onMissed` is told how many. */
  ok(jiffies: number, onMissed: (n: number) => void): boolean {
    if (this.begin < 0 || jiffies >= this.begin + this.interval) {
      if (this.missed) onMissed(this.missed);
      this.begin = jiffies;
      this.printed = 0;
      this.missed = 0;
    }
    if (this.printed < this.burst) {
      this.printed++;
      return true;
    }
    this.missed++;
    return false;
  }
}

export interface MemStats {
  nodes: readonly PgData[];
  zones: readonly Zone[];
  cpu: number;
  migrateLetters: string;
  /** NR_SLAB_RECLAIMABLE / NR_SLAB_UNRECLAIMABLE pages, all nodes. */
  slabReclaimable: number;
  slabUnreclaimable: number;
}

const K = (pages: number) => `${pages * 4}kB`;

/** show_free_areas() + the lib/show_mem.c tail. */
export function showMem(core: Core, s: MemStats): void {
  const zones = s.zones.filter((z) => z?.populated);
  let free = 0;
  let freePcp = 0;
  for (const z of zones) {
    free += z.freePages;
    freePcp += z.pcpPages;
  }
  const out: string[] = ["Mem-Info:"];
  out.push("active_anon:0 inactive_anon:0 isolated_anon:0");
  out.push(" active_file:0 inactive_file:0 isolated_file:0");
  out.push(" unevictable:0 dirty:0 writeback:0 unstable:0");
  out.push(` slab_reclaimable:${s.slabReclaimable} slab_unreclaimable:${s.slabUnreclaimable}`);
  out.push(" mapped:0 shmem:0 pagetables:0 bounce:0");
  out.push(` free:${free} free_pcp:${freePcp} free_cma:0`);
  for (const pg of s.nodes) {
    out.push(
      `Node ${pg.nid} active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB shmem_thp: 0kB shmem_pmdmapped: 0kB anon_thp: 0kB writeback_tmp:0kB unstable:0kB all_unreclaimable? no`,
    );
  }
  for (const z of zones) {
    const localPcp = z.pcpCount[s.cpu]!;
    out.push(
      `Node ${z.nid} ${z.name} free:${K(z.freePages)} min:${K(z.watermark[WMARK_MIN]!)} low:${K(z.watermark[WMARK_LOW]!)} high:${K(z.watermark[WMARK_HIGH]!)} active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:${K(z.present)} managed:${K(z.managed)} mlocked:0kB kernel_stack:0kB pagetables:0kB bounce:0kB free_pcp:${K(z.pcpPages)} local_pcp:${K(localPcp)} free_cma:0kB`,
    );
    out.push(`lowmem_reserve[]: ${z.lowmemReserve.join(" ")}`);
  }
  for (const z of zones) {
    let line = `Node ${z.nid} ${z.name}: `;
    let total = 0;
    for (let o = 0; o < z.nrFree.length; o++) {
      const n = z.nrFree[o]!;
      total += n << o;
      line += `${n}*${4 << o}kB `;
      if (n) {
        let letters = "";
        for (let mt = 0; mt < MIGRATE_TYPES; mt++)
          if (z.freeHead[o * MIGRATE_TYPES + mt] !== NIL) letters += s.migrateLetters[mt];
        line += `(${letters}) `;
      }
    }
    out.push(`${line}= ${K(total)}`);
  }
  for (const pg of s.nodes) {
    out.push(`Node ${pg.nid} hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB`);
    out.push(`Node ${pg.nid} hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB`);
  }
  let present = 0;
  let reserved = 0;
  for (const z of zones) {
    present += z.present;
    reserved += z.present - z.managed;
  }
  out.push("0 total pagecache pages", "0 pages in swap cache", "Swap cache stats: add 0, delete 0, find 0/0");
  out.push("Free swap  = 0kB", "Total swap = 0kB", `${present} pages RAM`, "0 pages HighMem/MovableOnly");
  out.push(`${reserved} pages reserved`, "0 pages cma reserved", "0 pages hwpoisoned");
  core.lines(KERN_WARNING, out.join("\n"));
}

export class WarnAlloc {
  private readonly nopage = new Ratelimit(5 * HZ, 10);
  private readonly showMemRs = new Ratelimit(HZ, 1);

  constructor(private readonly core: Core) {}

  /** warn_alloc(gfp, NULL, "page allocation failure: order:%u"). */
  report(gfp: number, order: number, callers: readonly string[], stats: MemStats): void {
    this.warn(
      gfp,
      `page allocation failure: order:${order}`,
      ["__alloc_pages_slowpath", "__alloc_pages_nodemask", ...callers],
      stats,
    );
  }

  /** warn_alloc(gfp, NULL, fmt...): the "comm: message, mode:… nodemask=…" line, a stack dump and Mem-Info. */
  warn(gfp: number, message: string, callers: readonly string[], stats: MemStats): void {
    const core = this.core;
    const j = core.clock.jiffies;
    if (gfp & 0x2000 /* __GFP_NOWARN */) return;
    const onMissed = (n: number) => core.lines(KERN_WARNING, `warn_alloc: ${n} callbacks suppressed`);
    if (!this.nopage.ok(j, onMissed)) return;
    core.lines(
      KERN_WARNING,
      `${core.current.comm}: ${message}, mode:0x${gfp.toString(16)}(${formatGfp(gfp)}), nodemask=(null),cpuset=/,mems_allowed=${stats.nodes.length > 1 ? `0-${stats.nodes.length - 1}` : "0"}`,
    );
    core.dumpStack(["warn_alloc", ...callers]);
    if (this.showMemRs.ok(j, () => {})) showMem(core, stats);
    core.afterReport();
  }
}
