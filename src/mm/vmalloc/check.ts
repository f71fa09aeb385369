// k.check() for vmalloc: the vmap space is exactly covered by free, busy and lazily freed blocks; every
// live area's pages are mapped (its guard page is not) to allocated page frames; lazily freed ranges
// map nothing; the counters and the kernel objects behind each area add up.

import type { PageArrays } from "../page.ts";
import { S_ALLOC } from "../page.ts";
import type { Slub } from "../slub/slub.ts";
import type { Vmalloc } from "./vmalloc.ts";
import { VM_ALLOC, VM_NO_GUARD } from "./vmap_area.ts";

const SPACE_PAGES = 2 ** 36;

export function checkVmalloc(vm: Vmalloc, pages: PageArrays, slub: Slub): string[] {
  const err: string[] = [];
  const a = vm.areas;
  const pt = vm.pt;
  a.verify(a.freeRoot, true, "vmap free tree", err);
  a.verify(a.busyRoot, false, "vmap busy tree", err);
  const blocks: [number, number, string][] = [];
  a.each(a.freeRoot, (n) => blocks.push([a.start[n]!, a.end[n]!, "free"]));
  a.each(a.busyRoot, (n) => blocks.push([a.start[n]!, a.end[n]!, "busy"]));
  let lazy = 0;
  for (const n of a.purge) {
    blocks.push([a.start[n]!, a.end[n]!, "lazy"]);
    lazy += a.end[n]! - a.start[n]!;
    for (let v = a.start[n]!; v < a.end[n]!; v++)
      if (pt.lookup(v) !== 0)
        err.push(`vmalloc: lazily freed page 0x${(v * 4096).toString(16)} still mapped`);
  }
  // Every block, free, busy or waiting, is a struct vmap_area object of the vmap_area cache.
  const nodes: number[] = [...a.purge];
  a.each(a.freeRoot, (n) => nodes.push(n));
  a.each(a.busyRoot, (n) => nodes.push(n));
  for (const n of nodes)
    if (!slub.isAllocated(a.obj[n]!))
      err.push(`vmalloc: block at page 0x${a.start[n]!.toString(16)} has no vmap_area object`);
  blocks.sort((x, y) => x[0] - y[0]);
  let at = 0;
  for (const [s, e, what] of blocks) {
    if (s !== at)
      err.push(
        `vmalloc: vmap space ${s < at ? "overlaps" : "has a hole"} at page 0x${s.toString(16)} (${what})`,
      );
    at = e;
  }
  if (at !== SPACE_PAGES) err.push("vmalloc: vmap space does not reach its end");
  if (lazy !== a.lazyPages) err.push(`vmalloc: lazy pages ${a.lazyPages}, purge list holds ${lazy}`);

  let present = 0;
  a.each(a.busyRoot, (n) => {
    const where = `vmalloc area 0x${(a.start[n]! * 4096).toString(16)}`;
    const len = a.end[n]! - a.start[n]! - (a.flags[n]! & VM_NO_GUARD ? 0 : 1);
    if (!slub.isAllocated(a.vm[n]!)) err.push(`${where}: vm_struct is not an allocated object`);
    if (a.flags[n]! & VM_ALLOC && a.nrPages[n] !== len)
      err.push(`${where}: ${a.nrPages[n]} pages for ${len}`);
    for (let i = 0; i < len; i++) {
      const pfn = pt.pfnOf(a.start[n]! + i);
      if (pfn < 0) {
        err.push(`${where}: page ${i} not mapped`);
        continue;
      }
      present++;
      if (a.flags[n]! & VM_ALLOC && (!(pages.state[pfn]! & S_ALLOC) || pages.refcount[pfn]! < 1))
        err.push(`${where}: page ${i} maps pfn 0x${pfn.toString(16)}, which is not allocated`);
    }
    if (len < a.end[n]! - a.start[n]! && pt.lookup(a.end[n]! - 1) !== 0)
      err.push(`${where}: guard page mapped`);
  });
  if (present !== pt.mapped || pt.countPresent() !== pt.mapped)
    err.push(`vmalloc: ${pt.mapped} PTEs counted, ${pt.countPresent()} present, ${present} in live areas`);
  for (const pfn of pt.tablePfns())
    if (!(pages.state[pfn]! & S_ALLOC))
      err.push(`vmalloc: page-table page pfn 0x${pfn.toString(16)} not allocated`);
  return err;
}
