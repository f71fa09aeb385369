// The book's ch8 demo modules (Linux Kernel Programming, 1st edition) run as kmem modules: their dmesg
// output is checked line by line against the book's printk format strings (book.md §2.1-2.3), with the
// addresses matched by pattern and cross-checked against each other and against the allocator.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { powerof, show_phy_pages } from "../examples/klib.ts";
import lowlevel_mem from "../examples/lowlevel_mem.ts";
import page_exact_loop from "../examples/page_exact_loop.ts";
import { createProgram, freePagesTotal, parseParamArgs, runModuleFile } from "../src/cli/main.ts";
import { __GFP_NOWARN, boot, GFP_KERNEL, type Kernel, PAGE_OFFSET, PAGE_SIZE } from "../src/index.ts";
import { addr, lines, pat } from "./helpers/dmesg.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOWLEVEL = fileURLToPath(new URL("../examples/lowlevel_mem.ts", import.meta.url));
const EXACT = fileURLToPath(new URL("../examples/page_exact_loop.ts", import.meta.url));

const DIRECT_MAP = 0xffff888000000000n;

/** Seconds of each line's timestamp. */
function stamps(text: string): number[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => Number(/^\[ *(\d+\.\d{6})\]/.exec(l)![1]));
}

/** Match `got` from `at` against the patterns in order; returns the captures of each line. */
function expectLines(got: readonly string[], at: number, want: readonly (string | RegExp)[]): string[][] {
  const caps: string[][] = [];
  want.forEach((w, i) => {
    const line = got[at + i];
    if (typeof w === "string") {
      expect(line, `line ${at + i}`).toBe(w);
      caps.push([]);
    } else {
      expect(line, `line ${at + i}`).toMatch(w);
      caps.push(w.exec(line!)!.slice(1));
    }
  });
  return caps;
}

const HEADER_1E = "-pg#-  -------va-------     --------pa--------   --PFN--";
const ROW = /^(\d{5}) {2}0x([0-9a-f]{16}) {3}0x([0-9a-f]{16}) {3}(\d+)$/;

/**
 * Check a show_phy_pages() block starting at `at`: the start line, the 1E header and `rows` rows with
 * consecutive PFNs, pa = PFN * 4096, va = 0xffff888000000000 + pa. Returns the first PFN.
 */
function expectTable(got: readonly string[], at: number, kaddr: string, len: number, rows: number): number {
  expect(got[at]).toBe(`show_phy_pages(): start kaddr ${kaddr}, len ${len}, contiguity_check is on`);
  expect(got[at + 1]).toBe(HEADER_1E);
  let first = -1;
  for (let i = 0; i < rows; i++) {
    const m = ROW.exec(got[at + 2 + i] ?? "");
    expect(m, `row ${i}: ${got[at + 2 + i]}`).not.toBeNull();
    const [, idx, va, pa, pfn] = m!;
    expect(idx).toBe(String(i).padStart(5, "0"));
    const n = Number(pfn);
    if (i === 0) first = n;
    else expect(n).toBe(first + i);
    expect(BigInt(`0x${pa}`)).toBe(BigInt(n) * 4096n);
    expect(BigInt(`0x${va}`)).toBe(DIRECT_MAP + BigInt(n) * 4096n);
    if (i === 0) expect(va).toBe(kaddr);
  }
  // The row after the table is not another row.
  expect(got[at + 2 + rows] ?? "").not.toMatch(ROW);
  return first;
}

function allBytes(k: Kernel, a: number, n: number, v: number): boolean {
  return k.readBytes(a, n).every((b) => b === v);
}

