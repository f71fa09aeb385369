// /proc/zoneinfo (zoneinfo_show_print, 5.4 layout): every zone of every node, empty ones included.
import type { Kernel } from "../../kernel/kernel.ts";
import { numaStat, zoneStat } from "../../mm/vmstat.ts";
import { nodeStat } from "./vmstat.ts";

const stat = (name: string, v: number) => `\n      ${name.padEnd(12, " ")} ${v}`;

/** calculate_normal_threshold(): per-CPU vmstat threshold, from zone size and CPU count. */
function statThreshold(managed: number, cpus: number): number {
  const fls = (x: number) => (x === 0 ? 0 : 32 - Math.clz32(x));
  const mem = managed >> (27 - 12);
  return Math.min(125, 2 * fls(cpus) * (1 + fls(mem)));
}

export function zoneinfo(k: Kernel): string {
  const names = k.profile.vmstat;
  let s = "";
  for (const pg of k.nodes) {
    const firstPopulated = pg.zones.find((z) => z.populated);
    for (const z of pg.zones) {
      s += `Node ${pg.nid}, zone ${z.name.padStart(8, " ")}`;
      if (z === firstPopulated) {
        s += "\n  per-node stats";
        for (const n of names.nodeItems) s += stat(n, nodeStat(k, pg.nid, n));
      }
      s += `\n  pages free     ${z.freePages}\n        min      ${z.watermark[0]}\n        low      ${z.watermark[1]}\n        high     ${z.watermark[2]}\n        spanned  ${z.spanned}\n        present  ${z.present}\n        managed  ${z.managed}`;
      s += `\n        protection: (${z.lowmemReserve.join(", ")})`;
      if (!z.populated) {
        s += "\n";
        continue;
      }
      for (const n of names.zoneItems) s += stat(n, zoneStat(z, n));
      for (const n of names.numaItems) s += stat(n, numaStat(z, n));
      s += "\n  pagesets";
      const threshold = statThreshold(z.managed, k.cpus);
      for (let cpu = 0; cpu < k.cpus; cpu++) {
        s += `\n    cpu: ${cpu}\n              count: ${z.pcpCount[cpu]}\n              high:  ${z.pcpHigh}\n              batch: ${z.pcpBatch}`;
        s += `\n  vm stats threshold: ${threshold}`;
      }
      s += `\n  node_unreclaimable:  0\n  start_pfn:           ${z.startPfn}\n`;
    }
  }
  return s;
}
