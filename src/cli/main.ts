// The `kmem` command. `kmem run FILE [param=value...]` boots a machine, shows /proc/buddyinfo, insmods the
// module that FILE exports by default, prints what it logged, rmmods it, prints its exit lines and shows
// /proc/buddyinfo again: the book's `lkm` helper script (insmod, then dmesg), over a simulated kernel.
// `kmem show_kernel_seg` boots a machine and prints its kernel address-space map (/proc/kmem_layout), as the
// book's ch7 show_kernel_seg module does.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import pc from "picocolors";
import { boot, type Kernel, type KernelModule } from "../index.ts";
import { PROFILES, type ProfileName } from "../kernel/profile.ts";
import { slabtop } from "./slabtop.ts";

export interface RunOptions {
  /** Module parameters, as on the insmod command line (`order=5` is { order: "5" }). */
  params?: Record<string, string>;
  /** RAM size: "1G", "512M", or bytes (default "1G"). */
  mem?: string | number;
  nodes?: number;
  cpus?: number;
  profile?: ProfileName;
  /** Kernel command line, e.g. "panic_on_warn=1". */
  cmdline?: string;
  /** Also print the boot log before the first heading. */
  bootLog?: boolean;
  /** Also print `slabtop -o` (from /proc/slabinfo) while the module is loaded. */
  slabtop?: boolean;
  /** ANSI colours (headings, log levels); off unless asked for. */
  color?: boolean;
  /** The file name shown in headings (defaults to the path given). */
  displayName?: string;
}

export interface RunResult {
  /** 0 when the module loaded and unloaded cleanly; 1 when insmod or rmmod failed; 2 for a bad file. */
  readonly exitCode: number;
  /** What the command prints on standard output. */
  readonly stdout: string;
  /** Error messages (insmod's message, load errors). */
  readonly stderr: string;
  /** Both, in the order they were produced (what a terminal shows). */
  readonly output: readonly { readonly stream: "stdout" | "stderr"; readonly text: string }[];
  /** The booted machine, for inspection after the run (undefined if the module file failed to load). */
  readonly kernel?: Kernel;
  /** The module that was loaded. */
  readonly module?: KernelModule;
}

/** Free pages the allocator holds: buddy free lists plus every CPU's per-CPU lists, in all zones. */
export function freePagesTotal(k: Kernel): number {
  let n = 0;
  for (const z of k.populatedZones()) n += z.freePages + z.pcpPages;
  return n;
}

/** Pages held by the slab caches and by the vmalloc page tables. */
function kernelKeptPages(k: Kernel): number {
  const slab =
    k.slub.nrSlabReclaimable.reduce((a, b) => a + b, 0) +
    k.slub.nrSlabUnreclaimable.reduce((a, b) => a + b, 0);
  return slab + k.vm.pt.tablePfns().length;
}

/** Import a module file (TypeScript or JavaScript) and return its default export, checked for shape. */
export async function loadModuleFile(file: string): Promise<KernelModule> {
  const path = resolve(file);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // reported below
  }
  if (!isFile) throw new Error(`${file}: No such file`);
  const ns = (await import(pathToFileURL(path).href)) as { default?: unknown };
  const mod = ns.default as Partial<KernelModule> | undefined;
  if (!mod || typeof mod !== "object" || typeof mod.name !== "string" || typeof mod.init !== "function")
    throw new Error(
      `${file}: the default export must be a kernel module: { name: string, init(k, params), exit?(k, params) }`,
    );
  return mod as KernelModule;
}

