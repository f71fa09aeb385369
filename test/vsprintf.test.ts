import { describe, expect, it } from "vitest";
import { type PrintfContext, vsprintf } from "../src/kernel/vsprintf.ts";

const ctx: PrintfContext = {
  hashPointer: (addr) => (addr ^ 0x5a5a5a5a).toString(16).padStart(16, "0"),
  kptrRestrict: 0,
  symbolize: (addr) =>
    addr >= 0xffff81000100 && addr < 0xffff81000140
      ? `kmalloc_order+0x${(addr - 0xffff81000100).toString(16)}/0x40`
      : addr >= 0xffffa0000000 && addr < 0xffffa0000100
        ? `init_module+0x${(addr - 0xffffa0000000).toString(16)}/0x100 [lowlevel_mem]`
        : `0x${addr.toString(16)}`,
};
const f = (fmt: string, ...args: unknown[]) => vsprintf(fmt, args, ctx);

describe("%pGg (kernel-facts §3 examples)", () => {
  it.each([
    [0xcc0, "0xcc0(GFP_KERNEL)"],
    [0x40cc0, "0x40cc0(GFP_KERNEL|__GFP_COMP)"],
    [0xdc0, "0xdc0(GFP_KERNEL|__GFP_ZERO)"],
    [0x12cc0, "0x12cc0(GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY)"],
    [0xcc1, "0xcc1(GFP_KERNEL|GFP_DMA)"],
    [0xa20, "0xa20(GFP_ATOMIC)"],
    [0x100cca, "0x100cca(GFP_HIGHUSER_MOVABLE)"],
    [0x1c24ca, "0x1c24ca(GFP_TRANSHUGE)"],
    [0, "0x0()"],
  ])("%#x(%pGg) of %i", (gfp, text) => {
    expect(f("%#x(%pGg)", gfp, gfp)).toBe(text);
  });

  it("warn_alloc line", () => {
    expect(
      f(
        "%s: %pV, mode:%#x(%pGg), nodemask=%*pbl",
        "insmod",
        { fmt: "page allocation failure: order:%u", args: [10] },
        0x40cc0,
        0x40cc0,
        1,
        null,
      ),
    ).toBe("insmod: page allocation failure: order:10, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null)");
  });
});

describe("%pGp", () => {
  it("prints the word and the names below NR_PAGEFLAGS", () => {
    expect(f("flags: %#lx(%pGp)", 0x200, 0x200)).toBe("flags: 0x200(slab)");
    expect(f("(%pGp)", 0x10200n)).toBe("(slab|head)");
    expect(f("(%pGp)", 0x90034)).toBe("(uptodate|lru|active|head|swapbacked)");
    expect(f("flags: %#lx(%pGp)", 0x1fffff80000000n, 0x1fffff80000000n)).toBe("flags: 0x1fffff80000000()");
  });
});

describe("widths and integer conversions", () => {
  it("buddyinfo and meminfo layouts", () => {
    expect(f("Node %d, zone %8s ", 0, "DMA")).toBe("Node 0, zone      DMA ");
    expect(f("%6lu %6lu ", 1, 700)).toBe("     1    700 ");
    expect(f("%-16s%8lu kB", "MemTotal:", 4017428)).toBe("MemTotal:        4017428 kB");
    expect(f("Node %4d, zone %8s, type %12s ", 0, "DMA32", "Unmovable")).toBe(
      "Node    0, zone    DMA32, type    Unmovable ",
    );
    expect(f("%-43s ", "Free pages count per migrate type at order")).toBe(
      "Free pages count per migrate type at order  ",
    );
    expect(f("%-12s %lu", "nr_free_pages", 3977)).toBe("nr_free_pages 3977");
    expect(f("%5lu kB", 0)).toBe("    0 kB");
  });

  it("flags, precision and * width", () => {
    expect(f("%#x", 0x1f)).toBe("0x1f");
    expect(f("%#X", 0x1f)).toBe("0X1F");
    expect(f("%#lx", 0xdead000000000400n)).toBe("0xdead000000000400");
    expect(f("%#x", 0)).toBe("0x0");
    expect(f("%#o", 8)).toBe("010");
    expect(f("%#o", 0)).toBe("0");
    expect(f("%05lx", 0x1fe8d)).toBe("1fe8d");
    expect(f("%05lx", 0xa)).toBe("0000a");
    expect(f("%016lx", 0x1fffff80000000)).toBe("001fffff80000000");
    expect(f("%016llx", 0xffff888000000000n)).toBe("ffff888000000000");
    expect(f("%*d|%-*d|", 4, 7, 3, 5)).toBe("   7|5  |");
    expect(f("%*d", -4, 7)).toBe("7   ");
    expect(f("%+d % d %+d", 5, 5, -5)).toBe("+5  5 -5");
    expect(f("%08d|%-8d|%8d", -42, -42, -42)).toBe("-0000042|-42     |     -42");
    expect(f("%.3d", 7)).toBe("007");
    expect(f("%.20s|", "swapper/0 with a long name")).toBe("swapper/0 with a lon|");
    expect(f("%.*s|", 3, "abcdef")).toBe("abc|");
    expect(f("%-8s|%8s|", "ab", "cd")).toBe("ab      |      cd|");
    expect(f("%c%c %3c", "x", 65, 66)).toBe("xA   B");
    expect(f("%s", null)).toBe("(null)");
    expect(f("100%% %d%%", 5)).toBe("100% 5%");
  });

  it("length modifiers and unsigned wrapping", () => {
    expect(f("%x", -1)).toBe("ffffffff");
    expect(f("%u", -1)).toBe("4294967295");
    expect(f("%lx", -1)).toBe("ffffffffffffffff");
    expect(f("%llu %zu", -1, -2)).toBe("18446744073709551615 18446744073709551614");
    expect(f("%d %ld %zd %lld", -1, -2, -3, -4)).toBe("-1 -2 -3 -4");
    expect(f("%ld", 0xffffffffffffffffn)).toBe("-1");
    expect(f("%d", 0xffffffffn)).toBe("-1");
    expect(f("%lu", 0xffffffffffffffffn)).toBe("18446744073709551615");
    expect(f("%hu %hd %hhu %hhd", -1, 0xffff, 0x1ff, 0x80)).toBe("65535 -1 255 -128");
    expect(f("%i %o %X", 42, 8, 0xabc)).toBe("42 10 ABC");
    expect(f("%lu", 2 ** 40)).toBe("1099511627776");
    expect(f("%tu %jd", 3, -3)).toBe("3 -3");
  });

  it("prints unknown conversions literally", () => {
    expect(f("%y %d", 1)).toBe("%y 1");
    expect(f("50%")).toBe("50%");
  });
});

