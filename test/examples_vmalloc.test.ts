// The vmalloc examples run as kmem modules: the book's ch9/vmalloc_demo (Linux Kernel Programming, 1st
// edition, 5.4; book.md §2.9, §5.6) and kmem's own kvmalloc_sizes. Their dmesg output is checked line by
// line against the book's printk format strings, and every address is cross-checked against the kernel:
// the vmalloc range, /proc/vmallocinfo, /proc/meminfo, ksize(), the page tables. What the module prints
// about its allocations is compared with an independent model of 5.4's kvmalloc() rules, written out
// here as literal tables.

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import kvmalloc_sizes from "../examples/kvmalloc_sizes.ts";
import vmalloc_demo from "../examples/vmalloc_demo.ts";
import { runModuleFile } from "../src/cli/main.ts";
import {
  __GFP_NOWARN,
  boot,
  GFP_KERNEL,
  hex16,
  type Kernel,
  PAGE_OFFSET,
  VMALLOC_END,
  VMALLOC_START,
} from "../src/index.ts";
import {
  addr,
  CUT_HERE,
  END_TRACE,
  expectSubsequence,
  hashed,
  lines,
  liveObjects,
  pat,
  traceFrames,
} from "./helpers/dmesg.ts";

const example = (f: string) => fileURLToPath(new URL(`../examples/${f}`, import.meta.url));

const CPU_LINE = /^CPU: \d+ PID: \d+ Comm: insmod Tainted: G +O +5\.4\.0-kmem #1$/;
const MB = 1024 * 1024;
/** The machine the tests boot: 1 GB of RAM (the direct map covers PAGE_OFFSET .. PAGE_OFFSET + 1 GB). */
const MEM = 1024 * MB;

/**
 * print_hex_dump_bytes(prefix, DUMP_PREFIX_NONE, ...) rows, written independently of the engine (rowsize
 * 16, groupsize 1, ascii on): the prefix, the hex bytes padded to column 49, then the bytes as text.
 */
function hexDumpNone(prefix: string, bytes: ArrayLike<number>): string[] {
  const rows: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = Array.from(bytes).slice(off, off + 16);
    const hex = row.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    rows.push(`${prefix}${hex.padEnd(49)}${text}`);
  }
  return rows;
}

/** The dump of 16 zero bytes, spelled out. */
const ZERO_DUMP = ` content: ${"00 ".repeat(15)}00  ................`;

const inVmallocRange = (a: number) => a >= VMALLOC_START && a <= VMALLOC_END;
const inDirectMap = (a: number) => a >= PAGE_OFFSET && a < PAGE_OFFSET + MEM;

/** VmallocUsed from /proc/meminfo, in kB. */
function vmallocUsedKb(k: Kernel): number {
  const m = /^VmallocUsed: +(\d+) kB$/m.exec(k.cat("/proc/meminfo"));
  expect(m).not.toBeNull();
  return Number(m![1]);
}

interface VmInfo {
  start: number;
  end: number;
  size: number;
  caller: string;
  rest: string;
}

/** /proc/vmallocinfo read with kptr_restrict=1 (real addresses for root), then kptr_restrict put back. */
function vmallocinfo(k: Kernel): { areas: VmInfo[]; unpurged: string[] } {
  const saved = k.cat("/proc/sys/kernel/kptr_restrict").trim();
  k.echo(1, "/proc/sys/kernel/kptr_restrict");
  const text = k.cat("/proc/vmallocinfo");
  k.echo(saved, "/proc/sys/kernel/kptr_restrict");
  const areas: VmInfo[] = [];
  const unpurged: string[] = [];
  for (const l of text.split("\n").filter((x) => x !== "")) {
    if (l.endsWith(" unpurged vm_area")) {
      unpurged.push(l);
      continue;
    }
    const m = /^0x([0-9a-f]{16})-0x([0-9a-f]{16}) +(\d+) (\S+(?: \[\w+\])?) (.*)$/.exec(l);
    expect(m, l).not.toBeNull();
    areas.push({ start: addr(m![1]!), end: addr(m![2]!), size: Number(m![3]), caller: m![4]!, rest: m![5]! });
  }
  return { areas, unpurged };
}

/** The pages behind vmalloc(size): PAGE_ALIGN(size) / PAGE_SIZE. */
const pagesFor = (size: number) => Math.ceil(size / 4096);

// ---- ch9/vmalloc_demo ------------------------------------------------------------------------------

const PFX = "vmalloc_demo:vmalloc_try(): ";
const TAINT_LINE = "vmalloc_demo: loading out-of-tree module taints kernel.";
const INSERTED = "vmalloc_demo:vmalloc_demo_init(): inserted";

