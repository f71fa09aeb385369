// SLUB debug reports line by line in 5.4's layout (kernel-facts §5.5; mm/slub.c slab_bug, print_trailer,
// check_bytes_and_report, slab_fix), with hashed pointers matched by pattern.
import { describe, expect, it } from "vitest";
import { boot, GFP_KERNEL, type Kernel } from "../src/index.ts";
import { log } from "./helpers/machine.ts";

const P = "[0-9a-f]{16}";
const HEXROW = (label: string, bytes: string, ascii: string) =>
  new RegExp(`^${label}${P}: ${bytes.replace(/ /g, " ")}\\s+${ascii.replace(/\./g, "\\.")}$`);

function expectPattern(got: readonly string[], want: readonly (string | RegExp)[]): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    if (typeof w === "string") expect(got[i], `line ${i}`).toBe(w);
    else expect(got[i], `line ${i}`).toMatch(w);
  });
}

/** The dump_stack() block: CPU line, hardware name, Call Trace and its frames. */
function stackBlock(l: readonly string[], from: number): number {
  expect(l[from]).toMatch(/^CPU: 0 PID: 1 Comm: init Tainted: G {4}B {13}5\.4\.0-kmem #1$/);
  expect(l[from + 1]).toMatch(/^Hardware name: QEMU/);
  expect(l[from + 2]).toBe("Call Trace:");
  let i = from + 3;
  while (i < l.length && l[i]!.startsWith(" ")) i++;
  expect(l[from + 3]).toMatch(/^ dump_stack\+0x[0-9a-f]+\/0x[0-9a-f]+$/);
  return i;
}

describe("5.4 SLUB report layout", () => {
  function redzoneReport(k: Kernel): string[] {
    const p = k.kmalloc(64, GFP_KERNEL);
    k.write8(p + 64, 0x42);
    const mark = k.logMark();
    k.kfree(p);
    return log(k, mark);
  }

  it("a right red zone overwrite found by kfree (slub_debug=FZPU)", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=FZPU" });
    const l = redzoneReport(k);
    const head: (string | RegExp)[] = [
      "=".repeat(77),
      "BUG kmalloc-64 (Not tainted): Redzone overwritten",
      "-".repeat(77),
      "",
      "Disabling lock debugging due to kernel taint",
      new RegExp(`^INFO: 0x${P}-0x${P}\\. First byte 0x42 instead of 0xcc$`),
      /^INFO: Allocated in redzoneReport\+0x[0-9a-f]+\/0x[0-9a-f]+ age=0 cpu=0 pid=1$/,
      /^\t__slab_alloc\+/,
      /^\tkmem_cache_alloc\+/,
      /^\tredzoneReport\+/,
    ];
    expectPattern(l.slice(0, head.length), head);
    let i = head.length;
    while (l[i]!.startsWith("\t")) i++;
    // Never freed: print_track() prints nothing for an empty free track.
    expect(l[i]).toMatch(
      new RegExp(`^INFO: Slab 0x${P} objects=\\d+ used=\\d+ fp=0x${P} flags=0x[0-9a-f]+$`),
    );
    expect(l[i + 1]).toMatch(new RegExp(`^INFO: Object 0x${P} @offset=\\d+ fp=0x${P}$`));
    expect(l[i + 2]).toBe("");
    i += 3;
    // 5.4 kmalloc-64 with FZPU: left pad 64 (4 rows), object 64 (4 rows), right zone 8, padding.
    for (let r = 0; r < 4; r++) expect(l[i++]).toMatch(HEXROW("Redzone ", "(cc ){15}cc", "................"));
    for (let r = 0; r < 4; r++)
      expect(l[i++]).toMatch(new RegExp(`^Object ${P}: ([0-9a-f]{2} ){15}[0-9a-f]{2}  .{16}$`));
    expect(l[i++]).toMatch(new RegExp(`^Redzone ${P}: 42 cc cc cc cc cc cc cc {26}B\\.{7}$`));
    while (l[i]!.startsWith("Padding ")) expect(l[i++]).toMatch(new RegExp(`^Padding ${P}: (5a ?)+\\s+Z+$`));
    i = stackBlock(l, i);
    expect(l[i]).toMatch(new RegExp(`^FIX kmalloc-64: Restoring 0x${P}-0x${P}=0xcc$`));
    expect(l[i + 1]).toBe("");
    expect(l[i + 2]).toMatch(new RegExp(`^FIX kmalloc-64: Object at 0x${P} not freed$`));
    expect(l.length).toBe(i + 3);
    // Restored, not freed: the object is still allocated and the allocator is sound.
    expect(k.check()).toEqual([]);
  });

  it("a write after free found when the object is handed out again: Poison overwritten, slab written off", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=FZPU" });
    const p = k.kmalloc(64, GFP_KERNEL);
    k.kfree(p);
    k.write8(p + 8, 0x41);
    const mark = k.logMark();
    const q = k.kmalloc(64, GFP_KERNEL);
    const l = log(k, mark);
    expect(l[1]).toBe("BUG kmalloc-64 (Not tainted): Poison overwritten");
    expect(l[5]).toMatch(new RegExp(`^INFO: 0x${P}-0x${P}\\. First byte 0x41 instead of 0x6b$`));
    expect(l.some((x) => /^INFO: Freed in /.test(x))).toBe(true);
    expect(l).toContainEqual(
      expect.stringMatching(
        /^Object [0-9a-f]{16}: 6b 6b 6b 6b 6b 6b 6b 6b 41 6b 6b 6b 6b 6b 6b 6b {2}kkkkkkkkAkkkkkkk$/,
      ),
    );
    expect(l.at(-1)).toBe("FIX kmalloc-64: Marking all objects used");
    // The allocation still succeeds, from another slab.
    expect(q).not.toBe(0);
    expect(k.slub.slabOfAddr(q)).not.toBe(k.slub.slabOfAddr(p));
    expect(k.check()).toEqual([]);
  });

  it("no report at all without slub_debug (the redzone write goes unseen)", () => {
    const k = boot({ mem: "256M" });
    expect(redzoneReport(k)).toEqual([]);
  });

  it("per-cache slub_debug: only the named cache is checked", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=FZ,kmalloc-64" });
    expect(redzoneReport(k)[1]).toBe("BUG kmalloc-64 (Not tainted): Redzone overwritten");
    const p = k.kmalloc(128, GFP_KERNEL);
    k.write8(p + 128, 0x42);
    const mark = k.logMark();
    k.kfree(p);
    expect(log(k, mark)).toEqual([]);
    expect(k.cat("/sys/kernel/slab/kmalloc-64/red_zone").trim()).toBe("1");
    expect(k.cat("/sys/kernel/slab/kmalloc-128/red_zone").trim()).toBe("0");
  });

  it("an unknown slub_debug letter is skipped with the kernel's message", () => {
    const k = boot({ mem: "256M", cmdline: "slub_debug=FQ" });
    expect(k.dmesg()).toContain("slub_debug option 'Q' unknown. skipped");
  });

  it("kmem_cache_alloc_bulk / kmem_cache_free_bulk", () => {
    const k = boot({ mem: "256M" });
    const c = k.kmem_cache_create("bulk_test", 200, 0, 0, () => {});
    const p: number[] = [];
    expect(k.kmem_cache_alloc_bulk(c, GFP_KERNEL, 50, p)).toBe(50);
    expect(new Set(p).size).toBe(50);
    const s = k.slub.list.find((x) => x.name === "bulk_test")!;
    expect(k.slub.slabsOf(s).reduce((a, id) => a + k.slub.liveObjects(s, id), 0)).toBe(50);
    k.kmem_cache_free_bulk(c, 50, p);
    expect(k.kmem_cache_shrink(c)).toBe(0);
    k.kmem_cache_destroy(c);
    expect(k.check()).toEqual([]);
  });
});

