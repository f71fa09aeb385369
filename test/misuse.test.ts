// Misuse of the page allocator is reported in the kernel's words, refused, and leaves every structure as it
// was (a CONFIG_DEBUG_VM kernel's behaviour, with kmem's own plain report where Linux cannot see the bug).
import { describe, expect, it } from "vitest";
import {
  __GFP_NOWARN,
  boot,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL,
  type Kernel,
  KernelPanic,
} from "../src/index.ts";
import { __GFP_COMP } from "../src/mm/gfp.ts";
import { log, snapshot } from "./helpers/machine.ts";

const PAGE_LINE =
  /^page:ffffea[0-9a-f]{10} refcount:-?\d+ mapcount:-?\d+ mapping:0{16} index:0x[0-9a-f]+( compound_mapcount: 0)?$/;
const RAW = /^raw: [0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{16}$/;

/** Run a misuse; assert nothing changed and check() is clean; return the new log lines. */
function refused(k: Kernel, misuse: () => void): string[] {
  const before = snapshot(k);
  const mark = k.logMark();
  misuse();
  expect(snapshot(k)).toBe(before);
  expect(k.check()).toEqual([]);
  return log(k, mark);
}

function expectBug(l: string[], reason: string | null, file: string, rip: string): void {
  let i = 0;
  if (reason !== null) {
    expect(l[0]).toMatch(PAGE_LINE);
    expect(l[1]).toMatch(RAW);
    expect(l[2]).toMatch(RAW);
    expect(l[3]).toBe(`page dumped because: ${reason}`);
    i = 4;
  }
  expect(l[i]).toBe("------------[ cut here ]------------");
  expect(l[i + 1]).toMatch(new RegExp(`^kernel BUG at ${file.replace(/\./g, "\\.")}:\\d+!$`));
  expect(l[i + 2]).toMatch(/^invalid opcode: 0000 \[#\d+\] SMP PTI$/);
  expect(l[i + 3]).toMatch(/^CPU: 0 PID: 1 Comm: init (Not tainted|Tainted: [A-Z ]{18}) 5\.4\.0-kmem #1$/);
  expect(l[i + 4]).toMatch(/^Hardware name: QEMU Standard PC/);
  expect(l[i + 5]).toMatch(new RegExp(`^RIP: 0010:${rip}\\+0x[0-9a-f]+/0x[0-9a-f]+$`));
  expect(l[i + 6]).toBe("Call Trace:");
  expect(l.some((x) => /^---\[ end trace [0-9a-f]{16} \]---$/.test(x))).toBe(true);
}

function expectBadPage(l: string[], reason: string, pfn: number): void {
  expect(l[0]).toBe(`BUG: Bad page state in process init  pfn:${pfn.toString(16).padStart(5, "0")}`);
  expect(l[1]).toMatch(PAGE_LINE);
  expect(l[2]).toMatch(RAW);
  expect(l[3]).toMatch(RAW);
  expect(l[4]).toBe(`page dumped because: ${reason}`);
}

describe("page allocator misuse", () => {
  it("double free: VM_BUG_ON_PAGE(page_ref_count(page) == 0), then kernel BUG", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL, 0)!;
    k.__free_pages(p, 0);
    const l = refused(k, () => k.__free_pages(p, 0));
    expectBug(l, "VM_BUG_ON_PAGE(page_ref_count(page) == 0)", "include/linux/mm.h", "__free_pages");
    expect(l[0]).toMatch(/ refcount:0 mapcount:0 /);
    expect(l).toContain("Disabling lock debugging due to kernel taint");
    expect(k.core.taintText()).toBe(`Tainted: G      D${" ".repeat(10)}`);
  });

  it("double free of an order-4 block (in the buddy lists: mapcount -128)", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL, 4)!;
    k.__free_pages(p, 4);
    const l = refused(k, () => k.__free_pages(p, 4));
    expectBug(l, "VM_BUG_ON_PAGE(page_ref_count(page) == 0)", "include/linux/mm.h", "__free_pages");
    expect(l[0]).toMatch(/ refcount:0 mapcount:-128 /);
    expect(l[2]).toMatch(/ 00000000ffffff7f /);
  });

  it("put_page and get_page on a free page", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL, 0)!;
    k.put_page(p); // the last reference: frees it
    expectBug(
      refused(k, () => k.put_page(p)),
      "VM_BUG_ON_PAGE(page_ref_count(page) == 0)",
      "include/linux/mm.h",
      "put_page",
    );
    expectBug(
      refused(k, () => k.get_page(p)),
      "VM_BUG_ON_PAGE(((unsigned int) page_ref_count(page) + 127u <= 127u))",
      "include/linux/mm.h",
      "get_page",
    );
  });

  it("freeing a tail page of a non-compound block (refcount 0)", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL, 2)!;
    const tail = k.pfn_to_page(k.page_to_pfn(p) + 1);
    expectBug(
      refused(k, () => k.__free_pages(tail, 0)),
      "VM_BUG_ON_PAGE(page_ref_count(page) == 0)",
      "include/linux/mm.h",
      "__free_pages",
    );
  });

  it("wrong order on a non-compound block: a bad-page report with a plain reason (Linux cannot see it)", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL, 3)!;
    const l = refused(k, () => k.__free_pages(p, 2));
    expectBadPage(l, "order mismatch: freed as order 2, allocated as order 3", k.page_to_pfn(p));
    expect(k.core.taintText()).toBe(`Tainted: G    B${" ".repeat(12)}`);
    k.__free_pages(p, 3);
    expect(k.check()).toEqual([]);
  });

  it("wrong order on a compound page: VM_BUG_ON_PAGE(compound && compound_order(page) != order)", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 3)!;
    const l = refused(k, () => k.free_pages(k.page_address(p), 1));
    expectBug(
      l,
      "VM_BUG_ON_PAGE(compound && compound_order(page) != order)",
      "mm/page_alloc.c",
      "free_pages_prepare",
    );
    expect(l[0]).toMatch(/ compound_mapcount: 0$/);
  });

  it("an address that is not page-aligned", () => {
    const k = boot({ mem: "256M" });
    const a = k.__get_free_page(GFP_KERNEL);
    const l = refused(k, () => k.free_page(a + 8));
    expectBadPage(
      l,
      `free_pages: address ${(0xffff000000000000n | BigInt(a + 8)).toString(16)} is not page-aligned`,
      k.page_to_pfn(k.virt_to_page(a)),
    );
  });

  it("an address outside the direct map: VM_BUG_ON(!virt_addr_valid(addr))", () => {
    const k = boot({ mem: "256M" });
    expectBug(
      refused(k, () => k.free_pages(0x1234000, 0)),
      null,
      "mm/page_alloc.c",
      "free_pages",
    );
    expectBug(
      refused(k, () => k.free_pages(0x888000000000 + 300 * 2 ** 20, 0)),
      null,
      "mm/page_alloc.c",
      "free_pages",
    );
  });

  it("a struct page pointer beyond the memmap: the fault on page->_refcount", () => {
    const k = boot({ mem: "256M" });
    const bogus = k.pfn_to_page(10_000_000);
    const l = refused(k, () => k.__free_pages(bogus, 0));
    expect(l[0]).toBe(
      `BUG: unable to handle page fault for address: ${(0xffff000000000000n | BigInt(bogus + 52)).toString(16)}`,
    );
    expect(l[1]).toBe("#PF: supervisor read access in kernel mode");
    expect(l[2]).toBe("#PF: error_code(0x0000) - not-present page");
    expect(l[4]).toMatch(/^Oops: 0000 \[#1\] SMP PTI$/);
    expect(l).toContain(`CR2: ${(0xffff000000000000n | BigInt(bogus + 52)).toString(16)}`);
    refused(k, () => k.__free_pages(bogus + 3, 0)); // not even a struct page boundary
  });

  it("freeing a reserved page: bad page, PAGE_FLAGS_CHECK_AT_FREE with the reserved flag", () => {
    const k = boot({ mem: "256M" });
    const l = refused(k, () => k.__free_pages(k.pfn_to_page(5), 0));
    expectBadPage(l, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set", 5);
    expect(l[5]).toBe("bad because of flags: 0x1000(reserved)");
  });

  it("contradictory zone modifiers (GFP_DMA | GFP_DMA32): gfp_zone's VM_BUG_ON, NULL", () => {
    const k = boot({ mem: "256M" });
    let r: number | null = 1;
    const l = refused(k, () => {
      r = k.alloc_pages(GFP_KERNEL | GFP_DMA | GFP_DMA32, 0);
    });
    expect(r).toBeNull();
    expectBug(l, null, "include/linux/gfp.h", "__alloc_pages_nodemask");
  });

  it("order >= MAX_ORDER: NULL and a WARNING once per boot; none with __GFP_NOWARN", () => {
    const k = boot({ mem: "256M" });
    expect(refused(k, () => expect(k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 11)).toBeNull())).toEqual([]);
    const l = refused(k, () => expect(k.alloc_pages(GFP_KERNEL, 11)).toBeNull());
    expect(l[0]).toBe("------------[ cut here ]------------");
    expect(l[1]).toMatch(
      /^WARNING: CPU: 0 PID: 1 at mm\/page_alloc\.c:4743 __alloc_pages_nodemask\+0x[0-9a-f]+\/0x[0-9a-f]+$/,
    );
    expect(l[2]).toBe("Modules linked in:");
    expect(l.at(-1)).toMatch(/^---\[ end trace [0-9a-f]{16} \]---$/);
    expect(refused(k, () => expect(k.__get_free_pages(GFP_KERNEL, 12)).toBe(0))).toEqual([]);
    expect(refused(k, () => expect(k.alloc_pages(GFP_KERNEL, -1)).toBeNull())).toEqual([]); // unsigned: huge
    expect(k.core.taintText()).toBe(`Tainted: G        W${" ".repeat(8)}`);
  });

  it("split_page of a compound page or of a free page", () => {
    const k = boot({ mem: "256M" });
    const c = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)!;
    expectBug(
      refused(k, () => k.split_page(c, 2)),
      "VM_BUG_ON_PAGE(PageCompound(page))",
      "mm/page_alloc.c",
      "split_page",
    );
    const f = k.alloc_pages(GFP_KERNEL, 2)!;
    k.__free_pages(f, 2);
    expectBug(
      refused(k, () => k.split_page(f, 2)),
      "VM_BUG_ON_PAGE(!page_count(page))",
      "mm/page_alloc.c",
      "split_page",
    );
  });

  it("alloc_pages_node on a node that does not exist", () => {
    const k = boot({ mem: "256M" });
    expect(
      refused(k, () => expect(k.alloc_pages_node(3, GFP_KERNEL, 0)).toBeNull()).some((l) =>
        /^kernel BUG at include\/linux\/gfp\.h/.test(l),
      ),
    ).toBe(true);
  });

  it("wrong JavaScript types are a TypeError before anything changes", () => {
    const k = boot({ mem: "256M" });
    const before = snapshot(k);
    expect(() => k.alloc_pages(GFP_KERNEL, 1.5)).toThrow(TypeError);
    expect(() => k.alloc_pages(Number.NaN, 0)).toThrow(TypeError);
    expect(() => k.__free_pages("x" as unknown as number, 0)).toThrow(TypeError);
    expect(snapshot(k)).toBe(before);
  });
});

