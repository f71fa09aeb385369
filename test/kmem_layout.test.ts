// /proc/kmem_layout (kmem-specific) and `kmem show_kernel_seg`: the book's ch7 show_kernel_seg map of the x86_64
// kernel address space (5.4, 4-level paging, KASLR off), highest address first, in the module's line layout.
// The expected text is written out by hand from the 5.4 constants below, not from src/, so a wrong constant or a
// changed column fails here.
import { describe, expect, it } from "vitest";
import { createProgram } from "../src/cli/main.ts";
import { boot } from "../src/index.ts";

// FIXADDR_TOP = round_up(0xffffffffff600000 + 4096, 2 MiB) - 4096 = ffffffffff7ff000; FIXADDR_SIZE = 647 pages
// (0x287000, 2588 KiB, >> 20 = 2 MB); FIXADDR_START = ffffffffff7ff000 - 0x287000 = ffffffffff578000.
const FIXMAP = "|fixmap region:       ffffffffff578000 - ffffffffff7ff000     | [   2 MB]";
// MODULES_VADDR = __START_KERNEL_map + 1 GiB; MODULES_END fixed: 0x3f000000 bytes = 1008 MB ("%ld").
const MODULES = "|module region:       ffffffffc0000000 - ffffffffff000000     | [1008 MB]";
// VMALLOC_END is the last byte: 0x1fffffffffff bytes >> 20 = 33554431 MB, >> 30 = 32767 GB (wider than %4ld).
const VMALLOC = "|vmalloc region:      ffffc90000000000 - ffffe8ffffffffff     | [33554431 MB = 32767 GB]";

const HEAD = [
  "Some Kernel Details [by decreasing address]",
  "+-------------------------------------------------------------+",
  "|                           [ . . . ]                         |",
];
const TAIL = [
  "|                (above:PAGE_OFFSET    -      highmem)        |",
  "|                           [ . . . ]                         |",
  "+-------------------------------------------------------------+",
];

function expected(lowmem: string): string {
  return `${[...HEAD, FIXMAP, MODULES, VMALLOC, lowmem, ...TAIL].join("\n")}\n`;
}

// 1G (QEMU e820): RAM ends at 0x3ffe0000, max_pfn 0x3ffe0; high_memory = ffff888000000000 + 0x3ffe0000;
// 0x3ffe0000 >> 20 = 1023 MB, >> 30 = 0 GB ("%2ld" pads it to " 0").
const TEXT_1G = expected("|lowmem region:       ffff888000000000 - ffff88803ffe0000     | [1023 MB =  0 GB]");
// 4G: 3G below the PCI hole and 1G above 4G, max_pfn 0x140000: high_memory = ffff888000000000 + 0x140000000;
// the direct map spans the hole too: 5120 MB = 5 GB.
const TEXT_4G = expected("|lowmem region:       ffff888000000000 - ffff888140000000     | [5120 MB =  5 GB]");

async function cli(
  args: string[],
): Promise<{ stdout: string; stderr: string; code: number; thrown?: string }> {
  let stdout = "";
  let stderr = "";
  let code = -1;
  const program = createProgram(
    { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), color: false },
    (c) => {
      code = c;
    },
  );
  try {
    await program.parseAsync(["node", "kmem", ...args]);
  } catch (e) {
    return { stdout, stderr, code, thrown: (e as { code?: string }).code };
  }
  return { stdout, stderr, code };
}

describe("/proc/kmem_layout", () => {
  it("1G: the book's x86_64 map, highest address first", () => {
    const k = boot({ mem: "1G" });
    expect(k.cat("/proc/kmem_layout")).toBe(TEXT_1G);
  });

  it("4G: only the lowmem line changes", () => {
    const k = boot({ mem: "4G" });
    expect(k.cat("/proc/kmem_layout")).toBe(TEXT_4G);
  });

  it("every framed line is 63 columns wide, like the module's separators", () => {
    const lines = TEXT_1G.split("\n").slice(1, -1);
    for (const l of [...HEAD.slice(1), ...TAIL]) expect(l.length).toBe(63);
    let n = 0;
    // The four region lines put the two %px values at the same columns.
    for (const l of lines.filter((x) => x.includes(" region: "))) {
      expect(l.indexOf(" - ")).toBe(38);
      expect(l.indexOf("     | [")).toBe(57);
      n++;
    }
    expect(n).toBe(4);
  });

  it("does not depend on nodes or CPUs", () => {
    expect(boot({ mem: "1G", nodes: 2, cpus: 4 }).cat("/proc/kmem_layout")).toBe(TEXT_1G);
  });

  it("is read-only", () => {
    const k = boot({ mem: "1G" });
    expect(() => k.echo(1, "/proc/kmem_layout")).toThrow("Permission denied");
  });
});

describe("kmem show_kernel_seg", () => {
  it("prints the same text as /proc/kmem_layout (default 1G)", async () => {
    const r = await cli(["show_kernel_seg"]);
    expect(r).toEqual({ stdout: TEXT_1G, stderr: "", code: 0 });
  });

  it("--mem 4G --nodes 2 --cpus 4", async () => {
    const r = await cli(["show_kernel_seg", "--mem", "4G", "--nodes", "2", "--cpus", "4"]);
    expect(r).toEqual({ stdout: TEXT_4G, stderr: "", code: 0 });
  });

  it("refuses unknown options and extra arguments", async () => {
    const bad = await cli(["show_kernel_seg", "--show-uservas"]);
    expect(bad.thrown).toBe("commander.unknownOption");
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^error: unknown option '--show-uservas'\n/);
    const extra = await cli(["show_kernel_seg", "show_uservas=1"]);
    expect(extra.thrown).toBe("commander.excessArguments");
    expect(extra.stdout).toBe("");
  });

  it("refuses bad values", async () => {
    const cpus = await cli(["show_kernel_seg", "--cpus", "0"]);
    expect(cpus.thrown).toBe("commander.invalidArgument");
    expect(cpus.stderr).toContain("--cpus must be an integer from 1 to 256.");
    const mem = await cli(["show_kernel_seg", "--mem", "lots"]);
    expect(mem).toEqual({ stdout: "", stderr: "kmem: cannot boot: bad size: lots\n", code: 2 });
  });
});
