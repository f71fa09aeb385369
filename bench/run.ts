// `npm run bench`: the page allocator's hot paths against a floor measured in the same run, plus boot time
// and metadata size. Prints a table and writes the same results to bench/RESULTS.md.
// The npm script runs node with --expose-gc so that memory deltas are taken after a full GC.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { type BootResult, benchBoot, benchFragmented, benchPcpPair, benchRandomFree } from "./cases.ts";
import { checksum, floorSamples, gc, hasGc, type Paired, type Stats, spreadPct, stats } from "./harness.ts";

const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);

// ---- run ---------------------------------------------------------------------------------------

log("1. order-0 pcp alloc+free pair");
gc();
const pcp = benchPcpPair();
log("2. 100k live pages, random-order free");
gc();
const rnd = benchRandomFree();
log("3. random orders 0-10 under fragmentation");
gc();
const frag = benchFragmented();
log("4. boot 1G / 16G / 64G (fresh processes, then in-process)");
gc();
const boots: BootResult[] = [
  await benchBoot("1G", "memory", 5, 3),
  await benchBoot("16G", "none", 3, 3),
  await benchBoot("64G", "none", 3, 5),
];
const floor = stats(floorSamples);
// A pop+push pair is a dependent load and store: well under a cycle per pair would mean V8 dropped it.
if (floor.median < 0.2) log(`WARNING: floor ${floor.median.toFixed(3)} ns/op looks optimised away`);

// ---- targets -----------------------------------------------------------------------------------

const b16 = boots[1]!;
const b64 = boots[2]!;
/** Marginal metadata per pfn: the 16G -> 64G heap growth over the pfns added (fixed costs cancel). */
const marginal = (b64.heapDelta - b16.heapDelta) / (b64.pfns - b16.pfns);
const maxArrays = Math.max(...boots.map((b) => b.arraysPerPfn));
/** Per-pageblock data (1 byte per 512 pages) and heap noise ride on top of the 16 B of struct page. */
const BYTES_SLACK = 0.1;
const boot64 = b64.cold ?? b64.warm;

interface Target {
  what: string;
  goal: string;
  value: string;
  pass: boolean;
}
const targets: Target[] = [
  {
    what: "1. order-0 pcp alloc+free pair",
    goal: "<= 3x floor",
    value: `${pcp.pair.ratio.median.toFixed(1)}x`,
    pass: pcp.pair.ratio.median <= 3,
  },
  {
    what: "2. random-order free, 100k live",
    goal: "<= 6x floor",
    value: `${rnd.free.ratio.median.toFixed(1)}x`,
    pass: rnd.free.ratio.median <= 6,
  },
  {
    what: "4. 64 GiB metadata-only boot",
    goal: "< 1000 ms (fresh process, median)",
    value: `${boot64.median.toFixed(0)} ms (in-process ${b64.warm.median.toFixed(0)} ms)`,
    pass: boot64.median < 1000,
  },
  {
    what: "4. metadata per page",
    goal: `<= 16 B/pfn (arrays, BYTES_PER_PAGE; heap marginal <= 16+${BYTES_SLACK})`,
    value: `${maxArrays} B arrays, ${b64.bytesPerPage} B declared, ${marginal.toFixed(3)} B marginal`,
    pass: maxArrays <= 16 && b64.bytesPerPage <= 16 && marginal <= 16 + BYTES_SLACK,
  },
];

// ---- output ------------------------------------------------------------------------------------

const ns = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (s: Stats) => `${ns(s.min)}-${ns(s.max)}`;
const pct = (s: Stats) => `${spreadPct(s).toFixed(0)}%`;

const opRow = (name: string, p: Paired, note = ""): string[] => [
  name,
  ns(p.op.median),
  range(p.op),
  pct(p.op),
  `${p.ratio.median.toFixed(1)}x`,
  `${p.ratio.min.toFixed(0)}-${p.ratio.max.toFixed(0)}x`,
  note,
];
const opHead = ["benchmark", "ns/op", "min-max", "spread", "vs floor", "ratio min-max", "note"];
const opCells: string[][] = [
  [
    "floor: Int32Array LIFO pop+push pair",
    ns(floor.median),
    range(floor),
    pct(floor),
    "1.0x",
    "",
    `${floor.samples} samples, interleaved`,
  ],
  opRow(
    "1. pcp alloc+free pair (order 0)",
    pcp.pair,
    pcp.pcpSteady ? "stayed on pcp lists" : "BUDDY TOUCHED",
  ),
  opRow("2. 100k live: alloc, per page", rnd.alloc),
  opRow("2. 100k live: random-order free, per page", rnd.free, "seeded permutation"),
  opRow("2. 100k live: in-order free, per page", rnd.freeSeq, "reference"),
  opRow(
    "3. fragmented: free + alloc, orders 0-10",
    frag.op,
    `occupancy ${(frag.occupancy * 100).toFixed(0)}%, failed ${(frag.failureRate * 100).toFixed(2)}%`,
  ),
];

