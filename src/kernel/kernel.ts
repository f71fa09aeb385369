// The booted machine: one object whose methods are the kernel's functions, with the kernel's names and
// argument order (the public API contract in DESIGN.md). Each method is a thin door into mm/, fs/ and
// kernel/; the allocator logic lives there.
import {
  isVmallocAddr,
  isVmallocOrModuleAddr,
  MODULES_END,
  MODULES_VADDR,
  PAGE_OFFSET,
  PAGE_SHIFT,
  PAGE_SIZE,
  START_KERNEL_MAP,
  STRUCT_PAGE_SIZE,
  VMALLOC_END,
  VMALLOC_START,
  VMEMMAP_START,
  ZERO_SIZE_PTR,
} from "../arch/x86/layout.ts";
import { PAGE_KERNEL } from "../arch/x86/pgtable.ts";
import { procCat, procEcho } from "../fs/proc/index.ts";
import { hexDumpLines } from "../lib/hexdump.ts";
import { MemoryAccess } from "../mm/access.ts";
import { checkKernel, orphanedPages } from "../mm/check.ts";
import { BadPageReporter, pageHandle } from "../mm/debug.ts";
import {
  __GFP_BITS_MASK,
  __GFP_COMP,
  __GFP_HIGHMEM,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RETRY_MAYFAIL,
  __GFP_ZERO,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL,
} from "../mm/gfp.ts";
import { type Backing, PhysMem } from "../mm/memory.ts";
import { freeAllBootmem, type MemLayout, setupMemory } from "../mm/mm_init.ts";
import { MIGRATE_MOVABLE, MIGRATE_TYPES, type PgData, type Zone } from "../mm/mmzone.ts";
import { NIL, type PageArrays, S_HEAD } from "../mm/page.ts";
import { PageAllocator } from "../mm/page_alloc.ts";
import { PageApi } from "../mm/page_api.ts";
import { type MemStats, WarnAlloc } from "../mm/show_mem.ts";
import type { Ctor, KmemCache } from "../mm/slub/cache.ts";
import { SLAB_PANIC } from "../mm/slub/flags.ts";
import { KMALLOC_MAX_CACHE_SIZE, kernelAddress, SlabCommon } from "../mm/slub/slab_common.ts";
import { Slub } from "../mm/slub/slub.ts";
import { Vmalloc } from "../mm/vmalloc/vmalloc.ts";
import { VM_USERMAP } from "../mm/vmalloc/vmap_area.ts";
import {
  calcMinFreeKbytes,
  calcTotalreserve,
  nrFreeBufferPages,
  nrFreePagecachePages,
  setPcpBatch,
  setPcpHigh,
  setupLowmemReserve,
  setupPerZoneWmarks,
  type WatermarkState,
  zoneBatchsize,
} from "../mm/watermark.ts";
import { buildZonelists } from "../mm/zonelist.ts";
import { type Cmdline, memparse, parseCmdline } from "./cmdline.ts";
import { Core, type Task } from "./core.ts";
import { type InsmodResult, type KernelModule, type ModuleParams, Modules } from "./module.ts";
import { KERN, KERN_INFO, KERN_NOTICE, KERN_WARNING } from "./printk.ts";
import { PROFILES, type Profile, type ProfileName } from "./profile.ts";
import { vsprintf } from "./vsprintf.ts";

export interface BootOptions {
  /** RAM size: bytes, or "512M", "4G"... (default "1G"). */
  mem?: number | string;
  /** NUMA nodes; memory is split evenly (default 1). */
  nodes?: number;
  /** CPUs, each with its own per-CPU page lists in every zone (default 2). */
  cpus?: number;
  profile?: ProfileName;
  /** Kernel command line, e.g. "kernelcore=512M panic_on_warn=1". */
  cmdline?: string;
  /** "memory" keeps real bytes; "none" simulates metadata only (for machines larger than this host). */
  backing?: Backing;
  /** Seed for anything random (pointer hashing). */
  seed?: number;
}

export class Kernel {
  readonly core: Core;
  readonly profile: Profile;
  readonly cmdline: Cmdline;
  readonly cpus: number;
  readonly layout: MemLayout;
  readonly pages: PageArrays;
  readonly nodes: PgData[];
  /** Zones by global id (node * MAX_NR_ZONES + index). */
  readonly zones: Zone[];
  readonly phys: PhysMem;
  readonly alloc: PageAllocator;
  readonly api: PageApi;
  readonly badPage: BadPageReporter;
  readonly wm: WatermarkState;
  readonly modules: Modules;
  /** SLUB and the kmalloc family (mm/slub/). */
  readonly slab: SlabCommon;
  readonly slub: Slub;
  /** vmalloc, vmap and the kernel page tables (mm/vmalloc/). */
  readonly vm: Vmalloc;
  private vmapAreaCache: KmemCache | null = null;
  private readonly memAccess: MemoryAccess;
  private readonly warnAllocReporter: WarnAlloc;

