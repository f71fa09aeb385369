// `npm run bench`: the page allocator's hot paths, kmalloc/kfree and two peer allocators (AssemblyScript's
// TLSF in wasm, @thi.ng/malloc) against a floor measured in the same run, plus boot time and metadata
// size. Prints a table and writes the same results to bench/RESULTS.md.
// The npm script runs node with --expose-gc so that memory deltas are taken after a full GC.
//
// Usage: npm run bench [-- GROUP...], GROUP one of page (cases 1-3), boot (4), slab (5-7: kmalloc, the
// peers, slub_debug), vmalloc (8-10). No group runs them all; only a full run writes bench/RESULTS.md.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { type BootResult, benchBoot, benchFragmented, benchPcpPair, benchRandomFree } from "./cases.ts";
import { checksum, floorSamples, gc, hasGc, type Paired, type Stats, spreadPct, stats } from "./harness.ts";
import { compileTlsf } from "./peers.ts";
import {
  benchKmalloc,
  benchSlab,
  type KmallocResult,
  MIXED_LIVE,
  MIXED_MAX,
  MIXED_MIN,
  PAIR_SIZE,
  type SlabResult,
  THING_MIXED,
} from "./slab.ts";
import { benchVmalloc, LARGE, READ_TARGET, SMALL, SPAN, type VmallocResult } from "./vmalloc.ts";

const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);

// ---- which groups ------------------------------------------------------------------------------

const GROUPS = ["page", "boot", "slab", "vmalloc"] as const;
type Group = (typeof GROUPS)[number];
const asked = process.argv.slice(2);
for (const a of asked) {
  if (!(GROUPS as readonly string[]).includes(a)) {
    process.stderr.write(`usage: npm run bench [-- ${GROUPS.join("|")} ...]: unknown group '${a}'\n`);
    process.exit(2);
  }
}
const full = asked.length === 0;
const want = (g: Group) => full || asked.includes(g);

// ---- run ---------------------------------------------------------------------------------------

interface PageResults {
  pcp: ReturnType<typeof benchPcpPair>;
  rnd: ReturnType<typeof benchRandomFree>;
  frag: ReturnType<typeof benchFragmented>;
}
let page: PageResults | null = null;
if (want("page")) {
  log("1. order-0 pcp alloc+free pair");
  gc();
  const pcp = benchPcpPair();
  log("2. 100k live pages, random-order free");
  gc();
  const rnd = benchRandomFree();
  log("3. random orders 0-10 under fragmentation");
  gc();
  const frag = benchFragmented();
  page = { pcp, rnd, frag };
}
let boots: BootResult[] | null = null;
if (want("boot")) {
  log("4. boot 1G / 16G / 64G (fresh processes, then in-process)");
  gc();
  boots = [
    await benchBoot("1G", "memory", 5, 3),
    await benchBoot("16G", "none", 3, 3),
    await benchBoot("64G", "none", 3, 5),
  ];
}
interface SlabResults extends SlabResult {
  debug: KmallocResult;
  /** slub_debug=FZP: the checks and patterns without the stack-capturing store-user tracks. */
  debugNoU: KmallocResult;
  tlsfBytes: number;
  tlsfCompileMs: number;
}
let slab: SlabResults | null = null;
if (want("slab")) {
  log("5./6. AssemblyScript TLSF (wasm): compile bench/peers/tlsf.as");
  const wasm = compileTlsf();
  log(`5. ${PAIR_SIZE} B pair: kmalloc+kfree, TLSF, @thi.ng/malloc, interleaved`);
  log(
    `6. mixed ${MIXED_MIN}-${MIXED_MAX} B, ${MIXED_LIVE} live: kmalloc and TLSF interleaved, then thi.ng alone`,
  );
  gc();
  const run = benchSlab();
  log("7. slub_debug=FZPU: the kmalloc cases again");
  gc();
  const debug = benchKmalloc("slub_debug=FZPU");
  log("7. slub_debug=FZP (no user tracking): the kmalloc cases again");
  gc();
  const debugNoU = benchKmalloc("slub_debug=FZP");
  slab = { ...run, debug, debugNoU, tlsfBytes: wasm.bytes, tlsfCompileMs: wasm.ms };
}
let vm: VmallocResult | null = null;
if (want("vmalloc")) {
  log(`8. vmalloc+vfree, ${SMALL >> 10} KiB and ${LARGE >> 20} MiB, vs the same order-0 page allocations`);
  log(`9./10. read32/write32 over ${SPAN >> 20} MiB: through vmalloc vs through the direct map`);
  gc();
  vm = benchVmalloc();
}
const floor = stats(floorSamples);
// A pop+push pair is a dependent load and store: well under a cycle per pair would mean V8 dropped it.
if (floor.median < 0.2) log(`WARNING: floor ${floor.median.toFixed(3)} ns/op looks optimised away`);

