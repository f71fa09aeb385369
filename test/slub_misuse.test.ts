// Misuse of the slab allocator: reported in the kernel's words, refused, and every structure left as it was
// (the page allocator's state, /proc/slabinfo, every slab's freelist and counters, the per-CPU state).
import { describe, expect, it } from "vitest";
import {
  __GFP_NOWARN,
  boot,
  GFP_KERNEL,
  type Kernel,
  KernelPanic,
  PAGE_OFFSET,
  SLAB_HWCACHE_ALIGN,
  SLAB_PANIC,
  ZERO_SIZE_PTR,
} from "../src/index.ts";
import { log, slabSnapshot } from "./helpers/machine.ts";

const HASH = "0x[0-9a-f]{16}";

function refused(k: Kernel, misuse: () => void): string[] {
  const before = slabSnapshot(k);
  const mark = k.logMark();
  misuse();
  expect(slabSnapshot(k)).toBe(before);
  expect(k.check()).toEqual([]);
  return log(k, mark);
}

describe("kfree and kmem_cache_free misuse", () => {
  it("NULL and ZERO_SIZE_PTR are no-ops", () => {
    const k = boot({ mem: "256M" });
    expect(refused(k, () => k.kfree(0))).toEqual([]);
    expect(refused(k, () => k.kfree(ZERO_SIZE_PTR))).toEqual([]);
    expect(k.kmalloc(0, GFP_KERNEL)).toBe(ZERO_SIZE_PTR);
    expect(k.ksize(ZERO_SIZE_PTR)).toBe(0);
  });

  it("a pointer into the middle of an object: Invalid object pointer, not freed", () => {
    const k = boot({ mem: "256M" });
    const p = k.kmalloc(64, GFP_KERNEL);
    const l = refused(k, () => k.kfree(p + 8));
    expect(l[0]).toBe("=".repeat(77));
    expect(l[1]).toMatch(new RegExp(`^BUG kmalloc-64 \\(Not tainted\\): Invalid object pointer ${HASH}$`));
    expect(l[2]).toBe("-".repeat(77));
    expect(l[3]).toBe("");
    expect(l[4]).toBe("Disabling lock debugging due to kernel taint");
    expect(l[5]).toMatch(
      new RegExp(`^INFO: Slab ${HASH} objects=64 used=\\d+ fp=${HASH} flags=0x[0-9a-f]+$`),
    );
    expect(l.at(-1)).toMatch(new RegExp(`^FIX kmalloc-64: Object at ${HASH} not freed$`));
    expect(k.core.taintText()).toBe("Tainted: G    B            ");
    k.kfree(p);
    expect(k.check()).toEqual([]);
  });

  it("double kfree without slub_debug: the hardened free-pointer check BUGs (mm/slub.c:306)", () => {
    const k = boot({ mem: "256M" });
    const p = k.kmalloc(1024, GFP_KERNEL);
    k.kfree(p);
    const l = refused(k, () => k.kfree(p));
    expect(l[0]).toBe("------------[ cut here ]------------");
    expect(l[1]).toBe("kernel BUG at mm/slub.c:306!");
    expect(l[2]).toBe("invalid opcode: 0000 [#1] SMP PTI");
  });

  it("double kfree with slub_debug: Object already free, with the object dumped", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=FZPU" });
    const p = k.kmalloc(64, GFP_KERNEL);
    k.kfree(p);
    const l = refused(k, () => k.kfree(p));
    expect(l[1]).toBe("BUG kmalloc-64 (Not tainted): Object already free");
    expect(l.some((x) => /^INFO: Allocated in /.test(x))).toBe(true);
    expect(l.some((x) => /^INFO: Freed in /.test(x))).toBe(true);
    expect(l).toContain(
      "Object " +
        l.find((x) => x.startsWith("Object "))!.slice(7, 25) +
        "6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  kkkkkkkkkkkkkkkk",
    );
    expect(l.at(-1)).toMatch(/^FIX kmalloc-64: Object at 0x[0-9a-f]{16} not freed$/);
  });

  it("a pointer never handed out (a free object of a slab)", () => {
    const k = boot({ mem: "256M" });
    const p = k.kmalloc(128, GFP_KERNEL);
    const never = p + 128; // the next object of the same slab, still free
    const l = refused(k, () => k.kfree(never));
    expect(l[1]).toBe("kernel BUG at mm/slub.c:306!");
  });

  it("an order-0 page from the page allocator: kfree's BUG_ON(!PageCompound(page)) at mm/slub.c:3949", () => {
    const k = boot({ mem: "256M" });
    const a = k.__get_free_page(GFP_KERNEL);
    const l = refused(k, () => k.kfree(a));
    expect(l[1]).toBe("kernel BUG at mm/slub.c:3949!");
    k.free_page(a);
  });

  it("a vmalloc-range address: the struct page read faults (Oops), nothing freed", () => {
    const k = boot({ mem: "256M" });
    const l = refused(k, () => k.kfree(0xc90000001000));
    expect(l[0]).toMatch(/^BUG: unable to handle page fault for address: ffff/);
    expect(l[1]).toBe("#PF: supervisor read access in kernel mode");
  });

  it("kmem_cache_free into the wrong cache: cache_from_obj's WARN, then freed into its own cache", () => {
    const k = boot({ mem: "256M" });
    const a = k.kmem_cache_create("ours_a", 100, 0, SLAB_HWCACHE_ALIGN, () => {});
    const b = k.kmem_cache_create("ours_b", 200, 0, SLAB_HWCACHE_ALIGN, () => {});
    const o = k.kmem_cache_alloc(a, GFP_KERNEL);
    const mark = k.logMark();
    k.kmem_cache_free(b, o);
    const l = log(k, mark);
    expect(l[0]).toBe("------------[ cut here ]------------");
    expect(l[1]).toBe("cache_from_obj: Wrong slab cache. ours_b but object is from ours_a");
    expect(l[2]).toMatch(/^WARNING: CPU: 0 PID: 1 at mm\/slab\.h:458 kmem_cache_free\+/);
    expect(k.slub.isAllocated(o)).toBe(false);
    expect(k.check()).toEqual([]);
  });

  it("a destroyed cache handle: the read of the freed struct kmem_cache faults, NULL returned", () => {
    const k = boot({ mem: "256M" });
    const c = k.kmem_cache_create("gone", 100, 0, 0, () => {});
    k.kmem_cache_destroy(c);
    let r = -1;
    const l = refused(k, () => {
      r = k.kmem_cache_alloc(c, GFP_KERNEL);
    });
    expect(r).toBe(0);
    expect(l[0]).toBe(
      `BUG: unable to handle page fault for address: ${BigInt.asUintN(64, BigInt(c) | 0xffff000000000000n).toString(16)}`,
    );
  });
});