  constructor(opts: BootOptions = {}) {
    const profile = PROFILES[opts.profile ?? "5.4"];
    if (!profile) throw new RangeError(`unknown profile ${opts.profile}`);
    this.profile = profile;
    const ram = memparse(opts.mem ?? "1G");
    const nodes = opts.nodes ?? 1;
    const cpus = opts.cpus ?? 2;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 51) throw new RangeError("nodes must be 1..51");
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 256) throw new RangeError("cpus must be 1..256");
    if (ram < 64 * 2 ** 20 || ram / nodes < 128 * 2 ** 20)
      throw new RangeError("mem must be at least 64M, and 128M per node");
    this.cpus = cpus;
    const cmd = opts.cmdline ?? "";
    this.cmdline = parseCmdline(cmd);
    const core = new Core(profile, this.cmdline, opts.seed ?? 0x6b6d656d);
    this.core = core;

    core.log.clockRunning = false;
    core.lines(
      KERN_NOTICE,
      `Linux version ${profile.release} (kmem@kmem) (gcc version 9.3.0 (Ubuntu 9.3.0-17ubuntu1~20.04)) ${profile.version} SMP`,
    );
    core.lines(KERN_INFO, `Command line: ${cmd}`);
    const L = setupMemory(core, ram, nodes, cpus);
    this.layout = L;
    this.pages = L.pages;
    this.nodes = L.nodes;
    this.zones = L.zones;
    this.phys = new PhysMem(L.maxPfn * PAGE_SIZE, opts.backing ?? "memory");
    this.warnAllocReporter = new WarnAlloc(core);
    this.alloc = new PageAllocator(
      L.pages,
      L.nodes,
      L.zones,
      cpus,
      profile.maxOrder,
      profile.pageblockOrder,
      {
        warnOnce: (site, fn) => core.warnOnce(site, "mm/page_alloc.c", profile.lines[site], fn),
        warnAlloc: (gfp, order, callers) =>
          this.warnAllocReporter.report(gfp, order, callers, this.memStats()),
        zeroPages: (pfn, nr) => this.phys.fill(pfn * PAGE_SIZE, 0, nr * PAGE_SIZE),
      },
    );
    core.cpuId = () => this.alloc.cpu;
    this.alloc.buddy.pageblockMt.fill(MIGRATE_MOVABLE);
    this.badPage = new BadPageReporter(core, L.pages);
    this.api = new PageApi(core, L.pages, this.alloc, this.badPage, L.maxPfn);
    this.vm = new Vmalloc({
      core,
      api: this.api,
      phys: this.phys,
      cpus,
      cpu: () => this.alloc.cpu,
      kmallocNode: (size, gfp, node) => this.kmalloc_node(size, gfp, node),
      kfree: (addr) => this.slab.kfree(addr),
      vmapAreaAlloc: (gfp, node) => this.slub.alloc(this.vmapAreaCache!, gfp, node),
      vmapAreaFree: (obj) => this.slab.freeObject(this.vmapAreaCache, obj, "kmem_cache_free"),
      totalramPages: () => this.totalramPages(),
      nodeOfPfn: (pfn) => this.alloc.zoneOf(pfn).nid,
      warnAlloc: (gfp, msg, callers) => this.warnAllocReporter.warn(gfp, msg, callers, this.memStats()),
    });
    this.memAccess = new MemoryAccess(core, this.phys, L.maxPfn * PAGE_SIZE, this.vm.pt);
    this.modules = new Modules(this);

    // build_all_zonelists(): zonelists, then the page-cache estimate that decides mobility grouping.
    core.lines(
      KERN_INFO,
      // Reserved (8 KiB) and dynamic (28 KiB) parts and the 2 MiB unit as x86_64 prints them (oracle boot
      // log); the static part is what remains of the embedded pages.
      `percpu: Embedded ${profile.percpuPagesPerCpu} pages/cpu s${profile.percpuPagesPerCpu * 4096 - 8192 - 28672} r8192 d28672 u2097152`,
    );
    buildZonelists(L.nodes);
    this.alloc.refreshZonelists();
    const populated = L.zones.filter((z) => z?.populated);
    const totalPages = nrFreePagecachePages(populated);
    const grouping = totalPages >= (1 << profile.pageblockOrder) * MIGRATE_TYPES;
    this.alloc.buddy.groupingDisabled = !grouping;
    core.lines(
      KERN_INFO,
      `Built ${nodes} zonelists, mobility grouping ${grouping ? "on" : "off"}.  Total pages: ${totalPages}`,
    );
    const policy = populated.some((z) => z.idx === 2) ? "Normal" : "DMA32";
    core.lines(KERN_INFO, `Policy zone: ${policy}`);
    core.lines(KERN_NOTICE, `Kernel command line: ${cmd}`);

    // mem_init(): memblock_free_all, then the "Memory:" line.
    freeAllBootmem(L, this.alloc, profile.maxOrder);
    let managed = 0;
    for (const z of populated) managed += z.managed;
    const img = profile.image;
    core.lines(
      KERN_INFO,
      `Memory: ${managed * 4}K/${L.totalPresent * 4}K available (${img.code}K kernel code, ${img.rwdata}K rwdata, ${img.rodata}K rodata, ${img.init}K init, ${img.bss}K bss, ${(L.totalPresent - managed) * 4}K reserved, 0K cma-reserved)`,
    );
    // kmem_cache_init(): the slab allocator comes up right after mem_init().
    this.slub = new Slub(core, this.pages, this.phys, this.alloc, this.api, cpus, nodes);
    this.slab = new SlabCommon(core, this.api, profile.slab, this.cmdline, this.slub, profile.maxOrder);
    this.slab.init(nodes);
    // vmalloc_init(): KMEM_CACHE(vmap_area, SLAB_PANIC), then the free vmap space.
    this.vmapAreaCache = this.slab.cacheOf(
      this.slab.create("vmap_area", 64, 8, SLAB_PANIC, null, "kmem_cache_create"),
      "vmalloc_init",
    );
    this.vm.init();
    core.log.clockRunning = true;

    // setup_per_cpu_pageset(), then init_per_zone_wmark_min() (a core_initcall).
    this.wm = {
      minFreeKbytes: 0,
      userMinFreeKbytes: -1,
      watermarkScaleFactor: 10,
      lowmemReserveRatio: [...profile.lowmemReserveRatio],
      totalreservePages: 0,
      percpuPagelistFraction: 0,
    };
    this.setPcpSizes();
    this.initPerZoneWmarkMin();

    // free_initmem(): the image's init sections go back page by page, through the per-CPU lists.
    core.clock.ns = Math.max(core.clock.ns, 1_000_000_000);
    for (let a = L.initRange.start; a < L.initRange.end; a += PAGE_SIZE) {
      const pfn = a / PAGE_SIZE;
      this.pages.state[pfn] = 0;
      this.pages.refcount[pfn] = 0;
      this.alloc.zoneOf(pfn).managed++;
      this.alloc.freeUnrefPage(pfn);
    }
    core.lines(KERN_INFO, `Freeing unused kernel image memory: ${img.init}K`);
    core.lines(KERN_INFO, "Run /init as init process");
    this.alloc.pgfree = 0;
  }

  /** init_per_zone_wmark_min() followed by the watermark, reserve and totalreserve setup. */
  initPerZoneWmarkMin(): void {
    const zs = this.populatedZones();
    const v = calcMinFreeKbytes(nrFreeBufferPages(zs), this.profile.minFreeKbytesMax);
    if (v > this.wm.userMinFreeKbytes) this.wm.minFreeKbytes = v;
    else
      this.core.lines(
        KERN_WARNING,
        `min_free_kbytes is not updated to ${v} because user defined value ${this.wm.userMinFreeKbytes} is preferred`,
      );
    this.recalcWatermarks();
  }

  /** pageset_set_high_and_batch() for every zone: from vm.percpu_pagelist_fraction, or zone_batchsize(). */
  setPcpSizes(): void {
    const f = this.wm.percpuPagelistFraction;
    for (const z of this.populatedZones()) {
      if (f) setPcpHigh(z, Math.floor(z.managed / f));
      else setPcpBatch(z, zoneBatchsize(z.managed));
    }
  }

  recalcWatermarks(): void {
    setupPerZoneWmarks(this.populatedZones(), this.wm);
    setupLowmemReserve(this.nodes, this.wm.lowmemReserveRatio);
    this.wm.totalreservePages = calcTotalreserve(this.nodes);
  }

  /** totalram_pages(): the pages the page allocator manages. */
  totalramPages(): number {
    let n = 0;
    for (const z of this.zones) if (z?.populated) n += z.managed;
    return n;
  }

  populatedZones(): Zone[] {
    return this.zones.filter((z) => z?.populated);
  }

  memStats(): MemStats {
    return {
      nodes: this.nodes,
      zones: this.zones,
      cpu: this.alloc.cpu,
      migrateLetters: this.profile.migrateLetters,
      slabReclaimable: this.slub.nrSlabReclaimable.reduce((a, b) => a + b, 0),
      slabUnreclaimable: this.slub.nrSlabUnreclaimable.reduce((a, b) => a + b, 0),
    };
  }

  // ---- CPU and task ------------------------------------------------------------------------------

  /** Choose the CPU the next calls run on (its per-CPU lists, its node). */
  setCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus)
      throw new RangeError(`no CPU ${cpu} (cpus: ${this.cpus})`);
    this.alloc.cpu = cpu;
  }

  get cpu(): number {
    return this.alloc.cpu;
  }

  /** numa_node_id() of the current CPU. */
  numa_node_id(): number {
    return this.alloc.cpuNode[this.alloc.cpu]!;
  }

  get current(): Task {
    return this.core.current;
  }

  // ---- page allocator --------------------------------------------------------------------------

  alloc_pages(gfp_mask: number, order: number): number | null {
    const pfn = this.api.allocPfn(gfp_mask, order, this.api.localNode(), "alloc_pages_current");
    return pfn === NIL ? null : pageHandle(pfn);
  }

  alloc_page(gfp_mask: number): number | null {
    return this.alloc_pages(gfp_mask, 0);
  }

  alloc_pages_node(nid: number, gfp_mask: number, order: number): number | null {
    const pfn = this.api.allocPagesNode(nid, gfp_mask, order, "__alloc_pages_node");
    return pfn === NIL ? null : pageHandle(pfn);
  }

  __get_free_pages(gfp_mask: number, order: number): number {
    const pfn = this.api.allocPfn(
      PageApi.gfp(gfp_mask, "__get_free_pages") & ~__GFP_HIGHMEM,
      order,
      this.api.localNode(),
      "__get_free_pages",
    );
    return pfn === NIL ? 0 : PAGE_OFFSET + pfn * PAGE_SIZE;
  }

  __get_free_page(gfp_mask: number): number {
    return this.__get_free_pages(gfp_mask, 0);
  }

  get_zeroed_page(gfp_mask: number): number {
    return this.__get_free_pages(PageApi.gfp(gfp_mask, "get_zeroed_page") | __GFP_ZERO, 0);
  }

  __get_dma_pages(gfp_mask: number, order: number): number {
    return this.__get_free_pages(PageApi.gfp(gfp_mask, "__get_dma_pages") | GFP_DMA, order);
  }

  __free_pages(page: number, order: number): void {
    const pfn = this.api.pagePfn(page, "__free_pages");
    if (pfn !== NIL) this.api.freePages(pfn, order, "__free_pages");
  }

  __free_page(page: number): void {
    this.__free_pages(page, 0);
  }

  free_pages(addr: number, order: number): void {
    if (addr === 0) return;
    const pfn = this.api.addrPfn(addr, "free_pages");
    if (pfn !== NIL) this.api.freePages(pfn, order, "free_pages");
  }

  free_page(addr: number): void {
    this.free_pages(addr, 0);
  }

  /** alloc_pages_exact(): 2^get_order(size) pages, split, the tail past PAGE_ALIGN(size) freed. */
  alloc_pages_exact(size: number, gfp_mask: number): number {
    if (!Number.isInteger(size) || size < 0) throw new TypeError(`alloc_pages_exact: bad size ${size}`);
    let gfp = PageApi.gfp(gfp_mask, "alloc_pages_exact");
    if (gfp & __GFP_COMP) {
      this.core.warnOnce(
        "exact_comp",
        "mm/page_alloc.c",
        this.profile.lines.allocPagesExactComp,
        "alloc_pages_exact",
      );
      gfp &= ~__GFP_COMP;
    }
    const order = this.get_order(size);
    const addr = this.__get_free_pages(gfp, order);
    if (addr === 0) return 0;
    const pfn = (addr - PAGE_OFFSET) / PAGE_SIZE;
    this.api.splitPage(pfn, order, "make_alloc_exact");
    const used = Math.ceil(size / PAGE_SIZE);
    for (let i = used; i < 1 << order; i++) this.free_page(addr + i * PAGE_SIZE);
    return addr;
  }

  free_pages_exact(virt: number, size: number): void {
    if (!Number.isInteger(size) || size < 0) throw new TypeError(`free_pages_exact: bad size ${size}`);
    const end = virt + Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    for (let a = virt; a < end; a += PAGE_SIZE) this.free_page(a);
  }

  split_page(page: number, order: number): void {
    const pfn = this.api.pagePfn(page, "split_page");
    if (pfn !== NIL) this.api.splitPage(pfn, order, "split_page");
  }

  get_page(page: number): void {
    const pfn = this.api.pagePfn(page, "get_page");
    if (pfn !== NIL) this.api.getPage(pfn, "get_page");
  }

  put_page(page: number): void {
    const pfn = this.api.pagePfn(page, "put_page");
    if (pfn !== NIL) this.api.putPage(pfn, "put_page");
  }

  page_ref_count(page: number): number {
    const pfn = this.api.pagePfn(page, "page_ref_count");
    return pfn === NIL ? 0 : this.pages.refcount[pfn]!;
  }

  /** compound_order(): the order of a compound head, 0 for any other page. */
  compound_order(page: number): number {
    const pfn = this.api.pagePfn(page, "compound_order");
    return pfn !== NIL && this.pages.state[pfn]! & S_HEAD ? this.pages.order[pfn]! : 0;
  }

  /** compound_head(): the head page of a compound page (the page itself otherwise). */
  compound_head(page: number): number {
    const pfn = this.api.pagePfn(page, "compound_head");
    return pfn === NIL ? page : pageHandle(this.alloc.compoundHead(pfn));
  }

  // ---- address conversions (pure arithmetic, as in the kernel) ---------------------------------

  page_address(page: number): number {
    return PAGE_OFFSET + ((page - VMEMMAP_START) / STRUCT_PAGE_SIZE) * PAGE_SIZE;
  }

  virt_to_page(addr: number): number {
    return VMEMMAP_START + Math.floor(this.__pa(addr) / PAGE_SIZE) * STRUCT_PAGE_SIZE;
  }

  page_to_pfn(page: number): number {
    return (page - VMEMMAP_START) / STRUCT_PAGE_SIZE;
  }

  pfn_to_page(pfn: number): number {
    return VMEMMAP_START + pfn * STRUCT_PAGE_SIZE;
  }

  /** __pa(): kernel-image addresses translate through __START_KERNEL_map, the rest through PAGE_OFFSET. */
  __pa(addr: number): number {
    return addr >= START_KERNEL_MAP ? addr - START_KERNEL_MAP : addr - PAGE_OFFSET;
  }

  virt_to_phys(addr: number): number {
    return this.__pa(addr);
  }

  phys_to_virt(phys: number): number {
    return phys + PAGE_OFFSET;
  }

  virt_addr_valid(addr: number): boolean {
    return this.api.virtAddrValid(addr);
  }

  pfn_valid(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.layout.maxPfn;
  }

  /** get_order(): the smallest order whose block holds `size` bytes (get_order(0) is 52 on 64-bit). */
  get_order(size: number): number {
    if (size === 0) return 64 - PAGE_SHIFT;
    const pages = Math.ceil(size / PAGE_SIZE);
    return pages <= 1 ? 0 : Math.ceil(Math.log2(pages));
  }

  // ---- slab allocator (SLUB) and kmalloc ---------------------------------------------------------

  /** kmalloc(): a size class object up to 8 KiB, a compound block above; 0 (NULL) on failure. */
  kmalloc(size: number, flags: number): number {
    if (
      size > 0 &&
      size <= KMALLOC_MAX_CACHE_SIZE &&
      (size | 0) === size &&
      (flags & __GFP_BITS_MASK) === flags
    )
      return this.slub.alloc(this.slab.kmallocSlab(size, flags), flags, -1);
    return this.kmallocSlow(size, flags, -1, "__kmalloc");
  }

  private kmallocSlow(size: number, flags: number, node: number, fn: string): number {
    if (!Number.isInteger(size) || size < 0)
      throw new TypeError(`${fn}: size must be a non-negative integer, got ${size}`);
    const gfp = PageApi.gfp(flags, fn);
    if (size === 0) return ZERO_SIZE_PTR;
    if (size > KMALLOC_MAX_CACHE_SIZE) return this.slab.kmallocLarge(size, gfp, node, fn);
    return this.slub.alloc(this.slab.kmallocSlab(size, gfp), gfp, node);
  }

  kzalloc(size: number, flags: number): number {
    return this.kmalloc(size, PageApi.gfp(flags, "kzalloc") | __GFP_ZERO);
  }

  /** kmalloc_node(): from a slab on `node` (NUMA_NO_NODE, -1, for any). */
  kmalloc_node(size: number, flags: number, node: number): number {
    if (!Number.isInteger(node) || node < -1 || node >= this.nodes.length)
      throw new RangeError(`kmalloc_node: no node ${node}`);
    return this.kmallocSlow(size, flags, node, "__kmalloc_node");
  }

  kzalloc_node(size: number, flags: number, node: number): number {
    return this.kmalloc_node(size, PageApi.gfp(flags, "kzalloc_node") | __GFP_ZERO, node);
  }

  /** kmalloc_array(): NULL when n * size overflows size_t. */
  kmalloc_array(n: number, size: number, flags: number): number {
    for (const v of [n, size])
      if (!Number.isInteger(v) || v < 0) throw new TypeError(`kmalloc_array: bad count or size ${v}`);
    const bytes = n * size;
    // check_mul_overflow(): 2^64 - 1 is not a double, so "beyond size_t" is >= 2^64.
    if (bytes >= 2 ** 64) return 0;
    return this.kmallocSlow(bytes, flags, -1, "__kmalloc");
  }

  kcalloc(n: number, size: number, flags: number): number {
    return this.kmalloc_array(n, size, PageApi.gfp(flags, "kcalloc") | __GFP_ZERO);
  }

  /** kfree(): NULL and ZERO_SIZE_PTR are no-ops; anything but an allocated object's start is refused. */
  kfree(objp: number): void {
    this.slab.kfree(objp);
  }

  /** ksize(): the bytes really usable behind a kmalloc'ed pointer. */
  ksize(objp: number): number {
    if (typeof objp !== "number") throw new TypeError("ksize: pointer must be a number");
    return this.slab.ksize(objp);
  }

  /** krealloc() (5.4): in place when ksize() allows, else a new object with the old bytes copied. */
  krealloc(p: number, new_size: number, flags: number): number {
    if (!Number.isInteger(new_size) || new_size < 0) throw new TypeError(`krealloc: bad size ${new_size}`);
    if (new_size === 0) {
      this.kfree(p);
      return ZERO_SIZE_PTR;
    }
    const ks = p ? this.slab.ksize(p) : 0;
    if (ks >= new_size) return p;
    const ret = this.kmallocSlow(new_size, flags, -1, "__kmalloc_track_caller");
    if (ret && p > ZERO_SIZE_PTR) {
      this.phys.copy(ret - PAGE_OFFSET, p - PAGE_OFFSET, ks);
      this.kfree(p);
    }
    return ret;
  }

  /** kzfree() (5.4; kfree_sensitive() from 5.9): zero the whole ksize() area, then free. */
  kzfree(p: number): void {
    if (p <= ZERO_SIZE_PTR) return;
    const ks = this.slab.ksize(p);
    if (ks) this.memset(p, 0, ks);
    this.kfree(p);
  }

  kfree_sensitive(p: number): void {
    this.kzfree(p);
  }

  /** kmem_cache_create(): a cache handle (its struct kmem_cache address), or 0 (NULL) on failure. */
  kmem_cache_create(
    name: string,
    size: number,
    align: number,
    flags: number,
    ctor: Ctor | null = null,
  ): number {
    return this.slab.create(name, size, align, flags, ctor, "kmem_cache_create");
  }

  kmem_cache_alloc(cachep: number, flags: number): number {
    const s = this.slab.cacheOf(cachep, "kmem_cache_alloc");
    return s ? this.slub.alloc(s, PageApi.gfp(flags, "kmem_cache_alloc"), -1) : 0;
  }

  kmem_cache_zalloc(cachep: number, flags: number): number {
    return this.kmem_cache_alloc(cachep, PageApi.gfp(flags, "kmem_cache_zalloc") | __GFP_ZERO);
  }

  kmem_cache_alloc_node(cachep: number, flags: number, node: number): number {
    if (!Number.isInteger(node) || node < -1 || node >= this.nodes.length)
      throw new RangeError(`kmem_cache_alloc_node: no node ${node}`);
    const s = this.slab.cacheOf(cachep, "kmem_cache_alloc_node");
    return s ? this.slub.alloc(s, PageApi.gfp(flags, "kmem_cache_alloc_node"), node) : 0;
  }

  kmem_cache_free(cachep: number, objp: number): void {
    if (typeof objp !== "number") throw new TypeError("kmem_cache_free: object must be a number");
    const s = this.slab.cacheOf(cachep, "kmem_cache_free");
    if (s && objp !== 0) this.slab.freeObject(s, objp, "kmem_cache_free");
  }

  /** kmem_cache_alloc_bulk(): fills p[0..size), returns size, or 0 with nothing kept. */
  kmem_cache_alloc_bulk(cachep: number, flags: number, size: number, p: number[]): number {
    if (!Number.isInteger(size) || size < 0) throw new TypeError(`kmem_cache_alloc_bulk: bad size ${size}`);
    const s = this.slab.cacheOf(cachep, "kmem_cache_alloc_bulk");
    if (!s) return 0;
    const gfp = PageApi.gfp(flags, "kmem_cache_alloc_bulk");
    for (let i = 0; i < size; i++) {
      const o = this.slub.alloc(s, gfp, -1);
      if (o === 0) {
        for (let j = 0; j < i; j++) this.slab.freeObject(s, p[j]!, "kmem_cache_free_bulk");
        return 0;
      }
      p[i] = o;
    }
    return size;
  }

  /** kmem_cache_free_bulk(): with a NULL cache each object goes back to its own (kfree_bulk). */
  kmem_cache_free_bulk(cachep: number, size: number, p: readonly number[]): void {
    if (!Number.isInteger(size) || size < 0 || size > p.length)
      throw new TypeError(`kmem_cache_free_bulk: bad size ${size}`);
    const s = cachep === 0 ? null : this.slab.cacheOf(cachep, "kmem_cache_free_bulk");
    if (cachep !== 0 && !s) return;
    for (let i = 0; i < size; i++) if (p[i]) this.slab.freeObject(s, p[i]!, "kmem_cache_free_bulk");
  }

  /** kmem_cache_shrink(): 0 when the cache holds no slabs any more. */
  kmem_cache_shrink(cachep: number): number {
    const s = this.slab.cacheOf(cachep, "kmem_cache_shrink");
    return s ? this.slub.shrink(s) : 0;
  }

  kmem_cache_destroy(cachep: number): void {
    this.slab.destroy(cachep);
  }

  /** kmem_cache_size(): the object size the cache was created for. */
  kmem_cache_size(cachep: number): number {
    const s = this.slab.cacheOf(cachep, "kmem_cache_size");
    return s ? s.objectSize : 0;
  }

  /** print_hex_dump_bytes(): print_hex_dump(KERN_DEBUG, prefix, type, 16, 1, buf, len, true). */
  print_hex_dump_bytes(prefix_str: string, prefix_type: number, buf: number, len: number): void {
    this.print_hex_dump(KERN.DEBUG, prefix_str, prefix_type, 16, 1, buf, len, true);
  }

  /** print_hex_dump() with groupsize 1; DUMP_PREFIX_ADDRESS rows print as %p (hashed). */
  print_hex_dump(
    level: string,
    prefix_str: string,
    prefix_type: number,
    rowsize: number,
    _groupsize: number,
    buf: number,
    len: number,
    ascii: boolean,
  ): void {
    const bytes = this.memAccess.readBytes(buf, len);
    const rows = hexDumpLines(prefix_str, prefix_type, rowsize, bytes, buf, ascii, (a) =>
      this.core.printfCtx.hashPointer(a),
    );
    for (const r of rows) this.core.printk(`${level}%s\n`, r);
  }

  // ---- vmalloc (mm/vmalloc.c) and kvmalloc (mm/util.c) -------------------------------------------

  private vsize(size: number, fn: string): number {
    // An unsigned long: any integer below 2^64 (above 2^53 only the multiples JS can hold).
    if (!Number.isInteger(size) || size < 0 || size >= 2 ** 64)
      throw new TypeError(`${fn}: size must be a non-negative integer, got ${size}`);
    return size;
  }

  private vnode(node: number, fn: string): number {
    if (!Number.isInteger(node) || node < -1 || node >= this.nodes.length)
      throw new RangeError(`${fn}: no node ${node}`);
    return node;
  }

  /** __vmalloc_node(): the common path of the vmalloc family; `fns` are the frames below warn_alloc. */
  private vmallocNode(
    size: number,
    align: number,
    gfp: number,
    prot: number,
    vmFlags: number,
    node: number,
    fns: string[],
  ): number {
    const caller = this.core.saveStack([]);
    return this.vm.vmallocNodeRange(
      size,
      align,
      VMALLOC_START,
      VMALLOC_END,
      gfp,
      prot,
      vmFlags,
      node,
      caller,
      fns,
    );
  }

  /** vmalloc(): virtually contiguous pages (not zeroed), one guard page after them; 0 on failure. */
  vmalloc(size: number): number {
    return this.vmallocNode(this.vsize(size, "vmalloc"), 1, GFP_KERNEL, PAGE_KERNEL, 0, -1, [
      "__vmalloc_node",
      "vmalloc",
    ]);
  }

  vzalloc(size: number): number {
    return this.vmallocNode(this.vsize(size, "vzalloc"), 1, GFP_KERNEL | __GFP_ZERO, PAGE_KERNEL, 0, -1, [
      "__vmalloc_node",
      "vzalloc",
    ]);
  }

  vmalloc_node(size: number, node: number): number {
    const n = this.vnode(node, "vmalloc_node");
    return this.vmallocNode(this.vsize(size, "vmalloc_node"), 1, GFP_KERNEL, PAGE_KERNEL, 0, n, [
      "__vmalloc_node",
      "vmalloc_node",
    ]);
  }

  vzalloc_node(size: number, node: number): number {
    const n = this.vnode(node, "vzalloc_node");
    return this.vmallocNode(this.vsize(size, "vzalloc_node"), 1, GFP_KERNEL | __GFP_ZERO, PAGE_KERNEL, 0, n, [
      "__vmalloc_node",
      "vzalloc_node",
    ]);
  }

  /** vmalloc_user(): zeroed, SHMLBA-aligned, marked VM_USERMAP (for remap_vmalloc_range). */
  vmalloc_user(size: number): number {
    return this.vmallocNode(
      this.vsize(size, "vmalloc_user"),
      PAGE_SIZE,
      GFP_KERNEL | __GFP_ZERO,
      PAGE_KERNEL,
      VM_USERMAP,
      -1,
      ["vmalloc_user"],
    );
  }

  /** vmalloc_32(): pages the DMA32 zone can give (GFP_VMALLOC32 = GFP_DMA32 | GFP_KERNEL). */
  vmalloc_32(size: number): number {
    return this.vmallocNode(this.vsize(size, "vmalloc_32"), 1, GFP_DMA32 | GFP_KERNEL, PAGE_KERNEL, 0, -1, [
      "__vmalloc_node",
      "vmalloc_32",
    ]);
  }

  vmalloc_32_user(size: number): number {
    return this.vmallocNode(
      this.vsize(size, "vmalloc_32_user"),
      PAGE_SIZE,
      GFP_DMA32 | GFP_KERNEL | __GFP_ZERO,
      PAGE_KERNEL,
      VM_USERMAP,
      -1,
      ["vmalloc_32_user"],
    );
  }

  private vprot(prot: number, fn: string): number {
    if (!Number.isInteger(prot) || prot < 0 || prot > 0xfff) throw new TypeError(`${fn}: bad pgprot ${prot}`);
    return prot;
  }

  /** __vmalloc(size, gfp_mask, prot): 5.4's signature (5.8 dropped prot), e.g. PAGE_KERNEL_RO pages. */
  __vmalloc(size: number, gfp_mask: number, prot: number): number {
    const gfp = PageApi.gfp(gfp_mask, "__vmalloc");
    return this.vmallocNode(this.vsize(size, "__vmalloc"), 1, gfp, this.vprot(prot, "__vmalloc"), 0, -1, [
      "__vmalloc_node",
      "__vmalloc",
    ]);
  }

  /**
   * __vmalloc_node_range(): the general form, over [start, end] inside the vmalloc or modules range,
   * at `align` bytes (a power of two).
   */
  __vmalloc_node_range(
    size: number,
    align: number,
    start: number,
    end: number,
    gfp_mask: number,
    prot: number,
    vm_flags: number,
    node: number,
  ): number {
    const fn = "__vmalloc_node_range";
    // An unsigned long power of two: up to 2^63, all exact as doubles.
    if (typeof align !== "number" || !Number.isInteger(Math.log2(align)) || align > 2 ** 63)
      throw new TypeError(`${fn}: align must be a power of two, got ${align}`);
    const inVmalloc = start >= VMALLOC_START && end <= VMALLOC_END;
    const inModules = start >= MODULES_VADDR && end <= MODULES_END;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start > end ||
      !(inVmalloc || inModules)
    )
      throw new RangeError(`${fn}: [${start}, ${end}] is not inside the vmalloc or modules range`);
    if (!Number.isInteger(vm_flags) || vm_flags & ~(VM_USERMAP | 0x40))
      throw new TypeError(`${fn}: bad vm_flags ${vm_flags}`);
    const caller = this.core.saveStack([]);
    return this.vm.vmallocNodeRange(
      this.vsize(size, fn),
      align,
      start,
      end,
      PageApi.gfp(gfp_mask, fn),
      this.vprot(prot, fn),
      vm_flags,
      this.vnode(node, fn),
      caller,
      [],
    );
  }

  /** vfree(): NULL is a no-op; anything but a live vmalloc area is refused with the kernel's WARN. */
  vfree(addr: number): void {
    if (addr === 0) return;
    kernelAddress(addr, "vfree");
    this.vm.vunmap(addr, true, "vfree");
  }

  /** vmap(): map `count` pages (struct page pointers) contiguously; 0 on failure. */
  vmap(pages: readonly number[], count: number, flags: number, prot: number): number {
    if (!Number.isInteger(count) || count < 0 || count > pages.length)
      throw new TypeError(`vmap: bad count ${count}`);
    if (!Number.isInteger(flags) || flags & ~(0x4 | VM_USERMAP | 0x40))
      throw new TypeError(`vmap: bad flags ${flags}`);
    const pfns: number[] = [];
    for (let i = 0; i < count; i++) {
      const pfn = this.api.pagePfn(pages[i]!, "vmap");
      if (pfn === NIL) return 0;
      pfns.push(pfn);
    }
    if (count === 0) return 0;
    return this.vm.vmap(pfns, flags, this.vprot(prot, "vmap"), this.core.saveStack([]));
  }

  /** vunmap(): unmap a vmap()ed (or vmalloc()ed) area without freeing its pages. */
  vunmap(addr: number): void {
    if (addr === 0) return;
    kernelAddress(addr, "vunmap");
    this.vm.vunmap(addr, false, "vunmap");
  }

  /** vmalloc_to_page(): the struct page mapped at a vmalloc/module address (a page-table walk), or NULL. */
  vmalloc_to_page(addr: number): number | null {
    kernelAddress(addr, "vmalloc_to_page");
    const pfn = isVmallocOrModuleAddr(addr) ? this.vm.pfnAt(addr) : -1;
    return pfn < 0 ? null : pageHandle(pfn);
  }

  /** vmalloc_to_pfn() = page_to_pfn(vmalloc_to_page()): for NULL that is (0 - vmemmap) / 64, as in C. */
  vmalloc_to_pfn(addr: number): number {
    const page = this.vmalloc_to_page(addr);
    return page === null ? (2 ** 48 - VMEMMAP_START) / STRUCT_PAGE_SIZE : this.page_to_pfn(page);
  }

  is_vmalloc_addr(addr: number): boolean {
    return isVmallocAddr(addr);
  }

  /** find_vm_area(): the struct vm_struct of the live area holding `addr`, or 0. */
  find_vm_area(addr: number): number {
    kernelAddress(addr, "find_vm_area");
    const n = this.vm.findVmArea(addr);
    return n < 0 ? 0 : this.vm.areas.vm[n]!;
  }

  /**
   * kvmalloc_node() as 5.4 has it: flags that are not a superset of GFP_KERNEL stay with kmalloc; above a
   * page, kmalloc is tried quietly (and without retrying) first, then vmalloc with the caller's flags.
   */
  kvmalloc_node(size: number, flags: number, node: number): number {
    const gfp = PageApi.gfp(flags, "kvmalloc_node");
    this.vsize(size, "kvmalloc_node");
    this.vnode(node, "kvmalloc_node");
    if ((gfp & GFP_KERNEL) !== GFP_KERNEL) return this.kmalloc_node(size, gfp, node);
    let kflags = gfp;
    if (size > PAGE_SIZE) {
      kflags |= __GFP_NOWARN;
      if (!(kflags & __GFP_RETRY_MAYFAIL)) kflags |= __GFP_NORETRY;
    }
    const p = this.kmalloc_node(size, kflags, node);
    if (p !== 0 || size <= PAGE_SIZE) return p;
    return this.vmallocNode(size, 1, gfp, PAGE_KERNEL, 0, node, [
      "__vmalloc_node",
      "__vmalloc_node_flags_caller",
      "kvmalloc_node",
    ]);
  }

  kvmalloc(size: number, flags: number): number {
    return this.kvmalloc_node(size, flags, -1);
  }

  kvzalloc(size: number, flags: number): number {
    return this.kvmalloc_node(size, PageApi.gfp(flags, "kvzalloc") | __GFP_ZERO, -1);
  }

  kvzalloc_node(size: number, flags: number, node: number): number {
    return this.kvmalloc_node(size, PageApi.gfp(flags, "kvzalloc_node") | __GFP_ZERO, node);
  }

  /** kvmalloc_array(): NULL when n * size overflows size_t. */
  kvmalloc_array(n: number, size: number, flags: number): number {
    for (const v of [n, size])
      if (!Number.isInteger(v) || v < 0) throw new TypeError(`kvmalloc_array: bad count or size ${v}`);
    // check_mul_overflow(): 2^64 - 1 is not a double, so "beyond size_t" is >= 2^64.
    if (n * size >= 2 ** 64) return 0;
    return this.kvmalloc(n * size, flags);
  }

  kvcalloc(n: number, size: number, flags: number): number {
    return this.kvmalloc_array(n, size, PageApi.gfp(flags, "kvcalloc") | __GFP_ZERO);
  }

  /** kvfree(): vfree() for a vmalloc address, kfree() for anything else. */
  kvfree(addr: number): void {
    if (isVmallocAddr(addr)) this.vfree(addr);
    else this.kfree(addr);
  }

  // ---- memory access ---------------------------------------------------------------------------

  read8(addr: number): number {
    return this.memAccess.read8(addr);
  }
  read16(addr: number): number {
    return this.memAccess.read16(addr);
  }
  read32(addr: number): number {
    return this.memAccess.read32(addr);
  }
  read64(addr: number): bigint {
    return this.memAccess.read64(addr);
  }
  write8(addr: number, v: number): void {
    this.memAccess.write8(addr, v);
  }
  write16(addr: number, v: number): void {
    this.memAccess.write16(addr, v);
  }
  write32(addr: number, v: number): void {
    this.memAccess.write32(addr, v);
  }
  write64(addr: number, v: bigint | number): void {
    this.memAccess.write64(addr, BigInt(v));
  }
  memset(addr: number, c: number, n: number): number {
    this.memAccess.memset(addr, c, n);
    return addr;
  }
  memcpy(dst: number, src: number, n: number): number {
    this.memAccess.memcpy(dst, src, n);
    return dst;
  }
  readBytes(addr: number, n: number): Uint8Array {
    return this.memAccess.readBytes(addr, n);
  }
  writeBytes(addr: number, bytes: Uint8Array): void {
    this.memAccess.writeBytes(addr, bytes);
  }

  // ---- log -------------------------------------------------------------------------------------

  printk(fmt: string, ...args: unknown[]): void {
    this.core.printk(fmt, ...args);
  }
  pr_emerg(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.EMERG + fmt, ...args);
  }
  pr_alert(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.ALERT + fmt, ...args);
  }
  pr_crit(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.CRIT + fmt, ...args);
  }
  pr_err(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.ERR + fmt, ...args);
  }
  pr_warn(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.WARNING + fmt, ...args);
  }
  pr_notice(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.NOTICE + fmt, ...args);
  }
  pr_info(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.INFO + fmt, ...args);
  }
  /** The book's modules build with -DDEBUG, so pr_debug output is logged. */
  pr_debug(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.DEBUG + fmt, ...args);
  }
  pr_cont(fmt: string, ...args: unknown[]): void {
    this.core.printk(KERN.CONT + fmt, ...args);
  }

  /** WARN(condition, fmt, ...): a warning splat at the caller's source line when `condition` holds. */
  WARN(condition: unknown, fmt: string, ...args: unknown[]): boolean {
    if (condition) this.core.warnAtCaller(vsprintf(fmt, args, this.core.printfCtx).replace(/\n$/, ""), false);
    return !!condition;
  }

  /** WARN_ONCE(): as WARN(), once per call site. */
  WARN_ONCE(condition: unknown, fmt: string, ...args: unknown[]): boolean {
    if (condition) this.core.warnAtCaller(vsprintf(fmt, args, this.core.printfCtx).replace(/\n$/, ""), true);
    return !!condition;
  }

  /** WARN_ON(condition): the splat without a message. */
  WARN_ON(condition: unknown): boolean {
    if (condition) this.core.warnAtCaller("", false);
    return !!condition;
  }

  WARN_ON_ONCE(condition: unknown): boolean {
    if (condition) this.core.warnAtCaller("", true);
    return !!condition;
  }

  /** dump_stack(): the CPU line and the call trace of the caller. */
  dump_stack(): void {
    this.core.dumpStack([]);
  }

  /** The kernel log with timestamps; `from` is a position from logMark(). */
  dmesg(from = 0): string {
    return this.core.log.dump(from);
  }

  /** A position in the log, for reading only what came after it. */
  logMark(): number {
    this.core.log.dump(this.core.log.records.length);
    return this.core.log.records.length;
  }

  /** msleep(): the virtual clock moves on. */
  msleep(ms: number): void {
    this.core.clock.advance(ms * 1_000_000);
  }

  // ---- files, modules, checks ------------------------------------------------------------------

  cat(path: string): string {
    return procCat(this, path);
  }

  echo(value: string | number, path: string): void {
    procEcho(this, String(value), path);
  }

  insmod(module: KernelModule, params: ModuleParams = {}): InsmodResult {
    return this.modules.insmod(module, params);
  }

  rmmod(name: string): InsmodResult {
    return this.modules.rmmod(name);
  }

  /** Walk every structure; the list of inconsistencies (empty when sound). */
  check(): string[] {
    return checkKernel(this);
  }

  /** Allocated pages nobody can free any more (the 5.4 non-compound __free_pages leak), as pfns. */
  leakedPages(): number[] {
    return orphanedPages(this);
  }
}
