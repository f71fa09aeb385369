// /sys/kernel/slab/<cache>/<attribute> (5.4 mm/slub.c): the attribute set and value formats of the
// oracle's 6.1 listing of kmalloc-64 (with and without slub_debug=FZPU), show_slab_objects()'s
// "total N<node>=count" per-node format, the merged caches' ":0000040" directories and alias symlinks,
// and the writable files (validate, shrink, min_partial, cpu_partial).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { boot, FsError, GFP_KERNEL, type Kernel } from "../src/index.ts";

const DIR = "/sys/kernel/slab";
/** `name: value` lines as the oracle's init script printed them ($(cat f) drops the trailing newline). */
function listing(name: string): Map<string, string> {
  const text = readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8");
  return new Map(
    text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]),
  );
}
const shape = (v: string) => v.replace(/\d+/g, "#");
const read = (k: Kernel, cache: string, attr: string) => k.cat(`${DIR}/${cache}/${attr}`);
/** What `$(cat f)` gives: the file minus trailing newlines. */
const value = (k: Kernel, cache: string, attr: string) => read(k, cache, attr).replace(/\n+$/, "");

const COUNTS = [
  "objects",
  "objects_partial",
  "partial",
  "cpu_slabs",
  "slabs",
  "total_objects",
  "slabs_cpu_partial",
];

describe("/sys/kernel/slab/kmalloc-64 against the oracle's listing (512M, 1 CPU)", () => {
  it("without debugging: the same files; 5.4's values where 5.4 agrees, the same format for counts", () => {
    const real = listing("oracle-6.1-512M-nodebug-sysfs-kmalloc-64.txt");
    const k = boot({ mem: "512M", cpus: 1 });
    for (let i = 0; i < 100; i++) k.kmalloc(64, GFP_KERNEL);
    expect(real.size).toBe(27);
    for (const [attr, v] of real) {
      const ours = value(k, "kmalloc-64", attr);
      expect([attr, shape(ours)]).toEqual([attr, shape(v)]);
      // 5.4's set_cpu_partial() keeps 30 objects for slots under 256 bytes (6.1: 120).
      if (attr === "cpu_partial") expect(ours).toBe("30");
      else if (!COUNTS.includes(attr)) expect([attr, ours]).toEqual([attr, v]);
    }
    // 100 objects: one full slab and the CPU's slab (36 of 64 in use; its free objects count as active).
    expect(read(k, "kmalloc-64", "objects")).toBe("128 N0=128\n");
    expect(read(k, "kmalloc-64", "total_objects")).toBe("128 N0=128\n");
    expect(read(k, "kmalloc-64", "slabs")).toBe("2 N0=2\n");
    expect(read(k, "kmalloc-64", "cpu_slabs")).toBe("1 N0=1\n");
    expect(read(k, "kmalloc-64", "partial")).toBe("0\n");
    expect(read(k, "kmalloc-64", "slabs_cpu_partial")).toBe("0(0)\n");
  });
  it("with slub_debug=FZPU: the debug flags, no CPU slabs, and 5.4's 512-byte slot", () => {
    const real = listing("oracle-6.1-512M-sysfs-kmalloc-64.txt");
    const k = boot({ mem: "512M", cpus: 1, cmdline: "slub_debug=FZPU" });
    for (let i = 0; i < 11; i++) k.kmalloc(64, GFP_KERNEL);
    for (const [attr, v] of real) {
      const ours = value(k, "kmalloc-64", attr);
      expect([attr, shape(ours)]).toEqual([attr, shape(v)]);
      // 6.1's struct track is 32 bytes and kmalloc caches keep orig_size: a 256-byte slot, 16 per slab.
      if (attr === "slab_size") expect(ours).toBe("512");
      else if (attr === "objs_per_slab") expect(ours).toBe("8");
      else if (!COUNTS.includes(attr)) expect([attr, ours]).toEqual([attr, v]);
    }
    // 11 objects, 8 per slab: a full slab (kept on the full list) and a partial one with 3 in use.
    expect(read(k, "kmalloc-64", "objects")).toBe("11 N0=11\n");
    expect(read(k, "kmalloc-64", "objects_partial")).toBe("3 N0=3\n");
    expect(read(k, "kmalloc-64", "partial")).toBe("1 N0=1\n");
    expect(read(k, "kmalloc-64", "cpu_slabs")).toBe("0\n");
    expect(read(k, "kmalloc-64", "total_objects")).toBe("16 N0=16\n");
  });
});

