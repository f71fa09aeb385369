import { describe, expect, it } from "vitest";
import {
  __GFP_ACCOUNT,
  __GFP_BITS_MASK,
  __GFP_COMP,
  __GFP_DMA,
  __GFP_HIGHMEM,
  __GFP_MOVABLE,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIM,
  __GFP_RECLAIMABLE,
  __GFP_WRITE,
  __GFP_ZERO,
  formatGfp,
  formatGfpTrace,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_KERNEL_ACCOUNT,
  GFP_MOVABLE_MASK,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  GFP_TRANSHUGE,
  GFP_TRANSHUGE_LIGHT,
  GFP_USER,
  GFP_ZONEMASK,
} from "../src/mm/gfp.ts";
import {
  formatPageFlags,
  NR_PAGEFLAGS,
  PAGE_FLAGS_CHECK_AT_FREE,
  PAGE_FLAGS_CHECK_AT_PREP,
  PG_active,
  PG_head,
  PG_lru,
  PG_slab,
  PG_swapbacked,
  PG_uptodate,
} from "../src/mm/page_flags.ts";

describe("gfp composites (5.4 upstream)", () => {
  it("have the kernel's values", () => {
    expect(GFP_ATOMIC).toBe(0xa20);
    expect(GFP_KERNEL).toBe(0xcc0);
    expect(GFP_KERNEL_ACCOUNT).toBe(0x400cc0);
    expect(GFP_NOWAIT).toBe(0x800);
    expect(GFP_NOIO).toBe(0xc00);
    expect(GFP_NOFS).toBe(0xc40);
    expect(GFP_USER).toBe(0x100cc0);
    expect(GFP_DMA).toBe(0x1);
    expect(GFP_DMA32).toBe(0x4);
    expect(GFP_HIGHUSER).toBe(0x100cc2);
    expect(GFP_HIGHUSER_MOVABLE).toBe(0x100cca);
    expect(GFP_TRANSHUGE_LIGHT).toBe(0x1c20ca);
    expect(GFP_TRANSHUGE).toBe(0x1c24ca);
    expect(__GFP_RECLAIM).toBe(0xc00);
    expect(__GFP_BITS_MASK).toBe(0x7fffff);
    expect(GFP_ZONEMASK).toBe(0x0f);
    expect(GFP_MOVABLE_MASK).toBe(0x18);
  });
});

describe("formatGfp (%pGg)", () => {
  it.each([
    [GFP_KERNEL, "GFP_KERNEL"],
    [GFP_KERNEL | __GFP_COMP, "GFP_KERNEL|__GFP_COMP"],
    [GFP_KERNEL | __GFP_ZERO, "GFP_KERNEL|__GFP_ZERO"],
    [GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY, "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY"],
    [GFP_KERNEL | __GFP_DMA, "GFP_KERNEL|GFP_DMA"],
    [GFP_ATOMIC, "GFP_ATOMIC"],
    [GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"],
    [GFP_NOWAIT, "GFP_NOWAIT"],
    [GFP_NOIO, "GFP_NOIO"],
    [GFP_NOFS, "GFP_NOFS"],
    [GFP_USER, "GFP_USER"],
    [GFP_DMA32, "GFP_DMA32"],
    [GFP_HIGHUSER, "GFP_HIGHUSER"],
    [GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"],
    [GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"],
    [GFP_TRANSHUGE, "GFP_TRANSHUGE"],
    [__GFP_HIGHMEM | __GFP_RECLAIMABLE, "__GFP_HIGHMEM|__GFP_RECLAIMABLE"],
    [__GFP_MOVABLE | __GFP_WRITE | __GFP_ACCOUNT, "__GFP_MOVABLE|__GFP_ACCOUNT|__GFP_WRITE"],
    [0x400, "__GFP_DIRECT_RECLAIM"],
    [GFP_KERNEL | 0x1000000, "GFP_KERNEL|0x1000000"],
    [0x800000, "0x800000"],
    [0, ""],
  ])("%#x -> %s", (flags, text) => {
    expect(formatGfp(flags)).toBe(text);
  });

  it("tracepoints print none for 0", () => {
    expect(formatGfpTrace(0)).toBe("none");
    expect(formatGfpTrace(GFP_KERNEL)).toBe("GFP_KERNEL");
  });
});

describe("page flags (%pGp, 5.4)", () => {
  const bit = (...bits: number[]) => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);

  it("prints names in pageflag_names order, not bit order", () => {
    expect(formatPageFlags(bit(PG_slab))).toBe("slab");
    expect(formatPageFlags(bit(PG_slab, PG_head))).toBe("slab|head");
    expect(formatPageFlags(bit(PG_uptodate, PG_lru, PG_active, PG_head, PG_swapbacked))).toBe(
      "uptodate|lru|active|head|swapbacked",
    );
    expect(formatPageFlags(bit(0, 1, 7, 8))).toBe("locked|waiters|error|referenced");
  });

  it("drops the zone/node bits above NR_PAGEFLAGS", () => {
    expect(formatPageFlags(0x1fffff80000000n)).toBe("");
    expect(formatPageFlags(0x0100000000000200n)).toBe("slab");
    expect(formatPageFlags(0xffffffffffffffffn)).toBe(
      "locked|waiters|error|referenced|uptodate|dirty|lru|active|workingset|slab|owner_priv_1|arch_1|" +
        "reserved|private|private_2|writeback|head|mappedtodisk|reclaim|swapbacked|unevictable|mlocked|" +
        "uncached|hwpoison",
    );
  });

  it("check masks", () => {
    expect(NR_PAGEFLAGS).toBe(24);
    expect(PAGE_FLAGS_CHECK_AT_PREP).toBe(0xffffff);
    expect(PAGE_FLAGS_CHECK_AT_FREE).toBe(0x30f231);
    expect(formatPageFlags(BigInt(PAGE_FLAGS_CHECK_AT_FREE))).toBe(
      "locked|lru|active|slab|reserved|private|private_2|writeback|unevictable|mlocked",
    );
  });
});
