// mm/vmalloc.c (5.4): virtually contiguous memory. An area is reserved in the vmap space (lowest fit,
// one guard page after it), backed page by page from the page allocator, and mapped through the kernel
// page tables; vfree unmaps at once but gives the address range back lazily, in batches. The kernel's
// own bookkeeping is allocated as it is in Linux: a vm_struct from kmalloc, a vmap_area object per free
// or busy block, the array of struct page pointers from kmalloc (or, past one page, from vmalloc itself).

import {
  PAGE_OFFSET,
  PAGE_SIZE,
  STRUCT_PAGE_SIZE,
  VMALLOC_END,
  VMALLOC_START,
  VMEMMAP_START,
} from "../../arch/x86/layout.ts";
import { PAGE_KERNEL, PageTables } from "../../arch/x86/pgtable.ts";
import { HZ } from "../../kernel/clock.ts";
import type { Core } from "../../kernel/core.ts";
import { KERN_WARNING } from "../../kernel/printk.ts";
import {
  __GFP_HIGHMEM,
  __GFP_NOWARN,
  __GFP_ZERO,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL,
  GFP_NOWAIT,
  GFP_RECLAIM_MASK,
} from "../gfp.ts";
import type { PhysMem } from "../memory.ts";
import { NIL as NO_PFN } from "../page.ts";
import type { PageApi } from "../page_api.ts";
import { Ratelimit } from "../show_mem.ts";
import { NIL, VM_ALLOC, VM_NO_GUARD, VmapAreas } from "./vmap_area.ts";

const NUMA_NO_NODE = -1;
/** The vmap space the kernel's free tree starts with ([1, ULONG_MAX] in bytes), in pages. */
const SPACE_PAGES = 2 ** 36;

/** What vmalloc needs from the rest of the kernel. */
export interface VmallocHost {
  readonly core: Core;
  readonly api: PageApi;
  readonly phys: PhysMem;
  readonly cpus: number;
  cpu(): number;
  /** kmalloc_node() / kfree() for vm_structs and page arrays. */
  kmallocNode(size: number, gfp: number, node: number): number;
  kfree(addr: number): void;
  /** kmem_cache_alloc_node(vmap_area_cachep) / kmem_cache_free(). */
  vmapAreaAlloc(gfp: number, node: number): number;
  vmapAreaFree(obj: number): void;
  totalramPages(): number;
  nodeOfPfn(pfn: number): number;
  /** warn_alloc(gfp, NULL, message) with the kernel frames below warn_alloc. */
  warnAlloc(gfp: number, message: string, callers: readonly string[]): void;
}

export class Vmalloc {
  readonly areas = new VmapAreas();
  readonly pt: PageTables;
  /** nr_vmalloc_pages (VmallocUsed). */
  nrVmallocPages = 0;
  /** ne_fit_preload_node: one spare vmap_area object per CPU for the split case. */
  private readonly preload: Float64Array;
  /** pfns of the pages being allocated for an area, before they are mapped (reused, grows). */
  private scratch = new Float64Array(1024);
  /** printk_ratelimit(): 10 messages per 5 s. */
  private readonly printkRs = new Ratelimit(5 * HZ, 10);

  constructor(private readonly h: VmallocHost) {
    this.preload = new Float64Array(h.cpus);
    this.pt = new PageTables({
      allocTable: (fn) => {
        const pfn = h.api.allocPfn(GFP_KERNEL | __GFP_ZERO, 0, h.api.localNode(), fn);
        return pfn === NO_PFN ? -1 : pfn;
      },
      writeEntry: (phys, lo, hi) => {
        h.phys.write32(phys, lo);
        h.phys.write32(phys + 4, hi);
      },
    });
  }

  /** vmalloc_init() -> vmap_init_free_space(): the whole address space is one free block. */
  init(): void {
    const obj = this.h.vmapAreaAlloc(GFP_KERNEL, NUMA_NO_NODE);
    this.areas.freeRoot = this.areas.insert(NIL, this.areas.node(0, SPACE_PAGES, obj));
  }

  /** lazy_max_pages(): fls(num_online_cpus()) * 32 MiB worth of pages. */
  lazyMaxPages(): number {
    return (32 - Math.clz32(this.h.cpus)) * ((32 << 20) / PAGE_SIZE);
  }

  // ---- the vmap space ------------------------------------------------------------------------------

