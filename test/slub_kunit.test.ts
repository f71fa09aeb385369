// The kernel's SLUB KUnit suite (lib/slub_kunit.c, reference/kernel-tests.md §3) as it applies to 5.4:
// corrupt a cache's memory, validate it, and count the reports plus repairs ("slab_errors"). Cases that
// need 6.x features (kmalloc orig_size red zones, kfree_rcu) are replaced by what 5.4 does instead.
import { describe, expect, it } from "vitest";
import {
  __GFP_ZERO,
  boot,
  GFP_KERNEL,
  type Kernel,
  PAGE_OFFSET,
  SLAB_NOLEAKTRACE,
  SLAB_POISON,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
} from "../src/index.ts";

function setup(flags: number, name: string, cmdline = ""): { k: Kernel; c: number; validate: () => number } {
  const k = boot({ mem: "256M", cmdline });
  const c = k.kmem_cache_create(name, 64, 0, flags, null);
  expect(c).not.toBe(0);
  const validate = () => {
    const before = k.slab.debug.errors;
    k.echo(1, `/sys/kernel/slab/${name}/validate`);
    return k.slab.debug.errors - before;
  };
  return { k, c, validate };
}

describe("slub_test (lib/slub_kunit.c) on 5.4", () => {
  it("test_clobber_zone: a write into the right red zone of an allocated object: 2 errors", () => {
    const { k, c, validate } = setup(SLAB_RED_ZONE, "TestSlub_RZ_alloc");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    k.write8(p + 64, 0x12);
    expect(validate()).toBe(2);
    expect(k.dmesg()).toContain("BUG TestSlub_RZ_alloc (Not tainted): Redzone overwritten");
    expect(k.read8(p + 64)).toBe(0xcc); // restored
    expect(validate()).toBe(0);
    k.kmem_cache_free(c, p);
    k.kmem_cache_destroy(c);
    expect(k.check()).toEqual([]);
  });

  it("test_next_pointer: a corrupt free pointer, then the pointer restored: 3, 2, then 0 errors", () => {
    const { k, c, validate } = setup(SLAB_POISON, "TestSlub_next_ptr_free");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    k.kmem_cache_free(c, p);
    const s = k.slub.byAddr.get(c)!;
    const ptrAddr = p + s.offset;
    const saved = k.read64(ptrAddr);
    k.write8(ptrAddr, k.read8(ptrAddr) ^ 0x12);
    // Freechain corrupt (the chain is cut), Wrong object count + Object count adjusted.
    expect(validate()).toBe(3);
    expect(k.dmesg()).toContain("Freechain corrupt");
    k.write64(ptrAddr, saved);
    // The cut chain is whole again, so the repaired in-use count is now wrong the other way.
    expect(validate()).toBe(2);
    expect(validate()).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it("test_first_word: poison overwritten at byte 0 of a free object: 2 errors", () => {
    const { k, c, validate } = setup(SLAB_POISON, "TestSlub_1th_word_free");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    k.kmem_cache_free(c, p);
    k.write8(p, 0x78);
    expect(validate()).toBe(2);
    expect(k.dmesg()).toMatch(/INFO: 0x[0-9a-f]{16}-0x[0-9a-f]{16}\. First byte 0x78 instead of 0x6b/);
    expect(k.read8(p)).toBe(0x6b);
    expect(k.check()).toEqual([]);
  });

  it("test_clobber_50th_byte: poison overwritten at byte 50: 2 errors", () => {
    const { k, c, validate } = setup(SLAB_POISON, "TestSlub_50th_word_free");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    k.kmem_cache_free(c, p);
    k.write8(p + 50, 0x9a);
    expect(validate()).toBe(2);
    expect(k.read8(p + 50)).toBe(0x6b);
  });

  it("test_clobber_redzone_free: the inactive red zone of a freed object: 2 errors", () => {
    const { k, c, validate } = setup(SLAB_RED_ZONE, "TestSlub_RZ_free");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    k.kmem_cache_free(c, p);
    k.write8(p + 64, 0xab);
    expect(validate()).toBe(2);
    expect(k.dmesg()).toMatch(/First byte 0xab instead of 0xbb/);
    expect(k.read8(p + 64)).toBe(0xbb);
  });

  it("test_kmalloc_redzone_access: 5.4 does not red-zone a kmalloc object's slack (orig_size is 6.2+)", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=ZU,kmalloc-32" });
    const p = k.kmalloc(18, GFP_KERNEL);
    k.write8(p + 18, 0x56);
    k.write8(p + 19, 0x78);
    const before = k.slab.debug.errors;
    k.echo(1, "/sys/kernel/slab/kmalloc-32/validate");
    expect(k.slab.debug.errors - before).toBe(0);
    k.kfree(p);
  });

  it("test_leak_destroy: an object never freed is listed on destroy and the cache stays (5.4 leaks it)", () => {
    // SLAB_NOLEAKTRACE keeps it from merging into an existing 64-byte cache (5.4 has no SLAB_NO_MERGE).
    const { k, c } = setup(SLAB_NOLEAKTRACE, "TestSlub_leak_destroy");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    const before = k.slab.debug.errors;
    const mark = k.logMark();
    k.kmem_cache_destroy(c);
    expect(k.slab.debug.errors - before).toBe(1);
    const log = k.dmesg(mark);
    expect(log).toContain(
      "BUG TestSlub_leak_destroy (Not tainted): Objects remaining in TestSlub_leak_destroy on __kmem_cache_shutdown()",
    );
    expect(log).toMatch(/INFO: Object 0x[0-9a-f]{16} @offset=\d+/);
    expect(log).toContain("kmem_cache_destroy TestSlub_leak_destroy: Slab cache still has objects");
    expect(k.cat("/proc/slabinfo")).toMatch(/^TestSlub_leak_destroy /m);
    expect(p).toBeGreaterThan(PAGE_OFFSET);
    expect(k.check()).toEqual([]);
  });

  it("test_krealloc_redzone_zeroing, as 5.4's krealloc does it (in place while ksize allows, no re-zeroing)", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=ZU,kmalloc-64" });
    const p = k.kmalloc(48, GFP_KERNEL);
    k.memset(p, 0xff, 48);
    expect(k.krealloc(p, 40, GFP_KERNEL | __GFP_ZERO)).toBe(p);
    // No red zone inside the 64-byte slot in 5.4 (bytes 48-63 keep what the fresh slab held), none
    // re-zeroed; the red zone starts at byte 64.
    expect([...k.readBytes(p, 72)]).toEqual([
      ...new Array(48).fill(0xff),
      ...new Array(16).fill(0),
      ...new Array(8).fill(0xcc),
    ]);
    expect(k.krealloc(p, 56, GFP_KERNEL | __GFP_ZERO)).toBe(p);
    const before = k.slab.debug.errors;
    k.echo(1, "/sys/kernel/slab/kmalloc-64/validate");
    expect(k.slab.debug.errors - before).toBe(0);
    k.memset(p, 0xff, 56);
    const q = k.krealloc(p, 112, GFP_KERNEL | __GFP_ZERO);
    expect(q).not.toBe(p);
    expect(k.ksize(q)).toBe(128);
    // ksize(p) = 64 bytes are copied: the 56 written and 8 bytes of the old object's tail.
    expect([...k.readBytes(q, 56)]).toEqual(new Array(56).fill(0xff));
    expect([...k.readBytes(q + 64, 48)]).toEqual(new Array(48).fill(0));
    k.kfree(q);
    expect(k.check()).toEqual([]);
  });

  it("SLAB_STORE_USER tracks name the caller in the report", () => {
    const { k, c, validate } = setup(SLAB_POISON | SLAB_STORE_USER, "TestSlub_tracks");
    const p = k.kmem_cache_alloc(c, GFP_KERNEL);
    k.kmem_cache_free(c, p);
    k.write8(p + 3, 0x21);
    expect(validate()).toBe(2);
    const log = k.dmesg();
    expect(log).toMatch(/INFO: Allocated in [^ ]+\+0x[0-9a-f]+\/0x[0-9a-f]+ age=\d+ cpu=0 pid=1\n/);
    expect(log).toMatch(/INFO: Freed in [^ ]+\+0x[0-9a-f]+\/0x[0-9a-f]+ age=\d+ cpu=0 pid=1\n/);
    expect(log).toMatch(/\] \t__slab_alloc\+0x[0-9a-f]+\/0x[0-9a-f]+\n\[[ .0-9]+\] \tkmem_cache_alloc\+/);
  });
});