describe("what a report does to the caller", () => {
  it("inside a module, BUG ends the call: insmod fails with a segfault, the kernel stays usable", () => {
    const k = boot({ mem: "256M" });
    const p = k.alloc_pages(GFP_KERNEL, 0)!;
    k.__free_pages(p, 0);
    const before = snapshot(k);
    let reached = false;
    const r = k.insmod({
      name: "buggy",
      init(k) {
        k.__free_pages(p, 0);
        reached = true;
        return 0;
      },
    });
    expect(r).toEqual({ ok: false, message: "Segmentation fault" });
    expect(reached).toBe(false);
    expect(snapshot(k)).toBe(before);
    expect(k.check()).toEqual([]);
    const l = log(k);
    expect(l).toContain("buggy: loading out-of-tree module taints kernel.");
    expect(l.some((x) => /^CPU: 0 PID: \d+ Comm: insmod Tainted: G {11}O {6}5\.4\.0-kmem #1$/.test(x))).toBe(
      true,
    );
    expect(l.some((x) => /^ init\+0x[0-9a-f]+\/0x[0-9a-f]+ \[buggy\]$/.test(x))).toBe(true);
    expect(l.some((x) => /^ do_one_initcall\+0x[0-9a-f]+\/0x[0-9a-f]+$/.test(x))).toBe(true);
    expect(l).toContain("Modules linked in: buggy(O+)");
    expect(k.alloc_pages(GFP_KERNEL, 0)).not.toBeNull();
  });

  it("an Oops in a module (NULL dereference) ends the call", () => {
    const k = boot({ mem: "256M" });
    const r = k.insmod({
      name: "nullderef",
      init(k) {
        k.read32(0x10);
        return 0;
      },
    });
    expect(r.ok).toBe(false);
    const l = log(k);
    expect(l).toContain("BUG: kernel NULL pointer dereference, address: 0000000000000010");
    expect(l.some((x) => /^RIP: 0010:init\+0x[0-9a-f]+\/0x[0-9a-f]+ \[nullderef\]$/.test(x))).toBe(true);
  });

  it("outside a module a bad read throws KernelOops (there is no value to return)", () => {
    const k = boot({ mem: "256M" });
    expect(() => k.read8(0x888000000000 + 256 * 2 ** 20)).toThrow(/unable to handle page fault/);
  });

  it("panic_on_warn=1 turns reports into a thrown KernelPanic, state still intact", () => {
    const k = boot({ mem: "256M", cmdline: "panic_on_warn=1" });
    const p = k.alloc_pages(GFP_KERNEL, 3)!;
    const before = snapshot(k);
    expect(() => k.__free_pages(p, 1)).toThrow(KernelPanic);
    expect(() => k.alloc_pages(GFP_KERNEL, 11)).toThrow(KernelPanic);
    expect(snapshot(k)).toBe(before);
    expect(log(k)).toContain("Kernel panic - not syncing: panic_on_warn set ...");
    expect(k.check()).toEqual([]);
  });
});

describe("modules whose own code throws", () => {
  it("a JavaScript error in init is rethrown and the module is not left half-loaded", () => {
    const k = boot({ mem: "256M" });
    expect(() =>
      k.insmod({
        name: "thrower",
        init() {
          throw new Error("oops in my code");
        },
      }),
    ).toThrow("oops in my code");
    expect(k.core.modulesLine()).toBe("Modules linked in:");
    expect(k.insmod({ name: "thrower", init: () => 0 })).toEqual({ ok: true });
    expect(k.rmmod("thrower")).toEqual({ ok: true });
    expect(k.rmmod("thrower").ok).toBe(false);
  });
});