/** Boot, insmod the file's module, rmmod it, and return everything the command would print. */
export async function runModuleFile(file: string, opts: RunOptions = {}): Promise<RunResult> {
  const c = pc.createColors(opts.color ?? false);
  const shown = opts.displayName ?? file;
  const output: { stream: "stdout" | "stderr"; text: string }[] = [];
  const out = { push: (text: string) => output.push({ stream: "stdout", text }) };
  const err = { push: (text: string) => output.push({ stream: "stderr", text }) };
  const text = (stream: "stdout" | "stderr") =>
    output
      .filter((o) => o.stream === stream)
      .map((o) => o.text)
      .join("");
  const result = (exitCode: number, kernel?: Kernel, module?: KernelModule): RunResult => ({
    exitCode,
    stdout: text("stdout"),
    stderr: text("stderr"),
    output,
    kernel,
    module,
  });
  const heading = (title: string) =>
    out.push(`${output.length > 0 ? "\n" : ""}${c.bold(c.cyan(`== ${title} ==`))}\n`);

  let mod: KernelModule;
  try {
    mod = await loadModuleFile(file);
  } catch (e) {
    err.push(`kmem: cannot load module file ${e instanceof Error ? e.message : String(e)}\n`);
    return result(2);
  }

  let k: Kernel;
  try {
    k = boot({
      mem: opts.mem,
      nodes: opts.nodes,
      cpus: opts.cpus,
      profile: opts.profile,
      cmdline: opts.cmdline,
    });
  } catch (e) {
    err.push(`kmem: cannot boot: ${e instanceof Error ? e.message : String(e)}\n`);
    return result(2, undefined, mod);
  }

  const dmesgSince = (mark: number) => colourLog(k, mark, c);
  const params = opts.params ?? {};
  const paramText = Object.entries(params)
    .map(([n, v]) => ` ${n}=${v}`)
    .join("");
  const zones = k.populatedZones();
  const zoneText =
    k.nodes.length === 1
      ? `zones ${zones.map((z) => z.name).join(" ")}`
      : k.nodes
          .map(
            (n) =>
              `node ${n.nid}: ${zones
                .filter((z) => z.nid === n.nid)
                .map((z) => z.name)
                .join(" ")}`,
          )
          .join(", ");
  const memText = typeof opts.mem === "number" ? `${opts.mem} bytes` : (opts.mem ?? "1G");
  out.push(
    `${c.bold("kmem")}: Linux ${k.profile.release}, ${memText} RAM, ${k.nodes.length} node${k.nodes.length > 1 ? "s" : ""}, ${k.cpus} CPU${k.cpus > 1 ? "s" : ""}, ${zoneText}${opts.cmdline ? `, cmdline "${opts.cmdline}"` : ""}\n`,
  );
  if (opts.bootLog) {
    heading("dmesg (boot)");
    out.push(dmesgSince(0));
  }

  heading("/proc/buddyinfo (before insmod)");
  out.push(k.cat("/proc/buddyinfo"));
  const freeBefore = freePagesTotal(k);
  const keptBefore = kernelKeptPages(k);

  // insmod, and what the module logged while loading.
  heading(`insmod ${shown}${paramText} (module ${mod.name})`);
  let mark = k.logMark();
  let ins: ReturnType<Kernel["insmod"]>;
  try {
    ins = k.insmod(mod, params);
  } catch (e) {
    out.push(dmesgSince(mark));
    err.push(`kmem: insmod ${mod.name}: ${describeThrown(e)}\n`);
    return result(1, k, mod);
  }
  out.push(dmesgSince(mark));
  if (!ins.ok) {
    err.push(`${ins.message ?? `insmod: ERROR: could not insert module ${mod.name}.ko`}\n`);
    heading("/proc/buddyinfo (after failed insmod)");
    out.push(k.cat("/proc/buddyinfo"));
    const freeAfter = freePagesTotal(k);
    out.push(freeLine(c, [freeBefore, "before insmod"], [freeAfter, "after the failed insmod"]));
    return result(1, k, mod);
  }

  heading("/proc/buddyinfo (module loaded)");
  out.push(k.cat("/proc/buddyinfo"));
  const freeLoaded = freePagesTotal(k);
  if (opts.slabtop) {
    heading("slabtop -o (module loaded)");
    out.push(slabtop(k.cat("/proc/slabinfo")));
  }

  // rmmod, and the exit lines.
  heading(`rmmod ${mod.name}`);
  mark = k.logMark();
  let rm: ReturnType<Kernel["rmmod"]>;
  try {
    rm = k.rmmod(mod.name);
  } catch (e) {
    out.push(dmesgSince(mark));
    err.push(`kmem: rmmod ${mod.name}: ${describeThrown(e)}\n`);
    return result(1, k, mod);
  }
  out.push(dmesgSince(mark));
  let exitCode = 0;
  if (!rm.ok) {
    err.push(`${rm.message ?? `rmmod: ERROR: could not remove module ${mod.name}`}\n`);
    exitCode = 1;
  }

  heading("/proc/buddyinfo (after rmmod)");
  out.push(k.cat("/proc/buddyinfo"));
  const freeAfter = freePagesTotal(k);
  out.push(
    freeLine(c, [freeBefore, "before insmod"], [freeLoaded, "while loaded"], [freeAfter, "after rmmod"]),
  );
  // Pages the kernel itself keeps are not the module's leak: slabs the caches hold on to, and page
  // tables (the kernel never frees those of vmalloc space).
  const kept = kernelKeptPages(k) - keptBefore;
  const leaked = freeBefore - freeAfter - kept;
  if (kept > 0 && freeAfter < freeBefore)
    out.push(
      `${Math.min(kept, freeBefore - freeAfter)} page(s) kept by the slab caches and the kernel page tables (not a leak).\n`,
    );
  if (leaked > 0) out.push(c.yellow(`${leaked} page(s) were not given back: the module leaked them.\n`));
  const problems = k.check();
  if (problems.length > 0) {
    err.push(`kmem: the allocator is inconsistent:\n${problems.map((p) => `  ${p}\n`).join("")}`);
    exitCode = 1;
  }
  return result(exitCode, k, mod);
}

function freeLine(c: ReturnType<typeof pc.createColors>, ...counts: [number, string][]): string {
  return `${c.dim("free pages (buddy + per-CPU lists):")} ${counts.map(([n, what]) => `${n} ${what}`).join(", ")}\n`;
}

