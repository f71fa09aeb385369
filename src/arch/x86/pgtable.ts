// The kernel's page tables (init_mm) for everything that is not the direct map: vmalloc space and the
// modules area are mapped page by page, each PTE with its own present and writable bits. Four levels as
// on x86_64 without LA57 (the P4D level folds into the PGD). Lookups go through one table of 512 PTEs
// per 2 MiB (a PMD entry's worth); the PTE, PMD and PUD table pages themselves are real pages taken from
// the page allocator the first time a range is mapped (pte_alloc_kernel, pmd_alloc, pud_alloc), never
// freed again, and each PTE is also written into its table page, so the page holds what the kernel's
// would. Translation only trusts the typed arrays: a stray write into a table page cannot remap memory.

import { PAGE_SIZE } from "./layout.ts";

/** _PAGE_PRESENT, _PAGE_RW: the two PTE bits a kernel access checks. */
export const _PAGE_PRESENT = 0x1;
export const _PAGE_RW = 0x2;
const _PAGE_GLOBAL = 0x100;
/** PAGE_KERNEL and PAGE_KERNEL_RO (low 12 bits; _PAGE_NX is implied: nothing here executes). */
export const PAGE_KERNEL = 0x163;
export const PAGE_KERNEL_RO = 0x161;
/** _PAGE_TABLE: the flags of a PGD/PUD/PMD entry pointing to a lower table (present, rw, user, accessed, dirty). */
const _PAGE_TABLE = 0x67;
const _PAGE_NX = 1n << 63n;

const PTRS_PER_TABLE = 512;
/** Pages per PTE table (2 MiB), per PMD table (1 GiB), per PUD table (512 GiB). */
const PTE_SPAN = PTRS_PER_TABLE;
const PMD_SPAN = PTE_SPAN * PTRS_PER_TABLE;
const PUD_SPAN = PMD_SPAN * PTRS_PER_TABLE;

/** Where table pages come from: an order-0 GFP_PGTABLE_KERNEL page's pfn, or -1. */
export interface TablePages {
  allocTable(fn: string): number;
  /** Store a 64-bit entry into a table page (physical address), for the page's contents. */
  writeEntry(phys: number, lo: number, hi: number): void;
}

export class PageTables {
  /** PTE tables by 2 MiB index: pfn * 4096 + flags per entry, 0 = pte_none. */
  private readonly pte = new Map<number, Float64Array>();
  /** The pfn of each PTE, PMD and PUD table page (by the index of the range it maps). */
  private readonly ptePage = new Map<number, number>();
  private readonly pmdPage = new Map<number, number>();
  private readonly pudPage = new Map<number, number>();
  /** Present PTEs (for k.check()). */
  mapped = 0;
  /** Called whenever a mapping goes away or loses rights: the TLB must forget it (flush_tlb_kernel_range). */
  onFlush: () => void = () => {};

  constructor(private readonly tables: TablePages) {}

  /**
   * Make sure the PUD, PMD and PTE tables for `vpage` exist (the *_alloc() calls of vmap_page_range);
   * false when a table page could not be allocated.
   */
  private table(vpage: number): Float64Array | null {
    const i = Math.floor(vpage / PTE_SPAN);
    const t = this.pte.get(i);
    if (t) return t;
    const pud = Math.floor(vpage / PUD_SPAN);
    const pmd = Math.floor(vpage / PMD_SPAN);
    if (!this.pudPage.has(pud)) {
      const pfn = this.tables.allocTable("pud_alloc");
      if (pfn < 0) return null;
      this.pudPage.set(pud, pfn);
    }
    if (!this.pmdPage.has(pmd)) {
      const pfn = this.tables.allocTable("pmd_alloc");
      if (pfn < 0) return null;
      this.pmdPage.set(pmd, pfn);
      this.store(this.pudPage.get(pud)!, pmd % PTRS_PER_TABLE, pfn * PAGE_SIZE + _PAGE_TABLE, false);
    }
    const pfn = this.tables.allocTable("pte_alloc_kernel");
    if (pfn < 0) return null;
    this.ptePage.set(i, pfn);
    this.store(this.pmdPage.get(pmd)!, i % PTRS_PER_TABLE, pfn * PAGE_SIZE + _PAGE_TABLE, false);
    const fresh = new Float64Array(PTRS_PER_TABLE);
    this.pte.set(i, fresh);
    return fresh;
  }

