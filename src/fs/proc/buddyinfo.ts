// /proc/buddyinfo (frag_show): populated zones, nr_free per order.
import type { Kernel } from "../../kernel/kernel.ts";

export function buddyinfo(k: Kernel): string {
  let s = "";
  for (const z of k.populatedZones()) {
    s += `Node ${z.nid}, zone ${z.name.padStart(8, " ")} `;
    for (let o = 0; o < z.nrFree.length; o++) s += `${String(z.nrFree[o]).padStart(6, " ")} `;
    s += "\n";
  }
  return s;
}