  /**
   * alloc_vmap_area(): a busy node of `size` pages at `align` pages in [vstart, vend), or NIL. When the
   * space is full it purges the lazily freed areas once and tries again, then gives up with the
   * "vmap allocation … failed" line.
   */
  private allocVmapArea(
    size: number,
    align: number,
    vstart: number,
    vend: number,
    node: number,
    gfp: number,
  ): number {
    const a = this.areas;
    const h = this.h;
    const obj = h.vmapAreaAlloc(gfp & GFP_RECLAIM_MASK, node);
    if (obj === 0) return NIL;
    for (let purged = false; ; purged = true) {
      const cpu = h.cpu();
      if (this.preload[cpu] === 0) this.preload[cpu] = h.vmapAreaAlloc(GFP_KERNEL, node);
      const at = a.allocate(
        size,
        align,
        vstart,
        vend,
        () => {
          const spare = this.preload[cpu]!;
          this.preload[cpu] = 0;
          return spare !== 0 ? spare : h.vmapAreaAlloc(GFP_NOWAIT, NUMA_NO_NODE);
        },
        (o) => h.vmapAreaFree(o),
      );
      if (at >= 0) {
        const n = a.node(at, at + size, obj);
        a.busyRoot = a.insert(a.busyRoot, n);
        return n;
      }
      if (purged) break;
      this.purgeLazy();
    }
    const core = h.core;
    const ok = () =>
      this.printkRs.ok(core.clock.jiffies, (m: number) =>
        core.lines(KERN_WARNING, `alloc_vmap_area: ${m} callbacks suppressed`),
      );
    if (!(gfp & __GFP_NOWARN) && ok())
      h.core.lines(
        KERN_WARNING,
        `vmap allocation for size ${size * PAGE_SIZE} failed: use vmalloc=<size> to increase size`,
      );
    h.vmapAreaFree(obj);
    return NIL;
  }

  /** __purge_vmap_area_lazy(): every lazily freed range goes back to the free space. */
  purgeLazy(): void {
    const a = this.areas;
    for (const n of a.purge) a.giveBack(n, (o) => this.h.vmapAreaFree(o));
    a.purge = [];
    a.lazyPages = 0;
  }

  /**
   * __get_vm_area_node(): a vm_struct (kzalloc) and its busy area; `size` in bytes, page-aligned. The
   * area holds one more page, the guard, unless VM_NO_GUARD.
   */
  private getVmArea(
    size: number,
    align: number,
    flags: number,
    start: number,
    end: number,
    node: number,
    gfp: number,
    caller: number,
  ): number {
    const h = this.h;
    const vm = h.kmallocNode(64, (gfp & GFP_RECLAIM_MASK) | __GFP_ZERO, node);
    if (vm === 0) return NIL;
    const pages = size / PAGE_SIZE + (flags & VM_NO_GUARD ? 0 : 1);
    const alignPages = Math.max(1, align / PAGE_SIZE);
    const n = this.allocVmapArea(
      pages,
      alignPages,
      Math.ceil(start / PAGE_SIZE),
      Math.floor((end + 1) / PAGE_SIZE),
      node,
      gfp,
    );
    if (n === NIL) {
      h.kfree(vm);
      return NIL;
    }
    const a = this.areas;
    a.vm[n] = vm;
    a.flags[n] = flags;
    a.caller[n] = caller;
    this.mirrorVm(n);
    return n;
  }

  /** The vm_struct's fields in its memory (addr, size, flags, pages, nr_pages), as the kernel's would read. */
  private mirrorVm(n: number): void {
    const a = this.areas;
    const p = a.vm[n]! - PAGE_OFFSET;
    const m = this.h.phys;
    m.writePtr(p + 8, a.start[n]! * PAGE_SIZE);
    m.writePtr(p + 16, (a.end[n]! - a.start[n]!) * PAGE_SIZE);
    m.writePtr(p + 24, a.flags[n]!);
    m.writePtr(p + 32, a.pagesArr[n]!);
    m.write32(p + 40, a.nrPages[n]!);
  }

  // ---- vmalloc ---------------------------------------------------------------------------------

  /**
   * __vmalloc_node_range(): `size` bytes in [start, end] (bytes), `align` bytes (a power of two), pages
   * with `gfp`, mapped with `prot`. 0 on failure, after warn_alloc's report. `caller` is the saved stack
   * vmallocinfo shows; `fns` are the kernel frames between warn_alloc and the caller.
   */
  vmallocNodeRange(
    size: number,
    align: number,
    start: number,
    end: number,
    gfp: number,
    prot: number,
    vmFlags: number,
    node: number,
    caller: number,
    fns: readonly string[],
  ): number {
    const h = this.h;
    const bytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    let n = NIL;
    if (bytes !== 0 && bytes / PAGE_SIZE <= h.totalramPages())
      n = this.getVmArea(bytes, align, VM_ALLOC | vmFlags, start, end, node, gfp, caller);
    if (n === NIL) {
      h.core.stacks.release(caller);
      h.warnAlloc(gfp, `vmalloc: allocation failure: ${size} bytes`, ["__vmalloc_node_range", ...fns]);
      return 0;
    }
    return this.vmallocArea(n, gfp, prot, node, fns);
  }

