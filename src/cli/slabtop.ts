// `slabtop -o` (procps-ng): one screen of slab cache statistics computed from /proc/slabinfo text, as
// procps' slabinfo library parses it. The summary counts every cache, the rows are sorted by number of
// objects (the default sort, descending; ties keep the file's order), and every number is printed with
// the C format procps uses (glibc's exact decimal rounding, so 0.125 prints as "0.12").

/** One /proc/slabinfo line as procps reads it. */
interface SlabNode {
  readonly name: string;
  readonly activeObjs: number;
  readonly nrObjs: number;
  readonly objSize: number;
  readonly objsPerSlab: number;
  readonly pagesPerSlab: number;
  readonly activeSlabs: number;
  readonly nrSlabs: number;
  /** nr_slabs * pages_per_slab * page size: the upper bound procps calls the cache size. */
  readonly cacheSize: number;
  /** Percent full: (unsigned)(100 * ((float)active / total)), 0 for an empty cache. */
  readonly use: number;
}

/** printf("%.*f") as glibc does it: the double's exact binary value, ties to even. */
export function cFixed(x: number, prec: number): string {
  if (Number.isNaN(x)) return "-nan"; // 0.0/0.0 on x86 is the negative default NaN
  if (!Number.isFinite(x)) return x < 0 ? "-inf" : "inf";
  const neg = x < 0 || Object.is(x, -0);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = -1074;
  if (expBits !== 0) {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  const scale = 10n ** BigInt(prec);
  let q: bigint;
  if (exp >= 0) q = (mant << BigInt(exp)) * scale;
  else {
    const num = mant * scale;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const twice = 2n * (num - q * den);
    if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  }
  const digits = q.toString().padStart(prec + 1, "0");
  const int = digits.slice(0, digits.length - prec);
  const frac = prec > 0 ? `.${digits.slice(digits.length - prec)}` : "";
  return `${neg ? "-" : ""}${int}${frac}`;
}

/** parse_slabinfo20(): the 2.x line format; header lines (and `#` comments) are skipped. */
function parseSlabinfo(text: string, pageSize: number): SlabNode[] {
  const lines = text.split("\n");
  if (!/^slabinfo - version: 2\.\d+/.test(lines[0] ?? ""))
    throw new Error("slabtop: /proc/slabinfo is not version 2.x");
  const nodes: SlabNode[] = [];
  for (const line of lines.slice(1)) {
    if (line === "" || line.startsWith("#")) continue;
    const m =
      /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+: tunables\s+\d+\s+\d+\s+\d+\s+: slabdata\s+(\d+)\s+(\d+)\s+\d+/.exec(
        line,
      );
    if (!m) throw new Error(`slabtop: cannot parse /proc/slabinfo line: ${line}`);
    const [activeObjs, nrObjs, objSize, objsPerSlab, pagesPerSlab, activeSlabs, nrSlabs] = m
      .slice(2, 9)
      .map(Number) as [number, number, number, number, number, number, number];
    const use = nrObjs ? Math.trunc(Math.fround(100 * Math.fround(activeObjs / nrObjs))) : 0;
    nodes.push({
      name: m[1]!,
      activeObjs,
      nrObjs,
      objSize,
      objsPerSlab,
      pagesPerSlab,
      activeSlabs,
      nrSlabs,
      cacheSize: nrSlabs * pagesPerSlab * pageSize,
      use,
    });
  }
  return nodes;
}

const pct = (a: number, b: number) => cFixed((100 * a) / b, 1);

/** The `slabtop -o` text for a /proc/slabinfo text. */
export function slabtop(slabinfoText: string, pageSize = 4096): string {
  const nodes = parseSlabinfo(slabinfoText, pageSize);
  let objs = 0;
  let activeObjs = 0;
  let slabs = 0;
  let activeSlabs = 0;
  let activeCaches = 0;
  let totalSize = 0;
  let activeSize = 0;
  let minObj = 0x7fffffff;
  let maxObj = 0;
  for (const n of nodes) {
    minObj = Math.min(minObj, n.objSize);
    maxObj = Math.max(maxObj, n.objSize);
    if (n.nrObjs) activeCaches++;
    objs += n.nrObjs;
    activeObjs += n.activeObjs;
    totalSize += n.nrObjs * n.objSize;
    activeSize += n.activeObjs * n.objSize;
    slabs += n.nrSlabs;
    activeSlabs += n.activeSlabs;
  }
  const avgObj = objs ? Math.floor(totalSize / objs) : 0;
  const k = (v: number) => `${cFixed(v / 1024, 2)}K`;
  const label = (s: string) => ` ${s.padEnd(35, " ")}: `;
  let out = "";
  out += `${label("Active / Total Objects (% used)")}${activeObjs} / ${objs} (${pct(activeObjs, objs)}%)\n`;
  out += `${label("Active / Total Slabs (% used)")}${activeSlabs} / ${slabs} (${pct(activeSlabs, slabs)}%)\n`;
  out += `${label("Active / Total Caches (% used)")}${activeCaches} / ${nodes.length} (${pct(activeCaches, nodes.length)}%)\n`;
  out += `${label("Active / Total Size (% used)")}${k(activeSize)} / ${k(totalSize)} (${pct(activeSize, totalSize)}%)\n`;
  out += `${label("Minimum / Average / Maximum Object")}${k(minObj)} / ${k(avgObj)} / ${k(maxObj)}\n\n`;
  out += `${"  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME".padEnd(78, " ")}\n`;
  // procps_slabinfo_sort(SLAB_NUM_OBJS, descending); Array.prototype.sort is stable.
  const sorted = [...nodes].sort((a, b) => b.nrObjs - a.nrObjs);
  for (const n of sorted) {
    out +=
      `${String(n.nrObjs).padStart(6, " ")} ${String(n.activeObjs).padStart(6, " ")} ${String(n.use).padStart(3, " ")}% ` +
      `${cFixed(n.objSize / 1024, 2).padStart(7, " ")}K ${String(n.nrSlabs).padStart(6, " ")} ${String(n.objsPerSlab).padStart(8, " ")} ` +
      `${String(Math.floor(n.cacheSize / 1024)).padStart(9, " ")}K ${n.name.padEnd(23, " ")}\n`;
  }
  return out;
}
