// Misuse of vmalloc: reported in the kernel's words (kernel-facts §5.9) and refused, with the page
// allocator, the slab caches, the vmap space and the page tables left exactly as they were.
import { describe, expect, it } from "vitest";
import {
  __GFP_ZERO,
  boot,
  GFP_KERNEL,
  hex16,
  type Kernel,
  KernelOops,
  PAGE_KERNEL,
  PAGE_SIZE,
  VMALLOC_END,
  VMALLOC_START,
} from "../src/index.ts";
import { log, vmallocSnapshot } from "./helpers/machine.ts";

function refused(k: Kernel, misuse: () => void): string[] {
  const before = vmallocSnapshot(k);
  const mark = k.logMark();
  misuse();
  expect(vmallocSnapshot(k)).toBe(before);
  expect(k.check()).toEqual([]);
  return log(k, mark);
}

const HASHED = "[0-9a-f]{16}";

/** The first lines of a 5.4 WARN splat from __vunmap at mm/vmalloc.c:line, with the message above it. */
function expectVfreeWarn(l: string[], msg: string, line: number, caller: string): void {
  expect(l[0]).toBe("------------[ cut here ]------------");
  expect(l[1]).toMatch(new RegExp(`^${msg} \\(${HASHED}\\)$`));
  expect(l[2]).toMatch(
    new RegExp(`^WARNING: CPU: 0 PID: 1 at mm/vmalloc.c:${line} __vunmap\\+0x[0-9a-f]+/0x[0-9a-f]+$`),
  );
  expect(l).toContain("Call Trace:");
  expect(l[l.indexOf("Call Trace:") + 1]).toMatch(new RegExp(`^ ${caller}\\+`));
  expect(l.at(-1)).toMatch(/^---\[ end trace [0-9a-f]{16} \]---$/);
}

