// kvmalloc_node() as 5.4 decides (mm/util.c; kernel-facts §8): flags that are not a superset of
// GFP_KERNEL stay on kmalloc; up to a page, plain kmalloc with no fallback; above a page, kmalloc with
// __GFP_NOWARN | __GFP_NORETRY (not NORETRY when the caller asked for __GFP_RETRY_MAYFAIL) first, then
// vmalloc with the caller's own flags.
import { describe, expect, it, vi } from "vitest";
import {
  __GFP_RETRY_MAYFAIL,
  __GFP_ZERO,
  boot,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  type Kernel,
  PAGE_SIZE,
} from "../src/index.ts";
import { log } from "./helpers/machine.ts";

type Served = "slab" | "kmalloc_large" | "vmalloc" | "NULL";

function servedBy(k: Kernel, p: number): Served {
  if (p === 0) return "NULL";
  if (k.is_vmalloc_addr(p)) return "vmalloc";
  return k.slub.slabOfAddr(p) >= 0 ? "slab" : "kmalloc_large";
}

describe("kvmalloc decision table", () => {
  const MiB = 2 ** 20;
  const table: [number, number, string, Served, number | null][] = [
    // size, flags, flags' name, served by, flags kmalloc_node saw
    [100, GFP_KERNEL, "GFP_KERNEL", "slab", 0xcc0],
    [PAGE_SIZE, GFP_KERNEL, "GFP_KERNEL", "slab", 0xcc0],
    [PAGE_SIZE + 1, GFP_KERNEL, "GFP_KERNEL", "slab", 0x12cc0],
    [8192, GFP_KERNEL, "GFP_KERNEL", "slab", 0x12cc0],
    [8193, GFP_KERNEL, "GFP_KERNEL", "kmalloc_large", 0x12cc0],
    [4 * MiB, GFP_KERNEL, "GFP_KERNEL", "kmalloc_large", 0x12cc0],
    [4 * MiB + 1, GFP_KERNEL, "GFP_KERNEL", "vmalloc", 0x12cc0],
    [5 * MiB, GFP_KERNEL | __GFP_RETRY_MAYFAIL, "GFP_KERNEL|__GFP_RETRY_MAYFAIL", "vmalloc", 0x6cc0],
    [5 * MiB, GFP_NOFS, "GFP_NOFS", "NULL", GFP_NOFS],
    [64 * 1024, GFP_ATOMIC, "GFP_ATOMIC", "kmalloc_large", GFP_ATOMIC],
  ];
  for (const [size, flags, name, want, kflags] of table)
    it(`kvmalloc(${size}, ${name}) -> ${want}`, () => {
      const k = boot({ mem: "1G" });
      const seen: number[] = [];
      const spy = vi.spyOn(k, "kmalloc_node").mockImplementation(function (this: Kernel, s, f, n) {
        seen.push(f);
        spy.mockRestore();
        return k.kmalloc_node(s, f, n);
      });
      const p = k.kvmalloc(size, flags);
      expect(servedBy(k, p)).toBe(want);
      expect(seen).toEqual([kflags]);
      k.kvfree(p);
      expect(k.check()).toEqual([]);
    });

  it("the vmalloc fallback gets the caller's flags, not the quiet ones", () => {
    const k = boot({ mem: "1G" });
    const spy = vi.spyOn(k.vm, "vmallocNodeRange");
    k.kvmalloc(5 * MiB, GFP_KERNEL | __GFP_ZERO);
    expect(spy.mock.calls[0]![4]).toBe(GFP_KERNEL | __GFP_ZERO);
  });

  it("the quiet kmalloc try fails without a report; a request above MAX_ORDER from GFP_NOFS WARNs once", () => {
    const k = boot({ mem: "1G" });
    const mark = k.logMark();
    const p = k.kvmalloc(5 * MiB, GFP_KERNEL);
    expect(log(k, mark)).toEqual([]);
    k.kvfree(p);
    const m2 = k.logMark();
    expect(k.kvmalloc(5 * MiB, GFP_NOFS)).toBe(0);
    // __alloc_pages_nodemask(): WARN_ON_ONCE(!(gfp_mask & __GFP_NOWARN)) for order >= MAX_ORDER.
    expect(log(k, m2).find((l) => l.startsWith("WARNING:"))).toMatch(/at mm\/page_alloc\.c:4743 /);
  });

  it("falls back to vmalloc when memory is too fragmented for the physically contiguous block", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    // Take every block of order >= 4 (ignoring watermarks, __GFP_MEMALLOC), split each and give back
    // every other page: plenty of free memory, none of it in a block of two pages or more.
    const held: number[] = [];
    for (
      let p = k.alloc_pages(GFP_KERNEL | 0x2000 | 0x20000, 4);
      p;
      p = k.alloc_pages(GFP_KERNEL | 0x2000 | 0x20000, 4)
    ) {
      k.split_page(p, 4);
      for (let i = 0; i < 16; i++) if (i % 2) held.push(p + 64 * i);
      for (let i = 0; i < 16; i += 2) k.__free_page(p + 64 * i);
    }
    const mark = k.logMark();
    const p = k.kvmalloc(64 * 1024, GFP_KERNEL);
    expect(servedBy(k, p)).toBe("vmalloc");
    expect(log(k, mark).some((l) => l.includes("page allocation failure"))).toBe(false);
    k.write32(p + 64 * 1024 - 4, 7);
    k.kvfree(p);
    for (const q of held) k.__free_page(q);
    expect(k.check()).toEqual([]);
  });

  it("up to a page there is no fallback: kmalloc's failure is the answer", () => {
    const k = boot({ mem: "1G" });
    const spy = vi.spyOn(k, "kmalloc_node").mockReturnValueOnce(0);
    const v = vi.spyOn(k.vm, "vmallocNodeRange");
    expect(k.kvmalloc(PAGE_SIZE, GFP_KERNEL)).toBe(0);
    expect(v).not.toHaveBeenCalled();
    spy.mockReturnValueOnce(0);
    expect(k.is_vmalloc_addr(k.kvmalloc(PAGE_SIZE + 1, GFP_KERNEL))).toBe(true);
    expect(v).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });
});