const bootHead = [
  "machine",
  "pfns",
  "boot, fresh process",
  "boot, in-process",
  "heap delta",
  "B/pfn heap",
  "B/pfn arrays",
  "BYTES_PER_PAGE",
];
const msStats = (s: Stats | null) =>
  s ? `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}-${s.max.toFixed(0)}, n=${s.samples})` : "-";
const bootCells = boots.map((b) => [
  `${b.label} (${b.backing})`,
  b.pfns.toLocaleString("en-US"),
  msStats(b.cold),
  msStats(b.warm),
  `${(b.heapDelta / 2 ** 20).toFixed(1)} MiB`,
  b.heapPerPfn.toFixed(2),
  String(b.arraysPerPfn),
  String(b.bytesPerPage),
]);
const tgtHead = ["target", "goal", "measured", "result"];
const tgtCells = targets.map((t) => [t.what, t.goal, t.value, t.pass ? "PASS" : "MISS"]);

function textTable(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

function mdTable(head: string[], rows: string[][]): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 || i === head.length - 1 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

const machine = {
  node: process.version,
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  date: new Date().toISOString(),
};
const gcNote = hasGc ? "" : " [no --expose-gc: memory deltas are not taken after a GC]";
console.log(`node ${machine.node}, ${machine.cpu} (${machine.cores} cores), ${machine.date}${gcNote}`);
console.log();
console.log(textTable(opHead, opCells));
console.log();
console.log(textTable(bootHead, bootCells));
console.log(`heap marginal 16G->64G: ${marginal.toFixed(3)} B/pfn`);
console.log();
console.log(textTable(tgtHead, tgtCells));

const md = `# kmem benchmark results

Written by \`npm run bench\` (bench/run.ts); every number below comes from that one run.

- node: \`${machine.node}\`
- CPU: ${machine.cpu} (${machine.cores} cores)
- date: ${machine.date}
- GC exposed: ${hasGc ? "yes" : "no"}

## Operations

All cases go through the public API of a booted 1 GiB machine (\`k.alloc_pages\`, \`k.__free_pages\`).
ns/op is the median over timed batches (~20 ms each, after warm-up); min-max and spread ((max-min)/median)
are over the same batches. The floor is an Int32Array used as a LIFO free list (pop an index, push it
back); a floor batch runs just before every case batch, and "vs floor" is the median of those per-pair
ratios, so host drift cancels. The floor row pools every floor batch of the run.

1. one \`alloc_pages(GFP_KERNEL, 0)\` + \`__free_pages(p, 0)\` pair, served by the per-CPU list;
2. 100,000 order-0 pages allocated, then freed in a seeded random order (and, as a reference, in
   allocation order); alloc and free timed separately, 31 rounds after 4 warm-up rounds;
3. a pool of 640 blocks of seeded random orders 0-10: one op frees a random slot's block and allocates a
   random order into it (\`GFP_KERNEL | __GFP_NOWARN\`; failures counted), after 200,000 untimed ops.

${mdTable(opHead, opCells)}

## Boot and metadata

Boot is the wall time of \`boot({ mem, backing })\`: first, the only boot of a fresh node process (cold
code, what a script that boots once pays); then boots in this process after the allocator cases. Heap
delta is \`heapUsed + arrayBuffers\` retained by one booted machine, after a full GC. B/pfn arrays is the
\`PageArrays\` typed arrays' byteLength per pfn; BYTES_PER_PAGE is the engine's declared figure.
Heap marginal 16G->64G (growth per added pfn, fixed costs cancelled): ${marginal.toFixed(3)} B/pfn.

${mdTable(bootHead, bootCells)}

## Targets

${mdTable(tgtHead, tgtCells)}
`;

writeFileSync(fileURLToPath(new URL("./RESULTS.md", import.meta.url)), md);
log(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s (checksum ${checksum()}); wrote bench/RESULTS.md`);