/** The lowlevel_mem init lines for a given order, after the out-of-tree taint line. */
function checkLowlevelInit(k: Kernel, got: string[], order: number): void {
  const n = 2 ** order;
  let i = 0;
  expect(got[i++]).toBe("lowlevel_mem_lkm: loading out-of-tree module taints kernel.");
  expect(got[i++]).toBe(
    "lowlevel_mem: 0. Show identity mapping: RAM page frames : kernel virtual pages :: 1:1",
  );
  expect(expectTable(got, i, "ffff888000000000", 5 * PAGE_SIZE, 5)).toBe(0);
  i += 2 + 5;
  const [[pk1, px1]] = expectLines(got, i++, [
    pat("lowlevel_mem: 1. __get_free_page() alloc'ed 1 page from the BSA @ %A (%A)"),
  ]) as [string[]];
  expect(pk1).not.toBe(px1); // %pK is hashed, %px is the real address
  const c2 = expectLines(got, i, [
    pat(`lowlevel_mem: 2. __get_free_pages() alloc'ed 2^${order} = ${n} page(s) = ${n * PAGE_SIZE} bytes`),
    pat(" from the BSA @ %A (%A)"),
    " (PAGE_SIZE = 4096 bytes)",
  ]);
  i += 3;
  const px2 = c2[1]![1]!;
  expectTable(got, i, px2, n * PAGE_SIZE, n);
  i += 2 + n;
  const [[, px3]] = expectLines(got, i++, [
    pat("lowlevel_mem: 3. get_zeroed_page() alloc'ed 1 page from the BSA @ %A (%A)"),
  ]) as [string[]];
  const c4 = expectLines(got, i, [
    pat("lowlevel_mem: 4. alloc_page() alloc'ed 1 page from the BSA @ %A (%A)"),
    pat(" (struct page addr=%A (%A))"),
  ]);
  i += 2;
  const [[, px5]] = expectLines(got, i++, [
    pat("lowlevel_mem: 5. alloc_pages() alloc'ed 8 pages from the BSA @ %A (%A)"),
  ]) as [string[]];
  expect(got.length).toBe(i);

  // The addresses are direct-map addresses of distinct allocations, and the struct page of step 4 is
  // the vmemmap entry of its page.
  const px4 = c4[0]![1]!;
  const all = [px1!, px2, px3!, px4, px5!];
  for (const p of all) {
    expect(p.startsWith("ffff888")).toBe(true);
    expect(k.virt_addr_valid(addr(p))).toBe(true);
  }
  expect(new Set(all).size).toBe(5);
  expect(addr(c4[1]![1]!)).toBe(k.virt_to_page(addr(px4)));
  // __GFP_ZERO and get_zeroed_page() gave zeroed memory.
  expect(allBytes(k, addr(px2), n * PAGE_SIZE, 0)).toBe(true);
  expect(allBytes(k, addr(px3!), PAGE_SIZE, 0)).toBe(true);
}

describe("examples/klib.ts", () => {
  it("powerof() follows the book's u64 helper", () => {
    expect(powerof(2, 3)).toBe(8n);
    expect(powerof(2, 5)).toBe(32n);
    expect(powerof(7, 0)).toBe(1n);
    expect(powerof(0, 5)).toBe(0n);
    expect(powerof(-2, 3)).toBe(2n ** 64n - 1n);
    expect(powerof(2, -1)).toBe(2n ** 64n - 1n);
    expect(powerof(2, 64)).toBe(0n); // u64 wraps
  });

  it("show_phy_pages() refuses an address outside the direct map", () => {
    const k = boot({ mem: "256M" });
    const mark = k.logMark();
    show_phy_pages(k, 0x1000, PAGE_SIZE, 1);
    expect(lines(k.dmesg(mark))).toEqual(["show_phy_pages(): invalid virtual address (0x0000000000001000)"]);
  });

  it("show_phy_pages() prints a partial last page as a row, and 'off' without the check", () => {
    const k = boot({ mem: "256M" });
    const a = k.__get_free_pages(GFP_KERNEL, 1);
    const mark = k.logMark();
    show_phy_pages(k, a, PAGE_SIZE + 1, false);
    const got = lines(k.dmesg(mark));
    const px = (BigInt(a) | 0xffff000000000000n).toString(16);
    expect(got[0]).toBe(`show_phy_pages(): start kaddr ${px}, len 4097, contiguity_check is off`);
    expect(got[1]).toBe(HEADER_1E);
    expect(got.slice(2).map((l) => ROW.test(l))).toEqual([true, true]);
    expect(got.length).toBe(4);
    k.free_pages(a, 1);
  });
});