describe("CONFIG_SLAB_FREELIST_RANDOM", () => {
  function firstSlab(seed: number): number[] {
    const k = boot({ mem: "256M", seed });
    const c = k.kmem_cache_create("rnd_order", 200, 0, 0, () => {});
    const s = k.slub.list.find((x) => x.name === "rnd_order")!;
    const objs = Array.from({ length: s.objects }, () => k.kmem_cache_alloc(c, GFP_KERNEL));
    const base = k.slub.slabBase(k.slub.slabOfAddr(objs[0]!));
    return objs.map((o) => (o - base) / s.size);
  }

  it("a new slab hands out its objects in the cache's random order, the same for the same seed", () => {
    const a = firstSlab(1);
    expect([...a].sort((x, y) => x - y)).toEqual(a.map((_, i) => i)); // a permutation of the slots
    expect(a).not.toEqual(a.map((_, i) => i));
    expect(firstSlab(1)).toEqual(a);
    expect(firstSlab(2)).not.toEqual(a);
  });
});

describe("CONFIG_SLAB_FREELIST_HARDENED (5.4.0: ptr ^ s->random ^ &ptr)", () => {
  it("a free object's first word is the obfuscated next pointer; decoding gives the real one", () => {
    const k = boot({ mem: "256M" });
    const a = k.kmalloc(64, GFP_KERNEL);
    const b = k.kmalloc(64, GFP_KERNEL);
    k.kfree(a);
    k.kfree(b); // b -> a on this CPU's freelist
    const s = k.slub.list.find((c) => c.name === "kmalloc-64")!;
    expect(s.offset).toBe(0);
    expect(k.slub.getFreePointer(s, b)).toBe(a);
    const raw = k.read64(b);
    const canon = BigInt(a) | 0xffff000000000000n;
    const expected = canon ^ ((BigInt(s.rndHi) << 32n) | BigInt(s.rndLo)) ^ (BigInt(b) | 0xffff000000000000n);
    expect(raw).toBe(expected);
    expect(raw).not.toBe(canon);
    expect(k.kmalloc(64, GFP_KERNEL)).toBe(b);
    expect(k.kmalloc(64, GFP_KERNEL)).toBe(a);
  });
});
