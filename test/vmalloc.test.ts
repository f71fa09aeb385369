// vmalloc: the vmap space (lowest fit, guard pages, lazy purge), the page tables every access goes
// through, the faults they raise, and the vmalloc family's variants (kernel-facts §8, §9).
import { describe, expect, it } from "vitest";
import {
  __GFP_ZERO,
  boot,
  GFP_KERNEL,
  hex16,
  KernelOops,
  PAGE_KERNEL,
  PAGE_KERNEL_RO,
  PAGE_OFFSET,
  PAGE_SIZE,
  VM_MAP,
  VMALLOC_END,
  VMALLOC_START,
} from "../src/index.ts";
import { freeWithPcp, log } from "./helpers/machine.ts";

const GUARD = PAGE_SIZE;

/** The backing page frame's direct-map address for a vmalloc address. */
function frameOf(k: ReturnType<typeof boot>, v: number): number {
  const page = k.vmalloc_to_page(v);
  expect(page).not.toBeNull();
  return k.page_address(page!) + (v % PAGE_SIZE);
}

describe("the vmap space", () => {
  it("places areas from VMALLOC_START upwards, each followed by one guard page", () => {
    const k = boot({ mem: "1G" });
    const a = k.vmalloc(10000);
    const b = k.vmalloc(1);
    const c = k.vmalloc(3 * PAGE_SIZE);
    expect(a).toBe(VMALLOC_START);
    expect(b).toBe(a + 3 * PAGE_SIZE + GUARD);
    expect(c).toBe(b + PAGE_SIZE + GUARD);
    expect(hex16(a)).toBe("ffffc90000000000");
    for (const v of [a, b, c]) expect(k.is_vmalloc_addr(v)).toBe(true);
    expect(k.is_vmalloc_addr(VMALLOC_END)).toBe(false);
    expect(k.is_vmalloc_addr(VMALLOC_END - 1)).toBe(true);
    expect(k.is_vmalloc_addr(PAGE_OFFSET)).toBe(false);
    expect(k.check()).toEqual([]);
  });

  it("reuses the lowest hole that fits once freed ranges are purged", () => {
    const k = boot({ mem: "1G" });
    const a = k.vmalloc(2 * PAGE_SIZE);
    const b = k.vmalloc(PAGE_SIZE);
    const c = k.vmalloc(PAGE_SIZE);
    k.vfree(a);
    k.vfree(c);
    // Freed ranges wait on the lazy list: a new area goes above everything.
    const d = k.vmalloc(PAGE_SIZE);
    expect(d).toBe(c + 2 * PAGE_SIZE);
    k.vm.purgeLazy();
    // a's 3-page hole (2 pages + guard) is the lowest that fits a 1-page area.
    expect(k.vmalloc(PAGE_SIZE)).toBe(a);
    expect(k.vmalloc(PAGE_SIZE)).toBe(c);
    void b;
    expect(k.check()).toEqual([]);
  });

  it("frees lazily until more than lazy_max_pages (fls(cpus) * 32 MiB) wait, then purges them all", () => {
    const k = boot({ mem: "1G", cpus: 2 });
    expect(k.vm.lazyMaxPages()).toBe(2 * 8192);
    const MB = 1 << 20;
    const x = k.vmalloc(30 * MB);
    const y = k.vmalloc(30 * MB);
    const z = k.vmalloc(30 * MB);
    k.vfree(x);
    k.vfree(y);
    // Each 30 MiB area (7680 pages + guard) has a 60 KiB page array vmalloc'ed beside it (15 + 1):
    // 2 x 7697 = 15394 pages <= 16384, so all four ranges are still unpurged.
    expect(k.vm.areas.purge.length).toBe(4);
    expect(k.vm.areas.lazyPages).toBe(2 * 7697);
    expect(k.cat("/proc/vmallocinfo").match(/unpurged vm_area/g)).toHaveLength(4);
    k.vfree(z);
    // z's own range tips the count over: everything is purged; then its page array is freed, and that
    // range is the only one left waiting (__vunmap frees the array after remove_vm_area).
    expect(k.vm.areas.purge.length).toBe(1);
    expect(k.vm.areas.lazyPages).toBe(16);
    expect(k.check()).toEqual([]);
  });

  it("keeps its page tables in real pages taken from the page allocator (PUD, PMD and PTE tables)", () => {
    const k = boot({ mem: "1G" });
    const before = freeWithPcp(k);
    const v = k.vmalloc(PAGE_SIZE);
    const tables = k.vm.pt.tablePfns();
    expect(tables).toHaveLength(3);
    for (const pfn of tables) expect(k.page_ref_count(k.pfn_to_page(pfn))).toBe(1);
    // One data page, three table pages, and whatever slab pages the bookkeeping needed.
    expect(before - freeWithPcp(k)).toBeGreaterThanOrEqual(4);
    // The PTE table holds the entry the walk prints: pfn << 12 | 0x63 with NX (PAGE_KERNEL without G).
    const pfn = k.vmalloc_to_pfn(v);
    const pteTable = tables[2]!;
    expect(k.read64(PAGE_OFFSET + pteTable * PAGE_SIZE)).toBe((1n << 63n) | (BigInt(pfn) << 12n) | 0x63n);
    expect(k.check()).toEqual([]);
  });
});

