// /proc/vmstat: zone items, NUMA items, node items, dirty thresholds, vm events; "name value" per line.
import type { Kernel } from "../../kernel/kernel.ts";
import { dirtyThresholds, numaStat, vmEvent, zoneStat } from "../../mm/vmstat.ts";

export function vmstat(k: Kernel): string {
  const zones = k.populatedZones();
  const names = k.profile.vmstat;
  let s = "";
  for (const n of names.zoneItems) s += `${n} ${zones.reduce((a, z) => a + zoneStat(z, n), 0)}\n`;
  for (const n of names.numaItems) s += `${n} ${zones.reduce((a, z) => a + numaStat(z, n), 0)}\n`;
  for (const n of names.nodeItems) s += `${n} 0\n`;
  const [dirty, bg] = dirtyThresholds(k);
  s += `nr_dirty_threshold ${dirty}\nnr_dirty_background_threshold ${bg}\n`;
  for (const n of names.events) s += `${n} ${vmEvent(k, n)}\n`;
  return s;
}