interface DemoPtrs {
  vptr_rndm: number;
  vptr_init: number;
  kv: number;
  kvarr: number;
  vrx: number;
}

/**
 * Check the init lines of vmalloc_demo (steps 1-5, 13 lines from `got[0]`, the taint line) and return the
 * five pointers. %pK must be the hash of the %px address (kptr_restrict 0) or, with `realPk`, the address
 * itself (kptr_restrict 1, insmod runs as root). The hex dumps are compared with the memory itself, except
 * for the zeroed buffers (vzalloc, kcalloc), whose dumps must be all zeros.
 */
function expectDemoInit(k: Kernel, got: readonly string[], kvnum: number, realPk = false): DemoPtrs {
  expect(got[0]).toBe(TAINT_LINE);
  expect(got[1]).toBe(INSERTED);
  const step = (at: number, text: string): number => {
    const m = pat(`${PFX}${text}`.replace("%pK", realPk ? "%A" : "%H")).exec(got[at] ?? "");
    expect(m, `line ${at}: ${got[at]}`).not.toBeNull();
    const a = addr(m![2]!);
    expect(m![1]).toBe(realPk ? hex16(a) : hashed(k, a));
    return a;
  };
  const dumpOf = (a: number) => hexDumpNone(" content: ", k.readBytes(a, 16))[0];

  const vptr_rndm = step(2, "1. vmalloc():   vptr_rndm = 0x%pK (actual=0x%A)");
  expect(got[3]).toBe(dumpOf(vptr_rndm));
  const vptr_init = step(4, "2. vzalloc():   vptr_init = 0x%pK (actual=0x%A)");
  expect(got[5]).toBe(ZERO_DUMP);
  const kv = step(6, "3. kvmalloc() :        kv = 0x%pK (actual=0x%A)");
  expect(got[7]).toBe(`    (for ${kvnum} bytes)`);
  expect(got[8]).toBe(dumpOf(kv));
  const kvarr = step(9, "4. kcalloc() :      kvarr = 0x%pK (actual=0x%A)");
  expect(got[10]).toBe(ZERO_DUMP);
  const vrx = step(11, "5. __vmalloc():       vrx = 0x%pK (actual=0x%A)");
  expect(got[12]).toBe(dumpOf(vrx));

  // vmalloc, vzalloc and __vmalloc memory is page aligned, in the vmalloc range; kcalloc's is in the
  // direct map, from kmalloc-8k (8000 bytes).
  for (const a of [vptr_rndm, vptr_init, vrx]) {
    expect(inVmallocRange(a), hex16(a)).toBe(true);
    expect(a % 4096).toBe(0);
    expect(k.is_vmalloc_addr(a)).toBe(true);
    expect(k.find_vm_area(a)).not.toBe(0);
  }
  expect(inDirectMap(kvarr), hex16(kvarr)).toBe(true);
  expect(k.is_vmalloc_addr(kvarr)).toBe(false);
  expect(k.ksize(kvarr)).toBe(8192);
  expect(new Set([vptr_rndm, vptr_init, kv, kvarr, vrx]).size).toBe(5);
  return { vptr_rndm, vptr_init, kv, kvarr, vrx };
}

/** The module's live vmalloc areas: vmallocinfo lines whose caller is vmalloc_try in vmalloc_demo. */
function demoAreas(k: Kernel): VmInfo[] {
  const { areas } = vmallocinfo(k);
  for (const a of areas.filter((x) => x.caller.endsWith("[vmalloc_demo]")))
    expect(a.caller).toMatch(/^vmalloc_try\+0x[0-9a-f]+\/0x[0-9a-f]+ \[vmalloc_demo\]$/);
  return areas.filter((x) => x.caller.endsWith("[vmalloc_demo]"));
}

/** The vmallocinfo text after the caller for an area of `pages` pages on node 0 (5.4's s_show()). */
function vmFlags(pages: number): string {
  // The struct page * array is vmalloc()ed itself when it is bigger than a page (more than 512 pages).
  return `pages=${pages} vmalloc${pages * 8 > 4096 ? " vpages" : ""} N0=${pages}`;
}