describe("access through the page tables", () => {
  it("a write lands in the page frame the PTE names", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(10000);
    k.write32(v + 8000, 42);
    const second = k.vmalloc_to_page(v + PAGE_SIZE)!;
    expect(k.read32(k.page_address(second) + 8000 - PAGE_SIZE)).toBe(42);
    expect(k.vmalloc_to_pfn(v + 8000)).toBe(k.page_to_pfn(second));
    // The three pages are separate frames: virtually contiguous only.
    const pfns = [0, 1, 2].map((i) => k.vmalloc_to_pfn(v + i * PAGE_SIZE));
    expect(new Set(pfns).size).toBe(3);
  });

  it("accesses that straddle two pages read and write both frames", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(2 * PAGE_SIZE);
    k.write32(v + PAGE_SIZE - 2, 0x11223344);
    expect(k.read8(frameOf(k, v + PAGE_SIZE - 2))).toBe(0x44);
    expect(k.read8(frameOf(k, v + PAGE_SIZE - 1))).toBe(0x33);
    expect(k.read8(frameOf(k, v + PAGE_SIZE))).toBe(0x22);
    expect(k.read8(frameOf(k, v + PAGE_SIZE + 1))).toBe(0x11);
    expect(k.read32(v + PAGE_SIZE - 2)).toBe(0x11223344);
    expect(k.read16(v + PAGE_SIZE - 1)).toBe(0x2233);
    k.write64(v + PAGE_SIZE - 4, 0x0102030405060708n);
    expect(k.read64(v + PAGE_SIZE - 4)).toBe(0x0102030405060708n);
    expect(k.read32(frameOf(k, v + PAGE_SIZE))).toBe(0x01020304);
  });

  it("memset, memcpy, readBytes and writeBytes cross page boundaries and mix with the direct map", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(3 * PAGE_SIZE);
    k.memset(v, 0, 3 * PAGE_SIZE);
    k.memset(v + 100, 0xab, 2 * PAGE_SIZE);
    const got = k.readBytes(v, 3 * PAGE_SIZE);
    expect(got[99]).toBe(0);
    expect(got[100 + 2 * PAGE_SIZE]).toBe(0);
    expect(got.subarray(100, 100 + 2 * PAGE_SIZE).every((b) => b === 0xab)).toBe(true);
    expect(k.read8(frameOf(k, v + PAGE_SIZE))).toBe(0xab);
    const src = k.kmalloc(6000, GFP_KERNEL);
    const bytes = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7) & 0xff);
    k.writeBytes(src, bytes);
    k.memcpy(v + PAGE_SIZE - 50, src, 6000);
    expect(k.readBytes(v + PAGE_SIZE - 50, 6000)).toEqual(bytes);
    const back = k.kmalloc(6000, GFP_KERNEL);
    k.memcpy(back, v + PAGE_SIZE - 50, 6000);
    expect(k.readBytes(back, 6000)).toEqual(bytes);
    k.writeBytes(v + 2 * PAGE_SIZE - 3, Uint8Array.of(1, 2, 3, 4, 5));
    expect(Array.from(k.readBytes(v + 2 * PAGE_SIZE - 3, 5))).toEqual([1, 2, 3, 4, 5]);
    expect(k.check()).toEqual([]);
  });

  const faults: [string, string, string][] = [
    ["read of the guard page", "read", "0x0000) - not-present page"],
    ["write to the guard page", "write", "0x0002) - not-present page"],
  ];
  for (const [what, kind, code] of faults)
    it(`a ${what} is an Oops with the page-table walk`, () => {
      const k = boot({ mem: "1G" });
      const v = k.vmalloc(2 * PAGE_SIZE);
      const guard = v + 2 * PAGE_SIZE;
      const mark = k.logMark();
      expect(() => (kind === "read" ? k.read8(guard + 5) : k.write8(guard + 5, 1))).toThrow(KernelOops);
      const l = log(k, mark);
      expect(l[0]).toBe(`BUG: unable to handle page fault for address: ${hex16(guard + 5)}`);
      expect(l[1]).toBe(`#PF: supervisor ${kind} access in kernel mode`);
      expect(l[2]).toBe(`#PF: error_code(${code}`);
      const [pud, pmd, pte] = k.vm.pt.tablePfns().map((p) => `${(p * PAGE_SIZE + 0x67).toString(16)}`);
      expect(l[3]).toBe(`PGD ${pud} P4D ${pud} PUD ${pmd} PMD ${pte} PTE 0`);
      expect(l[4]).toBe(`Oops: 000${kind === "read" ? 0 : 2} [#1] SMP PTI`);
      expect(l).toContain(`CR2: ${hex16(guard + 5)}`);
      expect(k.cat("/proc/sys/kernel/tainted")).toBe("128\n");
      expect(k.check()).toEqual([]);
    });

  it("a straddling access faults at the first byte past the mapped page", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(PAGE_SIZE);
    const mark = k.logMark();
    expect(() => k.write32(v + PAGE_SIZE - 2, 0xffffffff)).toThrow(KernelOops);
    expect(log(k, mark)[0]).toBe(`BUG: unable to handle page fault for address: ${hex16(v + PAGE_SIZE)}`);
    // The two bytes inside the area were written before the fault, as a CPU would.
    expect(k.read16(v + PAGE_SIZE - 2)).toBe(0xffff);
  });

  it("a write into PAGE_KERNEL_RO memory is a permissions violation; reads work", () => {
    const k = boot({ mem: "1G" });
    const ro = k.__vmalloc(42 * PAGE_SIZE, GFP_KERNEL | __GFP_ZERO, PAGE_KERNEL_RO);
    expect(k.read64(ro + 4)).toBe(0n);
    const mark = k.logMark();
    expect(() => k.write64(ro + 4, 0xban)).toThrow(KernelOops);
    const l = log(k, mark);
    expect(l[1]).toBe("#PF: supervisor write access in kernel mode");
    expect(l[2]).toBe("#PF: error_code(0x0003) - permissions violation");
    const pfn = k.vmalloc_to_pfn(ro);
    expect(l[3]).toMatch(new RegExp(`PTE ${((1n << 63n) | (BigInt(pfn) << 12n) | 0x61n).toString(16)}$`));
    expect(l[4]).toBe("Oops: 0003 [#1] SMP PTI");
    expect(k.read64(ro + 4)).toBe(0n);
  });

  it("an access to a freed area faults (its PTEs are cleared at vfree, before the range is purged)", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(PAGE_SIZE);
    k.write8(v, 1);
    k.vfree(v);
    expect(k.vm.areas.purge.length).toBe(1);
    expect(() => k.read8(v)).toThrow(KernelOops);
    expect(k.vmalloc_to_page(v)).toBeNull();
    // page_to_pfn(NULL) as C computes it: (0 - vmemmap_base) / sizeof(struct page).
    expect(k.vmalloc_to_pfn(v)).toBe(0x5800000000);
  });

  it("an Oops inside a module ends that call: insmod reports a segmentation fault, the kernel goes on", () => {
    const k = boot({ mem: "1G" });
    let v = 0;
    const r = k.insmod({
      name: "guardwrite",
      init(kk) {
        v = kk.vmalloc(PAGE_SIZE);
        kk.write8(v + PAGE_SIZE, 1);
        return 0;
      },
    });
    expect(r).toEqual({ ok: false, message: "Segmentation fault" });
    expect(k.dmesg()).toContain("Modules linked in: guardwrite(O+)");
    k.vfree(v);
    expect(k.check()).toEqual([]);
  });
});