describe("kmem_cache_create refusals", () => {
  it("absurd sizes and alignments return NULL with the kernel's messages", () => {
    const k = boot({ mem: "256M" });
    for (const [size, align, msg] of [
      [4, 0, "integrity check failed"],
      [5 * 1024 * 1024, 0, "integrity check failed"],
      [100, 3, null],
      [100, 2 ** 30, null],
    ] as const) {
      const mark = k.logMark();
      let c = -1;
      const l = refused(k, () => {
        c = k.kmem_cache_create("bad_cache", size, align, 0, null);
      });
      expect(c).toBe(0);
      if (msg) expect(l[0]).toBe(`kmem_cache_create(bad_cache) ${msg}`);
      expect(l).toContain("kmem_cache_create(bad_cache) failed with error -22");
      expect(log(k, mark)).toContain("Call Trace:");
    }
  });

  it("a flag outside SLAB_FLAGS_PERMITTED (here the internal SLAB_KASAN) is -EINVAL", () => {
    const k = boot({ mem: "256M" });
    let c = -1;
    const l = refused(k, () => {
      c = k.kmem_cache_create("bad_flags", 100, 0, 0x8000000, null);
    });
    expect(c).toBe(0);
    expect(l[0]).toBe("kmem_cache_create(bad_flags) failed with error -22");
  });

  it("with SLAB_PANIC a failure panics", () => {
    const k = boot({ mem: "256M" });
    expect(() => k.kmem_cache_create("bad_cache", 2, 0, SLAB_PANIC, null)).toThrow(KernelPanic);
    expect(k.dmesg()).toContain(
      "Kernel panic - not syncing: kmem_cache_create: Failed to create slab 'bad_cache'. Error -22",
    );
  });

  it("JavaScript type errors are TypeErrors, before anything changes", () => {
    const k = boot({ mem: "256M" });
    refused(k, () => {
      expect(() => k.kmalloc(1.5, GFP_KERNEL)).toThrow(TypeError);
      expect(() => k.kmalloc(-1, GFP_KERNEL)).toThrow(TypeError);
      expect(() => k.kmalloc(8, -1)).toThrow(TypeError);
      expect(() => k.kfree("x" as unknown as number)).toThrow(TypeError);
      expect(() => k.kmem_cache_create("x", 1.5, 0, 0, null)).toThrow(TypeError);
    });
  });
});