describe("the rest of the family", () => {
  it("kvzalloc zeroes on both paths; kvcalloc and kvmalloc_array check the multiplication", () => {
    const k = boot({ mem: "1G", cpus: 1 });
    for (const size of [3000, 6 * MiB()]) {
      const dirty = k.kvmalloc(size, GFP_KERNEL);
      k.memset(dirty, 0x77, size);
      k.kvfree(dirty);
      k.vm.purgeLazy();
      const z = k.kvzalloc(size, GFP_KERNEL);
      expect(k.readBytes(z, size).every((b) => b === 0)).toBe(true);
      k.kvfree(z);
    }
    const c = k.kvcalloc(1000, 8, GFP_KERNEL);
    expect(k.readBytes(c, 8000).every((b) => b === 0)).toBe(true);
    k.kvfree(c);
    expect(k.kvmalloc_array(2 ** 32, 2 ** 32, GFP_KERNEL)).toBe(0);
    expect(k.kvcalloc(2 ** 33, 2 ** 31, GFP_KERNEL)).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it("kvfree routes by address: vfree for vmalloc space, kfree for everything else", () => {
    const k = boot({ mem: "1G" });
    const small = k.kvmalloc(64, GFP_KERNEL);
    const big = k.kvmalloc(5 * MiB(), GFP_KERNEL);
    const vf = vi.spyOn(k, "vfree");
    const kf = vi.spyOn(k, "kfree");
    k.kvfree(small);
    k.kvfree(big);
    expect(kf.mock.calls).toEqual([[small]]);
    expect(vf.mock.calls).toEqual([[big]]);
    expect(k.check()).toEqual([]);
  });

  it("kvmalloc_node puts the pages on the node asked for", () => {
    const k = boot({ mem: "2G", nodes: 2 });
    const p = k.kvmalloc_node(5 * MiB(), GFP_KERNEL, 1);
    expect(k.is_vmalloc_addr(p)).toBe(true);
    expect(k.alloc.zoneOf(k.vmalloc_to_pfn(p)).nid).toBe(1);
    expect(() => k.kvmalloc_node(100, GFP_KERNEL, 2)).toThrow(RangeError);
  });
});

function MiB(): number {
  return 2 ** 20;
}
