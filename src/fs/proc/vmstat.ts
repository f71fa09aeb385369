// /proc/vmstat: zone items, NUMA items, node items, dirty thresholds, vm events; "name value" per line.
import type { Kernel } from "../../kernel/kernel.ts";
import {
  dirtyThresholds,
  NODE_STAT_ITEMS,
  NUMA_STAT_ITEMS,
  numaStat,
  VM_EVENT_ITEMS,
  vmEvent,
  ZONE_STAT_ITEMS,
  zoneStat,
} from "../../mm/vmstat.ts";

export function vmstat(k: Kernel): string {
  const zones = k.populatedZones();
  let s = "";
  for (const n of ZONE_STAT_ITEMS) s += `${n} ${zones.reduce((a, z) => a + zoneStat(z, n), 0)}\n`;
  for (const n of NUMA_STAT_ITEMS) s += `${n} ${zones.reduce((a, z) => a + numaStat(z, n), 0)}\n`;
  for (const n of NODE_STAT_ITEMS) s += `${n} 0\n`;
  const [dirty, bg] = dirtyThresholds(k);
  s += `nr_dirty_threshold ${dirty}\nnr_dirty_background_threshold ${bg}\n`;
  for (const n of VM_EVENT_ITEMS) s += `${n} ${vmEvent(k, n)}\n`;
  return s;
}