describe("examples/vmalloc_demo.ts (ch9/vmalloc_demo)", () => {
  it("kvnum=5 MB: vmalloc, vzalloc, kvmalloc (-> vmalloc), kcalloc, RO __vmalloc; rmmod frees it all", () => {
    const k = boot({ mem: MEM });
    const usedBefore = vmallocUsedKb(k);
    const n8k = liveObjects(k, "kmalloc-8k");

    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo)).toEqual({ ok: true });
    const got = lines(k.dmesg(mark));
    expect(got).toHaveLength(13);
    const p = expectDemoInit(k, got, 5242880);

    // 5 MB is above KMALLOC_MAX_SIZE: kvmalloc() fell back to vmalloc.
    expect(inVmallocRange(p.kv)).toBe(true);
    expect(k.is_vmalloc_addr(p.kv)).toBe(true);
    expect(liveObjects(k, "kmalloc-8k")).toBe(n8k + 1); // kvarr

    // /proc/vmallocinfo: each area is its pages plus a guard page; the caller is vmalloc_try for all of
    // them, the kvmalloc() one too (5.4 passes the caller's return address down), and for the 1280-entry
    // struct page * array of kv (10240 bytes, itself vmalloc()ed with area->caller).
    const areas = demoAreas(k);
    const at = (a: number) => areas.find((x) => x.start === a);
    const want = [
      [p.vptr_rndm, 10000],
      [p.vptr_init, 10000],
      [p.kv, 5242880],
      [p.vrx, 42 * 4096],
    ] as const;
    for (const [a, size] of want) {
      const area = at(a);
      expect(area, hex16(a)).toBeDefined();
      expect(area!.size).toBe((pagesFor(size) + 1) * 4096);
      expect(area!.end).toBe(a + area!.size);
      expect(area!.rest).toBe(vmFlags(pagesFor(size)));
    }
    const others = areas.filter((x) => !want.some(([a]) => a === x.start));
    expect(others).toHaveLength(1); // kv's page array
    expect(others[0]!.size).toBe((pagesFor(1280 * 8) + 1) * 4096);
    expect(others[0]!.rest).toBe(vmFlags(3));
    expect(at(p.kv)!.rest).toContain(" vpages ");

    // VmallocUsed (5.4 counts vmalloc()ed pages): 3 + 3 + 1280 + 3 + 42 pages.
    expect(vmallocUsedKb(k)).toBe(usedBefore + (3 + 3 + 1280 + 3 + 42) * 4);
    expect(k.check()).toEqual([]);

    // rmmod: vfree(vrx), kvfree(kvarr), kvfree(kv), vfree(vptr_init), vfree(vptr_rndm), "removed".
    const mark2 = k.logMark();
    expect(k.rmmod("vmalloc_demo")).toEqual({ ok: true });
    expect(lines(k.dmesg(mark2))).toEqual(["vmalloc_demo:vmalloc_demo_exit(): removed"]);
    expect(demoAreas(k)).toEqual([]);
    for (const a of [p.vptr_rndm, p.vptr_init, p.kv, p.vrx]) {
      expect(k.find_vm_area(a)).toBe(0);
      expect(k.vmalloc_to_page(a)).toBeNull();
    }
    expect(vmallocUsedKb(k)).toBe(usedBefore);
    expect(liveObjects(k, "kmalloc-8k")).toBe(n8k);
    expect(k.check()).toEqual([]);

    // 5.4 frees vmap areas lazily: the ranges stay reserved until a purge, and /proc/vmallocinfo lists
    // them as "unpurged vm_area" after the last live area, newest first (vmap_purge_list is an llist).
    // That shows the exit order: vrx, kv (whose page array __vunmap() frees right after it), vptr_init,
    // vptr_rndm.
    const probe = k.vmalloc(1);
    const info = vmallocinfo(k);
    expect(info.areas.map((x) => x.start)).toEqual([probe]);
    const unpurged = (a: number, size: number) =>
      `0x${hex16(a)}-0x${hex16(a + size)} ${String(size).padStart(7)} unpurged vm_area`;
    expect(info.unpurged).toEqual([
      unpurged(p.vptr_rndm, 4 * 4096),
      unpurged(p.vptr_init, 4 * 4096),
      unpurged(others[0]!.start, 4 * 4096),
      unpurged(p.kv, 1281 * 4096),
      unpurged(p.vrx, 43 * 4096),
    ]);
    k.vfree(probe);
    expect(k.check()).toEqual([]);
  });

  it("kptr_restrict=1: %pK shows the real address, the same as %px", () => {
    const k = boot({ mem: MEM });
    k.echo(1, "/proc/sys/kernel/kptr_restrict");
    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo)).toEqual({ ok: true });
    const got = lines(k.dmesg(mark));
    expect(got).toHaveLength(13);
    const p = expectDemoInit(k, got, 5242880, true);
    expect(inVmallocRange(p.kv)).toBe(true);
    expect(k.rmmod("vmalloc_demo")).toEqual({ ok: true });
    expect(k.check()).toEqual([]);
  });

  it("kvnum=4096: kvmalloc() is served by kmalloc (kmalloc-4k), not vmalloc", () => {
    const k = boot({ mem: MEM });
    const usedBefore = vmallocUsedKb(k);
    const live4k = liveObjects(k, "kmalloc-4k");
    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo, { kvnum: "4096" })).toEqual({ ok: true });
    const got = lines(k.dmesg(mark));
    expect(got).toHaveLength(13);
    const p = expectDemoInit(k, got, 4096);
    expect(inDirectMap(p.kv), hex16(p.kv)).toBe(true);
    expect(k.is_vmalloc_addr(p.kv)).toBe(false);
    expect(k.find_vm_area(p.kv)).toBe(0);
    expect(k.ksize(p.kv)).toBe(4096);
    expect(liveObjects(k, "kmalloc-4k")).toBe(live4k + 1);
    // Only three vmalloc areas now: vptr_rndm, vptr_init and vrx.
    expect(
      demoAreas(k)
        .map((x) => [x.start, x.rest])
        .sort((a, b) => (a[0] as number) - (b[0] as number)),
    ).toEqual([
      [p.vptr_rndm, vmFlags(3)],
      [p.vptr_init, vmFlags(3)],
      [p.vrx, vmFlags(42)],
    ]);
    expect(vmallocUsedKb(k)).toBe(usedBefore + (3 + 3 + 42) * 4);
    const mark2 = k.logMark();
    expect(k.rmmod("vmalloc_demo")).toEqual({ ok: true });
    // kvfree() of the kmalloc'd kv: a kfree(), no "Trying to vfree()" WARN.
    expect(lines(k.dmesg(mark2))).toEqual(["vmalloc_demo:vmalloc_demo_exit(): removed"]);
    expect(liveObjects(k, "kmalloc-4k")).toBe(live4k);
    expect(demoAreas(k)).toEqual([]);
    expect(vmallocUsedKb(k)).toBe(usedBefore);
    expect(k.check()).toEqual([]);
  });

  it("kvnum=16 (the minimum) loads: kmalloc-16", () => {
    const k = boot({ mem: MEM });
    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo, { kvnum: "16" })).toEqual({ ok: true });
    const p = expectDemoInit(k, lines(k.dmesg(mark)), 16);
    expect(k.ksize(p.kv)).toBe(16);
    const mark2 = k.logMark();
    expect(k.rmmod("vmalloc_demo")).toEqual({ ok: true });
    expect(lines(k.dmesg(mark2))).toEqual(["vmalloc_demo:vmalloc_demo_exit(): removed"]);
    expect(k.check()).toEqual([]);
  });

  it.each([
    ["8", 8],
    ["15", 15],
    ["-1", -1],
  ])("kvnum=%s: refused with the book's message and -EINVAL, nothing allocated", (raw, n) => {
    const k = boot({ mem: MEM });
    const usedBefore = vmallocUsedKb(k);
    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo, { kvnum: raw })).toEqual({
      ok: false,
      errno: 22,
      message: "insmod: ERROR: could not insert module vmalloc_demo.ko: Invalid parameters",
    });
    expect(lines(k.dmesg(mark))).toEqual([
      TAINT_LINE,
      `vmalloc_demo:vmalloc_demo_init(): kvnum must be >= 16 bytes (curr it's ${n} bytes)`,
    ]);
    expect(k.modules.isLoaded("vmalloc_demo")).toBe(false);
    expect(vmallocinfo(k).areas).toEqual([]);
    expect(vmallocUsedKb(k)).toBe(usedBefore);
    expect(k.check()).toEqual([]);
  });

  it("wr2romem_bug=1 (the book's WR2ROMEM_BUG): step 6, then an Oops on the RO page; insmod segfaults", () => {
    const k = boot({ mem: MEM });
    const usedBefore = vmallocUsedKb(k);
    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo, { wr2romem_bug: "1" })).toEqual({
      ok: false,
      message: "Segmentation fault",
    });
    const got = lines(k.dmesg(mark));
    const p = expectDemoInit(k, got, 5242880);
    const cr2 = hex16(p.vrx + 4);
    let i = 13;
    expect(got[i++]).toBe(`${PFX}6. Attempting to now write into a kernel vmalloc-ed region that's RO!`);
    expect(got[i++]).toBe(`BUG: unable to handle page fault for address: ${cr2}`);
    expect(got[i++]).toBe("#PF: supervisor write access in kernel mode");
    expect(got[i++]).toBe("#PF: error_code(0x0003) - permissions violation");
    // The page-table walk down to the PTE of vrx + 4: present, not writable, NX, and the page frame that
    // vmalloc_to_page() finds for that address.
    const walk = /^PGD [0-9a-f]+ P4D [0-9a-f]+ PUD [0-9a-f]+ PMD [0-9a-f]+ PTE ([0-9a-f]+)$/.exec(got[i++]!);
    expect(walk, got[i - 1]).not.toBeNull();
    const pte = BigInt(`0x${walk![1]}`);
    expect(pte & 1n).toBe(1n); // _PAGE_PRESENT
    expect(pte & 2n).toBe(0n); // no _PAGE_RW: PAGE_KERNEL_RO
    expect(pte >> 63n).toBe(1n); // _PAGE_NX
    expect(Number((pte >> 12n) & 0xffffffffffn)).toBe(k.page_to_pfn(k.vmalloc_to_page(p.vrx + 4)!));
    expect(got[i++]).toBe("Oops: 0003 [#1] SMP PTI");
    expect(got[i++]).toMatch(CPU_LINE);
    expect(got[i++]).toMatch(/^Hardware name: /);
    expect(got[i++]).toMatch(/^RIP: 0010:vmalloc_try\+0x[0-9a-f]+\/0x[0-9a-f]+ \[vmalloc_demo\]$/);
    const t = traceFrames(got, i++);
    expect(t.fns[0]).toBe("vmalloc_demo_init");
    expect(t.mods[0]).toBe("vmalloc_demo");
    expectSubsequence(t.fns, ["vmalloc_demo_init", "do_one_initcall", "do_init_module", "load_module"]);
    i = t.end;
    expect(got[i++]).toBe("Modules linked in: vmalloc_demo(O+)");
    expect(got[i++]).toBe(`CR2: ${cr2}`);
    expect(got[i++]).toBe("Disabling lock debugging due to kernel taint");
    expect(got[i++]).toMatch(END_TRACE);
    expect(got).toHaveLength(i);

    // The write never happened; the kernel is tainted D (TAINT_DIE) and O.
    expect(k.readBytes(p.vrx, 16)).toEqual(new Uint8Array(16));
    const taint = Number(k.cat("/proc/sys/kernel/tainted"));
    expect(taint & (1 << 7)).not.toBe(0);
    expect(taint & (1 << 12)).not.toBe(0);

    // The module never loaded, so there is no exit to run: everything it allocated stays allocated (as on
    // a real kernel), and the allocators are still consistent.
    expect(k.modules.isLoaded("vmalloc_demo")).toBe(false);
    expect(
      demoAreas(k)
        .map((x) => x.start)
        .filter((a) => [p.vptr_rndm, p.vptr_init, p.kv, p.vrx].includes(a))
        .sort((a, b) => a - b),
    ).toEqual([p.vptr_rndm, p.vptr_init, p.kv, p.vrx].sort((a, b) => a - b));
    expect(vmallocUsedKb(k)).toBe(usedBefore + (3 + 3 + 1280 + 3 + 42) * 4);
    expect(k.check()).toEqual([]);
  });

  it("kvmalloc() failure (kvnum=2 GB on 512 MB): vmalloc's warn_alloc, 'kvmalloc failed', -ENOMEM, areas freed", () => {
    const k = boot({ mem: "512M" });
    const usedBefore = vmallocUsedKb(k);
    const mark = k.logMark();
    expect(k.insmod(vmalloc_demo, { kvnum: "2147483647" })).toEqual({
      ok: false,
      errno: 12,
      message: "insmod: ERROR: could not insert module vmalloc_demo.ko: Cannot allocate memory",
    });
    const got = lines(k.dmesg(mark));
    expect(got.slice(0, 2)).toEqual([TAINT_LINE, INSERTED]);
    const r = pat(`${PFX}1. vmalloc():   vptr_rndm = 0x%H (actual=0x%A)`).exec(got[2]!);
    const i = pat(`${PFX}2. vzalloc():   vptr_init = 0x%H (actual=0x%A)`).exec(got[4]!);
    expect(r && i, got.slice(0, 6).join("\n")).toBeTruthy();
    // kmalloc is tried first, quietly (__GFP_NOWARN: no WARN for the order >= MAX_ORDER request), then
    // vmalloc refuses more pages than the machine has, with warn_alloc()'s report.
    expect(got[6]).toBe(
      "insmod: vmalloc: allocation failure: 2147483647 bytes, mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0",
    );
    expect(got).not.toContain(CUT_HERE);
    const t = traceFrames(got, got.indexOf("Call Trace:"));
    expectSubsequence(t.fns, [
      "warn_alloc",
      "__vmalloc_node_range",
      "kvmalloc_node",
      "vmalloc_try",
      "vmalloc_demo_init",
    ]);
    expect(got.at(-1)).toBe(`${PFX}kvmalloc failed`);
    // err_out3 and err_out2: both vmalloc areas were vfree()d.
    for (const m of [r!, i!]) expect(k.find_vm_area(addr(m[2]!))).toBe(0);
    expect(demoAreas(k)).toEqual([]);
    expect(vmallocUsedKb(k)).toBe(usedBefore);
    expect(k.check()).toEqual([]);
  });

  it("kmem run: loads and unloads cleanly; the output has the book's lines", async () => {
    const r = await runModuleFile(example("vmalloc_demo.ts"), { displayName: "examples/vmalloc_demo.ts" });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("== insmod examples/vmalloc_demo.ts (module vmalloc_demo) ==\n");
    expect(r.stdout).toMatch(
      /\] vmalloc_demo:vmalloc_try\(\): 3\. kvmalloc\(\) : {8}kv = 0x00000000[0-9a-f]{8} \(actual=0xffffc9[0-9a-f]{10}\)\n/,
    );
    expect(r.stdout).toMatch(/\] {5}\(for 5242880 bytes\)\n/);
    expect(r.stdout).toMatch(/\] vmalloc_demo:vmalloc_demo_exit\(\): removed\n/);
    expect(r.kernel!.check()).toEqual([]);
  });

  it("kmem run wr2romem_bug=1: the Oops in the output, insmod's 'Segmentation fault', exit code 1", async () => {
    const r = await runModuleFile(example("vmalloc_demo.ts"), { params: { wr2romem_bug: "1" } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe("Segmentation fault\n");
    expect(r.stdout).toMatch(/\] #PF: error_code\(0x0003\) - permissions violation\n/);
    expect(r.stdout).toMatch(/\] Oops: 0003 \[#1\] SMP PTI\n/);
    expect(r.stdout).not.toContain("rmmod");
    expect(r.kernel!.check()).toEqual([]);
  });
});

// ---- kvmalloc_sizes --------------------------------------------------------------------------------

/**
 * 5.4's answer for kvmalloc(size, flags) on a machine with plenty of unfragmented memory, written out by
 * hand from the rules: GFP_KERNEL tries kmalloc (slab up to 8 KB, then 2^order pages up to order 10 =
 * 4 MB) and falls back to vmalloc above a page; GFP_ATOMIC / GFP_NOFS never reach vmalloc.
 */
const DECISIONS: readonly [size: number, flags: string, served: string][] = [
  [8, "GFP_KERNEL", "kmalloc, ksize 8 (kmalloc-8)"],
  [100, "GFP_KERNEL", "kmalloc, ksize 128 (kmalloc-128)"],
  [4096, "GFP_KERNEL", "kmalloc, ksize 4096 (kmalloc-4k)"],
  [4097, "GFP_KERNEL", "kmalloc, ksize 8192 (kmalloc-8k)"],
  [8192, "GFP_KERNEL", "kmalloc, ksize 8192 (kmalloc-8k)"],
  [8193, "GFP_KERNEL", "kmalloc_large (order 2), ksize 16384"],
  [65536, "GFP_KERNEL", "kmalloc_large (order 4), ksize 65536"],
  [1048576, "GFP_KERNEL", "kmalloc_large (order 8), ksize 1048576"],
  [4194304, "GFP_KERNEL", "kmalloc_large (order 10), ksize 4194304"],
  [4194305, "GFP_KERNEL", "vmalloc, 1025 pages"],
  [5242880, "GFP_KERNEL", "vmalloc, 1280 pages"],
  [16777216, "GFP_KERNEL", "vmalloc, 4096 pages"],
  [65536, "GFP_ATOMIC", "kmalloc_large (order 4), ksize 65536"],
  [5242880, "GFP_ATOMIC", "NULL, failed"],
  [5242880, "GFP_NOFS", "NULL, failed"],
];

const KVS_LINE = /^kvmalloc_sizes: kvmalloc\(( {0,7}\d+), (GFP_\w+)\) = ([0-9a-f]{16}): (.*)$/;

/** Parse the module's result lines (skipping any kernel splat between them). */
function kvsResults(got: readonly string[]) {
  return got
    .map((l) => KVS_LINE.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({
      size: Number(m[1]!.trim()),
      width: m[1]!.length,
      flags: m[2]!,
      p: addr(m[3]!),
      served: m[4]!,
    }));
}

/**
 * Check one result against the kernel itself: a slab object has that ksize(), a kmalloc_large block is a
 * naturally aligned 2^order-page block of the direct map, a vmalloc area is listed in /proc/vmallocinfo
 * with that many pages (plus the guard page), NULL is 0.
 */
function expectServed(k: Kernel, r: { p: number; served: string; size: number }, info: VmInfo[]) {
  let m: RegExpExecArray | null;
  if (r.served === "NULL, failed") {
    expect(r.p).toBe(0);
  } else if ((m = /^kmalloc, ksize (\d+) \(kmalloc-\w+\)$/.exec(r.served))) {
    expect(inDirectMap(r.p)).toBe(true);
    expect(k.ksize(r.p)).toBe(Number(m[1]));
  } else if ((m = /^kmalloc_large \(order (\d+)\), ksize (\d+)$/.exec(r.served))) {
    const bytes = 4096 * 2 ** Number(m[1]);
    expect(inDirectMap(r.p)).toBe(true);
    expect((r.p - PAGE_OFFSET) % bytes).toBe(0);
    expect(k.ksize(r.p)).toBe(bytes);
  } else if ((m = /^vmalloc, (\d+) pages$/.exec(r.served))) {
    const pages = Number(m[1]);
    expect(inVmallocRange(r.p)).toBe(true);
    const area = info.find((a) => a.start === r.p);
    expect(area, hex16(r.p)).toBeDefined();
    expect(area!.size).toBe((pages + 1) * 4096);
    expect(area!.caller).toMatch(/^kvmalloc_try\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kvmalloc_sizes\]$/);
    expect(area!.rest).toBe(vmFlags(pages));
  } else {
    throw new Error(`unexpected: ${r.served}`);
  }
}