describe("show_slab_objects() per node", () => {
  it("prints only the nodes with a nonzero count", () => {
    const k = boot({ mem: "1G", nodes: 2, cpus: 2 });
    k.kmalloc_node(64, GFP_KERNEL, 1);
    expect(read(k, "kmalloc-64", "objects")).toBe("64 N1=64\n");
    expect(read(k, "kmalloc-64", "cpu_slabs")).toBe("1 N1=1\n");
    // Allocating on node 0 deactivates the CPU's node-1 slab onto node 1's partial list.
    k.kmalloc_node(64, GFP_KERNEL, 0);
    expect(read(k, "kmalloc-64", "objects")).toBe("65 N0=64 N1=1\n");
    expect(read(k, "kmalloc-64", "total_objects")).toBe("128 N0=64 N1=64\n");
    expect(read(k, "kmalloc-64", "slabs")).toBe("2 N0=1 N1=1\n");
    expect(read(k, "kmalloc-64", "partial")).toBe("1 N1=1\n");
    expect(read(k, "kmalloc-64", "objects_partial")).toBe("1 N1=1\n");
    expect(read(k, "kmalloc-64", "cpu_slabs")).toBe("1 N0=1\n");
  });
  it("cpu_slabs adds each CPU's partial slabs; slabs_cpu_partial shows objects(slabs) per CPU", () => {
    const k = boot({ mem: "512M", cpus: 1 });
    const p: number[] = [];
    for (let i = 0; i < 100; i++) p.push(k.kmalloc(100, GFP_KERNEL)); // kmalloc-128: 32 per slab
    // A free into each of the three full slabs moves them to the CPU's partial list.
    for (const i of [0, 40, 70]) k.kfree(p[i]!);
    expect(read(k, "kmalloc-128", "cpu_slabs")).toBe("4 N0=4\n");
    expect(read(k, "kmalloc-128", "slabs_cpu_partial")).toBe("3(3) C0=3(3)\n");
    expect(read(k, "kmalloc-128", "partial")).toBe("0\n");
  });
});

describe("attributes", () => {
  it("flags, sizes and tunables of a created cache", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    function myCtor(_obj: number) {}
    k.kmem_cache_create("withctor", 100, 0, 0x2000 | 0x20000, myCtor); // HWCACHE_ALIGN | RECLAIM_ACCOUNT
    const v = (a: string) => read(k, "withctor", a);
    expect(v("object_size")).toBe("100\n");
    expect(v("align")).toBe("64\n");
    expect(v("slab_size")).toBe("128\n");
    expect(v("hwcache_align")).toBe("1\n");
    expect(v("reclaim_account")).toBe("1\n");
    expect(v("cache_dma")).toBe("0\n");
    expect(v("destroy_by_rcu")).toBe("0\n");
    expect(v("usersize")).toBe("0\n");
    expect(v("aliases")).toBe("0\n");
    expect(v("remote_node_defrag_ratio")).toBe("100\n");
    expect(v("ctor")).toMatch(/^myCtor\+0x0\/0x[0-9a-f]+\n$/);
    expect(read(k, "kmalloc-8", "ctor")).toBe("");
    expect(read(k, "kmalloc-8", "validate")).toBe("");
    expect(read(k, "kmalloc-8", "shrink")).toBe("");
  });
  it("merged caches live under their ':' id; the name and every alias resolve to it", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    k.kmem_cache_create("test_obj40", 40, 0, 0);
    k.kmem_cache_create("test_obj40b", 40, 0, 0);
    k.kmem_cache_create("test_rcl128", 128, 0, 0x20000 | 0x4000000); // RECLAIM_ACCOUNT | ACCOUNT
    expect(read(k, ":0000040", "object_size")).toBe("40\n");
    expect(read(k, "test_obj40", "aliases")).toBe("1\n");
    expect(read(k, "test_obj40b", "aliases")).toBe("1\n");
    expect(read(k, "test_obj40b", "slab_size")).toBe("40\n");
    expect(read(k, ":aA-0000128", "object_size")).toBe("128\n");
    // kmalloc caches whitelist their whole size (usersize): never merged, named after themselves.
    expect(() => read(k, ":0000128", "object_size")).toThrow(FsError);
    expect(read(k, "kmalloc-128", "usersize")).toBe("128\n");
  });
  it("with slub_debug nothing merges, so there are no ':' ids", () => {
    const k = boot({ mem: "256M", cpus: 1, cmdline: "slub_debug" });
    k.kmem_cache_create("test_obj40", 40, 0, 0);
    expect(read(k, "test_obj40", "red_zone")).toBe("1\n");
    expect(() => read(k, `:F-${String(k.slub.list.at(-1)!.size).padStart(7, "0")}`, "object_size")).toThrow(
      FsError,
    );
  });
  it("unknown caches and attributes are ENOENT", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    for (const p of [`${DIR}/nope/object_size`, `${DIR}/kmalloc-64/nope`, `${DIR}/kmalloc-64`]) {
      let e: unknown;
      try {
        k.cat(p);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(FsError);
      expect((e as FsError).code).toBe("ENOENT");
      expect((e as FsError).message).toBe(`cat: ${p}: No such file or directory`);
    }
    expect(() => k.echo(1, `${DIR}/nope/validate`)).toThrow("No such file or directory");
  });
});