describe("the vmalloc family", () => {
  it("vzalloc's pages are zeroed even when the frames held data", () => {
    const k = boot({ mem: "1G", cpus: 1 });
    const v = k.vmalloc(4 * PAGE_SIZE);
    k.memset(v, 0x5a, 4 * PAGE_SIZE);
    k.vfree(v);
    const z = k.vzalloc(4 * PAGE_SIZE);
    expect(k.readBytes(z, 4 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });

  it("vmalloc_32 takes pages the DMA32 zone can give; vmalloc prefers Normal", () => {
    const k = boot({ mem: "8G" });
    const v32 = k.vmalloc_32(8 * PAGE_SIZE);
    const v = k.vmalloc(8 * PAGE_SIZE);
    for (let i = 0; i < 8; i++) {
      expect(k.vmalloc_to_pfn(v32 + i * PAGE_SIZE)).toBeLessThan(0x100000);
      expect(k.vmalloc_to_pfn(v + i * PAGE_SIZE)).toBeGreaterThanOrEqual(0x100000);
    }
  });

  it("vmalloc_node takes pages from the node asked for; vmallocinfo counts them per node", () => {
    const k = boot({ mem: "2G", nodes: 2 });
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    const v = k.vmalloc_node(5 * PAGE_SIZE, 1);
    for (let i = 0; i < 5; i++) expect(k.alloc.zoneOf(k.vmalloc_to_pfn(v + i * PAGE_SIZE)).nid).toBe(1);
    const line = k.cat("/proc/vmallocinfo").split("\n")[0]!;
    expect(line.startsWith(`0x${hex16(v)}-0x${hex16(v + 6 * PAGE_SIZE)}   24576 `)).toBe(true);
    expect(line.endsWith(" pages=5 vmalloc N1=5")).toBe(true);
  });

  it("vmalloc_user is zeroed and marked for user mapping; an array past one page is vmalloc'ed (vpages)", () => {
    const k = boot({ mem: "1G" });
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    const u = k.vmalloc_user(3 * PAGE_SIZE);
    expect(k.readBytes(u, 3 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    // 600 pages need a 4800-byte array of struct page pointers: more than a page, so vmalloc'ed itself.
    const big = k.vmalloc(600 * PAGE_SIZE);
    const lines = k.cat("/proc/vmallocinfo").trim().split("\n");
    expect(lines[0]).toMatch(/ pages=3 vmalloc user N0=3$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^0x${hex16(big)}-0x${hex16(big + 601 * PAGE_SIZE)} 2461696 .* pages=600 vmalloc vpages N0=600$`,
      ),
    );
    // The nested array area: 2 pages + guard, right after the big area, with the same caller.
    const arr = big + 601 * PAGE_SIZE;
    expect(lines[2]).toMatch(
      new RegExp(`^0x${hex16(arr)}-0x${hex16(arr + 3 * PAGE_SIZE)}   12288 .* pages=2 vmalloc N0=2$`),
    );
    expect(lines[1]!.split(/ +/)[2]).toBe(lines[2]!.split(/ +/)[2]);
    // The array really holds the struct page pointers of the 600 pages.
    for (const i of [0, 1, 599])
      expect(Number(k.read64(arr + i * 8) & 0xffffffffffffn)).toBe(k.vmalloc_to_page(big + i * PAGE_SIZE));
    k.vfree(big);
    expect(k.cat("/proc/vmallocinfo").match(/unpurged vm_area/g)).toHaveLength(2);
    expect(k.check()).toEqual([]);
  });

  it("find_vm_area gives the vm_struct, whose memory holds the area's address, size, flags and page count", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(10000);
    const vm = k.find_vm_area(v + 5000);
    expect(vm).toBeGreaterThan(PAGE_OFFSET);
    expect(k.ksize(vm)).toBe(64);
    expect(k.read64(vm + 8)).toBe(BigInt(`0x${hex16(v)}`));
    expect(k.read64(vm + 16)).toBe(16384n);
    expect(k.read64(vm + 24)).toBe(2n); // VM_ALLOC
    expect(k.read32(vm + 40)).toBe(3);
    expect(k.find_vm_area(v + 4 * PAGE_SIZE)).toBe(0);
    expect(k.find_vm_area(PAGE_OFFSET)).toBe(0);
  });

  it("VmallocUsed counts vmalloc'ed pages (not guard pages, not vmap)", () => {
    const k = boot({ mem: "1G" });
    const used = () => /VmallocUsed:\s+(\d+) kB/.exec(k.cat("/proc/meminfo"))![1];
    expect(used()).toBe("0");
    const v = k.vmalloc(10000);
    expect(used()).toBe("12");
    const p = k.alloc_pages(GFP_KERNEL, 0)!;
    const m = k.vmap([p], 1, VM_MAP, PAGE_KERNEL);
    expect(used()).toBe("12");
    k.vfree(v);
    expect(used()).toBe("0");
    k.vunmap(m);
  });
});

describe("vmap and vunmap", () => {
  it("map given pages contiguously without owning them", () => {
    const k = boot({ mem: "1G" });
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    const pages = [0, 1, 2].map(() => k.alloc_pages(GFP_KERNEL, 0)!);
    pages.forEach((p, i) => {
      k.memset(k.page_address(p), 0x10 + i, PAGE_SIZE);
    });
    const v = k.vmap(pages, 3, VM_MAP, PAGE_KERNEL);
    expect(v).toBe(VMALLOC_START);
    expect([0, 1, 2].map((i) => k.read8(v + i * PAGE_SIZE + 17))).toEqual([0x10, 0x11, 0x12]);
    expect(k.vmalloc_to_page(v + PAGE_SIZE)).toBe(pages[1]);
    expect(k.cat("/proc/vmallocinfo")).toMatch(
      new RegExp(`^0x${hex16(v)}-0x${hex16(v + 4 * PAGE_SIZE)}   16384 \\S+ vmap\\n$`),
    );
    k.vunmap(v);
    for (const p of pages) expect(k.page_ref_count(p)).toBe(1);
    expect(() => k.read8(v)).toThrow(KernelOops);
    for (const p of pages) k.__free_page(p);
    expect(k.check()).toEqual([]);
  });

  it("a read-only vmap of a page still written through the direct map", () => {
    const k = boot({ mem: "1G" });
    const p = k.alloc_pages(GFP_KERNEL, 0)!;
    const v = k.vmap([p], 1, VM_MAP, PAGE_KERNEL_RO);
    k.write32(k.page_address(p), 7);
    expect(k.read32(v)).toBe(7);
    expect(() => k.write32(v, 8)).toThrow(KernelOops);
    k.vunmap(v);
    k.__free_page(p);
    expect(k.check()).toEqual([]);
  });
});

describe("k.check() walks the vmap areas and page tables", () => {
  it("notices a backing page freed behind vmalloc's back (the kernel would not: a use-after-free to be)", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(2 * PAGE_SIZE);
    expect(k.check()).toEqual([]);
    k.__free_page(k.vmalloc_to_page(v + PAGE_SIZE)!);
    expect(k.check()).toEqual([
      `vmalloc area 0x${(v).toString(16)}: page 1 maps pfn 0x${k.vmalloc_to_pfn(v + PAGE_SIZE).toString(16)}, which is not allocated`,
    ]);
  });

  it("notices a PTE that points somewhere no area accounts for", () => {
    const k = boot({ mem: "1G" });
    const v = k.vmalloc(PAGE_SIZE);
    k.vm.pt.set(Math.floor(v / PAGE_SIZE) + 1, 0x1234, PAGE_KERNEL);
    expect(k.check()).toContain(`vmalloc area 0x${v.toString(16)}: guard page mapped`);
  });
});
