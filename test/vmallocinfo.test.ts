// /proc/vmallocinfo for a fixed sequence (kernel-facts §4.7; line layout as in the oracle's capture,
// oracle/REPORT.md "/proc/vmallocinfo"): live areas in address order, then unpurged ranges, newest first.
import { describe, expect, it } from "vitest";
import { boot, GFP_KERNEL, type Kernel, PAGE_KERNEL, VM_MAP } from "../src/index.ts";

/** %pS of the module function that called vmalloc (its offset is the source line). */
const CALLER = / init\+0x[0-9a-f]+\/0x[0-9a-f]+ \[vi\]/;

function load(k: Kernel): void {
  const r = k.insmod({
    name: "vi",
    init(kk) {
      kk.vmalloc(10000);
      const b = kk.vzalloc(5 * 4096);
      kk.vmalloc_user(100);
      const pages = [kk.alloc_page(GFP_KERNEL)!, kk.alloc_page(GFP_KERNEL)!];
      kk.vmap(pages, 2, VM_MAP, PAGE_KERNEL);
      kk.kvmalloc(5 * 2 ** 20, GFP_KERNEL);
      kk.vfree(b);
      return 0;
    },
  });
  expect(r.ok).toBe(true);
}

describe("/proc/vmallocinfo", () => {
  it("shows each area's range with its guard page, size, caller, pages, kind and nodes", () => {
    const k = boot({ mem: "1G" });
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    load(k);
    const lines = k.cat("/proc/vmallocinfo").split("\n");
    for (const l of lines.slice(0, 5)) expect(l).toMatch(CALLER);
    const expected = [
      "0xffffc90000000000-0xffffc90000004000   16384 C pages=3 vmalloc N0=3",
      "0xffffc9000000a000-0xffffc9000000c000    8192 C pages=1 vmalloc user N0=1",
      "0xffffc9000000c000-0xffffc9000000f000   12288 C vmap",
      "0xffffc9000000f000-0xffffc90000510000 5246976 C pages=1280 vmalloc vpages N0=1280",
      "0xffffc90000510000-0xffffc90000514000   16384 C pages=3 vmalloc N0=3",
      "0xffffc90000004000-0xffffc9000000a000   24576 unpurged vm_area",
      "",
    ];
    expect(lines.map((l) => l.replace(CALLER, " C"))).toEqual(expected);
  });

  it("prints %pK: hashed with kptr_restrict=0 (the upstream default), zeros with 2", () => {
    const k = boot({ mem: "1G" });
    load(k);
    const first = k.cat("/proc/vmallocinfo").split("\n")[0]!;
    const h = (a: number) => k.core.printfCtx.hashPointer(a);
    expect(first.startsWith(`0x${h(0xc90000000000)}-0x${h(0xc90000004000)}   16384 init+`)).toBe(true);
    k.echo(2, "/proc/sys/kernel/kptr_restrict");
    expect(k.cat("/proc/vmallocinfo").split("\n")[5]).toBe(
      "0x0000000000000000-0x0000000000000000   24576 unpurged vm_area",
    );
  });

  it("is empty with no live area, even with ranges waiting to be purged (show_purge_info follows the last area)", () => {
    const k = boot({ mem: "1G" });
    k.vfree(k.vmalloc(4096));
    expect(k.vm.areas.purge.length).toBe(1);
    expect(k.cat("/proc/vmallocinfo")).toBe("");
  });

  it("counts pages per node on a NUMA machine", () => {
    const k = boot({ mem: "2G", nodes: 2 });
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    k.setCpu(0);
    k.vmalloc_node(3 * 4096, 0);
    k.vmalloc_node(2 * 4096, 1);
    const l = k.cat("/proc/vmallocinfo").split("\n");
    expect(l[0]).toMatch(/ pages=3 vmalloc N0=3$/);
    expect(l[1]).toMatch(/ pages=2 vmalloc N1=2$/);
  });
});
