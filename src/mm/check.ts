// k.check(): walk every free list, per-CPU list and every page frame of every zone, and list what does
// not add up. Also finds allocated pages that no owner can free any more (the 5.4 leak of a non-compound
// block whose last reference was dropped with put_page: only page 0 goes back).

import type { Kernel } from "../kernel/kernel.ts";
import { MIGRATE_PCPTYPES, MIGRATE_TYPES, type Zone } from "./mmzone.ts";
import { NIL, S_ALLOC, S_BUDDY, S_HEAD, S_HOLE, S_PCP, S_RESERVED, S_TAIL } from "./page.ts";
import { checkSlab } from "./slub/check.ts";
import { checkVmalloc } from "./vmalloc/check.ts";

const hex = (n: number) => `0x${n.toString(16)}`;

function checkFreeLists(k: Kernel, z: Zone, err: string[]): void {
  const p = k.pages;
  const maxOrder = k.profile.maxOrder;
  let free = 0;
  for (let o = 0; o < maxOrder; o++) {
    let perOrder = 0;
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      const i = o * MIGRATE_TYPES + mt;
      let n = 0;
      let prev = NIL;
      for (let pfn = z.freeHead[i]!; pfn !== NIL; pfn = p.next[pfn]!) {
        const where = `${z.name} order ${o} ${k.profile.migrateTypes[mt]} pfn ${hex(pfn)}`;
        if (p.prev[pfn] !== prev) err.push(`${where}: broken list link`);
        if (!(p.state[pfn]! & S_BUDDY) || p.order[pfn] !== o || p.mt[pfn] !== mt)
          err.push(`${where}: not marked as a free order-${o} block`);
        if (pfn % (1 << o) !== 0) err.push(`${where}: block not aligned to its order`);
        if (pfn < z.startPfn || pfn + (1 << o) > z.endPfn || p.zone[pfn] !== z.id)
          err.push(`${where}: outside its zone`);
        if (p.refcount[pfn] !== 0) err.push(`${where}: free block with refcount ${p.refcount[pfn]}`);
        prev = pfn;
        if (++n > z.spanned) {
          err.push(`${where}: list does not end`);
          break;
        }
      }
      if (z.freeTail[i] !== prev)
        err.push(`${z.name} order ${o} ${k.profile.migrateTypes[mt]}: tail pointer wrong`);
      if (z.listLen[i] !== n)
        err.push(
          `${z.name} order ${o} ${k.profile.migrateTypes[mt]}: ${n} blocks listed, count says ${z.listLen[i]}`,
        );
      perOrder += n;
      if (mt !== MIGRATE_TYPES - 1) free += n << o;
    }
    if (z.nrFree[o] !== perOrder)
      err.push(`${z.name}: nr_free[${o}] is ${z.nrFree[o]}, lists hold ${perOrder}`);
  }
  if (z.freePages !== free) err.push(`${z.name}: NR_FREE_PAGES ${z.freePages}, free lists hold ${free}`);
}

function checkPcp(k: Kernel, z: Zone, err: string[]): void {
  const p = k.pages;
  for (let cpu = 0; cpu < k.cpus; cpu++) {
    let n = 0;
    for (let mt = 0; mt < MIGRATE_PCPTYPES; mt++) {
      const li = cpu * MIGRATE_PCPTYPES + mt;
      let prev = NIL;
      for (let pfn = z.pcpHead[li]!; pfn !== NIL; pfn = p.next[pfn]!) {
        if (p.prev[pfn] !== prev) err.push(`${z.name} cpu ${cpu} pcp pfn ${hex(pfn)}: broken list link`);
        if (!(p.state[pfn]! & S_PCP) || p.refcount[pfn] !== 0 || p.zone[pfn] !== z.id)
          err.push(`${z.name} cpu ${cpu} pcp pfn ${hex(pfn)}: not a free page of this zone`);
        prev = pfn;
        if (++n > z.spanned) break;
      }
      if (z.pcpTail[li] !== prev) err.push(`${z.name} cpu ${cpu} pcp list ${mt}: tail pointer wrong`);
    }
    if (z.pcpCount[cpu] !== n)
      err.push(`${z.name} cpu ${cpu}: pcp count ${z.pcpCount[cpu]}, lists hold ${n}`);
  }
}