function describeThrown(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** dmesg from a mark, coloured by log level like `dmesg --color` (plain when colours are off). */
function colourLog(k: Kernel, mark: number, c: ReturnType<typeof pc.createColors>): string {
  const text = k.dmesg(mark);
  if (!c.isColorSupported) return text;
  const records = k.core.log.records;
  const lines = text.split("\n");
  let s = "";
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!;
    const level = records[mark + i]?.level ?? 6;
    const close = line.indexOf("] ");
    const stamp = close >= 0 ? line.slice(0, close + 2) : "";
    const body = line.slice(stamp.length);
    const paint =
      level <= 3
        ? (t: string) => c.bold(c.red(t))
        : level === 4
          ? c.yellow
          : level === 5
            ? c.bold
            : level === 7
              ? c.dim
              : (t: string) => t;
    s += `${c.green(stamp)}${paint(body)}\n`;
  }
  return s;
}

function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`);
    return n;
  };
}

/** Split `name=value` words into module parameters (a bare `name` is `name=y`, as for a bool). */
export function parseParamArgs(words: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq === 0) throw new InvalidArgumentError(`bad module parameter '${w}' (expected name=value)`);
    if (eq < 0) params[w] = "y";
    else params[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return params;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  color: boolean;
}

/** The command-line program (commander); `io` receives everything it prints. */
export function createProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("kmem")
    .description("The Linux 5.4 page allocator over real memory: boot a simulated machine, load a module.")
    .version(packageVersion())
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError();

  program
    .command("run")
    .description(
      "boot, show /proc/buddyinfo, insmod the module FILE exports by default, print its dmesg lines, rmmod it, print its exit lines, show /proc/buddyinfo again",
    )
    .argument("<file>", "module file (.ts or .js) whose default export is a kernel module")
    .argument("[params...]", "module parameters, name=value (e.g. order=5)")
    .option("--mem <size>", "RAM size, e.g. 512M, 4G", "1G")
    .option("--nodes <n>", "NUMA nodes", intOption("--nodes", 1, 51), 1)
    .option("--cpus <n>", "CPUs (each has its own per-CPU page lists)", intOption("--cpus", 1, 256), 2)
    .addOption(
      new Option("--profile <version>", "kernel version profile")
        .choices(Object.keys(PROFILES))
        .default("5.4"),
    )
    .option("--cmdline <text>", 'kernel command line, e.g. "panic_on_warn=1"', "")
    .option("--boot-log", "also print the boot log", false)
    .option("--slabtop", "also print `slabtop -o` (the slab caches) while the module is loaded", false)
    .option("--color", "colour the output even when it is not a terminal")
    .option("--no-color", "plain output even on a terminal")
    .addHelpText(
      "after",
      "\nExamples:\n  kmem run examples/lowlevel_mem.ts\n  kmem run examples/lowlevel_mem.ts order=5 --mem 512M\n  kmem run examples/page_exact_loop.ts --cpus 4\n  kmem run examples/lowlevel_mem.ts --slabtop",
    )
    .action(async (file: string, words: string[], o: Record<string, unknown>) => {
      const r = await runModuleFile(file, {
        params: parseParamArgs(words),
        mem: o.mem as string,
        nodes: o.nodes as number,
        cpus: o.cpus as number,
        profile: o.profile as ProfileName,
        cmdline: (o.cmdline as string) || undefined,
        bootLog: o.bootLog as boolean,
        slabtop: o.slabtop as boolean,
        color: (o.color as boolean | undefined) ?? io.color,
      });
      for (const o of r.output) (o.stream === "stdout" ? io.stdout : io.stderr)(o.text);
      setExit(r.exitCode);
    });

  program
    .command("show_kernel_seg")
    .description(
      "boot a machine and print its kernel virtual address space map, highest address first: the book's ch7 show_kernel_seg module (the same text as /proc/kmem_layout)",
    )
    .option("--mem <size>", "RAM size, e.g. 512M, 4G", "1G")
    .option("--nodes <n>", "NUMA nodes", intOption("--nodes", 1, 51), 1)
    .option("--cpus <n>", "CPUs", intOption("--cpus", 1, 256), 2)
    .addHelpText("after", "\nExamples:\n  kmem show_kernel_seg\n  kmem show_kernel_seg --mem 4G")
    .action((o: Record<string, unknown>) => {
      let k: Kernel;
      try {
        k = boot({ mem: o.mem as string, nodes: o.nodes as number, cpus: o.cpus as number });
      } catch (e) {
        io.stderr(`kmem: cannot boot: ${e instanceof Error ? e.message : String(e)}\n`);
        setExit(2);
        return;
      }
      io.stdout(k.cat("/proc/kmem_layout"));
      setExit(0);
    });
  return program;
}

/** Run the command line (argv as in process.argv); resolves to the exit status. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  let code = 0;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    // `kmem run ... | head`: the reader went away; stop quietly.
    if (e.code === "EPIPE") process.exit(code);
    throw e;
  });
  const io: CliIo = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    // picocolors honours NO_COLOR and FORCE_COLOR; plain output when piped unless forced.
    color: pc.isColorSupported && (process.stdout.isTTY === true || Boolean(process.env.FORCE_COLOR)),
  };
  const program = createProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    // exitOverride(): commander has already printed its message (or help/version).
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.exitCode === "number") return ce.exitCode;
    throw e;
  }
  return code;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(resolve(script)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main();