describe("writable files", () => {
  const err = (fn: () => void): FsError => {
    try {
      fn();
    } catch (e) {
      return e as FsError;
    }
    throw new Error("no error");
  };
  it("validate runs validate_slab_cache(): silent on a sound cache, a report on a damaged one", () => {
    const k = boot({ mem: "512M", cpus: 1, cmdline: "slub_debug=FZPU" });
    const p: number[] = [];
    for (let i = 0; i < 11; i++) p.push(k.kmalloc(64, GFP_KERNEL));
    let m = k.logMark();
    k.echo(1, `${DIR}/kmalloc-64/validate`);
    expect(k.dmesg(m)).toBe("");
    k.write8(p[3]! + 64, 0x41); // the right red zone of a live object
    m = k.logMark();
    k.echo(1, `${DIR}/kmalloc-64/validate`);
    expect(k.dmesg(m)).toContain("BUG kmalloc-64 (Not tainted): Redzone overwritten");
    expect(err(() => k.echo(0, `${DIR}/kmalloc-64/validate`)).code).toBe("EINVAL");
  });
  it("shrink frees the empty slabs (kmem_cache_shrink)", () => {
    const k = boot({ mem: "512M", cpus: 1 });
    const c = k.kmem_cache_create("shrinkme", 1000, 0, 0); // 8 per order-1 slab
    const objs: number[] = [];
    for (let i = 0; i < 80; i++) objs.push(k.kmem_cache_alloc(c, GFP_KERNEL));
    for (const o of objs) k.kmem_cache_free(c, o);
    expect(read(k, "shrinkme", "slabs")).not.toBe("0\n");
    k.echo(1, `${DIR}/shrinkme/shrink`);
    expect(read(k, "shrinkme", "slabs")).toBe("0\n");
    expect(err(() => k.echo(2, `${DIR}/shrinkme/shrink`)).code).toBe("EINVAL");
  });
  it("min_partial is clamped to 5..10; cpu_partial needs a non-debug cache", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    k.echo(100, `${DIR}/kmalloc-64/min_partial`);
    expect(read(k, "kmalloc-64", "min_partial")).toBe("10\n");
    k.echo("0\n", `${DIR}/kmalloc-64/min_partial`);
    expect(read(k, "kmalloc-64", "min_partial")).toBe("5\n");
    expect(err(() => k.echo("x", `${DIR}/kmalloc-64/min_partial`)).code).toBe("EINVAL");
    k.echo(7, `${DIR}/kmalloc-64/cpu_partial`);
    expect(read(k, "kmalloc-64", "cpu_partial")).toBe("7\n");
    const d = boot({ mem: "256M", cpus: 1, cmdline: "slub_debug=F" });
    expect(err(() => d.echo(7, `${DIR}/kmalloc-64/cpu_partial`)).code).toBe("EINVAL");
    d.echo(0, `${DIR}/kmalloc-64/cpu_partial`);
  });
  it("the other files are read-only (EACCES)", () => {
    const k = boot({ mem: "256M", cpus: 1 });
    const e = err(() => k.echo(1, `${DIR}/kmalloc-64/object_size`));
    expect(e.code).toBe("EACCES");
    expect(e.message).toBe(`echo: write error: ${DIR}/kmalloc-64/object_size: Permission denied`);
    expect(err(() => k.echo(1, "/proc/slabinfo")).code).toBe("EACCES");
  });
});

describe("/sys/kernel/slab/<cache>/alloc_calls and free_calls (list_locations)", () => {
  it("group the allocated objects' tracks by caller; ENOSYS without SLAB_STORE_USER", async () => {
    const { boot, GFP_KERNEL } = await import("../src/index.ts");
    const k = boot({ mem: "256M", cmdline: "slub_debug=U,kmalloc-192" });
    function keepThree(): number[] {
      return [k.kmalloc(150, GFP_KERNEL), k.kmalloc(150, GFP_KERNEL), k.kmalloc(150, GFP_KERNEL)];
    }
    const kept = keepThree();
    k.msleep(40); // 10 jiffies at HZ=250
    const lone = k.kmalloc(150, GFP_KERNEL);
    const alloc = k.cat("/sys/kernel/slab/kmalloc-192/alloc_calls").split("\n").filter(Boolean);
    expect(alloc).toContainEqual(
      expect.stringMatching(/^ {6}3 keepThree\+0x[0-9a-f]+\/0x[0-9a-f]+ age=10\/10\/10 pid=1 cpus=0$/),
    );
    expect(alloc.some((l) => /^ {6}1 .* age=0 pid=1 cpus=0$/.test(l))).toBe(true);
    // Nothing was freed yet: every free track is empty. (5.4 prints min/avg/max whenever the sum of the
    // ages differs from the minimum, so equal ages of several objects still show as a triple.)
    expect(k.cat("/sys/kernel/slab/kmalloc-192/free_calls")).toMatch(
      /^ {6}4 <not-available> age=(\d+)\/\1\/\1 pid=0\n$/,
    );
    for (const p of [...kept, lone]) k.kfree(p);
    expect(k.cat("/sys/kernel/slab/kmalloc-192/alloc_calls")).toBe("No data\n");
    expect(() => k.cat("/sys/kernel/slab/kmalloc-64/alloc_calls")).toThrow(/Function not implemented/);
  });
});