describe("vfree and vunmap of what is not a live area", () => {
  it("NULL is a no-op", () => {
    const k = boot({ mem: "256M" });
    expect(refused(k, () => k.vfree(0))).toEqual([]);
    expect(refused(k, () => k.vunmap(0))).toEqual([]);
    expect(refused(k, () => k.kvfree(0))).toEqual([]);
  });

  it("an address that is not page-aligned: 'Trying to vfree() bad address'", () => {
    const k = boot({ mem: "256M" });
    const p = k.kmalloc(100, GFP_KERNEL);
    const v = k.vmalloc(3 * PAGE_SIZE);
    expectVfreeWarn(
      refused(k, () => k.vfree(p)),
      "Trying to vfree\\(\\) bad address",
      2240,
      "vfree",
    );
    expectVfreeWarn(
      refused(k, () => k.vfree(v + 100)),
      "Trying to vfree\\(\\) bad address",
      2240,
      "vfree",
    );
    expectVfreeWarn(
      refused(k, () => k.vunmap(v + 8)),
      "Trying to vfree\\(\\) bad address",
      2240,
      "vunmap",
    );
  });

  it("a page-aligned address no area holds: 'Trying to vfree() nonexistent vm area'", () => {
    const k = boot({ mem: "256M" });
    const page = k.__get_free_page(GFP_KERNEL);
    const obj = k.kmalloc(4096, GFP_KERNEL);
    expectVfreeWarn(
      refused(k, () => k.vfree(page)),
      "Trying to vfree\\(\\) nonexistent vm area",
      2246,
      "vfree",
    );
    expectVfreeWarn(
      refused(k, () => k.vfree(obj)),
      "Trying to vfree\\(\\) nonexistent vm area",
      2246,
      "vfree",
    );
    expectVfreeWarn(
      refused(k, () => k.vfree(VMALLOC_START + 64 * PAGE_SIZE)),
      "Trying to vfree\\(\\) nonexistent vm area",
      2246,
      "vfree",
    );
  });

  it("a double vfree is a nonexistent vm area (the range is only waiting to be purged)", () => {
    const k = boot({ mem: "256M" });
    const v = k.vmalloc(2 * PAGE_SIZE);
    k.vfree(v);
    expectVfreeWarn(
      refused(k, () => k.vfree(v)),
      "Trying to vfree\\(\\) nonexistent vm area",
      2246,
      "vfree",
    );
    k.vm.purgeLazy();
    expectVfreeWarn(
      refused(k, () => k.vfree(v)),
      "Trying to vfree\\(\\) nonexistent vm area",
      2246,
      "vfree",
    );
  });

  it("5.4 frees the whole area given any page-aligned address inside it (find_vm_area looks up containment)", () => {
    const k = boot({ mem: "256M" });
    const v = k.vmalloc(3 * PAGE_SIZE);
    const mark = k.logMark();
    k.vfree(v + PAGE_SIZE);
    expect(log(k, mark)).toEqual([]);
    expect(k.find_vm_area(v)).toBe(0);
    expect(k.vm.nrVmallocPages).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it("kfree of a vmalloc address is refused with the Oops 5.4 gives; the area stays intact", () => {
    const k = boot({ mem: "256M" });
    const v = k.vmalloc(PAGE_SIZE);
    const l = refused(k, () => k.kfree(v));
    // kfree() reads the struct page virt_to_head_page() computes for a vmalloc address: unmapped.
    expect(l[0]).toMatch(/^BUG: unable to handle page fault for address: ffffeb/);
    expect(l).toContain("Oops: 0000 [#1] SMP PTI");
    expect(k.find_vm_area(v)).not.toBe(0);
    k.write8(v, 9);
    expect(k.read8(v)).toBe(9);
    k.vfree(v);
    expect(k.check()).toEqual([]);
  });

  it("inside a module the kfree Oops ends the call; the area is still there to vfree", () => {
    const k = boot({ mem: "256M" });
    let v = 0;
    const r = k.insmod({
      name: "kfree_vmalloc",
      init(kk) {
        v = kk.vmalloc(PAGE_SIZE);
        kk.kfree(v);
        return 0;
      },
    });
    expect(r.message).toBe("Segmentation fault");
    expect(k.find_vm_area(v)).not.toBe(0);
    k.vfree(v);
    expect(k.check()).toEqual([]);
  });
});

describe("allocation failures", () => {
  const warnHead = (bytes: number) =>
    `init: vmalloc: allocation failure: ${bytes} bytes, mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0`;

  it("vmalloc(0) fails with warn_alloc's line, a stack and Mem-Info (5.4)", () => {
    const k = boot({ mem: "256M" });
    let r = -1;
    const l = refused(k, () => {
      r = k.vmalloc(0);
    });
    expect(r).toBe(0);
    expect(l[0]).toBe(warnHead(0));
    expect(l[1]).toMatch(/^CPU: 0 PID: 1 Comm: init /);
    expect(l.slice(3, 9).map((x) => x.replace(/\+.*/, ""))).toEqual([
      "Call Trace:",
      " dump_stack",
      " warn_alloc",
      " __vmalloc_node_range",
      " __vmalloc_node",
      " vmalloc",
    ]);
    expect(l).toContain("Mem-Info:");
  });

  it("more than RAM fails before anything is reserved ('exceeds total pages' in 5.17+ words, 5.4's here)", () => {
    const k = boot({ mem: "256M" });
    const size = (k.totalramPages() + 1) * PAGE_SIZE;
    let r = -1;
    const l = refused(k, () => {
      r = k.vzalloc(size);
    });
    expect(r).toBe(0);
    expect(l[0]).toBe(warnHead(size).replace("0xcc0(GFP_KERNEL)", "0xdc0(GFP_KERNEL|__GFP_ZERO)"));
    // Exactly all of RAM is not refused up front: it fails later, when the pages run out.
    expect(k.totalramPages() * PAGE_SIZE).toBeLessThan(2 ** 28);
  });

  it("when the pages run out part-way: 'allocated X of Y bytes', everything given back", () => {
    const k = boot({ mem: "256M" });
    const size = 200 * 2 ** 20;
    // Hold most of memory so that the area cannot be filled.
    const held: number[] = [];
    for (;;) {
      const p = k.alloc_pages(GFP_KERNEL | 0x2000, 9);
      if (!p) break;
      held.push(p);
      if (held.length * 2 >= 200) break;
    }
    const used0 = k.vm.nrVmallocPages;
    const mark = k.logMark();
    expect(k.vmalloc(size)).toBe(0);
    const l = log(k, mark);
    const head = l.find((x) => x.includes("vmalloc: allocation failure, allocated"))!;
    expect(head).toMatch(
      new RegExp(
        `^init: vmalloc: allocation failure, allocated \\d+ of ${size + PAGE_SIZE} bytes, mode:0xcc0\\(GFP_KERNEL\\), nodemask=\\(null\\),cpuset=/,mems_allowed=0$`,
      ),
    );
    // No "page allocation failure" splat: vmalloc asks for each page with __GFP_NOWARN.
    expect(l.some((x) => x.includes("page allocation failure"))).toBe(false);
    expect(k.vm.nrVmallocPages).toBe(used0);
    expect(k.vm.pt.mapped).toBe(0);
    expect(k.cat("/proc/vmallocinfo")).toBe("");
    expect(k.check()).toEqual([]);
    for (const p of held) k.__free_pages(p, 9);
    expect(k.check()).toEqual([]);
  });

  it("an alignment the range cannot satisfy: 'vmap allocation … failed', then warn_alloc", () => {
    const k = boot({ mem: "256M" });
    // Not a misuse: the kernel allocates and frees its bookkeeping on the way (and keeps a per-CPU spare
    // vmap_area), so only what is mapped and counted must be unchanged.
    const before = [k.cat("/proc/vmallocinfo"), k.vm.nrVmallocPages, k.vm.pt.mapped];
    const mark = k.logMark();
    const r = k.__vmalloc_node_range(
      PAGE_SIZE,
      2 ** 46,
      VMALLOC_START,
      VMALLOC_END,
      GFP_KERNEL | __GFP_ZERO,
      PAGE_KERNEL,
      0,
      0,
    );
    const l = log(k, mark);
    expect(r).toBe(0);
    expect([k.cat("/proc/vmallocinfo"), k.vm.nrVmallocPages, k.vm.pt.mapped]).toEqual(before);
    expect(k.check()).toEqual([]);
    expect(l[0]).toBe("vmap allocation for size 8192 failed: use vmalloc=<size> to increase size");
    expect(l[1]).toBe(warnHead(4096).replace("0xcc0(GFP_KERNEL)", "0xdc0(GFP_KERNEL|__GFP_ZERO)"));
  });
});

describe("junk arguments are refused before anything changes", () => {
  const k = boot({ mem: "256M" });
  const v = k.vmalloc(PAGE_SIZE);
  const cases: [string, () => unknown, ErrorConstructor][] = [
    ["vmalloc(-1)", () => k.vmalloc(-1), TypeError],
    ["vmalloc(1.5)", () => k.vmalloc(1.5), TypeError],
    ["vmalloc('x')", () => k.vmalloc("x" as unknown as number), TypeError],
    ["vfree('x')", () => k.vfree("x" as unknown as number), TypeError],
    ["vfree(-4096)", () => k.vfree(-4096), TypeError],
    ["vfree(2^53)", () => k.vfree(2 ** 53), TypeError],
    ["__vmalloc bad prot", () => k.__vmalloc(4096, GFP_KERNEL, 0x1000), TypeError],
    ["__vmalloc bad gfp", () => k.__vmalloc(4096, 2 ** 40, PAGE_KERNEL), TypeError],
    ["vmalloc_node(5)", () => k.vmalloc_node(4096, 5), RangeError],
    [
      "range outside vmalloc",
      () => k.__vmalloc_node_range(4096, 1, 0, 2 ** 40, GFP_KERNEL, PAGE_KERNEL, 0, 0),
      RangeError,
    ],
    [
      "align 3",
      () => k.__vmalloc_node_range(4096, 3, VMALLOC_START, VMALLOC_END, GFP_KERNEL, PAGE_KERNEL, 0, 0),
      TypeError,
    ],
    ["vmap count > pages", () => k.vmap([], 1, 4, PAGE_KERNEL), TypeError],
    ["vmalloc_to_page('x')", () => k.vmalloc_to_page("x" as unknown as number), TypeError],
    ["read through a string address", () => k.read8(`${v}` as unknown as number), TypeError],
    ["kvmalloc(-5)", () => k.kvmalloc(-5, GFP_KERNEL), TypeError],
  ];
  for (const [what, call, type] of cases)
    it(what, () => {
      refused(k, () => expect(call).toThrow(type));
    });

  it("vmap of something that is not a struct page: Oops, nothing mapped", () => {
    const p = k.alloc_pages(GFP_KERNEL, 0)!;
    const l = refused(k, () => expect(k.vmap([p, p + 3], 2, 4, PAGE_KERNEL)).toBe(0));
    expect(l[0]).toMatch(/^BUG: unable to handle page fault for address: /);
    k.__free_page(p);
  });

  it("the faulting access leaves the kernel sound", () => {
    refused(k, () => expect(() => k.read32(v + PAGE_SIZE)).toThrow(KernelOops));
    expect(hex16(v)).toBe("ffffc90000000000");
  });
});
