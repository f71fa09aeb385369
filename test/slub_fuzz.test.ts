// Junk into every slab entry point: random numbers, interior pointers, stale handles. Each call either
// works, or is reported and refused (a kernel report in the log, or a TypeError for something that is not
// a 48-bit address or a valid size/flag); nothing else escapes, and k.check() stays clean throughout.
import fc from "fast-check";
import { expect, it } from "vitest";
import { boot, GFP_KERNEL, KernelError } from "../src/index.ts";

const junk = fc.oneof(
  fc.constantFrom(
    0,
    1,
    15,
    16,
    17,
    -1,
    4096,
    0x888000000000,
    0xc90000000000,
    0xea0000000000,
    2 ** 47,
    2 ** 53,
  ),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.double({ noNaN: false }),
);

it("random arguments to kfree/ksize/krealloc/kmem_cache_* never corrupt the allocator", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: 9 }), junk, fc.nat(), fc.nat({ max: 300 })), { maxLength: 40 }),
      (ops) => {
        const k = boot({ mem: "128M" });
        const c = k.kmem_cache_create("fuzz", 96, 0, 0, () => {});
        const live = [k.kmalloc(100, GFP_KERNEL), k.kmem_cache_alloc(c, GFP_KERNEL)];
        for (const [op, x, i, off] of ops) {
          const base = live[i % live.length]!;
          const inside = base + 1 + (off % 90); // never an object's start
          try {
            switch (op) {
              case 0:
                k.kfree(x);
                break;
              case 1:
                k.kfree(inside);
                break;
              case 2:
                k.ksize(inside);
                break;
              case 3:
                k.kmem_cache_free(c, inside);
                break;
              case 4:
                k.kmem_cache_free(x, base);
                break;
              case 5:
                k.kmem_cache_alloc(x, GFP_KERNEL);
                break;
              case 6:
                k.kmalloc(x, GFP_KERNEL);
                break;
              case 7:
                k.kmalloc(64, x);
                break;
              case 8:
                k.kmem_cache_size(x);
                break;
              default:
                k.kmem_cache_destroy(x === 0 ? 0 : x + 8);
            }
          } catch (e) {
            if (!(e instanceof TypeError || e instanceof KernelError)) throw e;
          }
        }
        // The module-free path leaves reports only; the live objects are still ours and still free cleanly.
        for (const p of live) if (k.slub.isAllocated(p)) k.kfree(p);
        expect(k.check()).toEqual([]);
      },
    ),
    { numRuns: 150, seed: 11 },
  );
});
