// build_all_zonelists(): each node's fallback list holds its own populated zones from the highest index
// down, then the other nodes' in order of distance (node order, the only order since 4.14); the
// __GFP_THISNODE list holds only its own.
import type { PgData, Zone } from "./mmzone.ts";

function nodeZones(pg: PgData): Zone[] {
  const out: Zone[] = [];
  for (let i = pg.zones.length - 1; i >= 0; i--)
    if (pg.zones[i]!.managed > 0 || pg.zones[i]!.present > 0) out.push(pg.zones[i]!);
  return out;
}

export function buildZonelists(nodes: PgData[]): void {
  for (const pg of nodes) {
    // SLIT distances on an emulated machine: 10 local, 20 remote; ties go by node number from this node.
    const order = nodes.map((_, i) => (pg.nid + i) % nodes.length);
    pg.fallback = order.flatMap((n) => nodeZones(nodes[n]!));
    pg.nofallback = nodeZones(pg);
  }
}