/**
 * Classify every page frame of the zone; report overlaps, bad refcounts, unmerged buddies, and (into
 * `orphans`) pages that belong to nothing: allocated, yet no handle anyone holds reaches them.
 */
function scanZone(k: Kernel, z: Zone, err: string[], orphans: number[]): void {
  const p = k.pages;
  const mergeLimit = k.profile.maxOrder - 1;
  for (let pfn = z.startPfn; pfn < z.endPfn; ) {
    const st = p.state[pfn]!;
    if (st & S_HOLE || st & S_RESERVED || st & S_PCP) {
      pfn++;
      continue;
    }
    if (st & (S_BUDDY | S_ALLOC)) {
      const o = p.order[pfn]!;
      const end = pfn + (1 << o);
      if (st & S_ALLOC && p.refcount[pfn]! <= 0)
        err.push(`pfn ${hex(pfn)}: allocated block head with refcount ${p.refcount[pfn]}`);
      if (st & S_BUDDY && o < mergeLimit) {
        const b = pfn ^ (1 << o);
        if (k.alloc.buddy.isBuddy(z.id, b, o))
          err.push(`pfn ${hex(pfn)} and ${hex(b)}: free order-${o} buddies left unmerged`);
      }
      for (let q = pfn + 1; q < end && q < z.endPfn; q++) {
        const s = p.state[q]!;
        const tailOk = st & S_HEAD ? s === S_TAIL && p.next[q] === pfn : s === 0;
        if (!tailOk) err.push(`pfn ${hex(q)}: inside the block at ${hex(pfn)} (order ${o}) but marked ${s}`);
        if (p.refcount[q] !== 0) err.push(`pfn ${hex(q)}: tail page with refcount ${p.refcount[q]}`);
      }
      pfn = end;
      continue;
    }
    if (st & S_TAIL) err.push(`pfn ${hex(pfn)}: compound tail outside its compound page`);
    else if (p.refcount[pfn] === 0) orphans.push(pfn);
    else
      err.push(`pfn ${hex(pfn)}: refcount ${p.refcount[pfn]} on a page that is neither free nor allocated`);
    pfn++;
  }
}

function ranges(pfns: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < pfns.length; ) {
    let j = i;
    while (j + 1 < pfns.length && pfns[j + 1] === pfns[j]! + 1) j++;
    const n = j - i + 1;
    out.push(
      `leaked: pfn ${hex(pfns[i]!)}${n > 1 ? `-${hex(pfns[j]!)}` : ""} (${n} page${n > 1 ? "s" : ""}) allocated but unreachable: no owner can free ${n > 1 ? "them" : "it"}`,
    );
    i = j + 1;
  }
  return out;
}

export function orphanedPages(k: Kernel): number[] {
  const orphans: number[] = [];
  for (const z of k.populatedZones()) scanZone(k, z, [], orphans);
  return orphans;
}

export function checkKernel(k: Kernel): string[] {
  const err: string[] = [];
  const orphans: number[] = [];
  for (const z of k.populatedZones()) {
    checkFreeLists(k, z, err);
    checkPcp(k, z, err);
    scanZone(k, z, err, orphans);
  }
  for (let i = 0; i < k.alloc.buddy.pageblockMt.length; i++)
    if (k.alloc.buddy.pageblockMt[i]! >= MIGRATE_TYPES) err.push(`pageblock ${i}: bad migratetype`);
  err.push(...checkSlab(k.slub));
  err.push(...checkVmalloc(k.vm, k.pages, k.slub));
  return [...err, ...ranges(orphans)];
}