describe("overflow_allocation_test (lib/overflow_kunit.c)", () => {
  it("1 byte succeeds, a wrapped size succeeds, a saturated size returns NULL", () => {
    const k = boot({ mem: "256M" });
    for (const alloc of [
      (n: number) => k.kmalloc(n, GFP_KERNEL),
      (n: number) => k.kmalloc_node(n, GFP_KERNEL, -1),
      (n: number) => k.kzalloc(n, GFP_KERNEL),
      (n: number) => k.kzalloc_node(n, GFP_KERNEL, 0),
    ]) {
      const one = alloc(1);
      expect(one).toBeGreaterThan(0x10);
      k.kfree(one);
      // 5*4096 * (SIZE_MAX/(5*4096) + 1) wraps to a small size the allocator cannot tell apart.
      const wrapped = Number(BigInt.asUintN(64, 5n * 4096n * (2n ** 64n / (5n * 4096n) + 1n)));
      const w = alloc(wrapped);
      expect(w).toBeGreaterThan(0x10);
      k.kfree(w);
      // array_size() saturates to SIZE_MAX.
      expect(alloc(2 ** 64 - 1)).toBe(0);
    }
    expect(k.kmalloc_array(2 ** 33, 2 ** 33, GFP_KERNEL)).toBe(0);
    expect(k.kcalloc(2 ** 40, 2 ** 40, GFP_KERNEL)).toBe(0);
    expect(k.check()).toEqual([]);
  });
});