  /** Write a 64-bit entry, given as a number below 2^53 plus the NX bit, into its table page. */
  private store(tablePfn: number, idx: number, v: number, nx: boolean): void {
    const hi = Math.floor(v / 2 ** 32);
    this.tables.writeEntry(tablePfn * PAGE_SIZE + idx * 8, v >>> 0, (nx ? hi | 0x80000000 : hi) >>> 0);
  }

  private pteValue(raw: number): bigint {
    return raw === 0 ? 0n : BigInt(raw) | _PAGE_NX;
  }

  /** Allocate the tables for [vpage, vpage+n) up front (so mapping cannot fail half-way); false on ENOMEM. */
  prepare(vpage: number, n: number): boolean {
    for (let v = vpage; v < vpage + n; v = (Math.floor(v / PTE_SPAN) + 1) * PTE_SPAN)
      if (!this.table(v)) return false;
    return true;
  }

  /** set_pte_at(mk_pte(page, prot)); the tables must have been prepared. */
  set(vpage: number, pfn: number, prot: number): void {
    const i = Math.floor(vpage / PTE_SPAN);
    const t = this.pte.get(i)!;
    const slot = vpage % PTE_SPAN;
    if (t[slot] === 0 && prot & _PAGE_PRESENT) this.mapped++;
    // With PTI the kernel's mappings are not global (__default_kernel_pte_mask).
    t[slot] = pfn * 4096 + (prot & 0xfff & ~_PAGE_GLOBAL);
    this.store(this.ptePage.get(i)!, slot, t[slot]!, true);
  }

  /**
   * vunmap_page_range(): ptep_get_and_clear() on [vpage, vpage+n), then one TLB flush for the range.
   * `pfns`, if given, receives the frame each present PTE mapped (-1 for none).
   */
  clearRange(vpage: number, n: number, pfns: Float64Array | null): void {
    for (let v = vpage; v < vpage + n; v++) {
      const i = Math.floor(v / PTE_SPAN);
      const t = this.pte.get(i);
      const slot = v % PTE_SPAN;
      const e = t ? t[slot]! : 0;
      if (pfns && v - vpage < pfns.length)
        pfns[v - vpage] = (e % 4096) & _PAGE_PRESENT ? Math.floor(e / 4096) : -1;
      if (e === 0) continue;
      if ((e % 4096) & _PAGE_PRESENT) this.mapped--;
      t![slot] = 0;
      this.store(this.ptePage.get(i)!, slot, 0, false);
    }
    this.onFlush();
  }

  /** The raw PTE of a page: pfn * 4096 + flags, 0 when none. */
  lookup(vpage: number): number {
    const t = this.pte.get(Math.floor(vpage / PTE_SPAN));
    return t ? t[vpage % PTE_SPAN]! : 0;
  }

  /** The pfn a present PTE maps, or -1 (vmalloc_to_page's walk). */
  pfnOf(vpage: number): number {
    const e = this.lookup(vpage);
    return (e % 4096) & _PAGE_PRESENT ? Math.floor(e / 4096) : -1;
  }

  /** dump_pagetable(): "PGD … P4D … PUD … PMD … PTE …" as far as the walk goes (values as %lx). */
  walk(vpage: number): string {
    const entry = (pfn: number) => (pfn * PAGE_SIZE + _PAGE_TABLE).toString(16);
    const pud = this.pudPage.get(Math.floor(vpage / PUD_SPAN));
    if (pud === undefined) return "PGD 0 P4D 0 ";
    const pgd = entry(pud);
    const pmd = this.pmdPage.get(Math.floor(vpage / PMD_SPAN));
    if (pmd === undefined) return `PGD ${pgd} P4D ${pgd} PUD 0 `;
    const pte = this.ptePage.get(Math.floor(vpage / PTE_SPAN));
    if (pte === undefined) return `PGD ${pgd} P4D ${pgd} PUD ${entry(pmd)} PMD 0 `;
    return `PGD ${pgd} P4D ${pgd} PUD ${entry(pmd)} PMD ${entry(pte)} PTE ${this.pteValue(this.lookup(vpage)).toString(16)}`;
  }

  /** Every table page (for k.check()). */
  tablePfns(): number[] {
    return [...this.pudPage.values(), ...this.pmdPage.values(), ...this.ptePage.values()];
  }

  /** Count present PTEs by walking every table (k.check() compares it with `mapped`). */
  countPresent(): number {
    let n = 0;
    for (const t of this.pte.values()) for (const e of t) if ((e % 4096) & _PAGE_PRESENT) n++;
    return n;
  }
}