describe("kmalloc limits", () => {
  it("above 4 MiB: the page allocator's WARNING (order 11 >= MAX_ORDER) and NULL", () => {
    const k = boot({ mem: "256M" });
    let r = -1;
    const l = refused(k, () => {
      r = k.kmalloc(4 * 1024 * 1024 + 1, GFP_KERNEL);
    });
    expect(r).toBe(0);
    expect(l[1]).toMatch(/^WARNING: CPU: 0 PID: 1 at mm\/page_alloc\.c:4743 __alloc_pages_nodemask\+/);
    const trace = l
      .slice(l.indexOf("Call Trace:") + 1, l.indexOf("Call Trace:") + 5)
      .map((x) => x.trim().replace(/\+.*/, ""));
    expect(trace).toEqual(["alloc_pages_current", "kmalloc_order", "kmalloc_order_trace", "__kmalloc"]);
  });

  it("8 KiB + 1 goes to the page allocator as an order-2 compound page, freed whole by kfree", () => {
    const k = boot({ mem: "256M" });
    const p = k.kmalloc(8193, GFP_KERNEL);
    expect(k.ksize(p)).toBe(16384);
    const page = k.virt_to_page(p);
    expect(k.compound_order(page)).toBe(2);
    expect(k.cat("/proc/meminfo")).toMatch(/SUnreclaim: +\d+ kB/);
    k.kfree(p + 4096); // not the start: refused
    expect(k.page_ref_count(page)).toBe(1);
    k.kfree(p);
    expect(k.check()).toEqual([]);
    expect(p).toBeGreaterThan(PAGE_OFFSET);
  });
});

describe("kmalloc argument types", () => {
  it("a GFP mask that is not a 32-bit unsigned integer is a TypeError, on the fast path too", () => {
    const k = boot({ mem: "256M" });
    expect(() => k.kmalloc(64, "x" as unknown as number)).toThrow(TypeError);
    expect(() => k.kmalloc(64, 1.5)).toThrow(TypeError);
    expect(() => k.kmalloc("64" as unknown as number, GFP_KERNEL)).toThrow(TypeError);
    expect(k.check()).toEqual([]);
  });
});

describe("kmem_cache_create without memory for its struct kmem_cache", () => {
  it("fails with -ENOMEM, leaves no half-made cache, and the allocator stays sound", () => {
    const k = boot({ mem: "128M" });
    const held: number[] = [];
    for (
      let p = k.kmalloc(4096, GFP_KERNEL | __GFP_NOWARN);
      p;
      p = k.kmalloc(4096, GFP_KERNEL | __GFP_NOWARN)
    )
      held.push(p);
    for (let p = k.kmalloc(64, GFP_KERNEL | __GFP_NOWARN); p; p = k.kmalloc(64, GFP_KERNEL | __GFP_NOWARN))
      held.push(p);
    const made: number[] = [];
    let c = 0;
    for (let i = 0; i < 10000; i++) {
      c = k.kmem_cache_create(`starved_${i}`, 200, 0, SLAB_HWCACHE_ALIGN, () => {});
      if (!c) break;
      made.push(c);
    }
    expect(c).toBe(0);
    expect(k.dmesg()).toContain(`kmem_cache_create(starved_${made.length}) failed with error -12`);
    expect(k.cat("/proc/slabinfo")).not.toContain(`starved_${made.length} `);
    expect(k.check()).toEqual([]);
    for (const h of made) k.kmem_cache_destroy(h);
    for (const p of held) k.kfree(p);
    expect(k.check()).toEqual([]);
  });
});