// ---- targets -----------------------------------------------------------------------------------

/** Per-pageblock data (1 byte per 512 pages) and heap noise ride on top of the 16 B of struct page. */
const BYTES_SLACK = 0.1;
/** Marginal metadata per pfn: the 16G -> 64G heap growth over the pfns added (fixed costs cancel). */
const marginal = boots ? (boots[2]!.heapDelta - boots[1]!.heapDelta) / (boots[2]!.pfns - boots[1]!.pfns) : 0;
/**
 * How many times slower a is than b: the ratio of their median ns/op, both measured in this run (for
 * slub_debug on vs off, timed one after the other: host drift is small next to a 30x bar). kmem against
 * its peers uses slab.faster instead, from batches interleaved within each sample.
 */
const times = (a: Paired, b: Paired) => a.op.median / b.op.median;
/** A whole number, with thousands separators. */
const int = (x: number) => Math.round(x).toLocaleString("en-US");
/** A ratio: one decimal below 1000. */
const xr = (x: number) => (x >= 1000 ? int(x) : x.toFixed(1));
/** "3.2x faster" for r >= 1, else "2.5x slower" (r: how many times slower the other side is). */
const faster = (r: number) => (r >= 1 ? `${xr(r)}x faster` : `${xr(1 / r)}x slower`);

interface Target {
  what: string;
  goal: string;
  value: string;
  pass: boolean;
}
const targets: Target[] = [];
if (page) {
  const { pcp, rnd } = page;
  targets.push(
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
  );
}
if (boots) {
  const b64 = boots[2]!;
  const maxArrays = Math.max(...boots.map((b) => b.arraysPerPfn));
  const boot64 = b64.cold ?? b64.warm;
  targets.push(
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
  );
}
if (slab) {
  const { kmem, debug } = slab;
  const vsTlsf = slab.faster.tlsfMixed;
  const dbgPair = times(debug.pair, kmem.pair);
  const dbgMixed = times(debug.mixed, kmem.mixed);
  targets.push(
    {
      what: `5. kmalloc+kfree pair, ${PAIR_SIZE} B`,
      goal: "<= 4x floor",
      value: `${kmem.pair.ratio.median.toFixed(1)}x`,
      pass: kmem.pair.ratio.median <= 4,
    },
    {
      what: `6. mixed ${MIXED_MIN}-${MIXED_MAX} B, ${MIXED_LIVE.toLocaleString("en-US")} live`,
      goal: "<= 10x floor",
      value: `${kmem.mixed.ratio.median.toFixed(1)}x`,
      pass: kmem.mixed.ratio.median <= 10,
    },
    {
      what: "6. mixed vs AssemblyScript TLSF (wasm)",
      goal: ">= 3x faster",
      value: faster(vsTlsf),
      pass: vsTlsf >= 3,
    },
    {
      what: "7. slub_debug=FZPU, pair",
      goal: "<= 30x debug-off",
      value: `${xr(dbgPair)}x`,
      pass: dbgPair <= 30,
    },
    {
      what: "7. slub_debug=FZPU, mixed",
      goal: "<= 30x debug-off",
      value: `${xr(dbgMixed)}x`,
      pass: dbgMixed <= 30,
    },
  );
}
if (vm) {
  targets.push({
    what: "9. read32 through vmalloc",
    goal: `<= ${READ_TARGET}x direct map`,
    value: `${xr(vm.read.ratio.median)}x`,
    pass: vm.read.ratio.median <= READ_TARGET,
  });
}

