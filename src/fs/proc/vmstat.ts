// /proc/vmstat: zone items, NUMA items, node items, dirty thresholds, vm events; "name value" per line.
import type { Kernel } from "../../kernel/kernel.ts";
import { dirtyThresholds, numaStat, vmEvent, zoneStat } from "../../mm/vmstat.ts";

/** node_page_state(): the node counters something feeds (slab pages, from SLUB); the others read 0. */
export function nodeStat(k: Kernel, nid: number, item: string): number {
  switch (item) {
    case "nr_slab_reclaimable":
      return k.slub.nrSlabReclaimable[nid]!;
    case "nr_slab_unreclaimable":
      return k.slub.nrSlabUnreclaimable[nid]!;
    default:
      return 0;
  }
}

/** global_node_page_state(): a node counter summed over the nodes. */
export function globalNodeStat(k: Kernel, item: string): number {
  let v = 0;
  for (const pg of k.nodes) v += nodeStat(k, pg.nid, item);
  return v;
}

export function vmstat(k: Kernel): string {
  const zones = k.populatedZones();
  const names = k.profile.vmstat;
  let s = "";
  for (const n of names.zoneItems) s += `${n} ${zones.reduce((a, z) => a + zoneStat(z, n), 0)}\n`;
  for (const n of names.numaItems) s += `${n} ${zones.reduce((a, z) => a + numaStat(z, n), 0)}\n`;
  for (const n of names.nodeItems) s += `${n} ${globalNodeStat(k, n)}\n`;
  const [dirty, bg] = dirtyThresholds(k);
  s += `nr_dirty_threshold ${dirty}\nnr_dirty_background_threshold ${bg}\n`;
  for (const n of names.events) s += `${n} ${vmEvent(k, n)}\n`;
  return s;
}
