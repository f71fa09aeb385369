// `slabtop -o` (src/cli/slabtop.ts) against procps-ng's formats: the summary lines
// (" %-35s: %u / %u (%.1f%%)", sizes "%.2fK"), the heading padded to 78 columns, rows
// "%6u %6u %3u%% %7.2fK %6u %8u %9luK %-23s" sorted by object count, and glibc's rounding of %f
// (exact binary value, ties to even: 128 bytes = 0.125K prints as 0.12K). Then `kmem run --slabtop`.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createProgram, runModuleFile } from "../src/cli/main.ts";
import { cFixed, slabtop } from "../src/cli/slabtop.ts";
import { boot, GFP_KERNEL } from "../src/index.ts";

const MODULE = fileURLToPath(new URL("fixtures/slab_keep_module.ts", import.meta.url));

describe("cFixed(): printf %.Nf as glibc prints it", () => {
  it("rounds the exact binary value, ties to even", () => {
    expect(cFixed(0.125, 2)).toBe("0.12");
    expect(cFixed(0.375, 2)).toBe("0.38");
    expect(cFixed(0.0078125, 2)).toBe("0.01");
    expect(cFixed(2.5, 0)).toBe("2");
    expect(cFixed(3.5, 0)).toBe("4");
    expect(cFixed(0.15, 1)).toBe("0.1"); // 0.1499999999999999944...
    expect(cFixed(0.25, 1)).toBe("0.2");
    expect(cFixed(100, 1)).toBe("100.0");
    expect(cFixed(8, 2)).toBe("8.00");
    expect(cFixed(-1.005, 2)).toBe("-1.00"); // -1.00499999999999989...
    expect(cFixed(0 / 0, 1)).toBe("-nan");
  });
});

const SLABINFO = `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
test_a                30     40    200   20    1 : tunables    0    0    0 : slabdata      2      2      0
kmalloc-128          128    128    128   32    1 : tunables    0    0    0 : slabdata      4      4      0
empty                  0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0
kmalloc-8k             3      4   8192    4    8 : tunables    0    0    0 : slabdata      1      1      0
`;

describe("slabtop -o", () => {
  it("prints procps' summary, heading and rows, sorted by number of objects", () => {
    // Objects 161/172; sizes 46960/57152 bytes; the average object floor(57152/172) = 332 bytes.
    expect(slabtop(SLABINFO)).toBe(
      [
        " Active / Total Objects (% used)    : 161 / 172 (93.6%)",
        " Active / Total Slabs (% used)      : 7 / 7 (100.0%)",
        " Active / Total Caches (% used)     : 3 / 4 (75.0%)",
        " Active / Total Size (% used)       : 45.86K / 55.81K (82.2%)",
        " Minimum / Average / Maximum Object : 0.06K / 0.32K / 8.00K",
        "",
        "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME                   ",
        "   128    128 100%    0.12K      4       32        16K kmalloc-128            ",
        "    40     30  75%    0.20K      2       20         8K test_a                 ",
        "     4      3  75%    8.00K      1        4        32K kmalloc-8k             ",
        "     0      0   0%    0.06K      0       64         0K empty                  ",
        "",
      ].join("\n"),
    );
  });
  it("USE truncates a float percentage; ties in the sort keep /proc/slabinfo's order", () => {
    const text = `${SLABINFO.split("\n").slice(0, 2).join("\n")}
first                  2      3     64   64    1 : tunables    0    0    0 : slabdata      1      1      0
second                 1      3     64   64    1 : tunables    0    0    0 : slabdata      1      1      0
`;
    const rows = slabtop(text).split("\n").slice(7, 9);
    expect(rows.map((r) => r.trimEnd())).toEqual([
      "     3      2  66%    0.06K      1       64         4K first",
      "     3      1  33%    0.06K      1       64         4K second",
    ]);
  });
  it("reads a booted machine's /proc/slabinfo", () => {
    const k = boot({ mem: "512M", cpus: 1 });
    for (let i = 0; i < 100; i++) k.kmalloc(100, GFP_KERNEL);
    const out = slabtop(k.cat("/proc/slabinfo")).split("\n");
    expect(out[7]).toBe("   128    128 100%    0.12K      4       32        16K kmalloc-128            ");
    // Every line of the table is 78 columns wide or more (names are padded to 23).
    for (const l of out.slice(6, -1)) expect(l.length).toBeGreaterThanOrEqual(78);
    expect(out.filter((l) => / kmalloc-\d/.test(l)).length).toBe(13);
  });
  it("refuses text that is not slabinfo 2.x", () => {
    expect(() => slabtop("slabinfo - version: 1.1\n")).toThrow("not version 2.x");
  });
});

describe("kmem run --slabtop", () => {
  it("prints slabtop -o while the module is loaded", async () => {
    const r = await runModuleFile(MODULE, { mem: "512M", cpus: 1, slabtop: true });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const out = r.stdout.split("\n");
    const at = out.indexOf("== slabtop -o (module loaded) ==");
    expect(at).toBeGreaterThan(out.indexOf("== /proc/buddyinfo (module loaded) =="));
    expect(at).toBeLessThan(out.indexOf("== rmmod slab_keep =="));
    expect(out[at + 1]).toMatch(/^ Active \/ Total Objects \(% used\) {4}: \d+ \/ \d+ \(\d+\.\d%\)$/);
    expect(out[at + 7]).toBe("  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME".padEnd(78));
    // 45 objects of 200 bytes: two full slabs and the CPU's slab, all counted active.
    expect(out).toContain(
      `    60     60 100%    0.20K      3       20        12K ${"keep_obj200".padEnd(23)}`,
    );
    expect(out).toContain(
      `   128    128 100%    0.12K      4       32        16K ${"kmalloc-128".padEnd(23)}`,
    );
  });
  it("is off by default, and the command line takes --slabtop", async () => {
    const plain = await runModuleFile(MODULE, { mem: "512M", cpus: 1 });
    expect(plain.stdout).not.toContain("slabtop");
    let stdout = "";
    let code = -1;
    const program = createProgram(
      { stdout: (t) => void (stdout += t), stderr: () => {}, color: false },
      (c) => {
        code = c;
      },
    );
    await program.parseAsync(["node", "kmem", "run", MODULE, "--mem", "512M", "--slabtop"]);
    expect(code).toBe(0);
    expect(stdout).toContain("== slabtop -o (module loaded) ==");
  });
});
