// The book's graphing step for ch8/slab4_actualsz_wstg_plot, as one script: boot a machine, insmod the
// module (it prints "<requested>  <waste %>" per kmalloc() and fails at the first request past 4 MB), take
// the data lines out of dmesg as the book's plotter_prep.sh does (timestamps cut, text lines dropped), and
// write them to plotdata.txt, plus the graph as wastage.svg (requested size vs wastage in percent; open
// it in any browser). The book plots with gnuplot; here the chart is drawn as SVG.
//
//   npx tsx examples/plot_wastage.ts [out-dir] [stepsz]
//     out-dir  where plotdata.txt and wastage.svg go (default: the current directory)
//     stepsz   the module's step: 20000 (1st edition, the default: 210 rows) or 20480 (2nd edition: 205)
//
// The SVG uses d3-scale (the axes' ranges, "nice" tick values and their labels) and d3-shape (the line's
// path); the few SVG elements around them are written here. Chart libraries that draw a whole chart need
// a browser DOM (Observable Plot, Chartist, billboard.js), a native canvas (Chart.js in Node), or bring a
// large dependency tree (Vega); two small d3 modules need neither.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { scaleLinear } from "d3-scale";
import { line } from "d3-shape";
import { boot, type InsmodResult } from "../src/index.ts";
import slab4_actualsz_wstg_plot from "./slab4_actualsz_wstg_plot.ts";

/** One data point: the requested size and the wastage in percent (integer, as the module prints it). */
export interface WastageRow {
  readonly requested: number;
  readonly wastePct: number;
}

export interface WastageRun {
  /** The module's data lines exactly as printed (the contents of plotdata.txt). */
  readonly lines: readonly string[];
  readonly rows: readonly WastageRow[];
  /** The module's "kmalloc fail, size2alloc=N" value. */
  readonly failedAt: number | null;
  readonly insmod: InsmodResult;
  /** The whole dmesg of the load, with timestamps. */
  readonly dmesg: string;
}

const DATA_LINE = /^(\d+) {2}( *\d+)$/;

/**
 * plotter_prep.sh: `cut -c16-` removes the "[    1.234567] " timestamp, `grep -v -i "^[a-z]"` drops the
 * text lines. The book leaves the kernel's WARN splat for the reader to delete by hand; here only lines
 * of the module's "%zu  %3zu" shape are kept.
 */
export function plotterPrep(dmesg: string): string[] {
  return dmesg
    .split("\n")
    .map((l) => l.replace(/^\[ *\d+\.\d{6}\] /, ""))
    .filter((l) => DATA_LINE.test(l));
}