describe("examples/lowlevel_mem.ts (ch8/lowlevel_mem)", () => {
  it("declares the book's module parameter", () => {
    expect(lowlevel_mem.name).toBe("lowlevel_mem_lkm");
    expect(lowlevel_mem.params.order).toEqual({
      type: "int",
      default: 3,
      desc: "order of the allocation (power-to-raise-2-to)",
    });
  });

  it("prints the book's lines for order 3 and gives every page back on rmmod", () => {
    const k = boot();
    const before = freePagesTotal(k);
    const mark = k.logMark();
    expect(k.insmod(lowlevel_mem)).toEqual({ ok: true });
    checkLowlevelInit(k, lines(k.dmesg(mark)), 3);
    // 1 + 8 + 1 + 1 + 8 pages are in use.
    expect(before - freePagesTotal(k)).toBe(19);
    expect(k.check()).toEqual([]);

    const mark2 = k.logMark();
    expect(k.rmmod("lowlevel_mem_lkm")).toEqual({ ok: true });
    expect(lines(k.dmesg(mark2))).toEqual([
      "lowlevel_mem: free-ing up the BSA memory chunks...",
      "lowlevel_mem: removed",
    ]);
    expect(freePagesTotal(k)).toBe(before);
    expect(k.check()).toEqual([]);
    expect(k.leakedPages()).toEqual([]);
  });

  it("order=5 allocates and shows 32 pages in step 2", () => {
    const k = boot({ mem: "512M", cpus: 4 });
    const before = freePagesTotal(k);
    const mark = k.logMark();
    expect(k.insmod(lowlevel_mem, { order: "5" })).toEqual({ ok: true });
    checkLowlevelInit(k, lines(k.dmesg(mark)), 5);
    expect(before - freePagesTotal(k)).toBe(1 + 32 + 1 + 1 + 8);
    expect(k.rmmod("lowlevel_mem_lkm").ok).toBe(true);
    expect(freePagesTotal(k)).toBe(before);
    expect(k.check()).toEqual([]);
  });

  it("a too-large order fails the load with -ENOMEM and the unwinding frees step 1's page", () => {
    const k = boot();
    const before = freePagesTotal(k);
    const mark = k.logMark();
    const r = k.insmod(lowlevel_mem, { order: 11 });
    expect(r.ok).toBe(false);
    expect(r.message).toBe(
      "insmod: ERROR: could not insert module lowlevel_mem_lkm.ko: Cannot allocate memory",
    );
    const got = lines(k.dmesg(mark));
    expect(got).toContain("------------[ cut here ]------------");
    expect(got.at(-1)).toMatch(/^---\[ end trace [0-9a-f]{16} \]---$/);
    expect(got.some((l) => l.startsWith("lowlevel_mem: 2."))).toBe(false);
    expect(freePagesTotal(k)).toBe(before);
    expect(k.check()).toEqual([]);
  });
});

