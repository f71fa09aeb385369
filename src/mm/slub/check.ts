// k.check() for the slab allocator: every cache, slab, list and freelist walked and cross-checked against
// the allocation bits and the struct page marks (what SLUB's validate does for one cache, for all of them,
// plus the bookkeeping the kernel trusts without checking).
import { PAGE_OFFSET, PAGE_SIZE } from "../../arch/x86/layout.ts";
import { CHUNK_BYTES } from "../memory.ts";
import { KMALLOC_LARGE, S_ALLOC, S_HEAD, S_SLAB } from "../page.ts";
import type { KmemCache } from "./cache.ts";
import { SLAB_RECLAIM_ACCOUNT } from "./flags.ts";
import { ON_CPU, ON_CPU_PARTIAL, ON_FULL, ON_NONE, ON_PARTIAL } from "./slab.ts";
import type { Slub } from "./slub.ts";

function hex(a: number): string {
  return `0x${a.toString(16)}`;
}

/** Walk a freelist from `head`; returns the objects, or null (with an error) when it leaves the slab or loops. */
function walk(
  slub: Slub,
  s: KmemCache,
  id: number,
  head: number,
  what: string,
  err: string[],
): number[] | null {
  const out: number[] = [];
  const max = slub.slabs.objects[id]!;
  for (let o = head; o !== 0; o = slub.getFreePointer(s, o)) {
    if (slub.objectIndex(s, id, o) < 0) {
      err.push(
        `${s.name} slab ${hex(slub.slabBase(id))}: ${what} points at ${hex(o)}, not an object of the slab`,
      );
      return null;
    }
    if (out.length >= max) {
      err.push(`${s.name} slab ${hex(slub.slabBase(id))}: ${what} loops`);
      return null;
    }
    if (slub.isAllocated(o)) err.push(`${s.name}: allocated object ${hex(o)} is on the ${what}`);
    out.push(o);
  }
  return out;
}

function checkList(
  slub: Slub,
  s: KmemCache,
  n: number,
  head: number,
  where: number,
  what: string,
  err: string[],
) {
  const sl = slub.slabs;
  let count = 0;
  let prev = -1;
  for (let id = head; id !== -1; id = sl.next[id]!) {
    if (sl.cache[id] !== s.id || sl.where[id] !== where || sl.node[id] !== n || sl.prev[id] !== prev) {
      err.push(`${s.name} node ${n}: ${what} list is broken at slab ${id}`);
      return -1;
    }
    if (++count > sl.highWater) {
      err.push(`${s.name} node ${n}: ${what} list loops`);
      return -1;
    }
    prev = id;
  }
  return count;
}