/**
 * The page allocator's WARN_ON_ONCE(order >= MAX_ORDER) for kvmalloc(5 MB, GFP_ATOMIC): kvmalloc_node()
 * hands GFP_ATOMIC to kmalloc_node() unchanged, without __GFP_NOWARN.
 */
function expectMaxOrderWarn(got: readonly string[], at: number): number {
  let i = at;
  expect(got[i++]).toBe(CUT_HERE);
  expect(got[i++]).toMatch(
    /^WARNING: CPU: \d+ PID: \d+ at mm\/page_alloc\.c:\d+ __alloc_pages_nodemask\+0x[0-9a-f]+\/0x[0-9a-f]+$/,
  );
  expect(got[i++]).toBe("Modules linked in: kvmalloc_sizes(O+)");
  expect(got[i++]).toMatch(CPU_LINE);
  expect(got[i++]).toMatch(/^Hardware name: /);
  expect(got[i++]).toMatch(/^RIP: 0010:__alloc_pages_nodemask\+0x[0-9a-f]+\/0x[0-9a-f]+$/);
  const t = traceFrames(got, i);
  // 5.4 would also show kvmalloc_node (an exported function; kvmalloc() is its inline wrapper) between
  // __kmalloc_node and the module; kmem leaves that frame out on the kmalloc path. Only the frames both
  // agree on are required here.
  expectSubsequence(t.fns, ["__kmalloc_node", "kvmalloc_try", "kvmalloc_sizes_init", "do_one_initcall"]);
  expect(t.mods[t.fns.indexOf("kvmalloc_try")]).toBe("kvmalloc_sizes");
  expect(got[t.end]).toMatch(END_TRACE);
  return t.end + 1;
}

