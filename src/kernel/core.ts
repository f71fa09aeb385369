// The kernel around the allocators: printk, taint, `current`, WARN/BUG/Oops splats with their 5.4 layout,
// and what a report does to the caller (kernel/panic.c, lib/bug.c, arch/x86/kernel/dumpstack.c).
import { Clock } from "./clock.ts";
import type { Cmdline } from "./cmdline.ts";
import { KernelBug, KernelOops, KernelPanic } from "./errors.ts";
import { KERN_EMERG, KERN_WARNING, LogBuffer, MESSAGE_LOGLEVEL_DEFAULT, parseLevel } from "./printk.ts";
import type { Profile } from "./profile.ts";
import { callerFrames, type Frame, formatFrame, kframe, StackDepot } from "./stacktrace.ts";
import { TAINT_DIE, TAINT_WARN, taintString } from "./taint.ts";
import { type PrintfContext, vsprintf } from "./vsprintf.ts";

export interface Task {
  readonly pid: number;
  readonly comm: string;
}

export const CUT_HERE = "------------[ cut here ]------------";

/** Tail of every call trace that starts in a module's init or exit (the syscall path into it). */
const INIT_TAIL = [
  "do_one_initcall",
  "do_init_module",
  "load_module",
  "__do_sys_finit_module",
  "__x64_sys_finit_module",
  "do_syscall_64",
  "entry_SYSCALL_64_after_hwframe",
];
const EXIT_TAIL = ["__x64_sys_delete_module", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"];

/** What the page-table walk found for a faulting address (dump_pagetable's line, and why it faulted). */
export interface PageFault {
  readonly protection: boolean;
  readonly walk: string;
}

/** An address no page table maps: the walk stops at the empty PGD entry. */
const NOT_PRESENT: PageFault = { protection: false, walk: "PGD 0 P4D 0 " };

export class Core {
  readonly clock = new Clock();
  readonly log = new LogBuffer(this.clock);
  taint = 0;
  current: Task = { pid: 1, comm: "init" };
  /** Name of the module whose init/exit is running, and which of the two. */
  moduleCall: { name: string; phase: "init" | "exit" } | null = null;
  /** Loaded modules, most recent first ("Modules linked in:" order), and their load state. */
  readonly modules: { name: string; state: "live" | "coming" | "going" }[] = [];
  readonly panicOnWarn: boolean;
  private readonly warned = new Set<string>();
  private lockDebugOn = true;
  private dieCounter = 0;
  private readonly traceId: string;
  private nextPid = 1200;
  readonly printfCtx: { -readonly [K in keyof PrintfContext]: PrintfContext[K] };
  /** Saved stacks of allocation/free tracks. */
  readonly stacks = new StackDepot();
  /** The CPU reports name (smp_processor_id), supplied by the page allocator. */
  cpuId: () => number = () => 0;

  constructor(
    readonly profile: Profile,
    readonly cmdline: Cmdline,
    readonly seed: number,
  ) {
    this.panicOnWarn = cmdline.get("panic_on_warn") === "1";
    const key = seed >>> 0;
    this.printfCtx = {
      kptrRestrict: 0,
      capSyslog: true, // every task here runs as root
      // ptr_to_id(): a keyed hash of the pointer, low 32 bits shown (siphash in Linux).
      hashPointer: (addr: number) => {
        let h = Math.imul(key ^ 0x9e3779b9, 0x85ebca6b);
        h = Math.imul(h ^ (addr >>> 0), 0xc2b2ae35);
        h = Math.imul(h ^ Math.floor(addr / 2 ** 32), 0x27d4eb2f);
        h ^= h >>> 15;
        return (h >>> 0).toString(16).padStart(16, "0");
      },
    };
    this.traceId = (BigInt(Math.imul(key, 2654435761) >>> 0) * 0x100000001n).toString(16).padStart(16, "0");
  }

  /** printk(fmt, ...args) with the kernel's format specifiers and an optional KERN_<level> prefix. */
  printk(fmt: string, ...args: unknown[]): void {
    const { level, cont, body } = parseLevel(fmt);
    this.log.emit(level, vsprintf(body, args, this.printfCtx), cont);
  }

  /** Log already-formatted lines at a level. */
  lines(level: number, text: string): void {
    this.log.emit(level, text.endsWith("\n") ? text : `${text}\n`);
  }

  newTask(comm: string): Task {
    return { pid: this.nextPid++, comm };
  }

  addTaint(flag: number, lockdepUnreliable: boolean): void {
    if (lockdepUnreliable && this.lockDebugOn) {
      this.lockDebugOn = false;
      this.lines(KERN_WARNING, "Disabling lock debugging due to kernel taint");
    }
    this.taint |= 1 << flag;
  }

  taintText(): string {
    return taintString(this.taint);
  }

  cpuLine(): string {
    const p = this.profile;
    return `CPU: ${this.cpuId()} PID: ${this.current.pid} Comm: ${this.current.comm.slice(0, 20)} ${this.taintText()} ${p.release} ${p.version}`;
  }

  modulesLine(): string {
    let s = "Modules linked in:";
    for (const m of this.modules)
      s += ` ${m.name}(O${m.state === "coming" ? "+" : m.state === "going" ? "-" : ""})`;
    return s;
  }

  /** The call trace below a kernel function: its callers in the module (or library user), then the syscall path. */
  traceFrames(kernelFrames: readonly string[]): Frame[] {
    const out = kernelFrames.map(kframe);
    out.push(...callerFrames(this.moduleCall?.name));
    if (this.moduleCall) out.push(...(this.moduleCall.phase === "init" ? INIT_TAIL : EXIT_TAIL).map(kframe));
    return out;
  }

  /** Save the current call stack below `kernelFrames` (a track); returns its depot handle. */
  saveStack(kernelFrames: readonly string[]): number {
    const mc = this.moduleCall;
    return this.stacks.save(kernelFrames, mc?.name, mc ? (mc.phase === "init" ? INIT_TAIL : EXIT_TAIL) : []);
  }

  private callTrace(frames: readonly Frame[]): string {
    return `Call Trace:\n${frames.map(formatFrame).join("\n")}`;
  }

  /** dump_stack(): CPU line, hardware name, call trace starting at dump_stack itself. */
  dumpStack(kernelFrames: readonly string[]): void {
    const frames = this.traceFrames(["dump_stack", ...kernelFrames]);
    this.lines(
      MESSAGE_LOGLEVEL_DEFAULT,
      `${this.cpuLine()}\nHardware name: ${this.profile.hardwareName}\n${this.callTrace(frames)}`,
    );
  }

  private endTrace(): string {
    return `---[ end trace ${this.traceId} ]---`;
  }

  /** WARN() at file:line in `fn` (which is then the RIP); `kernelFrames` are fn's callers inside the kernel. */
  warn(file: string, line: number, fn: string, kernelFrames: readonly string[] = [], msg = ""): void {
    const rip = formatFrame(kframe(fn)).trim();
    const frames = this.traceFrames(kernelFrames);
    this.lines(
      KERN_WARNING,
      `${CUT_HERE}\n${msg ? `${msg}\n` : ""}WARNING: CPU: ${this.cpuId()} PID: ${this.current.pid} at ${file}:${line} ${rip}\n${this.modulesLine()}\n${this.cpuLine()}\nHardware name: ${this.profile.hardwareName}\nRIP: 0010:${rip}\n${this.callTrace(frames)}\n${this.endTrace()}`,
    );
    this.addTaint(TAINT_WARN, false);
    if (this.panicOnWarn) this.panic("panic_on_warn set ...");
  }

  /**
   * WARN() made by the caller's own code (a module): the splat names the caller's source file and line,
   * and the RIP is the caller's function. `once` keeps one splat per call site (WARN_ONCE).
   */
  warnAtCaller(msg: string, once: boolean): void {
    const frames = this.traceFrames([]);
    const top = frames[0];
    if (!top) return;
    const site = `${top.file ?? top.fn}:${top.off}`;
    if (once) {
      if (this.warned.has(site)) return;
      this.warned.add(site);
    }
    const rip = formatFrame(top).trim();
    this.lines(
      KERN_WARNING,
      `${CUT_HERE}\n${msg ? `${msg}\n` : ""}WARNING: CPU: ${this.cpuId()} PID: ${this.current.pid} at ${site} ${rip}\n${this.modulesLine()}\n${this.cpuLine()}\nHardware name: ${this.profile.hardwareName}\nRIP: 0010:${rip}\n${this.callTrace(frames.slice(1))}\n${this.endTrace()}`,
    );
    this.addTaint(TAINT_WARN, false);
    if (this.panicOnWarn) this.panic("panic_on_warn set ...");
  }

  /** WARN_ON_ONCE(): one splat per site per boot. Returns true when it fired now. */
  warnOnce(
    key: string,
    file: string,
    line: number,
    fn: string,
    kernelFrames: readonly string[] = [],
    msg = "",
  ): boolean {
    if (this.warned.has(key)) return false;
    this.warned.add(key);
    this.warn(file, line, fn, kernelFrames, msg);
    return true;
  }

  /** BUG() at file:line: the "invalid opcode" die; ends the current module call. */
  bug(file: string, line: number, fn: string, kernelFrames: readonly string[] = []): void {
    const rip = formatFrame(kframe(fn)).trim();
    this.lines(
      MESSAGE_LOGLEVEL_DEFAULT,
      `${CUT_HERE}\nkernel BUG at ${file}:${line}!\ninvalid opcode: 0000 [#${++this.dieCounter}] SMP PTI\n${this.cpuLine()}\nHardware name: ${this.profile.hardwareName}\nRIP: 0010:${rip}\n${this.callTrace(this.traceFrames(kernelFrames))}\n${this.modulesLine()}`,
    );
    this.oopsEnd();
    this.afterFatal(new KernelBug(`kernel BUG at ${file}:${line}!`));
  }

  /** A general protection fault (a non-canonical address dereferenced) in kernel function `fn`. */
  gpf(fn: string): void {
    const rip = formatFrame(kframe(fn)).trim();
    this.lines(
      MESSAGE_LOGLEVEL_DEFAULT,
      `general protection fault: 0000 [#${++this.dieCounter}] SMP PTI\n${this.cpuLine()}\nHardware name: ${this.profile.hardwareName}\nRIP: 0010:${rip}\n${this.callTrace(this.traceFrames([]))}\n${this.modulesLine()}`,
    );
    this.oopsEnd();
    this.afterFatal(new KernelOops("general protection fault"));
  }

  /** oops_end(): the die taint (and its lockdep note) comes before the end-of-trace marker. */
  private oopsEnd(): void {
    this.addTaint(TAINT_DIE, true);
    this.lines(MESSAGE_LOGLEVEL_DEFAULT, this.endTrace());
  }

  /**
   * A page fault on a bad kernel address: the Oops of 5.4's no_context path. `fn` is the kernel function
   * that faulted, or "" when the caller's own code made the access (then the RIP is the caller).
   * `mustThrow` for accesses that cannot return (a read has no value to give); otherwise it ends only a
   * module call, like BUG.
   */
  oops(addr: string, write: boolean, fn: string, mustThrow: boolean, pf: PageFault = NOT_PRESENT): void {
    const isNull = BigInt(`0x${addr}`) < 4096n;
    // X86_PF_PROT (1): the page was present but its PTE forbids the access; X86_PF_WRITE (2).
    const err = (pf.protection ? 1 : 0) | (write ? 2 : 0);
    const head = isNull
      ? `BUG: kernel NULL pointer dereference, address: ${addr}`
      : `BUG: unable to handle page fault for address: ${addr}`;
    let frames = this.traceFrames([]);
    let rip: Frame;
    if (fn === "" && frames.length > 0) {
      rip = frames[0]!;
      frames = frames.slice(1);
    } else rip = kframe(fn || "0x0");
    const code = err.toString(16).padStart(4, "0");
    this.lines(
      MESSAGE_LOGLEVEL_DEFAULT,
      `${head}\n#PF: supervisor ${write ? "write" : "read"} access in kernel mode\n#PF: error_code(0x${code}) - ${pf.protection ? "permissions violation" : "not-present page"}\n${pf.walk}\nOops: ${code} [#${++this.dieCounter}] SMP PTI\n${this.cpuLine()}\nHardware name: ${this.profile.hardwareName}\nRIP: 0010:${formatFrame(rip).trim()}\n${this.callTrace(frames)}\n${this.modulesLine()}\nCR2: ${addr}`,
    );
    this.oopsEnd();
    if (this.panicOnWarn) this.panic("Fatal exception");
    if (mustThrow || this.moduleCall) throw new KernelOops(head);
  }

  /** A non-fatal report (bad page, warn_alloc...): only panic_on_warn makes it throw. */
  afterReport(): void {
    if (this.panicOnWarn) this.panic("panic_on_warn set ...");
  }

  /** BUG kills the module call; outside a module the refusal is the only effect, unless panic_on_warn. */
  private afterFatal(e: KernelBug): void {
    if (this.panicOnWarn) this.panic("Fatal exception");
    if (this.moduleCall) throw e;
  }

  panic(reason: string): never {
    this.lines(KERN_EMERG, `Kernel panic - not syncing: ${reason}`);
    throw new KernelPanic(reason);
  }
}