describe("examples/page_exact_loop.ts (ch8/page_exact_loop)", () => {
  it("prints the book's lines, keeps 9 pages per allocation and frees them all", () => {
    const k = boot();
    const before = freePagesTotal(k);
    const mark = k.logMark();
    expect(k.insmod(page_exact_loop)).toEqual({ ok: true });
    const text = k.dmesg(mark);
    const got = lines(text);
    expect(got[0]).toBe("page_exact_loop_lkm: loading out-of-tree module taints kernel.");
    expect(got[1]).toBe("page_exact_loop: inserted");
    let i = 2;
    const ptrs: number[] = [];
    for (let n = 0; n < 3; n++) {
      const [[pk, px]] = expectLines(got, i++, [
        pat(
          `page_exact_loop:${n}: alloc_pages_exact() alloc'ed 33792 bytes memory (8 pages + rem 1024 bytes) from the BSA @ %A (actual=%A)`,
        ),
      ]) as [string[]];
      expect(pk).not.toBe(px);
      expectTable(got, i, px!, 33792, 9);
      i += 2 + 9;
      ptrs.push(addr(px!));
    }
    expect(got.length).toBe(i);
    // msleep(100) between the allocations moves the clock on.
    const ts = stamps(text);
    const allocAt = got.flatMap((l, j) => (l.includes("alloc_pages_exact() alloc'ed") ? [ts[j]!] : []));
    expect(allocAt[1]! - allocAt[0]!).toBeGreaterThanOrEqual(0.1);
    expect(allocAt[2]! - allocAt[1]!).toBeGreaterThanOrEqual(0.1);

    // alloc_pages_exact() keeps PAGE_ALIGN(33792)/PAGE_SIZE = 9 pages of each order-4 block.
    expect(before - freePagesTotal(k)).toBe(27);
    // memset(gptr[i], 'x', gsz): the 33 KB are all 'x'.
    for (const p of ptrs) expect(allBytes(k, p, 33792, 0x78)).toBe(true);
    expect(k.check()).toEqual([]);

    const mark2 = k.logMark();
    expect(k.rmmod("page_exact_loop_lkm")).toEqual({ ok: true });
    expect(lines(k.dmesg(mark2))).toEqual(["page_exact_loop: mem freed, removed"]);
    expect(freePagesTotal(k)).toBe(before);
    expect(k.check()).toEqual([]);
    expect(k.leakedPages()).toEqual([]);
  });

  it("when an allocation fails, frees what it took and fails the load with -ENOMEM", () => {
    const k = boot({ mem: "256M" });
    // Take every order-4 block, then give one back: the module gets two allocations, not three.
    const held: number[] = [];
    for (;;) {
      const a = k.__get_free_pages(GFP_KERNEL | __GFP_NOWARN, 4);
      if (!a) break;
      held.push(a);
    }
    k.free_pages(held.pop()!, 4);
    const before = freePagesTotal(k);
    const mark = k.logMark();
    const r = k.insmod(page_exact_loop);
    expect(r).toEqual({
      ok: false,
      errno: 12,
      message: "insmod: ERROR: could not insert module page_exact_loop_lkm.ko: Cannot allocate memory",
    });
    const got = lines(k.dmesg(mark));
    const fail = got.findIndex((l) => l.startsWith("page_exact_loop: alloc_pages_exact() failed!"));
    expect(fail).toBeGreaterThan(0);
    expect(got[fail]).toMatch(/^page_exact_loop: alloc_pages_exact\(\) failed! \(loop index [0-2]\)$/);
    expect(got.some((l) => /page allocation failure: order:4, mode:0xcc0\(GFP_KERNEL\)/.test(l))).toBe(true);
    expect(got.some((l) => l.includes("kernel BUG"))).toBe(false);
    expect(freePagesTotal(k)).toBe(before);
    expect(k.check()).toEqual([]);
    for (const a of held) k.free_pages(a, 4);
    expect(k.check()).toEqual([]);
  });
});