  /** __vmalloc_area_node(): the page array, the pages (order 0, one at a time), then the mapping. */
  private vmallocArea(n: number, gfp: number, prot: number, node: number, fns: readonly string[]): number {
    const a = this.areas;
    const h = this.h;
    const addr = a.start[n]! * PAGE_SIZE;
    const nested = (gfp & GFP_RECLAIM_MASK) | __GFP_ZERO;
    const highmem = gfp & (GFP_DMA | GFP_DMA32) ? 0 : __GFP_HIGHMEM;
    const nrPages = a.end[n]! - a.start[n]! - (a.flags[n]! & VM_NO_GUARD ? 0 : 1);
    const arraySize = nrPages * 8;
    // The recursion is bounded: each level's array is 512 times smaller.
    const arr =
      arraySize > PAGE_SIZE
        ? this.vmallocNodeRange(
            arraySize,
            1,
            VMALLOC_START,
            VMALLOC_END,
            nested | highmem,
            PAGE_KERNEL,
            0,
            node,
            h.core.stacks.share(a.caller[n]!),
            fns,
          )
        : h.kmallocNode(arraySize, nested, node);
    if (arr === 0) {
      this.removeArea(n);
      return 0;
    }
    a.pagesArr[n] = arr;
    if (this.scratch.length < nrPages)
      this.scratch = new Float64Array(Math.max(nrPages, this.scratch.length * 2));
    const pfns = this.scratch;
    const pageGfp = gfp | __GFP_NOWARN | highmem;
    const nid = node === NUMA_NO_NODE ? h.api.localNode() : node;
    let got = 0;
    for (; got < nrPages; got++) {
      const pfn = h.api.allocPfn(
        pageGfp,
        0,
        nid,
        node === NUMA_NO_NODE ? "alloc_pages_current" : "__alloc_pages_node",
      );
      if (pfn === NO_PFN) break;
      pfns[got] = pfn;
    }
    a.nrPages[n] = got;
    this.nrVmallocPages += got;
    // map_vm_area(): the page tables first (they can fail), then one PTE per page.
    const mapped = got === nrPages && this.pt.prepare(a.start[n]!, nrPages);
    if (mapped) for (let i = 0; i < nrPages; i++) this.pt.set(a.start[n]! + i, pfns[i]!, prot);
    for (let i = 0; i < got; i++)
      this.writeKernelPtr(arr + i * 8, VMEMMAP_START + pfns[i]! * STRUCT_PAGE_SIZE);
    this.mirrorVm(n);
    if (!mapped) {
      h.warnAlloc(
        gfp,
        `vmalloc: allocation failure, allocated ${got * PAGE_SIZE} of ${(a.end[n]! - a.start[n]!) * PAGE_SIZE} bytes`,
        ["__vmalloc_area_node", "__vmalloc_node_range", ...fns],
      );
      // __vfree(): the pages not yet mapped are still listed in the scratch array.
      this.unmapArea(n, true, pfns);
      return 0;
    }
    return addr;
  }

  /** Store a pointer at a kernel virtual address the kernel itself owns (direct map or mapped vmalloc). */
  private writeKernelPtr(addr: number, v: number): void {
    if (addr < VMALLOC_START) {
      this.h.phys.writePtr(addr - PAGE_OFFSET, v);
      return;
    }
    const pfn = this.pt.pfnOf(Math.floor(addr / PAGE_SIZE));
    this.h.phys.writePtr(pfn * PAGE_SIZE + (addr % PAGE_SIZE), v);
  }

  // ---- vmap ------------------------------------------------------------------------------------