describe("examples/kvmalloc_sizes.ts", () => {
  it("serves each size as 5.4's kvmalloc() decides; GFP_ATOMIC/GFP_NOFS 5 MB fail; rmmod frees all", () => {
    const k = boot({ mem: MEM });
    const usedBefore = vmallocUsedKb(k);
    const mark = k.logMark();
    expect(k.insmod(kvmalloc_sizes)).toEqual({ ok: true });
    const got = lines(k.dmesg(mark));
    expect(got[0]).toBe("kvmalloc_sizes: loading out-of-tree module taints kernel.");
    expect(got[1]).toBe("kvmalloc_sizes: inserted; PAGE_SIZE = 4096, KMALLOC_MAX_CACHE_SIZE = 8192");

    const results = kvsResults(got);
    expect(results.map((r) => [r.size, r.flags, r.served])).toEqual(DECISIONS);
    for (const r of results) expect(r.width).toBe(8); // %8zu
    const info = vmallocinfo(k).areas;
    for (const r of results) expectServed(k, r, info);
    // Only the three vmalloc'd requests are in vmalloc space, plus their struct page * arrays: each is
    // more than 512 pages, so its array (8 bytes a page) is vmalloc'd too: 3, 3 and 8 pages.
    expect(info.map((a) => a.size).sort((a, b) => a - b)).toEqual(
      [4, 4, 9, 1026, 1281, 4097].map((pages) => pages * 4096),
    );
    expect(vmallocUsedKb(k)).toBe(usedBefore + (1025 + 3 + 1280 + 3 + 4096 + 8) * 4);

    // Lines 2.. are the results in order, with exactly one WARN splat, right after the GFP_ATOMIC 64 KB
    // line: the GFP_ATOMIC 5 MB request hits WARN_ON_ONCE(order >= MAX_ORDER); the GFP_NOFS one hits the
    // same WARN_ON_ONCE and stays quiet. No "page allocation failure" (that is warn_alloc(), which an
    // order >= MAX_ORDER request never reaches) and no vmalloc report.
    const atomic64k = got.findIndex((l) => l.includes("kvmalloc(   65536, GFP_ATOMIC)"));
    expect(atomic64k).toBe(2 + 12);
    const after = expectMaxOrderWarn(got, atomic64k + 1);
    expect(got.slice(after)).toHaveLength(2);
    expect(got.slice(after).map((l) => KVS_LINE.exec(l)?.[2])).toEqual(["GFP_ATOMIC", "GFP_NOFS"]);
    expect(got.filter((l) => l === CUT_HERE)).toHaveLength(1);
    expect(got.join("\n")).not.toContain("allocation failure");

    const mark2 = k.logMark();
    expect(k.rmmod("kvmalloc_sizes")).toEqual({ ok: true });
    expect(lines(k.dmesg(mark2))).toEqual(["kvmalloc_sizes: kvfree()d all; removed"]);
    expect(vmallocinfo(k).areas).toEqual([]);
    expect(vmallocUsedKb(k)).toBe(usedBefore);
    for (const r of results.filter((x) => x.p !== 0 && inVmallocRange(x.p)))
      expect(k.find_vm_area(r.p)).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it("on fragmented memory (no free block of order >= 8) 1 MB and 4 MB come from vmalloc, quietly", () => {
    const k = boot({ mem: "512M" });
    // Take all memory as order-7 blocks, then give back every block whose buddy is held: free memory is
    // plentiful but no block above order 7 can form.
    const blocks: number[] = [];
    for (;;) {
      const pg = k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 7);
      if (!pg) break;
      blocks.push(pg);
    }
    const held: [number, number][] = [];
    for (const pg of blocks) {
      if (k.page_to_pfn(pg) & 128) held.push([pg, 7]);
      else k.__free_pages(pg, 7);
    }
    for (let order = 10; order >= 8; order--)
      for (;;) {
        const pg = k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);
        if (!pg) break;
        held.push([pg, order]);
      }

    const mark = k.logMark();
    expect(k.insmod(kvmalloc_sizes)).toEqual({ ok: true });
    const got = lines(k.dmesg(mark));
    const results = kvsResults(got);
    const want = DECISIONS.map(([size, flags, served]) => [
      size,
      flags,
      flags === "GFP_KERNEL" && (size === 1048576 || size === 4194304)
        ? `vmalloc, ${pagesFor(size)} pages`
        : served,
    ]);
    expect(results.map((r) => [r.size, r.flags, r.served])).toEqual(want);
    const info = vmallocinfo(k).areas;
    for (const r of results) expectServed(k, r, info);
    // The failed kmalloc attempts were made with __GFP_NOWARN | __GFP_NORETRY: nothing reported, only the
    // GFP_ATOMIC WARN as before.
    expect(got.filter((l) => l === CUT_HERE)).toHaveLength(1);
    expect(got.join("\n")).not.toContain("allocation failure");

    expect(k.rmmod("kvmalloc_sizes")).toEqual({ ok: true });
    for (const [pg, order] of held) k.__free_pages(pg, order);
    expect(k.check()).toEqual([]);
  });

  it("kmem run: loads and unloads cleanly", async () => {
    const r = await runModuleFile(example("kvmalloc_sizes.ts"));
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /\] kvmalloc_sizes: kvmalloc\( 5242880, GFP_KERNEL\) = ffffc9[0-9a-f]{10}: vmalloc, 1280 pages\n/,
    );
    expect(r.stdout).toMatch(/\] kvmalloc_sizes: kvfree\(\)d all; removed\n/);
  });
});