/** insmod slab4_actualsz_wstg_plot on a fresh machine and collect its data points. */
export function runWastage(stepsz = 20000): WastageRun {
  const k = boot({ mem: "512M" });
  const mark = k.logMark();
  const insmod = k.insmod(slab4_actualsz_wstg_plot, { stepsz });
  const dmesg = k.dmesg(mark);
  const lines = plotterPrep(dmesg);
  const rows = lines.map((l) => {
    const m = DATA_LINE.exec(l)!;
    return { requested: Number(m[1]), wastePct: Number(m[2]) };
  });
  const fail = /kmalloc fail, size2alloc=(\d+)/.exec(dmesg);
  return { lines, rows, failedAt: fail ? Number(fail[1]) : null, insmod, dmesg };
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export interface SvgOptions {
  width?: number;
  height?: number;
  title?: string;
  /** A second line under the title (e.g. which kernel and step produced the data). */
  subtitle?: string;
}

/** The graph: requested size (x) against wastage % (y), with the powers of two marked. */
export function wastageSvg(rows: readonly WastageRow[], opts: SvgOptions = {}): string {
  const width = opts.width ?? 1024;
  const height = opts.height ?? 768;
  const title = opts.title ?? "Slab/Page Allocator: Requested vs Actually allocated size Wastage in Percent";
  const m = { top: 70, right: 30, bottom: 70, left: 80 };
  const maxX = Math.max(1, ...rows.map((r) => r.requested));
  const x = scaleLinear()
    .domain([0, maxX])
    .nice()
    .range([m.left, width - m.right]);
  const y = scaleLinear()
    .domain([0, 100])
    .range([height - m.bottom, m.top]);
  const path = line<WastageRow>()
    .x((r) => x(r.requested))
    .y((r) => y(r.wastePct))(rows as WastageRow[]);
  const xTicks = x.ticks(10);
  const xFmt = x.tickFormat(10, ",d");
  const yTicks = y.ticks(10);
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="${m.top / 2 - 4}" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
  );
  if (opts.subtitle)
    out.push(
      `<text x="${width / 2}" y="${m.top / 2 + 14}" text-anchor="middle" fill="#444">${esc(opts.subtitle)}</text>`,
    );
  // Grid and ticks.
  out.push('<g stroke="#e0e0e0">');
  for (const t of yTicks)
    out.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${f(y(t))}" y2="${f(y(t))}"/>`);
  for (const t of xTicks)
    out.push(`<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${m.top}" y2="${height - m.bottom}"/>`);
  out.push("</g>");
  // The powers of two where the wastage drops to 0% (256K ... 4M), inside the data range.
  out.push('<g stroke="#999" stroke-dasharray="4 4" fill="#666" font-size="11">');
  for (let p = 256 * 1024; p <= maxX * 1.05; p *= 2) {
    const px = f(x(p));
    out.push(
      `<line x1="${px}" x2="${px}" y1="${m.top}" y2="${height - m.bottom}"/>`,
      `<text x="${px}" y="${height - m.bottom - 6}" text-anchor="start" dx="3" stroke="none">${p >= 1 << 20 ? `${p >> 20} MiB` : `${p >> 10} KiB`}</text>`,
    );
  }
  out.push("</g>");
  // Axes.
  out.push(
    `<g stroke="black"><line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}"/></g>`,
    '<g text-anchor="middle">',
  );
  for (const t of xTicks)
    out.push(`<text x="${f(x(t))}" y="${height - m.bottom + 18}">${esc(xFmt(t))}</text>`);
  out.push('</g><g text-anchor="end">');
  for (const t of yTicks) out.push(`<text x="${m.left - 8}" y="${f(y(t) + 4)}">${t}</text>`);
  out.push(
    "</g>",
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 20}" text-anchor="middle" font-size="14">Required Size (bytes)</text>`,
    `<text transform="translate(24 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="14">Wastage incurred (%age)</text>`,
  );
  // The data.
  out.push(`<path d="${path ?? ""}" fill="none" stroke="#c0392b" stroke-width="1.5"/>`, '<g fill="#c0392b">');
  for (const r of rows)
    out.push(
      `<circle cx="${f(x(r.requested))}" cy="${f(y(r.wastePct))}" r="2"><title>${r.requested} bytes: ${r.wastePct}%</title></circle>`,
    );
  out.push("</g>", "</svg>", "");
  return out.join("\n");
}

/** Run the module and write plotdata.txt and wastage.svg into `outDir`; returns the two paths. */
export function writeWastagePlot(
  outDir: string,
  stepsz = 20000,
): { data: string; svg: string; run: WastageRun } {
  const run = runWastage(stepsz);
  mkdirSync(outDir, { recursive: true });
  const data = join(outDir, "plotdata.txt");
  const svg = join(outDir, "wastage.svg");
  writeFileSync(data, run.lines.map((l) => `${l}\n`).join(""));
  writeFileSync(
    svg,
    wastageSvg(run.rows, {
      subtitle: `kmem (Linux 5.4, SLUB, 4 KiB pages): slab4_actualsz_wstg_plot stepsz=${stepsz}; dashed lines: powers of two`,
    }),
  );
  return { data, svg, run };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? ".";
  const stepsz = process.argv[3] === undefined ? 20000 : Number(process.argv[3]);
  if (!Number.isInteger(stepsz) || stepsz <= 0) {
    process.stderr.write(`plot_wastage: stepsz must be a positive integer, got '${process.argv[3]}'\n`);
    process.exit(2);
  }
  const { data, svg, run } = writeWastagePlot(outDir, stepsz);
  process.stdout.write(
    `slab4_actualsz_wstg_plot stepsz=${stepsz}: ${run.rows.length} data points, kmalloc failed at ${run.failedAt} (${run.insmod.message ?? "insmod succeeded?"})\nwrote ${data}\nwrote ${svg}\n`,
  );
}