  /** vmap(): map the given pages (pfns) contiguously; the area does not own them. 0 on failure. */
  vmap(pfns: readonly number[], flags: number, prot: number, caller: number): number {
    const h = this.h;
    if (pfns.length > h.totalramPages()) {
      h.core.stacks.release(caller);
      return 0;
    }
    const n = this.getVmArea(
      pfns.length * PAGE_SIZE,
      1,
      flags,
      VMALLOC_START,
      VMALLOC_END,
      NUMA_NO_NODE,
      GFP_KERNEL,
      caller,
    );
    if (n === NIL) {
      h.core.stacks.release(caller);
      return 0;
    }
    const a = this.areas;
    if (!this.pt.prepare(a.start[n]!, pfns.length)) {
      this.unmapArea(n, false, null);
      return 0;
    }
    for (let i = 0; i < pfns.length; i++) this.pt.set(a.start[n]! + i, pfns[i]!, prot);
    return a.start[n]! * PAGE_SIZE;
  }

  // ---- freeing ---------------------------------------------------------------------------------

  /** find_vm_area(): the busy area (with a vm_struct) holding `addr`, or NIL. */
  findVmArea(addr: number): number {
    const n = this.areas.find(this.areas.busyRoot, Math.floor(addr / PAGE_SIZE));
    return n !== NIL && this.areas.vm[n] !== 0 ? n : NIL;
  }

  /**
   * __vunmap(): refuse what is not the start of a page or not inside a live area (WARN, nothing changes),
   * else unmap the whole area, free its pages if `deallocate`, and free its bookkeeping.
   */
  vunmap(addr: number, deallocate: boolean, fn: string): void {
    const h = this.h;
    const lines = h.core.profile.lines;
    if (addr % PAGE_SIZE !== 0) {
      h.core.warn(
        "mm/vmalloc.c",
        lines.vfreeBadAddress,
        "__vunmap",
        [fn],
        `Trying to vfree() bad address (${h.core.printfCtx.hashPointer(addr)})`,
      );
      return;
    }
    const n = this.findVmArea(addr);
    if (n === NIL) {
      h.core.warn(
        "mm/vmalloc.c",
        lines.vfreeNonexistent,
        "__vunmap",
        [fn],
        `Trying to vfree() nonexistent vm area (${h.core.printfCtx.hashPointer(addr)})`,
      );
      return;
    }
    this.unmapArea(n, deallocate, null);
  }

  /**
   * The body of __vunmap() for area `n`: clear its PTEs (collecting the pages they mapped), hand the
   * range to the lazy list, then free pages, page array and vm_struct. `pending` lists pages of an area
   * that failed before it was mapped.
   */
  private unmapArea(n: number, deallocate: boolean, pending: Float64Array | null): void {
    const a = this.areas;
    const h = this.h;
    const nr = a.nrPages[n]!;
    if (this.scratch.length < nr) this.scratch = new Float64Array(Math.max(nr, this.scratch.length * 2));
    const pfns = pending ?? this.scratch;
    const arr = a.pagesArr[n]!;
    // The PTEs go first (collecting the frames they mapped), as remove_vm_area() does before the pages.
    this.pt.clearRange(a.start[n]!, a.end[n]! - a.start[n]!, pending ? null : pfns);
    this.removeArea(n);
    if (deallocate) {
      for (let i = 0; i < nr; i++) if (pfns[i]! >= 0) h.api.freePages(pfns[i]!, 0, "__vunmap");
      this.nrVmallocPages -= nr;
      if (arr >= VMALLOC_START) this.vunmap(arr, true, "kvfree");
      else if (arr !== 0) h.kfree(arr);
    }
  }

  /** remove_vm_area() + free_vmap_area_noflush(): the vm_struct goes, the range waits on the lazy list. */
  private removeArea(n: number): void {
    const a = this.areas;
    const h = this.h;
    h.kfree(a.vm[n]!);
    h.core.stacks.release(a.caller[n]!);
    a.vm[n] = 0;
    a.caller[n] = 0;
    a.busyRoot = a.remove(a.busyRoot, n);
    a.purge.push(n);
    a.lazyPages += a.end[n]! - a.start[n]!;
    if (a.lazyPages > this.lazyMaxPages()) this.purgeLazy();
  }

  // ---- lookups -----------------------------------------------------------------------------------

  /** vmalloc_to_page()'s walk: the pfn mapped at `addr`, or -1. */
  pfnAt(addr: number): number {
    return this.pt.pfnOf(Math.floor(addr / PAGE_SIZE));
  }

  /** Pages per node of a vmalloc area (show_numa_info). */
  nodeCounts(n: number, nodes: number): number[] {
    const c = new Array<number>(nodes).fill(0);
    const a = this.areas;
    for (let i = 0; i < a.nrPages[n]!; i++) {
      const pfn = this.pt.pfnOf(a.start[n]! + i);
      if (pfn >= 0) c[this.h.nodeOfPfn(pfn)]!++;
    }
    return c;
  }
}