export function checkSlab(slub: Slub): string[] {
  const err: string[] = [];
  const sl = slub.slabs;
  const pages = slub.pages;
  const recl = new Array<number>(slub.nodes).fill(0);
  const unrecl = new Array<number>(slub.nodes).fill(0);
  const cpuOf = new Map<number, number>();
  for (const s of slub.caches) {
    if (s.dead) continue;
    for (let cpu = 0; cpu < slub.cpus; cpu++) {
      const id = s.cpuSlab[cpu]!;
      if (id !== -1) {
        if (sl.cache[id] !== s.id || sl.where[id] !== ON_CPU || sl.frozen[id] !== 1)
          err.push(`${s.name} cpu ${cpu}: cpu slab ${id} is not a frozen slab of the cache`);
        cpuOf.set(id, cpu);
      } else if (s.cpuFreelist[cpu] !== 0) err.push(`${s.name} cpu ${cpu}: a freelist without a cpu slab`);
      let n = 0;
      for (let p = s.cpuPartial[cpu]!; p !== -1; p = sl.next[p]!) {
        if (sl.cache[p] !== s.id || sl.where[p] !== ON_CPU_PARTIAL || sl.frozen[p] !== 1) {
          err.push(`${s.name} cpu ${cpu}: partial list holds slab ${p} wrongly`);
          break;
        }
        if (++n > sl.highWater) break;
      }
      if (n !== s.cpuPartialPages[cpu])
        err.push(`${s.name} cpu ${cpu}: ${n} cpu partial slabs, counter ${s.cpuPartialPages[cpu]}`);
    }
    for (let n = 0; n < slub.nodes; n++) {
      const np = checkList(slub, s, n, s.partialHead[n]!, ON_PARTIAL, "partial", err);
      if (np >= 0 && np !== s.nrPartial[n])
        err.push(`${s.name} node ${n}: ${np} partial slabs, nr_partial ${s.nrPartial[n]}`);
      if (s.storeUser) checkList(slub, s, n, s.fullHead[n]!, ON_FULL, "full", err);
    }
  }
  const slabsPer = new Map<number, number[]>();
  for (let id = 0; id < sl.highWater; id++) {
    if (sl.pfn[id]! < 0) continue;
    const s = slub.caches[sl.cache[id]!];
    if (!s || s.dead) {
      err.push(`slab ${id}: belongs to no live cache`);
      continue;
    }
    const pfn = sl.pfn[id]!;
    const order = sl.order[id]!;
    const where = `${s.name} slab ${hex(PAGE_OFFSET + pfn * PAGE_SIZE)}`;
    if (!(pages.state[pfn]! & S_SLAB) || !(pages.state[pfn]! & S_ALLOC) || pages.prev[pfn] !== id)
      err.push(`${where}: head page not marked as this slab`);
    if (order > 0 && !(pages.state[pfn]! & S_HEAD))
      err.push(`${where}: order-${order} slab is not a compound page`);
    const map = slub.chunkSlabs[Math.floor((pfn * PAGE_SIZE) / CHUNK_BYTES)];
    const first = pfn % (CHUNK_BYTES / PAGE_SIZE);
    for (let i = 0; i < 1 << order; i++)
      if (!map || map[first + i] !== id) {
        err.push(`${where}: page ${i} not mapped to the slab in its chunk`);
        break;
      }
    if (sl.objects[id] !== Math.floor((PAGE_SIZE << order) / s.size))
      err.push(`${where}: objects ${sl.objects[id]}`);
    const free = walk(slub, s, id, sl.freelist[id]!, "freelist", err);
    const cpu = cpuOf.get(id);
    const cpuFree =
      cpu === undefined ? [] : walk(slub, s, id, s.cpuFreelist[cpu]!, `cpu ${cpu} freelist`, err);
    if (free && cpuFree) {
      if (sl.inuse[id] !== sl.objects[id]! - free.length)
        err.push(
          `${where}: inuse ${sl.inuse[id]} but ${free.length} of ${sl.objects[id]} objects are on its freelist`,
        );
      const live = slub.liveObjects(s, id);
      if (live !== sl.objects[id]! - free.length - cpuFree.length)
        err.push(
          `${where}: ${live} allocated objects, freelists hold ${free.length + cpuFree.length} of ${sl.objects[id]}`,
        );
    }
    const w = sl.where[id]!;
    if (w === ON_PARTIAL && sl.freelist[id] === 0)
      err.push(`${where}: on the partial list with no free object`);
    if (w === ON_NONE && (sl.freelist[id] !== 0 || sl.frozen[id] !== 0))
      err.push(`${where}: on no list yet not full`);
    if (w === ON_NONE && s.storeUser) err.push(`${where}: full slab of a store_user cache off the full list`);
    if (w === ON_CPU && cpu === undefined) err.push(`${where}: marked as a cpu slab of no CPU`);
    const n = sl.node[id]!;
    if (s.flags & SLAB_RECLAIM_ACCOUNT) recl[n]! += 1 << order;
    else unrecl[n]! += 1 << order;
    let list = slabsPer.get(s.id);
    if (!list) slabsPer.set(s.id, (list = []));
    list.push(id);
  }
  for (const s of slub.caches) {
    if (s.dead) continue;
    const ids = slabsPer.get(s.id) ?? [];
    for (let n = 0; n < slub.nodes; n++) {
      const mine = ids.filter((id) => sl.node[id] === n);
      const objs = mine.reduce((a, id) => a + sl.objects[id]!, 0);
      if (mine.length !== s.nrSlabs[n] || objs !== s.totalObjects[n])
        err.push(
          `${s.name} node ${n}: ${mine.length} slabs / ${objs} objects, counters ${s.nrSlabs[n]} / ${s.totalObjects[n]}`,
        );
    }
  }
  // kmalloc_large() blocks count as unreclaimable slab memory.
  for (let pfn = 0; pfn < pages.nrPfns; pfn++) {
    if (pages.prev[pfn] === KMALLOC_LARGE && pages.state[pfn]! & S_ALLOC)
      unrecl[slub.pa.zoneOf(pfn).nid]! += 1 << pages.order[pfn]!;
    else if (pages.state[pfn]! & S_SLAB && !(pages.state[pfn]! & S_ALLOC))
      err.push(`pfn ${hex(pfn)}: slab mark on a free page`);
  }
  for (let n = 0; n < slub.nodes; n++) {
    if (recl[n] !== slub.nrSlabReclaimable[n] || unrecl[n] !== slub.nrSlabUnreclaimable[n])
      err.push(
        `node ${n}: slab pages ${recl[n]} reclaimable / ${unrecl[n]} unreclaimable, counters ${slub.nrSlabReclaimable[n]} / ${slub.nrSlabUnreclaimable[n]}`,
      );
  }
  return err;
}