// ---- output ------------------------------------------------------------------------------------

const ns = (x: number) =>
  x >= 1e4
    ? Math.round(x).toLocaleString("en-US")
    : x >= 100
      ? x.toFixed(0)
      : x >= 10
        ? x.toFixed(1)
        : x.toFixed(2);
const range = (s: Stats) => `${ns(s.min)}-${ns(s.max)}`;
const pct = (s: Stats) => `${spreadPct(s).toFixed(0)}%`;
const opRow = (name: string, p: Paired, note = ""): string[] => [
  name,
  ns(p.op.median),
  range(p.op),
  pct(p.op),
  `${xr(p.ratio.median)}x`,
  `${int(p.ratio.min)}-${int(p.ratio.max)}x`,
  note,
];
/** "kmem 3.2x faster" (or slower) for a peer's row (slab.faster: peer ns/op over kmem's). */
const vsKmem = (r: number) => `kmem ${faster(r)}`;
const opHead = ["benchmark", "ns/op", "min-max", "spread", "vs floor", "ratio min-max", "note"];
const opCells: string[][] = [];
if (page || slab) {
  opCells.push([
    "floor: Int32Array LIFO pop+push pair",
    ns(floor.median),
    range(floor),
    pct(floor),
    "1.0x",
    "",
    `${floor.samples} samples, interleaved`,
  ]);
}
if (page) {
  const { pcp, rnd, frag } = page;
  opCells.push(
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
  );
}
if (slab) {
  const { kmem, debug, debugNoU, tlsf, thing } = slab;
  const thingOps = Math.max(1, Math.round((THING_MIXED.batchMs * 1e6) / thing.mixed.op.median));
  opCells.push(
    opRow(
      `5. kmalloc+kfree pair, ${PAIR_SIZE} B`,
      kmem.pair,
      kmem.pairSteady ? "hot per-CPU slab, no page taken" : "BUDDY TOUCHED",
    ),
    opRow(`5. AS TLSF (wasm): alloc+free pair, ${PAIR_SIZE} B`, tlsf.pair, vsKmem(slab.faster.tlsfPair)),
    opRow(`5. @thi.ng/malloc: malloc+free pair, ${PAIR_SIZE} B`, thing.pair, vsKmem(slab.faster.thingPair)),
    opRow("6. mixed, 50k live: kfree+kmalloc", kmem.mixed, `${MIXED_MIN}-${MIXED_MAX} B log-uniform, seeded`),
    opRow("6. AS TLSF (wasm): mixed, free+alloc", tlsf.mixed, vsKmem(slab.faster.tlsfMixed)),
    opRow(
      "6. @thi.ng/malloc: mixed, free+malloc",
      thing.mixed,
      `${vsKmem(slab.faster.thingMixed)}; ~${thingOps} ops/batch`,
    ),
    opRow(
      `7. slub_debug=FZPU: kmalloc+kfree pair, ${PAIR_SIZE} B`,
      debug.pair,
      `${xr(times(debug.pair, kmem.pair))}x debug-off`,
    ),
    opRow(
      "7. slub_debug=FZPU: mixed, 50k live",
      debug.mixed,
      `${xr(times(debug.mixed, kmem.mixed))}x debug-off`,
    ),
    opRow(
      `7. slub_debug=FZP: kmalloc+kfree pair, ${PAIR_SIZE} B`,
      debugNoU.pair,
      `${xr(times(debugNoU.pair, kmem.pair))}x debug-off`,
    ),
    opRow(
      "7. slub_debug=FZP: mixed, 50k live",
      debugNoU.mixed,
      `${xr(times(debugNoU.mixed, kmem.mixed))}x debug-off`,
    ),
  );
}
/** Cases 8-10 get their own table (their ratios are to a baseline row), with the floor of their batches. */
const vmCells: string[][] = [];
if (vm) {
  const { small, stack, large, read, write } = vm;
  const base = (r: number) => `${xr(r)}x baseline below`;
  const vmFloor = stats(
    [small, large, read, write].flatMap((c) => [...c.vmalloc.floor.values, ...c.base.floor.values]),
  );
  vmCells.push(
    [
      "floor: Int32Array LIFO pop+push pair",
      ns(vmFloor.median),
      range(vmFloor),
      pct(vmFloor),
      "1.0x",
      "",
      `${vmFloor.samples} samples, cases 8-10`,
    ],
    opRow(
      `8. vmalloc(${SMALL >> 10} KiB)+vfree pair`,
      small.vmalloc,
      `${base(small.ratio.median)}; includes the vmallocinfo stack capture`,
    ),
    opRow(`8. baseline: ${SMALL / 4096} order-0 allocs, then their frees`, small.base),
    opRow(
      "8. Error.captureStackTrace, limit 20",
      stack,
      `${(vm.stackShare.median * 100).toFixed(0)}% of the ${SMALL >> 10} KiB pair`,
    ),
    opRow(
      `8. vmalloc(${LARGE >> 20} MiB)+vfree pair`,
      large.vmalloc,
      `${base(large.ratio.median)}; includes the vmallocinfo stack capture`,
    ),
    opRow(`8. baseline: ${LARGE / 4096} order-0 allocs, then their frees`, large.base),
    opRow(
      "9. read32 through vmalloc, sequential",
      read.vmalloc,
      `${xr(read.ratio.median)}x direct map (target <= ${READ_TARGET}x)`,
    ),
    opRow("9. read32 through the direct map, sequential", read.base),
    opRow("10. write32 through vmalloc, sequential", write.vmalloc, `${xr(write.ratio.median)}x direct map`),
    opRow("10. write32 through the direct map, sequential", write.base),
  );
}

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
const bootCells = (boots ?? []).map((b) => [
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
if (opCells.length) {
  console.log();
  console.log(textTable(opHead, opCells));
}
if (vmCells.length) {
  console.log();
  console.log(textTable(opHead, vmCells));
}
if (boots) {
  console.log();
  console.log(textTable(bootHead, bootCells));
  console.log(`heap marginal 16G->64G: ${marginal.toFixed(3)} B/pfn`);
}
console.log();
console.log(textTable(tgtHead, tgtCells));

const slabText = slab
  ? `
kmalloc and its peers (case 4 is boot, below):

5. one \`kmalloc(${PAIR_SIZE}, GFP_KERNEL)\` + \`kfree(p)\` pair on a fresh machine, served by the per-CPU
   slab of kmalloc-${PAIR_SIZE}; the peers run the same pair: AssemblyScript's TLSF compiled to wasm (the
   \`alloc\`/\`free\` exports of a two-function module, ${slab.tlsfBytes} B of wasm, compiled at bench start
   from bench/peers/tlsf.as in ${slab.tlsfCompileMs.toFixed(0)} ms) and \`@thi.ng/malloc\`'s \`MemPool\` (\`malloc\`/\`free\`).
   The three run interleaved (each sample times, for each of them in rotating order, a floor batch then
   its batch), and "kmem Nx faster" is the median over samples of the peer's ns/op over kmem's;
6. ${MIXED_LIVE.toLocaleString("en-US")} live objects of seeded log-uniform sizes ${MIXED_MIN}-${MIXED_MAX} B (untimed fill); one op
   frees a random live slot and allocates a new random size into it (so one op here is two ops of
   peers.md's scenario c). Every allocator replays the same op stream from its start. The peers' arenas
   (TLSF: 512 MiB wasm memory, thi.ng: 256 MiB) are pre-faulted; kmem's pages are first touched by the
   fill and the warm-up. thi.ng's free walks its list of used blocks (O(live)), so one op costs about a
   millisecond: it runs on its own after the other two (which are interleaved as in 5), in batches
   calibrated to ${THING_MIXED.batchMs} ms (a few dozen ops) over ${THING_MIXED.samples} samples, and its "kmem Nx faster" is the
   ratio of the two medians;
7. cases 5 and 6 again on a machine booted with \`slub_debug=FZPU\` (sanity checks, red zones,
   poisoning, alloc/free tracking, which captures a stack trace per call); "debug-off" is its median
   ns/op over case 5's or 6's; then the same with \`slub_debug=FZP\` (everything but the tracks).
`
  : "";

const vmallocMd = vm
  ? `
## vmalloc

Case 8 on a fresh 1 GiB machine, cases 9 and 10 on another, timed as above; each case and its baseline
run interleaved (as in 5, with a floor batch before each), and "Nx baseline" or "Nx direct map" is the
median over samples of the case's ns/op over its baseline's. The floor row pools these cases' floor batches.

8. one \`vmalloc(${SMALL})\` + \`vfree(a)\` pair, and one \`vmalloc(${LARGE})\` + \`vfree(a)\` pair; the baseline
   is the page allocator's share of that work: ${SMALL / 4096} (or ${LARGE / 4096}) \`alloc_pages(GFP_KERNEL, 0)\`, then
   their \`__free_pages(p, 0)\` in the same order, as vmalloc takes its pages one at a time at order 0. The
   ratio is what the vmap area, the page tables and the bookkeeping (vm_struct, page array, lazy purge)
   add; it includes the caller's JavaScript stack that vmalloc saves for /proc/vmallocinfo, timed alone
   in the same samples as \`Error.captureStackTrace\` on a plain object at StackDepot's limit of 20 frames;
9. \`read32(base + i)\` for i = 0, 4, 8, ... over ${SPAN >> 20} MiB, wrapping around (each batch continues the
   sweep), through a \`vmalloc(${SPAN})\` area and through the direct map of an order-8 block
   (\`page_address(alloc_pages(GFP_KERNEL, 8))\`), both filled with the same pattern first;
10. \`write32\` the same way.

${mdTable(opHead, vmCells)}
`
  : "";

const md = `# kmem benchmark results

Written by \`npm run bench\` (bench/run.ts); every number below comes from that one run.

- node: \`${machine.node}\`
- CPU: ${machine.cpu} (${machine.cores} cores)
- date: ${machine.date}
- GC exposed: ${hasGc ? "yes" : "no"}

## Operations

All kmem cases go through the public API of a booted 1 GiB machine (\`k.alloc_pages\`, \`k.__free_pages\`,
\`k.kmalloc\`, \`k.kfree\`).
ns/op is the median over timed batches (~20 ms each, after warm-up); min-max and spread ((max-min)/median)
are over the same batches. The floor is an Int32Array used as a LIFO free list (pop an index, push it
back); a floor batch runs just before every case batch, and "vs floor" is the median of those per-pair
ratios, so host drift cancels. The floor row pools every floor batch of the run.

1. one \`alloc_pages(GFP_KERNEL, 0)\` + \`__free_pages(p, 0)\` pair, served by the per-CPU list;
2. 100,000 order-0 pages allocated, then freed in a seeded random order (and, as a reference, in
   allocation order); alloc and free timed separately, 31 rounds after 4 warm-up rounds;
3. a pool of 640 blocks of seeded random orders 0-10: one op frees a random slot's block and allocates a
   random order into it (\`GFP_KERNEL | __GFP_NOWARN\`; failures counted), after 200,000 untimed ops;
${slabText}
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
${vmallocMd}`;

const elapsed = `done in ${((Date.now() - t0) / 1000).toFixed(1)}s (checksum ${checksum()})`;
if (full) {
  writeFileSync(fileURLToPath(new URL("./RESULTS.md", import.meta.url)), md);
  log(`${elapsed}; wrote bench/RESULTS.md`);
} else {
  log(`${elapsed}; partial run (${asked.join(", ")}): bench/RESULTS.md not written`);
}