describe("kmem run (src/cli/main.ts)", () => {
  it("boots, shows buddyinfo, loads and unloads the module, and shows buddyinfo again", async () => {
    const r = await runModuleFile(LOWLEVEL, {
      params: { order: "5" },
      displayName: "examples/lowlevel_mem.ts",
    });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const out = r.stdout.split("\n");
    const h = (t: string) => out.indexOf(`== ${t} ==`);
    const hBefore = h("/proc/buddyinfo (before insmod)");
    const hInsmod = h("insmod examples/lowlevel_mem.ts order=5 (module lowlevel_mem_lkm)");
    const hLoaded = h("/proc/buddyinfo (module loaded)");
    const hRmmod = h("rmmod lowlevel_mem_lkm");
    const hAfter = h("/proc/buddyinfo (after rmmod)");
    expect(0 < hBefore && hBefore < hInsmod && hInsmod < hLoaded && hLoaded < hRmmod && hRmmod < hAfter).toBe(
      true,
    );
    expect(out[hBefore + 1]).toMatch(/^Node 0, zone {6}DMA( +\d+){11} $/);
    // The insmod section is exactly the module's dmesg lines, and they are the book's.
    const insmodLines = out.slice(hInsmod + 1, hLoaded - 1);
    checkLowlevelInit(r.kernel!, lines(insmodLines.join("\n")), 5);
    expect(lines(out.slice(hRmmod + 1, hAfter - 1).join("\n"))).toEqual([
      "lowlevel_mem: free-ing up the BSA memory chunks...",
      "lowlevel_mem: removed",
    ]);
    const free =
      /^free pages \(buddy \+ per-CPU lists\): (\d+) before insmod, (\d+) while loaded, (\d+) after rmmod$/;
    const m = out.map((l) => free.exec(l)).find((x) => x);
    expect(m).toBeTruthy();
    expect(Number(m![1]) - Number(m![2])).toBe(43);
    expect(m![3]).toBe(m![1]);
    expect(r.stdout.includes("\u001b[")).toBe(false); // plain unless colours are asked for
  });

  it("prints insmod's message on stderr and fails when init fails, after printing dmesg", async () => {
    const r = await runModuleFile(LOWLEVEL, { params: { order: "11" }, mem: "512M" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      "insmod: ERROR: could not insert module lowlevel_mem_lkm.ko: Cannot allocate memory\n",
    );
    expect(r.stdout).toContain("lowlevel_mem: 1. __get_free_page() alloc'ed 1 page");
    expect(r.stdout).toContain("== /proc/buddyinfo (after failed insmod) ==");
    expect(r.stdout).not.toContain("== rmmod");
    // stderr comes right after the insmod section's dmesg.
    const i = r.output.findIndex((o) => o.stream === "stderr");
    expect(r.output[i - 1]!.text).toContain("---[ end trace");
  });

  it("reports a missing file or a file without a module", async () => {
    const r = await runModuleFile(`${ROOT}/examples/nope.ts`);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot load module file .*nope\.ts: No such file/);
    const r2 = await runModuleFile(`${ROOT}/examples/klib.ts`);
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr).toContain("the default export must be a kernel module");
  });

  it("parses the command line: params, --mem, --cpus, --profile", async () => {
    expect(parseParamArgs(["order=5", "debug", "name=a=b"])).toEqual({ order: "5", debug: "y", name: "a=b" });
    let stdout = "";
    let stderr = "";
    let code = -1;
    const program = createProgram(
      { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), color: false },
      (c) => {
        code = c;
      },
    );
    await program.parseAsync([
      "node",
      "kmem",
      "run",
      EXACT,
      "--mem",
      "512M",
      "--cpus",
      "4",
      "--profile",
      "5.4",
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^kmem: Linux 5\.4\.0-kmem, 512M RAM, 1 node, 4 CPUs, zones DMA DMA32\n/);
    expect(stdout).toContain("page_exact_loop: mem freed, removed");
    expect(stdout.match(/^\[ *\d+\.\d{6}\] \d{5} {2}0x/gm)?.length).toBe(27);
  });

  it("bin/kmem.js runs a TypeScript module file end to end", () => {
    const out = execFileSync(process.execPath, ["bin/kmem.js", "run", "examples/page_exact_loop.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "", NO_COLOR: "1" },
    });
    expect(out).toContain("== insmod examples/page_exact_loop.ts (module page_exact_loop_lkm) ==");
    expect(out).toContain("page_exact_loop: inserted");
    expect(out).toMatch(
      /free pages \(buddy \+ per-CPU lists\): (\d+) before insmod, \d+ while loaded, \1 after rmmod/,
    );
  });
});

// PAGE_OFFSET is where the step-0 table starts.
it("PAGE_OFFSET prints as the start of the direct map", () => {
  expect((BigInt(PAGE_OFFSET) | 0xffff000000000000n).toString(16)).toBe("ffff888000000000");
});