describe("pointers", () => {
  it("%px sign-extends bit 47, %pa does not", () => {
    expect(f("page:%px refcount:%d", 0x888000000000, 1)).toBe("page:ffff888000000000 refcount:1");
    expect(f("%px", 0xea00007fa340)).toBe("ffffea00007fa340");
    expect(f("%px", 0xffffea00007fa340n)).toBe("ffffea00007fa340");
    expect(f("%px", 0x1000)).toBe("0000000000001000");
    expect(f("%px", null)).toBe("0000000000000000");
    expect(f("%pa", 0x1000)).toBe("0x0000000000001000");
    expect(f("[mem %pa-%pa]", 0x1000, 0x9fbffn)).toBe("[mem 0x0000000000001000-0x000000000009fbff]");
    expect(f("%pap", 0x888000000000)).toBe("0x0000888000000000");
  });

  it("%p hashes (NULL too), %pK honours kptr_restrict", () => {
    expect(f("%p", 0)).toBe("000000005a5a5a5a");
    expect(f("%p", null)).toBe("000000005a5a5a5a");
    expect(f("%pK", 0)).toBe("000000005a5a5a5a");
    expect(vsprintf("%pK", [0x888000000000], { ...ctx, kptrRestrict: 1 })).toBe("0000000000000000");
    expect(vsprintf("%pK", [0x888000000000], { ...ctx, kptrRestrict: 1, capSyslog: true })).toBe(
      "ffff888000000000",
    );
    expect(vsprintf("%pK", [0x888000000000], { ...ctx, kptrRestrict: 2, capSyslog: true })).toBe(
      "0000000000000000",
    );
    expect(vsprintf("%pK", [0x888000000000], { ...ctx, kptrRestrict: 2 })).toBe("0000000000000000");
  });

  it("%p swallows the alphanumeric extension", () => {
    expect(f("%pZz, %pS", 0, 0xffff81000110)).toBe("000000005a5a5a5a, kmalloc_order+0x10/0x40");
  });

  it("%pS / %pSR / %ps / %pB", () => {
    expect(f(" %pS\n", 0xffff81000110)).toBe(" kmalloc_order+0x10/0x40\n");
    expect(f("%pSR", 0xffffa0000020)).toBe("init_module+0x20/0x100 [lowlevel_mem]");
    expect(f("%ps", 0xffffa0000020)).toBe("init_module [lowlevel_mem]");
    expect(f("%ps", 0xffff81000110)).toBe("kmalloc_order");
    expect(f("%pB", 0xffff81000140)).toBe("kmalloc_order+0x40/0x40");
    expect(vsprintf("%pS", [0xffff81000110], { hashPointer: ctx.hashPointer, kptrRestrict: 0 })).toBe(
      "0xffffffff81000110",
    );
  });

  it("%*pbl prints bit lists", () => {
    expect(f("%*pbl", 1, 1)).toBe("0");
    expect(f("%*pbl", 64, 0xf)).toBe("0-3");
    expect(f("%*pbl", 64, 0b111101)).toBe("0,2-5");
    expect(f("%*pbl", 4, 0xff)).toBe("0-3");
    expect(f("%*pbl", 8, [5, 0, 2, 3, 4])).toBe("0,2-5");
    expect(f("%*pbl", 128, new Set([1, 64, 65, 127]))).toBe("1,64-65,127");
    expect(f("%*pbl", 64, 1n << 63n)).toBe("63");
    expect(f("%*pbl", 8, 0)).toBe("");
    expect(f("%*pbl", 8, null)).toBe("(null)");
  });

  it("%pV formats recursively", () => {
    expect(f("<%pV>", { fmt: "%s:%d", args: ["a", 1] })).toBe("<a:1>");
    expect(f("%pV", null)).toBe("(null)");
  });
});
